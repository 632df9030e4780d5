//! The embedded default store: one SQLite file (WAL mode) that survives restarts and is shared
//! safely by every process that opens it. Implements leases and nonces; tokens are sealed with
//! AES-256-GCM when an encryption key is configured.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::oauth::state::now_millis;
use crate::token::record::{ConnKey, TokenRecord};
use crate::token::seal::Sealer;
use crate::token::store::{
    decode_cursor, page_of, LeaseGrant, LeaseToken, ListPage, ListQuery, TokenStore,
};

pub struct SqliteStore {
    /// `None` once closed.
    conn: Arc<Mutex<Option<Connection>>>,
    sealer: Option<Arc<Sealer>>,
    /// Identifies this store instance as a lease holder.
    holder: String,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS forcelink_tokens (
  account_id TEXT NOT NULL, owner TEXT NOT NULL, record TEXT NOT NULL, updated_at INTEGER NOT NULL,
  PRIMARY KEY (account_id, owner));
CREATE TABLE IF NOT EXISTS forcelink_leases (
  account_id TEXT NOT NULL, owner TEXT NOT NULL, holder TEXT NOT NULL, expires_at INTEGER NOT NULL,
  PRIMARY KEY (account_id, owner));
CREATE TABLE IF NOT EXISTS forcelink_nonces (nonce TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
";

/// `listConnections` columns, added to tables created before them and filled from the records
/// (a sealed token cannot be read here: such a record is listed, and keepAlive skips it if it
/// turns out to have no refresh token).
const KEEPALIVE_COLUMNS: &str = "
ALTER TABLE forcelink_tokens ADD COLUMN live INTEGER;
ALTER TABLE forcelink_tokens ADD COLUMN refreshed_at INTEGER;
UPDATE forcelink_tokens SET
  live = CASE WHEN COALESCE(json_extract(record, '$.token_invalidated'), 0) THEN 0
              WHEN json_type(record, '$.token') = 'text' THEN 1
              WHEN json_extract(record, '$.token.refresh_token') IS NULL THEN 0 ELSE 1 END,
  refreshed_at = CASE WHEN json_type(record, '$.refreshed_at') IN ('integer', 'real')
                      THEN CAST(json_extract(record, '$.refreshed_at') AS INTEGER) END;
";
/// Keyset paging in primary-key order over live rows, filtered on the grant time inside the index.
const KEEPALIVE_INDEX: &str = "CREATE INDEX IF NOT EXISTS forcelink_tokens_keepalive
  ON forcelink_tokens (live, account_id, owner, refreshed_at)";

fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(SCHEMA)?;
    let has_live: bool = conn
        .prepare("SELECT 1 FROM pragma_table_info('forcelink_tokens') WHERE name = 'live'")?
        .exists([])?;
    if !has_live {
        // One transaction: a concurrent opener either sees both columns or retries.
        let done = conn.execute_batch(&format!("BEGIN IMMEDIATE; {KEEPALIVE_COLUMNS} COMMIT;"));
        if done.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
            let again: bool = conn
                .prepare("SELECT 1 FROM pragma_table_info('forcelink_tokens') WHERE name = 'live'")?
                .exists([])?;
            if !again {
                done?;
            }
        }
    }
    conn.execute_batch(KEEPALIVE_INDEX)
}

/// `live` and `refreshed_at` of a record as written.
fn keepalive_columns(rec: &TokenRecord) -> (bool, Option<i64>) {
    (
        !rec.token_invalidated && rec.token.refresh_token.is_some(),
        rec.refreshed_at,
    )
}

/// `storePath` value for a store that lives in this instance's memory only.
pub const MEMORY_PATH: &str = ":memory:";

fn aad(key: &ConnKey) -> Vec<u8> {
    format!("{}\u{0}{}", key.account_id(), key.owner()).into_bytes()
}

impl SqliteStore {
    pub fn open(path: &str, encryption_key: Option<&[u8; 32]>) -> Result<Self> {
        let conn = if path == MEMORY_PATH {
            // Private to this instance: parallel test workers never share (or collide on) a file.
            let conn = Connection::open_in_memory()
                .map_err(|e| Error::config("storePath", format!("cannot open {path:?}: {e}")))?;
            migrate(&conn)?;
            conn
        } else {
            crate::token::file_mode::create_owner_only(path)
                .map_err(|e| Error::config("storePath", format!("cannot create {path:?}: {e}")))?;
            let conn = Connection::open(path)
                .map_err(|e| Error::config("storePath", format!("cannot open {path:?}: {e}")))?;
            conn.busy_timeout(Duration::from_secs(10))?;
            // WAL lets readers and one writer in different processes proceed together.
            conn.pragma_update(None, "journal_mode", "WAL")?;
            // FULL: a rotated refresh token is on disk before save returns, power cut or not.
            conn.pragma_update(None, "synchronous", "FULL")?;
            migrate(&conn)?;
            // SQLite gives -wal/-shm the database file's mode; tighten them too in case they predate it.
            crate::token::file_mode::restrict_companions(path);
            conn
        };
        let holder = format!("{}-{:016x}", std::process::id(), rand::random::<u64>());
        Ok(Self {
            conn: Arc::new(Mutex::new(Some(conn))),
            sealer: encryption_key.map(|k| Arc::new(Sealer::new(k))),
            holder,
        })
    }

    /// Runs blocking SQLite work off the async runtime's worker threads.
    async fn with_conn<T: Send + 'static>(
        &self,
        op: &'static str,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let guard = match conn.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            match guard.as_ref() {
                Some(c) => f(c).map_err(|e| Error::store(op, e.to_string())),
                None => Err(Error::store(op, "the store is closed")),
            }
        })
        .await
        .map_err(|e| Error::store(op, format!("worker failed: {e}")))?
    }

    fn encode(&self, rec: &TokenRecord) -> Result<String> {
        let mut v = serde_json::to_value(rec).map_err(|e| Error::store("save", e.to_string()))?;
        if let Some(sealer) = &self.sealer {
            let token =
                serde_json::to_vec(&rec.token).map_err(|e| Error::store("save", e.to_string()))?;
            v["token"] = Value::String(sealer.seal(&token, &aad(&rec.key()?))?);
        }
        Ok(v.to_string())
    }

    fn decode(&self, key: &ConnKey, text: &str) -> Result<TokenRecord> {
        let mut v: Value = serde_json::from_str(text)
            .map_err(|e| Error::store("find", format!("corrupt row: {e}")))?;
        if let Some(Value::String(s)) = v.get("token") {
            if Sealer::is_sealed(s) {
                let sealer = self.sealer.as_ref().ok_or_else(|| {
                    Error::store(
                        "find",
                        "the stored token is encrypted; configure encryptionKey",
                    )
                })?;
                let plain = sealer.open(s, &aad(key))?;
                v["token"] = serde_json::from_slice(&plain)
                    .map_err(|e| Error::store("find", e.to_string()))?;
            }
        }
        TokenRecord::from_store_json(v)
    }
}

/// Runs `f` inside a write transaction with `now` read once the write lock is held: waiting for
/// the connection or for another process's write (busy timeout) never eats into a lease.
fn in_write<T>(
    c: &Connection,
    f: impl FnOnce(&Connection, i64) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    c.execute_batch("BEGIN IMMEDIATE")?;
    // Never leave the shared connection inside a transaction, whatever fails.
    match f(c, now_millis()).and_then(|v| c.execute_batch("COMMIT").map(|_| v)) {
        Ok(v) => Ok(v),
        Err(e) => {
            if !c.is_autocommit() {
                let _ = c.execute_batch("ROLLBACK");
            }
            Err(e)
        }
    }
}

#[async_trait]
impl TokenStore for SqliteStore {
    async fn find(&self, key: &ConnKey) -> Result<Option<TokenRecord>> {
        let (a, o) = (key.account_id().to_string(), key.owner().to_string());
        let row = self
            .with_conn("find", move |c| {
                c.query_row(
                    "SELECT record FROM forcelink_tokens WHERE account_id = ?1 AND owner = ?2",
                    params![a, o],
                    |r| r.get::<_, String>(0),
                )
                .optional()
            })
            .await?;
        row.map(|t| self.decode(key, &t)).transpose()
    }

    async fn save(&self, record: &TokenRecord, expected_version: Option<u64>) -> Result<bool> {
        let text = self.encode(record)?;
        let (a, o) = (record.account_id.clone(), record.owner.clone());
        let (live, refreshed_at) = keepalive_columns(record);
        self.with_conn("save", move |c| match expected_version {
            None => c
                .execute(
                    "INSERT INTO forcelink_tokens (account_id, owner, record, updated_at, live, refreshed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (account_id, owner) DO UPDATE SET record = excluded.record, updated_at = excluded.updated_at,
                       live = excluded.live, refreshed_at = excluded.refreshed_at",
                    params![a, o, text, now_millis(), live, refreshed_at],
                )
                .map(|_| true),
            // Fencing in one statement: only over the version the writer read.
            Some(v) => c
                .execute(
                    "UPDATE forcelink_tokens SET record = ?3, updated_at = ?4, live = ?6, refreshed_at = ?7
                     WHERE account_id = ?1 AND owner = ?2 AND COALESCE(json_extract(record, '$.version'), 0) = ?5",
                    params![a, o, text, now_millis(), v as i64, live, refreshed_at],
                )
                .map(|n| n == 1),
        })
        .await
    }

    async fn delete(&self, key: &ConnKey) -> Result<bool> {
        let (a, o) = (key.account_id().to_string(), key.owner().to_string());
        self.with_conn("delete", move |c| {
            c.execute(
                "DELETE FROM forcelink_tokens WHERE account_id = ?1 AND owner = ?2",
                params![a, o],
            )
            .map(|n| n > 0)
        })
        .await
    }

    async fn list_connections(&self, q: &ListQuery) -> Result<Option<ListPage>> {
        let after = q.after.as_ref().map(decode_cursor).transpose()?;
        let (before, limit) = (q.refreshed_before, q.limit.max(1));
        let rows = self
            .with_conn("listConnections", move |c| {
                let (a, o) = after.unwrap_or_default();
                let mut st = c.prepare_cached(
                    "SELECT account_id, owner FROM forcelink_tokens INDEXED BY forcelink_tokens_keepalive
                     WHERE live = 1 AND (account_id, owner) > (?1, ?2)
                       AND (refreshed_at IS NULL OR refreshed_at < ?3)
                     ORDER BY account_id, owner LIMIT ?4",
                )?;
                let rows = st
                    .query_map(params![a, o, before, limit as i64 + 1], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok(rows)
            })
            .await?;
        Ok(Some(page_of(rows, limit as usize)))
    }

    async fn acquire_lease(&self, key: &ConnKey, ttl_ms: u64) -> Result<LeaseGrant> {
        let (a, o) = (key.account_id().to_string(), key.owner().to_string());
        let token = format!("{}-{:032x}", self.holder, rand::random::<u128>());
        let t = token.clone();
        let got = self
            .with_conn("acquireLease", move |c| {
                // Take the lease if nobody holds it or it expired; no record needs to exist.
                in_write(c, |c, now| c.execute(
                    "INSERT INTO forcelink_leases (account_id, owner, holder, expires_at) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (account_id, owner) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
                     WHERE forcelink_leases.expires_at <= ?5",
                    params![a, o, t, now + ttl_ms as i64, now],
                ))
                .map(|n| n == 1)
            })
            .await?;
        Ok(if got {
            LeaseGrant::Held(LeaseToken::new(token))
        } else {
            LeaseGrant::Busy
        })
    }

    async fn can_renew_lease(&self) -> bool {
        true
    }

    async fn renew_lease(
        &self,
        key: &ConnKey,
        lease: &LeaseToken,
        ttl_ms: u64,
    ) -> Result<Option<bool>> {
        let (a, o, t) = (
            key.account_id().to_string(),
            key.owner().to_string(),
            lease.as_str().to_string(),
        );
        let kept = self
            .with_conn("renewLease", move |c| {
                in_write(c, |c, now| c.execute(
                    "UPDATE forcelink_leases SET expires_at = ?4 WHERE account_id = ?1 AND owner = ?2 AND holder = ?3 AND expires_at > ?5",
                    params![a, o, t, now + ttl_ms as i64, now],
                ))
                .map(|n| n == 1)
            })
            .await?;
        Ok(Some(kept))
    }

    async fn release_lease(&self, key: &ConnKey, lease: &LeaseToken) -> Result<()> {
        let (a, o, t) = (
            key.account_id().to_string(),
            key.owner().to_string(),
            lease.as_str().to_string(),
        );
        self.with_conn("releaseLease", move |c| {
            c.execute(
                "DELETE FROM forcelink_leases WHERE account_id = ?1 AND owner = ?2 AND holder = ?3",
                params![a, o, t],
            )
            .map(|_| ())
        })
        .await
    }

    /// Closes the SQLite connection (checkpointing the WAL into the database file) once the call
    /// running on it, if any, has finished.
    async fn close(&self) {
        let conn = self.conn.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let mut guard = match conn.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            if let Some(c) = guard.take() {
                // On failure the connection is dropped instead, which closes it as well.
                let _ = c.close();
            }
        })
        .await;
    }

    async fn consume_nonce(&self, nonce: &str, expires_at_ms: i64) -> Result<Option<bool>> {
        let n = nonce.to_string();
        let now = now_millis();
        let fresh = self
            .with_conn("consumeNonce", move |c| {
                c.execute(
                    "DELETE FROM forcelink_nonces WHERE expires_at < ?1",
                    params![now],
                )?;
                c.execute(
                    "INSERT OR IGNORE INTO forcelink_nonces (nonce, expires_at) VALUES (?1, ?2)",
                    params![n, expires_at_ms],
                )
                .map(|n| n == 1)
            })
            .await?;
        Ok(Some(fresh))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::AccessToken;
    use crate::token::record::TokenData;

    fn record(a: &str) -> TokenRecord {
        TokenRecord {
            account_id: a.into(),
            owner: "u1".into(),
            token: TokenData {
                access_token: AccessToken::new("00Dsecret!token"),
                refresh_token: None,
                issued_at: Some("1".into()),
                instance_url: None,
                id: None,
                scope: None,
                extra: Default::default(),
            },
            token_invalidated: false,
            invalidated_reason: None,
            refreshed_at: None,
            version: None,
            extra: Default::default(),
        }
    }

    fn tmp(name: &str) -> String {
        let p = std::env::temp_dir().join(format!(
            "fl-{name}-{}-{}.db",
            std::process::id(),
            rand::random::<u32>()
        ));
        p.to_string_lossy().into_owned()
    }

    #[tokio::test]
    async fn list_connections_pages_live_idle_records_and_migrates_old_tables() {
        let path = tmp("list");
        // A table from before keepAlive, holding an incumbent-shaped record.
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch(
                "CREATE TABLE forcelink_tokens (account_id TEXT NOT NULL, owner TEXT NOT NULL, record TEXT NOT NULL, updated_at INTEGER NOT NULL, PRIMARY KEY (account_id, owner));",
            )
            .unwrap();
            c.execute(
                "INSERT INTO forcelink_tokens VALUES ('old', 'u1', ?1, 0)",
                params![r#"{"account_id":"old","owner":"u1","token":{"access_token":"x","refresh_token":"r"}}"#],
            )
            .unwrap();
        }
        let s = SqliteStore::open(&path, None).unwrap();
        let live = |a: &str, at: Option<i64>| {
            let mut r = record(a);
            r.token.refresh_token = Some(crate::secret::RefreshToken::new("5Aep"));
            r.refreshed_at = at;
            r
        };
        for (i, a) in ["c", "a", "e", "b", "d"].iter().enumerate() {
            s.save(&live(a, Some(100 + i as i64)), None).await.unwrap();
        }
        s.save(&live("fresh", Some(10_000)), None).await.unwrap();
        s.save(&record("no-refresh-token"), None).await.unwrap();
        let mut dead = live("dead", Some(1));
        dead.token_invalidated = true;
        s.save(&dead, None).await.unwrap();
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let q = ListQuery {
                refreshed_before: 1_000,
                after: after.take(),
                limit: 2,
            };
            let page = s.list_connections(&q).await.unwrap().unwrap();
            assert!(page.connections.len() <= 2);
            seen.extend(page.connections.into_iter().map(|(a, _)| a));
            match page.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        assert_eq!(seen, ["a", "b", "c", "d", "e", "old"]);
        // The listing reads the index, not the table.
        let plan = s
            .with_conn("plan", |c| {
                c.query_row(
                    "EXPLAIN QUERY PLAN SELECT account_id, owner FROM forcelink_tokens INDEXED BY forcelink_tokens_keepalive
                     WHERE live = 1 AND (account_id, owner) > ('', '') AND (refreshed_at IS NULL OR refreshed_at < 5)
                     ORDER BY account_id, owner LIMIT 3",
                    [],
                    |r| r.get::<_, String>(3),
                )
            })
            .await
            .unwrap();
        assert!(
            plan.contains("COVERING INDEX forcelink_tokens_keepalive"),
            "{plan}"
        );
        let bad = ListQuery {
            refreshed_before: 1,
            after: Some(serde_json::json!({"not": "ours"})),
            limit: 2,
        };
        assert_eq!(
            s.list_connections(&bad).await.unwrap_err().code(),
            "INVALID_INPUT"
        );
        drop(s);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{path}{suffix}"));
        }
    }

    #[tokio::test]
    async fn close_checkpoints_and_later_calls_fail() {
        let path = tmp("close");
        let s = SqliteStore::open(&path, None).unwrap();
        let k = ConnKey::new("a1", "u1").unwrap();
        assert!(s.save(&record("a1"), None).await.unwrap());
        assert!(std::path::Path::new(&format!("{path}-wal")).exists());
        s.close().await;
        // The last connection closed: the WAL is checkpointed into the file and removed.
        assert!(!std::path::Path::new(&format!("{path}-wal")).exists());
        let e = s.find(&k).await.unwrap_err();
        assert!(e.to_string().contains("closed"), "{e}");
        s.close().await; // idempotent
        let again = SqliteStore::open(&path, None).unwrap();
        assert!(again.find(&k).await.unwrap().is_some());
        drop(again);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{path}{suffix}"));
        }
    }

    #[tokio::test]
    async fn crud_leases_nonces_and_sealing() {
        let path = tmp("crud");
        let s = SqliteStore::open(&path, Some(&[1u8; 32])).unwrap();
        let k = ConnKey::new("a1", "u1").unwrap();
        assert!(s.find(&k).await.unwrap().is_none());
        assert!(s.save(&record("a1"), None).await.unwrap());
        let raw = std::fs::read(&path).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&raw).contains("00Dsecret"),
            "token stored in clear"
        );
        assert_eq!(
            s.find(&k)
                .await
                .unwrap()
                .unwrap()
                .token
                .access_token
                .expose(),
            "00Dsecret!token"
        );
        // A second process (another connection) sees the same row, and the lease excludes it.
        let s2 = SqliteStore::open(&path, Some(&[1u8; 32])).unwrap();
        assert!(s2.find(&k).await.unwrap().is_some());
        let LeaseGrant::Held(l1) = s.acquire_lease(&k, 60_000).await.unwrap() else {
            panic!("lease")
        };
        assert_eq!(
            s2.acquire_lease(&k, 60_000).await.unwrap(),
            LeaseGrant::Busy
        );
        // Releasing someone else's lease token does nothing; the holder's does.
        s2.release_lease(&k, &LeaseToken::new("not-mine"))
            .await
            .unwrap();
        assert_eq!(
            s2.acquire_lease(&k, 60_000).await.unwrap(),
            LeaseGrant::Busy
        );
        assert_eq!(s.renew_lease(&k, &l1, 60_000).await.unwrap(), Some(true));
        s.release_lease(&k, &l1).await.unwrap();
        assert!(matches!(
            s2.acquire_lease(&k, 60_000).await.unwrap(),
            LeaseGrant::Held(_)
        ));
        // A lease works without a record, and an expired one frees others.
        let nk = ConnKey::new("no-record", "u1").unwrap();
        assert!(matches!(
            s.acquire_lease(&nk, 1).await.unwrap(),
            LeaseGrant::Held(_)
        ));
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        assert!(matches!(
            s2.acquire_lease(&nk, 60_000).await.unwrap(),
            LeaseGrant::Held(_)
        ));
        // Conditional saves: only over the version read.
        let mut r = record("a1");
        r.version = Some(5);
        assert!(s.save(&r, Some(0)).await.unwrap());
        r.version = Some(6);
        assert!(!s.save(&r, Some(4)).await.unwrap());
        assert!(s.save(&r, Some(5)).await.unwrap());
        assert_eq!(s.find(&k).await.unwrap().unwrap().version, Some(6));
        assert!(!s.save(&record("gone"), Some(0)).await.unwrap());
        assert_eq!(
            s.consume_nonce("n1", now_millis() + 60_000).await.unwrap(),
            Some(true)
        );
        assert_eq!(
            s2.consume_nonce("n1", now_millis() + 60_000).await.unwrap(),
            Some(false)
        );
        // Without the key the sealed token cannot be read.
        let s3 = SqliteStore::open(&path, None).unwrap();
        assert!(matches!(s3.find(&k).await, Err(Error::Store { .. })));
        assert!(s.delete(&k).await.unwrap());
        assert!(!s.delete(&k).await.unwrap());
        let _ = std::fs::remove_file(&path);
    }
}

#[cfg(all(test, unix))]
mod mode_tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &str) -> u32 {
        std::fs::metadata(p)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0)
    }

    /// (The umask case is covered by a Jest test in a child process: the umask is process-wide.)
    #[tokio::test]
    async fn files_are_owner_only_and_synchronous_is_full() {
        let path = std::env::temp_dir().join(format!(
            "fl-mode-{}-{}.db",
            std::process::id(),
            rand::random::<u32>()
        ));
        let path = path.to_string_lossy().into_owned();
        // A wide-open pre-existing file is tightened too.
        std::fs::write(&path, b"").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        let s = SqliteStore::open(&path, None).unwrap();
        s.consume_nonce("n", now_millis() + 1000).await.unwrap();
        for p in [path.clone(), format!("{path}-wal"), format!("{path}-shm")] {
            assert!(std::path::Path::new(&p).exists(), "{p} missing");
            assert_eq!(mode(&p), 0o600, "{p}");
        }
        let sync: i64 = s
            .conn
            .lock()
            .unwrap()
            .as_ref()
            .unwrap()
            .pragma_query_value(None, "synchronous", |r| r.get(0))
            .unwrap();
        assert_eq!(sync, 2, "synchronous=FULL");
        drop(s);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{path}{suffix}"));
        }
    }
}

//! The TokenStore contract (v2) the host implements (or the embedded SQLite default). Leases,
//! conditional saves and nonces are optional capabilities: without them, single-flight refresh
//! and single-use state still hold within this process.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use crate::error::{Error, Result};
use crate::token::record::{ConnKey, TokenRecord};

/// An opaque proof of holding a connection's refresh lease; only its holder can release it.
#[derive(Clone, PartialEq, Eq)]
pub struct LeaseToken(String);

impl LeaseToken {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for LeaseToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LeaseToken(***)")
    }
}

/// What `acquire_lease` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseGrant {
    /// The store has no cross-process leases.
    Unsupported,
    Held(LeaseToken),
    /// Another holder's lease has not expired yet.
    Busy,
}

/// `listConnections` arguments: records whose last grant is older than `refreshed_before` (ms
/// since the epoch; a missing `refreshed_at` counts as old), after the keyset position `after`.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub refreshed_before: i64,
    /// The previous page's `next`: opaque to forcelink, the store's own cursor (any JSON).
    pub after: Option<serde_json::Value>,
    pub limit: u32,
}

/// One page of `listConnections`, in `(account_id, owner)` order.
#[derive(Debug, Clone, Default)]
pub struct ListPage {
    pub connections: Vec<(String, String)>,
    /// None on the last page.
    pub next: Option<serde_json::Value>,
}

/// The keyset cursor forcelink's own stores use: the last `(account_id, owner)` of a page as a
/// JSON pair (both are at most 256 printable characters).
pub fn encode_cursor(account_id: &str, owner: &str) -> serde_json::Value {
    serde_json::Value::String(serde_json::Value::from(vec![account_id, owner]).to_string())
}

pub fn decode_cursor(v: &serde_json::Value) -> Result<(String, String)> {
    v.as_str()
        .and_then(|s| serde_json::from_str::<(String, String)>(s).ok())
        .ok_or_else(|| Error::input("after", "is not a cursor this store returned"))
}

/// A page from `limit + 1` rows read in key order: the extra row only says another page exists.
pub fn page_of(mut rows: Vec<(String, String)>, limit: usize) -> ListPage {
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next = match (more, rows.last()) {
        (true, Some((a, o))) => Some(encode_cursor(a, o)),
        _ => None,
    };
    ListPage {
        connections: rows,
        next,
    }
}

#[async_trait]
pub trait TokenStore: Send + Sync {
    async fn find(&self, key: &ConnKey) -> Result<Option<TokenRecord>>;
    /// With `expected_version`, writes only if the stored record exists and its `version` (0 when
    /// absent) equals it, returning `false` otherwise (fencing); without, writes unconditionally.
    async fn save(&self, record: &TokenRecord, expected_version: Option<u64>) -> Result<bool>;
    async fn delete(&self, key: &ConnKey) -> Result<bool>;

    /// Works whether or not a record exists yet.
    async fn acquire_lease(&self, _key: &ConnKey, _ttl_ms: u64) -> Result<LeaseGrant> {
        Ok(LeaseGrant::Unsupported)
    }
    /// Whether `renew_lease` is implemented (then leases are short and renewed).
    async fn can_renew_lease(&self) -> bool {
        false
    }
    /// Extends a held lease; `None` when the store cannot (the lease then lasts the whole refresh).
    async fn renew_lease(
        &self,
        _key: &ConnKey,
        _lease: &LeaseToken,
        _ttl_ms: u64,
    ) -> Result<Option<bool>> {
        Ok(None)
    }
    /// Releases that lease only (a no-op when it expired and someone else holds the key's lease).
    async fn release_lease(&self, _key: &ConnKey, _lease: &LeaseToken) -> Result<()> {
        Ok(())
    }
    /// `None` when the store cannot record nonces (the in-process guard then decides).
    async fn consume_nonce(&self, _nonce: &str, _expires_at_ms: i64) -> Result<Option<bool>> {
        Ok(None)
    }
    /// Connections worth keeping alive: not invalidated, holding a refresh token, last granted
    /// before `refreshed_before`. `None` when the store does not implement it.
    async fn list_connections(&self, _q: &ListQuery) -> Result<Option<ListPage>> {
        Ok(None)
    }
    /// Releases what the store holds open (the embedded store's SQLite connection); later calls
    /// fail with STORE_ERROR. A host's store is the host's to close: the default does nothing.
    async fn close(&self) {}
}

/// Bounds every call into a store: one that does not settle in time fails with STORE_ERROR, so no
/// caller (and no lock) waits on a hung database.
pub struct TimedStore {
    inner: Arc<dyn TokenStore>,
    limit: Duration,
    events: crate::events::Events,
}

impl TimedStore {
    pub fn new(inner: Arc<dyn TokenStore>, limit: Duration) -> Self {
        Self {
            inner,
            limit,
            events: Default::default(),
        }
    }

    /// Reports every failed or timed-out call as a `storeError` event.
    pub fn with_events(mut self, events: crate::events::Events) -> Self {
        self.events = events;
        self
    }

    async fn bound<T>(
        &self,
        op: &'static str,
        f: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        let (r, timed_out) = match tokio::time::timeout(self.limit, f).await {
            Ok(r) => (r, false),
            Err(_) => (Err(self.timeout_error(op)), true),
        };
        self.report(op, &r, timed_out);
        r
    }

    fn timeout_error(&self, op: &'static str) -> Error {
        Error::store(
            op,
            format!(
                "did not settle within {} ms (storeTimeoutMs)",
                self.limit.as_millis()
            ),
        )
    }

    fn report<T>(&self, op: &'static str, r: &Result<T>, timed_out: bool) {
        if let Err(e) = r {
            self.events.emit(|| crate::events::Event::StoreError {
                op: op.to_string(),
                message: e.to_string(),
                timed_out,
                connection: None,
            });
        }
    }
}

#[async_trait]
impl TokenStore for TimedStore {
    async fn find(&self, key: &ConnKey) -> Result<Option<TokenRecord>> {
        self.bound("find", self.inner.find(key)).await
    }
    async fn save(&self, record: &TokenRecord, expected_version: Option<u64>) -> Result<bool> {
        self.bound("save", self.inner.save(record, expected_version))
            .await
    }
    async fn delete(&self, key: &ConnKey) -> Result<bool> {
        self.bound("delete", self.inner.delete(key)).await
    }
    /// A lease granted after the call timed out is a lease nobody knows about: the call runs on
    /// in the background and whatever it returns is released (best effort).
    async fn acquire_lease(&self, key: &ConnKey, ttl_ms: u64) -> Result<LeaseGrant> {
        let (inner, k) = (self.inner.clone(), key.clone());
        let mut call = tokio::spawn(async move { inner.acquire_lease(&k, ttl_ms).await });
        let limit = self.limit;
        let (r, timed_out) = match tokio::time::timeout(limit, &mut call).await {
            Ok(Ok(r)) => (r, false),
            Ok(Err(_)) => (Err(Error::store("acquireLease", "the call failed")), false),
            Err(_) => {
                let (inner, k) = (self.inner.clone(), key.clone());
                tokio::spawn(async move {
                    if let Ok(Ok(LeaseGrant::Held(l))) = call.await {
                        let _ = tokio::time::timeout(limit, inner.release_lease(&k, &l)).await;
                    }
                });
                (Err(self.timeout_error("acquireLease")), true)
            }
        };
        self.report("acquireLease", &r, timed_out);
        r
    }
    async fn can_renew_lease(&self) -> bool {
        self.bound("renewLease", async {
            Ok(self.inner.can_renew_lease().await)
        })
        .await
        .unwrap_or(false)
    }
    async fn renew_lease(
        &self,
        key: &ConnKey,
        lease: &LeaseToken,
        ttl_ms: u64,
    ) -> Result<Option<bool>> {
        self.bound("renewLease", self.inner.renew_lease(key, lease, ttl_ms))
            .await
    }
    async fn release_lease(&self, key: &ConnKey, lease: &LeaseToken) -> Result<()> {
        self.bound("releaseLease", self.inner.release_lease(key, lease))
            .await
    }
    async fn consume_nonce(&self, nonce: &str, expires_at_ms: i64) -> Result<Option<bool>> {
        self.bound(
            "consumeNonce",
            self.inner.consume_nonce(nonce, expires_at_ms),
        )
        .await
    }
    async fn list_connections(&self, q: &ListQuery) -> Result<Option<ListPage>> {
        self.bound("listConnections", self.inner.list_connections(q))
            .await
    }
    async fn close(&self) {
        let _ = tokio::time::timeout(self.limit, self.inner.close()).await;
    }
}

/// At most this many unexpired nonces are remembered in process; past it the soonest-expiring is
/// forgotten (a store with `consumeNonce` keeps the authoritative record).
const MAX_NONCES: usize = 100_000;

/// In-process single use of state nonces: a map plus an expiry-ordered index, O(log n) per call.
#[derive(Default)]
pub struct NonceGuard {
    inner: Mutex<NonceSet>,
}

#[derive(Default)]
struct NonceSet {
    by_nonce: HashMap<String, i64>,
    by_expiry: BTreeSet<(i64, String)>,
}

impl NonceGuard {
    /// True the first time a nonce is presented before it expires.
    pub fn consume(&self, nonce: &str, expires_at_ms: i64, now_ms: i64) -> bool {
        let mut s = match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        // Drop what expired (each entry is removed once, so this is amortised O(log n)).
        while let Some((exp, _)) = s.by_expiry.first() {
            if *exp > now_ms && s.by_nonce.len() < MAX_NONCES {
                break;
            }
            if let Some((_, n)) = s.by_expiry.pop_first() {
                s.by_nonce.remove(&n);
            }
        }
        if s.by_nonce.contains_key(nonce) {
            return false;
        }
        s.by_nonce.insert(nonce.to_string(), expires_at_ms);
        s.by_expiry.insert((expires_at_ms, nonce.to_string()));
        true
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.inner.lock().map(|s| s.by_nonce.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_single_use() {
        let g = NonceGuard::default();
        assert!(g.consume("a", 10, 0));
        assert!(!g.consume("a", 10, 0));
        assert!(g.consume("b", 10, 0));
    }

    #[test]
    fn nonce_guard_forgets_expired_and_stays_bounded() {
        let g = NonceGuard::default();
        for i in 0..1000 {
            assert!(g.consume(&format!("n{i}"), 100, 0));
        }
        assert!(g.consume("late", 1_000, 200));
        assert_eq!(g.len(), 1);
        for i in 0..(MAX_NONCES + 10) {
            g.consume(&format!("m{i}"), 10_000 + i as i64, 300);
        }
        assert!(g.len() <= MAX_NONCES);
    }
}

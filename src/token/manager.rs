//! The token lifecycle: a bounded, revalidated in-process cache of connections and the one
//! refresh path every caller shares.
//!
//! - Single flight: callers needing a refresh of the same connection wait for one spawned task and
//!   all get its outcome, failure included. The task runs to completion even if every caller is
//!   gone, because a token request that was sent must have its answer saved: with refresh-token
//!   rotation a dropped answer loses the connection.
//! - Across processes the store's lease (renewed while the refresh runs, short enough that a
//!   crashed holder frees others within seconds) keeps one refresh per expiry, and a conditional
//!   save on the record's `version` stops a holder whose lease lapsed from overwriting a newer token.
//! - A rotated token whose save fails stays in memory and is saved again in the background.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::config::{is_loopback, Config};
use crate::error::{Error, Result};
use crate::oauth::state::now_millis;
use crate::token::reason::{safe_description, ReconnectReason};
use crate::events::Event;
use crate::lru::Lru;
use crate::net;
use crate::oauth::client::{OAuthClient, TokenResponse};
use crate::token::record::{next_version, ConnKey, TokenData, TokenRecord};
use crate::token::store::{LeaseGrant, LeaseToken, TokenStore};

/// Lease length when the store can renew it; renewed every third of it while the refresh runs.
pub const RENEWED_LEASE_TTL: Duration = Duration::from_secs(5);
/// A failed refresh (Salesforce unavailable) is shared with callers that arrive just after it,
/// so an outage does not turn every caller into a new token request.
const FAILURE_MEMO: Duration = Duration::from_secs(1);
/// Background re-saves of a token whose save failed back off up to this.
const MAX_RESAVE_BACKOFF: Duration = Duration::from_secs(30);

/// Validated `instance_url`: REST calls (and with them the bearer token) only go to https hosts,
/// or to loopback for tests.
pub fn check_instance_url(s: &str) -> Result<String> {
    let u = url::Url::parse(s)
        .map_err(|_| Error::Unavailable("Salesforce returned an invalid instance_url".into()))?;
    let ok = match (u.scheme(), u.host_str()) {
        ("https", Some(_)) => true,
        ("http", Some(h)) => is_loopback(h),
        _ => false,
    };
    if !ok {
        return Err(Error::Unavailable(
            "Salesforce returned an instance_url that is not https".into(),
        ));
    }
    Ok(u.origin().ascii_serialization())
}

/// The longest one refresh can take: its token request with every retry, plus its store calls.
/// A lease that cannot be renewed must last this long.
pub fn refresh_bound(cfg: &Config) -> Duration {
    let attempts = cfg.max_retries + 1;
    cfg.http_timeout * attempts + Duration::from_secs(2) * cfg.max_retries + cfg.store_timeout * 4
}

#[derive(Clone)]
struct Cached {
    rec: Arc<TokenRecord>,
    checked: Instant,
    /// `Some(v)`: newer than the store, which still holds version `v`; a background save is due.
    unsaved: Option<u64>,
}

type Outcome = Option<Result<Arc<TokenRecord>>>;

struct Flight {
    id: u64,
    rx: watch::Receiver<Outcome>,
}

struct Failure {
    stale: String,
    at: Instant,
    err: Error,
}

struct Inner {
    cfg: Arc<Config>,
    http: reqwest::Client,
    store: Arc<dyn TokenStore>,
    cache: Mutex<Lru<ConnKey, Cached>>,
    flights: Mutex<HashMap<ConnKey, Flight>>,
    failures: Mutex<Lru<ConnKey, Failure>>,
    /// Connections being disconnected (with how many disconnects are under way).
    closing: Mutex<HashMap<ConnKey, usize>>,
    /// Records refreshed here whose save failed: the only copy of a rotated token, so they live
    /// outside the LRU (never evicted) until saved, superseded or forgotten.
    pending: Mutex<HashMap<ConnKey, Cached>>,
    /// Connections with a background save running.
    resaving: Mutex<HashMap<ConnKey, ()>>,
    next_flight: AtomicU64,
    /// Set by `close()`: background saves stop.
    stop: tokio::sync::watch::Sender<bool>,
}

pub struct TokenManager {
    inner: Arc<Inner>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// What the lease step found.
enum Leased {
    /// Refresh (or mint) from this record, expecting the store to hold `expected`.
    Proceed {
        rec: Option<Box<TokenRecord>>,
        expected: Option<u64>,
        lease: Option<LeaseToken>,
    },
    /// Someone else already replaced the stale token.
    Done(Arc<TokenRecord>),
}

/// Renews a held lease while the refresh runs; stops when dropped.
struct Renewal(Option<tokio::task::JoinHandle<()>>);

impl Drop for Renewal {
    fn drop(&mut self) {
        if let Some(h) = self.0.take() {
            h.abort();
        }
    }
}

/// Held while a connection is disconnected: no refresh starts, and the store lease (when
/// available) keeps other processes' refreshes out. Dropping it ends the exclusion.
pub struct Closing {
    inner: Arc<Inner>,
    key: ConnKey,
    lease: Option<LeaseToken>,
}

impl Drop for Closing {
    fn drop(&mut self) {
        {
            let mut c = lock(&self.inner.closing);
            if let Some(n) = c.get_mut(&self.key) {
                *n -= 1;
                if *n == 0 {
                    c.remove(&self.key);
                }
            }
        }
        lock(&self.inner.cache).remove(&self.key);
        if let Some(lease) = self.lease.take() {
            let (inner, key) = (self.inner.clone(), self.key.clone());
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move {
                    let _ = inner.store.release_lease(&key, &lease).await;
                });
            }
        }
    }
}

impl TokenManager {
    pub fn new(cfg: Arc<Config>, http: reqwest::Client, store: Arc<dyn TokenStore>) -> Self {
        let cap = cfg.max_cached_connections;
        Self {
            inner: Arc::new(Inner {
                cfg,
                http,
                store,
                cache: Mutex::new(Lru::new(cap)),
                flights: Mutex::new(HashMap::new()),
                failures: Mutex::new(Lru::new(cap)),
                closing: Mutex::new(HashMap::new()),
                pending: Mutex::new(HashMap::new()),
                resaving: Mutex::new(HashMap::new()),
                next_flight: AtomicU64::new(1),
                stop: tokio::sync::watch::channel(false).0,
            }),
        }
    }

    pub fn store(&self) -> &Arc<dyn TokenStore> {
        &self.inner.store
    }

    /// Stops background work (retried saves); a record still unsaved stays unsaved.
    pub fn shutdown(&self) {
        self.inner.stop.send_replace(true);
    }

    pub fn forget(&self, key: &ConnKey) {
        self.inner.forget(key);
    }

    pub fn remember(&self, key: &ConnKey, rec: TokenRecord) -> Arc<TokenRecord> {
        self.inner.remember(key, rec)
    }

    /// The connection as last known: the cache (re-read from the store every `tokenCacheTtlMs`),
    /// else the store.
    pub async fn current(&self, key: &ConnKey) -> Result<Arc<TokenRecord>> {
        self.inner.current(key).await
    }

    /// A connection usable for REST: it has an instance URL (records written by the incumbent do
    /// not, so they get one refresh first) and no JWT access token about to expire (refreshed
    /// ahead of its `exp`, on the single-flight path).
    pub async fn usable(&self, key: &ConnKey) -> Result<Arc<TokenRecord>> {
        let rec = match self.current(key).await {
            // A server-to-server connection is minted on first use: no user needs to be asked.
            Err(Error::TokenNotFound) if key.is_server() => return self.refresh(key, "").await,
            other => other?,
        };
        if rec.token.instance_url.is_some() && !self.expiring(&rec) {
            return Ok(rec);
        }
        self.refresh(key, rec.token.access_token.expose()).await
    }

    /// A JWT access token within `refreshAheadMs` of its `exp` (opaque tokens never are).
    fn expiring(&self, rec: &TokenRecord) -> bool {
        crate::token::jwt_exp::expires_at_ms(rec.token.access_token.expose()).is_some_and(|exp| {
            exp.saturating_sub(self.inner.cfg.refresh_ahead.as_millis() as i64) <= now_millis()
        })
    }

    /// Refreshes the connection unless someone already replaced `stale_access` (then returns
    /// theirs). Joins the refresh in flight if there is one; the refresh itself runs in its own
    /// task, so dropping this future abandons the wait, never the refresh.
    pub async fn refresh(&self, key: &ConnKey, stale_access: &str) -> Result<Arc<TokenRecord>> {
        let inner = &self.inner;
        if lock(&inner.closing).contains_key(key) {
            return Err(Error::TokenNotFound);
        }
        if let Some(c) = lock(&inner.cache).get(key) {
            if c.rec.token.access_token.expose() != stale_access
                && c.rec.token.instance_url.is_some()
            {
                return Ok(c.rec.clone());
            }
        }
        if let Some(f) = lock(&inner.failures).get(key) {
            if f.stale == stale_access && f.at.elapsed() < FAILURE_MEMO {
                return Err(f.err.clone());
            }
        }
        let mut rx = {
            let mut flights = lock(&inner.flights);
            match flights.get(key) {
                Some(f) => f.rx.clone(),
                None => {
                    let (tx, rx) = watch::channel(None);
                    let id = inner.next_flight.fetch_add(1, Ordering::Relaxed);
                    flights.insert(key.clone(), Flight { id, rx: rx.clone() });
                    let (task_inner, key, stale) =
                        (inner.clone(), key.clone(), stale_access.to_string());
                    tokio::spawn(async move {
                        let out = task_inner.run_refresh(&key, &stale).await;
                        {
                            let mut flights = lock(&task_inner.flights);
                            if flights.get(&key).is_some_and(|f| f.id == id) {
                                flights.remove(&key);
                            }
                            if let Err(e @ Error::Unavailable(_)) = &out {
                                lock(&task_inner.failures).put(
                                    key.clone(),
                                    Failure {
                                        stale,
                                        at: Instant::now(),
                                        err: e.clone(),
                                    },
                                );
                            }
                        }
                        let _ = tx.send(Some(out));
                    });
                    rx
                }
            }
        };
        let got = rx.wait_for(Option::is_some).await;
        match got {
            Ok(v) => v
                .clone()
                .unwrap_or_else(|| Err(Error::Internal("refresh ended without an outcome".into()))),
            Err(_) => Err(Error::Internal("the refresh task failed".into())),
        }
    }

    /// Starts a disconnect: no refresh of `key` starts from now on, the one in flight (if any) is
    /// waited for, and the store lease is taken when the store has leases (bounded by
    /// `leaseWaitMs`; past it the conditional save still stops a late refresh).
    pub async fn close(&self, key: &ConnKey) -> Closing {
        let inner = &self.inner;
        *lock(&inner.closing).entry(key.clone()).or_insert(0) += 1;
        let mut closing = Closing {
            inner: inner.clone(),
            key: key.clone(),
            lease: None,
        };
        let flight = lock(&inner.flights).get(key).map(|f| f.rx.clone());
        if let Some(mut rx) = flight {
            let _ = tokio::time::timeout(
                refresh_bound(&inner.cfg) + inner.cfg.lease_wait,
                rx.wait_for(Option::is_some),
            )
            .await;
        }
        let started = Instant::now();
        let ttl = inner.lease_ttl().await;
        let mut attempt = 0;
        loop {
            match inner.store.acquire_lease(key, ttl.as_millis() as u64).await {
                Ok(LeaseGrant::Held(l)) => {
                    closing.lease = Some(l);
                    break;
                }
                Ok(LeaseGrant::Busy) if started.elapsed() < inner.cfg.lease_wait => {
                    attempt += 1;
                    tokio::time::sleep(net::backoff(attempt.min(3))).await;
                }
                _ => break,
            }
        }
        closing
    }
}

impl Inner {
    fn forget(&self, key: &ConnKey) {
        lock(&self.pending).remove(key);
        lock(&self.cache).remove(key);
    }

    fn remember(&self, key: &ConnKey, rec: TokenRecord) -> Arc<TokenRecord> {
        let rec = Arc::new(rec);
        lock(&self.pending).remove(key);
        lock(&self.cache).put(
            key.clone(),
            Cached {
                rec: rec.clone(),
                checked: Instant::now(),
                unsaved: None,
            },
        );
        rec
    }

    fn peek(&self, key: &ConnKey) -> Option<Cached> {
        if let Some(c) = lock(&self.cache).get(key).cloned() {
            return Some(c);
        }
        // Evicted from the LRU but still unsaved: bring it back.
        let p = lock(&self.pending).get(key).cloned()?;
        lock(&self.cache).put(key.clone(), p.clone());
        Some(p)
    }

    async fn current(&self, key: &ConnKey) -> Result<Arc<TokenRecord>> {
        if let Some(c) = self.peek(key) {
            if c.unsaved.is_some() || c.checked.elapsed() < self.cfg.token_cache_ttl {
                return Ok(c.rec);
            }
        }
        match self.store.find(key).await? {
            None => {
                self.forget(key);
                Err(Error::TokenNotFound)
            }
            Some(r) if r.token_invalidated => {
                self.forget(key);
                Err(reconnect_for(&r))
            }
            Some(r) => {
                // A token refreshed here but not yet saved is newer than what the store holds.
                if let Some(c) = self.peek(key) {
                    if c.unsaved.is_some_and(|v| v == r.stored_version()) {
                        return Ok(c.rec);
                    }
                }
                Ok(self.remember(key, r))
            }
        }
    }

    /// Lease length: short and renewed when the store can renew, else the whole refresh.
    async fn lease_ttl(&self) -> Duration {
        if self.store.can_renew_lease().await {
            RENEWED_LEASE_TTL
        } else {
            refresh_bound(&self.cfg)
        }
    }

    async fn run_refresh(self: &Arc<Self>, key: &ConnKey, stale: &str) -> Result<Arc<TokenRecord>> {
        let ttl = self.lease_ttl().await;
        let (rec, expected, lease) = match self.take_lease(key, stale, ttl).await? {
            Leased::Done(r) => return Ok(r),
            Leased::Proceed {
                rec,
                expected,
                lease,
            } => (rec, expected, lease),
        };
        let _renewal = match &lease {
            Some(l) if ttl == RENEWED_LEASE_TTL => {
                Some(self.renew_while_running(key, l.clone(), ttl))
            }
            _ => None,
        };
        let out = match rec {
            Some(r) if r.token.refresh_token.is_some() => self.do_refresh(key, *r, expected).await,
            // Server flows have no refresh token: a new grant replaces the token.
            _ if key.is_server() => self.mint(key, expected).await,
            // A connection that cannot refresh is marked, so the next login starts a new flow.
            Some(r) => {
                let why = Error::reconnect(ReconnectReason::NoRefreshToken, r.idle_ms(now_millis()));
                self.invalidate(key, *r, expected, why).await
            }
            None => Err(Error::TokenNotFound),
        };
        if let Some(l) = lease {
            let _ = self.store.release_lease(key, &l).await;
        }
        out
    }

    fn renew_while_running(
        self: &Arc<Self>,
        key: &ConnKey,
        lease: LeaseToken,
        ttl: Duration,
    ) -> Renewal {
        let (inner, key) = (self.clone(), key.clone());
        Renewal(Some(tokio::spawn(async move {
            loop {
                tokio::time::sleep(ttl / 3).await;
                if let Ok(Some(false)) = inner
                    .store
                    .renew_lease(&key, &lease, ttl.as_millis() as u64)
                    .await
                {
                    return; // lost it: the conditional save still protects the record
                }
            }
        })))
    }

    /// Waits (bounded by `leaseWaitMs`) for the lease, re-reading the record while waiting, so
    /// that a refresh done by another process is picked up instead of repeated.
    async fn take_lease(&self, key: &ConnKey, stale: &str, ttl: Duration) -> Result<Leased> {
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            let grant = self
                .store
                .acquire_lease(key, ttl.as_millis() as u64)
                .await?;
            let lease = match &grant {
                LeaseGrant::Held(l) => Some(l.clone()),
                _ => None,
            };
            let release = |lease: Option<LeaseToken>| async move {
                if let Some(l) = lease {
                    let _ = self.store.release_lease(key, &l).await;
                }
            };
            // Read after acquiring: the holder before us may have saved a new token.
            let fresh = match self.store.find(key).await {
                Ok(f) => f,
                Err(e) => {
                    release(lease).await;
                    return Err(e);
                }
            };
            let dirty = self.peek(key).filter(|c| c.unsaved.is_some());
            let fresh = match fresh {
                None if key.is_server() => {
                    if grant == LeaseGrant::Busy {
                        if started.elapsed() >= self.cfg.lease_wait {
                            return Err(Error::Unavailable(
                                "timed out waiting for another process to mint the token".into(),
                            ));
                        }
                        attempt += 1;
                        tokio::time::sleep(net::backoff(attempt.min(3))).await;
                        continue;
                    }
                    return Ok(Leased::Proceed {
                        rec: None,
                        expected: None,
                        lease,
                    });
                }
                None => {
                    release(lease).await;
                    self.forget(key);
                    return Err(Error::TokenNotFound);
                }
                Some(r) => r,
            };
            if fresh.token_invalidated {
                release(lease).await;
                self.forget(key);
                return Err(reconnect_for(&fresh));
            }
            // Our unsaved token is newer than the store's: refresh from it, never from the
            // rotated-out one the store still holds.
            let base = match dirty {
                Some(c) if c.unsaved == Some(fresh.stored_version()) => (*c.rec).clone(),
                _ => {
                    if fresh.token.access_token.expose() != stale
                        && fresh.token.instance_url.is_some()
                    {
                        release(lease).await;
                        return Ok(Leased::Done(self.remember(key, fresh)));
                    }
                    fresh.clone()
                }
            };
            let expected = Some(fresh.stored_version());
            match grant {
                LeaseGrant::Unsupported | LeaseGrant::Held(_) => {
                    return Ok(Leased::Proceed {
                        rec: Some(Box::new(base)),
                        expected,
                        lease,
                    });
                }
                LeaseGrant::Busy if started.elapsed() >= self.cfg.lease_wait => {
                    return Err(Error::Unavailable(
                        "timed out waiting for another process to refresh the token".into(),
                    ))
                }
                LeaseGrant::Busy => {
                    attempt += 1;
                    tokio::time::sleep(net::backoff(attempt.min(3))).await;
                }
            }
        }
    }

    /// A new token from the configured server-to-server grant, saved as the connection's record.
    async fn mint(
        self: &Arc<Self>,
        key: &ConnKey,
        expected: Option<u64>,
    ) -> Result<Arc<TokenRecord>> {
        let tr = OAuthClient::new(&self.cfg, &self.http)
            .for_conn(key, None)
            .server_grant()
            .await?;
        let mut extra = serde_json::Map::new();
        extra.insert(
            "grant".into(),
            serde_json::Value::String(crate::oauth::server::grant_name(&self.cfg).into()),
        );
        let mut rec = TokenRecord {
            account_id: key.account_id().to_string(),
            owner: key.owner().to_string(),
            token: TokenData {
                access_token: tr.access_token.clone(),
                refresh_token: None,
                issued_at: Some(
                    tr.issued_at
                        .clone()
                        .unwrap_or_else(|| crate::oauth::state::now_millis().to_string()),
                ),
                instance_url: None,
                id: None,
                scope: None,
                extra,
            },
            token_invalidated: false,
            invalidated_reason: None,
            refreshed_at: None,
            version: None,
            extra: Default::default(),
        };
        apply_refresh(&mut rec, tr)?;
        self.commit(key, rec, expected).await
    }

    async fn do_refresh(
        self: &Arc<Self>,
        key: &ConnKey,
        mut rec: TokenRecord,
        expected: Option<u64>,
    ) -> Result<Arc<TokenRecord>> {
        let Some(refresh_token) = rec.token.refresh_token.clone() else {
            return Err(Error::reconnect(
                ReconnectReason::NoRefreshToken,
                rec.idle_ms(now_millis()),
            ));
        };
        let started = Instant::now();
        let org = crate::events::org_of(rec.token.id.as_deref());
        match OAuthClient::new(&self.cfg, &self.http)
            .for_conn(key, org.as_deref())
            .refresh(&refresh_token)
            .await
        {
            Ok(tr) => {
                apply_refresh(&mut rec, tr)?;
                let rotated = rec.token.refresh_token.as_ref().map(|t| t.expose())
                    != Some(refresh_token.expose());
                let out = self.commit(key, rec, expected).await;
                if out.is_ok() {
                    self.cfg.events.emit(|| Event::Refresh {
                        connection: key.into(),
                        org_id: org,
                        rotated,
                        duration_ms: started.elapsed().as_millis() as u64,
                    });
                }
                out
            }
            Err(Error::OAuth { error, description }) => {
                let Some(reason) = ReconnectReason::from_oauth(&error, &description) else {
                    return Err(Error::OAuth { error, description });
                };
                let idle_ms = rec.idle_ms(now_millis());
                self.cfg.events.emit(|| Event::ReconnectRequired {
                    connection: key.into(),
                    org_id: org,
                    reason,
                    idle_ms,
                });
                let why = Error::ReconnectRequired {
                    reason,
                    idle_ms,
                    description: Some(safe_description(&description)),
                };
                self.invalidate(key, rec, expected, why).await
            }
            Err(e) => Err(e),
        }
    }

    /// Saves `token_invalidated: true` with its reason (best effort) and answers `why`.
    async fn invalidate(
        &self,
        key: &ConnKey,
        mut rec: TokenRecord,
        expected: Option<u64>,
        why: Error,
    ) -> Result<Arc<TokenRecord>> {
        self.forget(key);
        rec.token_invalidated = true;
        if let Error::ReconnectRequired { reason, .. } = &why {
            rec.invalidated_reason = Some(reason.as_str().to_string());
        }
        rec.version = Some(next_version(expected));
        let _ = self.store.save(&rec, expected).await;
        Err(why)
    }

    /// Saves a refreshed record if the store still holds `expected`. A lost race adopts the
    /// winner's record; a failed save keeps ours in memory (it is the only copy of a rotated
    /// refresh token) and saves it again in the background.
    async fn commit(
        self: &Arc<Self>,
        key: &ConnKey,
        mut rec: TokenRecord,
        expected: Option<u64>,
    ) -> Result<Arc<TokenRecord>> {
        rec.version = Some(next_version(expected));
        match self.store.save(&rec, expected).await {
            Ok(true) => Ok(self.remember(key, rec)),
            Ok(false) => self.adopt_winner(key).await,
            Err(_) => {
                let rec = Arc::new(rec);
                let base = expected.unwrap_or(0);
                let entry = Cached {
                    rec: rec.clone(),
                    checked: Instant::now(),
                    unsaved: Some(base),
                };
                lock(&self.pending).insert(key.clone(), entry.clone());
                lock(&self.cache).put(key.clone(), entry);
                self.resave_in_background(key);
                Ok(rec)
            }
        }
    }

    async fn adopt_winner(&self, key: &ConnKey) -> Result<Arc<TokenRecord>> {
        match self.store.find(key).await? {
            Some(w) if !w.token_invalidated => Ok(self.remember(key, w)),
            Some(w) => {
                self.forget(key);
                Err(reconnect_for(&w))
            }
            None => {
                self.forget(key);
                Err(Error::TokenNotFound)
            }
        }
    }

    /// Retries saving the unsaved record with growing backoff until it lands, another writer
    /// wins, or the connection is forgotten (disconnected).
    fn resave_in_background(self: &Arc<Self>, key: &ConnKey) {
        if lock(&self.resaving).insert(key.clone(), ()).is_some() {
            return;
        }
        let (inner, key) = (self.clone(), key.clone());
        tokio::spawn(async move {
            let mut delay = Duration::from_millis(200);
            let mut stop = inner.stop.subscribe();
            loop {
                if *stop.borrow() {
                    break;
                }
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = stop.changed() => break,
                }
                delay = (delay * 2).min(MAX_RESAVE_BACKOFF);
                let Some(c) = lock(&inner.pending).get(&key).cloned() else {
                    break;
                };
                let base = c.unsaved.unwrap_or(0);
                match inner.store.save(&c.rec, Some(base)).await {
                    Ok(true) => {
                        let mut pending = lock(&inner.pending);
                        let mut cache = lock(&inner.cache);
                        match pending.get_mut(&key) {
                            Some(p) if Arc::ptr_eq(&p.rec, &c.rec) => {
                                pending.remove(&key);
                                if cache
                                    .get(&key)
                                    .is_some_and(|now| Arc::ptr_eq(&now.rec, &c.rec))
                                {
                                    cache.put(
                                        key.clone(),
                                        Cached {
                                            rec: c.rec.clone(),
                                            checked: Instant::now(),
                                            unsaved: None,
                                        },
                                    );
                                }
                                break;
                            }
                            // A newer unsaved record replaced this one meanwhile: it now replaces
                            // the version just written.
                            Some(p) => {
                                p.unsaved = c.rec.version;
                                let newer = p.clone();
                                if cache
                                    .get(&key)
                                    .is_some_and(|now| Arc::ptr_eq(&now.rec, &newer.rec))
                                {
                                    cache.put(key.clone(), newer);
                                }
                            }
                            None => break,
                        }
                    }
                    Ok(false) => {
                        lock(&inner.pending).remove(&key);
                        let _ = inner.adopt_winner(&key).await;
                        break;
                    }
                    Err(_) => {}
                }
            }
            lock(&inner.resaving).remove(&key);
        });
    }
}

/// RECONNECT_REQUIRED for a record stored as invalidated, with its stored reason.
fn reconnect_for(rec: &TokenRecord) -> Error {
    Error::reconnect(rec.reason(), rec.idle_ms(now_millis()))
}

/// Applies a refresh response: new access token, issued_at, instance_url; the refresh token only
/// changes when Salesforce rotated it.
pub fn apply_refresh(rec: &mut TokenRecord, tr: TokenResponse) -> Result<()> {
    rec.token.access_token = tr.access_token;
    rec.refreshed_at = Some(crate::oauth::state::now_millis());
    if let Some(rt) = tr.refresh_token {
        rec.token.refresh_token = Some(rt);
    }
    if let Some(at) = tr.issued_at {
        rec.token.issued_at = Some(at);
    }
    if let Some(iu) = tr.instance_url {
        rec.token.instance_url = Some(check_instance_url(&iu)?);
    }
    if let Some(id) = tr.id {
        rec.token.id = Some(id);
    }
    if let Some(scope) = tr.scope {
        rec.token.scope = Some(scope);
    }
    if rec.token.instance_url.is_none() {
        return Err(Error::Unavailable(
            "Salesforce did not return an instance_url".into(),
        ));
    }
    Ok(())
}

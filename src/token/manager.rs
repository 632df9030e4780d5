//! The token lifecycle: a bounded, revalidated in-process cache of connections and the one
//! refresh path every caller shares.
//!
//! - Single flight: callers needing a refresh of the same connection wait for one spawned task and
//!   all get its outcome, failure included. The task runs to completion even if every caller is
//!   gone, because a token request that was sent must have its answer saved: with refresh-token
//!   rotation a dropped answer loses the connection.
//! - Across processes the store's lease keeps one refresh per expiry. Salesforce's token endpoint
//!   cannot check a fence, so the lease guards the request itself: it is renewed immediately
//!   before every attempt to send the refresh token, for as long as that attempt and its commit
//!   can take (`request_lease`), kept there while it runs, and no token is sent without it. A conditional save on the record's `version` then stops a
//!   holder whose lease was lost from overwriting a newer token.
//! - Commit first, validate after: a grant Salesforce accepted is saved before any later check
//!   (signature, instance_url) can fail.
//! - A rotated token whose save fails stays in memory, keeps its lease (others wait rather than
//!   present the rotated-out token) and is saved again in the background; `drain` flushes it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::config::{is_loopback, Config};
use crate::error::{Error, Result};
use crate::events::Event;
use crate::lru::Lru;
use crate::net;
use crate::oauth::client::{OAuthClient, TokenResponse};
use crate::oauth::state::now_millis;
use crate::token::reason::{safe_description, ReconnectReason};
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

/// The lease a token request is sent under: one attempt (answer and body, each within
/// `httpTimeoutMs`, plus the stall grace) and the store calls that commit its answer. Renewed to
/// this immediately before every attempt, and kept there while the request runs.
pub fn request_lease(cfg: &Config) -> Duration {
    cfg.http_timeout * 2 + Duration::from_secs(1) + cfg.store_timeout * 2
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
    /// Leases kept for unsaved records: while a rotated token exists only here, no other process
    /// may refresh from the rotated-out one the store still holds.
    held: Mutex<HashMap<ConnKey, LeaseToken>>,
    /// Set once `drain` is done: background saves stop.
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
    _renewal: Option<Renewal>,
}

impl Closing {
    /// The newest record this process knows: an unsaved rotated token in memory outranks the
    /// store's copy it replaces.
    pub fn newest(&self, stored: Option<TokenRecord>) -> Option<TokenRecord> {
        let pending = lock(&self.inner.pending).get(&self.key).cloned();
        match (pending, stored) {
            (Some(p), Some(s)) if p.unsaved == Some(s.stored_version()) => Some((*p.rec).clone()),
            (Some(p), None) => Some((*p.rec).clone()),
            (_, s) => s,
        }
    }
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
                held: Mutex::new(HashMap::new()),
                next_flight: AtomicU64::new(1),
                stop: tokio::sync::watch::channel(false).0,
            }),
        }
    }

    pub fn store(&self) -> &Arc<dyn TokenStore> {
        &self.inner.store
    }

    /// Stops background work (retried saves) at once; `drain` is the orderly way.
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
        let ahead = self.inner.cfg.refresh_ahead.as_millis() as i64;
        crate::token::jwt_exp::refresh_due_at_ms(rec.token.access_token.expose(), ahead)
            .is_some_and(|due| due <= now_millis())
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
            _renewal: None,
        };
        let flight = lock(&inner.flights).get(key).map(|f| f.rx.clone());
        if let Some(mut rx) = flight {
            let _ = tokio::time::timeout(
                refresh_bound(&inner.cfg) + inner.cfg.lease_wait,
                rx.wait_for(Option::is_some),
            )
            .await;
        }
        // An unsaved record of ours already holds the lease.
        if let Some(l) = lock(&inner.held).remove(key) {
            closing.lease = Some(l);
        }
        let started = Instant::now();
        let ttl = inner.lease_ttl().await;
        let mut attempt = 0;
        while closing.lease.is_none() {
            match inner.store.acquire_lease(key, ttl.as_millis() as u64).await {
                Ok(LeaseGrant::Held(l)) => closing.lease = Some(l),
                Ok(LeaseGrant::Busy) if started.elapsed() < inner.cfg.lease_wait => {
                    attempt += 1;
                    tokio::time::sleep(net::backoff(attempt.min(3))).await;
                }
                _ => break,
            }
        }
        // The revoke can take as long as a refresh (same retry policy): the lease must outlast it.
        if let Some(l) = &closing.lease {
            if ttl == RENEWED_LEASE_TTL {
                let bound = refresh_bound(&inner.cfg);
                let _ = inner.renew(key, l, bound).await;
                closing._renewal = Some(inner.renew_while_running(key, l.clone(), bound));
            }
        }
        closing
    }

    /// Before `close()`: waits (bounded by `limit`) for every refresh in flight, then saves what
    /// is still unsaved, then stops background work. Answers the connections whose rotated token
    /// could not be saved (each also reported as a `storeError` event); their leases are kept
    /// until they expire, so no other process presents the rotated-out token meanwhile.
    pub async fn drain(&self, limit: Duration) -> Vec<ConnKey> {
        let inner = &self.inner;
        let deadline = Instant::now() + limit;
        while !lock(&inner.flights).is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let mut delay = Duration::from_millis(50);
        loop {
            let keys: Vec<ConnKey> = lock(&inner.pending).keys().cloned().collect();
            for k in &keys {
                let left = deadline.saturating_duration_since(Instant::now());
                let _ = tokio::time::timeout(left, inner.flush_one(k)).await;
            }
            if lock(&inner.pending).is_empty() || Instant::now() >= deadline {
                break;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            tokio::time::sleep(delay.min(left)).await;
            delay = (delay * 2).min(Duration::from_secs(1));
        }
        inner.stop.send_replace(true);
        let mut lost: Vec<ConnKey> = lock(&inner.pending).keys().cloned().collect();
        for k in lock(&inner.flights).keys() {
            if !lost.contains(k) {
                lost.push(k.clone());
            }
        }
        for k in &lost {
            inner.cfg.events.emit(|| Event::StoreError {
                op: "close".into(),
                message: "a refreshed token could not be saved before close(): the connection \
                          may need to be connected again"
                    .into(),
                timed_out: true,
                connection: Some(k.into()),
            });
        }
        lost
    }

    /// Whether a refresh or an unsaved token exists (the host process must stay alive for it).
    pub fn busy(&self) -> bool {
        !lock(&self.inner.flights).is_empty() || !lock(&self.inner.pending).is_empty()
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

    /// Renews a held lease for `ttl`; true only when the store confirmed it (a store that
    /// cannot renew leased for the whole refresh already).
    async fn renew(&self, key: &ConnKey, lease: &LeaseToken, ttl: Duration) -> bool {
        let call = self.store.renew_lease(key, lease, ttl.as_millis() as u64);
        // A renewal slower than a third of the short lease counts as lost.
        matches!(
            tokio::time::timeout(RENEWED_LEASE_TTL / 3, call).await,
            Ok(Ok(Some(true) | None))
        )
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
        // The lease guards the request, not only the save: renewed immediately before every
        // attempt for as long as that attempt and its commit can take (`request_lease`), and
        // kept there while the request runs; no token is sent without it.
        let mut renewal = None;
        let mut guard: Option<Box<crate::oauth::client::SendGuard>> = None;
        if let (Some(l), true) = (&lease, ttl == RENEWED_LEASE_TTL) {
            let bound = request_lease(&self.cfg);
            let (inner, k, l2) = (self.clone(), key.clone(), l.clone());
            guard = Some(Box::new(move || {
                let (inner, k, l2) = (inner.clone(), k.clone(), l2.clone());
                Box::pin(async move { inner.renew(&k, &l2, bound).await })
            }));
            renewal = Some(self.renew_while_running(key, l.clone(), bound));
        }
        let out = match rec {
            Some(r) if r.token.refresh_token.is_some() => {
                self.do_refresh(key, *r, expected, guard.as_deref()).await
            }
            // Server flows have no refresh token: a new grant replaces the token.
            _ if key.is_server() => self.mint(key, expected, guard.as_deref()).await,
            // A connection that cannot refresh is marked, so the next login starts a new flow.
            Some(r) => {
                let why =
                    Error::reconnect(ReconnectReason::NoRefreshToken, r.idle_ms(now_millis()));
                self.invalidate(key, *r, expected, why).await
            }
            None => Err(Error::TokenNotFound),
        };
        drop(renewal);
        if let Some(l) = lease {
            self.settle_lease(key, l).await;
        }
        out
    }

    /// After a refresh: an unsaved rotated token keeps the lease (its background save renews and
    /// finally releases it); otherwise the lease is released.
    async fn settle_lease(&self, key: &ConnKey, lease: LeaseToken) {
        if lock(&self.pending).contains_key(key) {
            let old = lock(&self.held).insert(key.clone(), lease);
            if let Some(old) = old {
                let _ = self.store.release_lease(key, &old).await;
            }
        } else {
            let _ = self.store.release_lease(key, &lease).await;
        }
    }

    /// Keeps a lease at `ttl` while the request runs: renewals every third of the short lease,
    /// each bounded by it. A failed renewal is a loss: the request (already covered for its
    /// whole bound) may finish, its save still goes through the fence.
    fn renew_while_running(
        self: &Arc<Self>,
        key: &ConnKey,
        lease: LeaseToken,
        ttl: Duration,
    ) -> Renewal {
        let (inner, key) = (self.clone(), key.clone());
        Renewal(Some(tokio::spawn(async move {
            loop {
                tokio::time::sleep(RENEWED_LEASE_TTL / 3).await;
                if !inner.renew(&key, &lease, ttl).await {
                    return;
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
            // An unsaved record of ours holds the lease already: refresh under it.
            let held = lock(&self.held).remove(key);
            let grant = match held {
                Some(l) => LeaseGrant::Held(l),
                None => {
                    self.store
                        .acquire_lease(key, ttl.as_millis() as u64)
                        .await?
                }
            };
            let lease = match &grant {
                LeaseGrant::Held(l) => Some(l.clone()),
                _ => None,
            };
            let release = |lease: Option<LeaseToken>| async move {
                if let Some(l) = lease {
                    self.settle_lease(key, l).await;
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
        guard: Option<&crate::oauth::client::SendGuard>,
    ) -> Result<Arc<TokenRecord>> {
        let mut client = OAuthClient::new(&self.cfg, &self.http).for_conn(key, None);
        if let Some(g) = guard {
            client = client.guarded(g);
        }
        let tr = client.server_grant().await?;
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
        // No refresh token is at stake here: an unusable grant is simply refused.
        if let Some(p) = apply_refresh(&mut rec, tr) {
            return Err(p);
        }
        self.commit(key, rec, expected).await
    }

    async fn do_refresh(
        self: &Arc<Self>,
        key: &ConnKey,
        mut rec: TokenRecord,
        expected: Option<u64>,
        guard: Option<&crate::oauth::client::SendGuard>,
    ) -> Result<Arc<TokenRecord>> {
        let Some(refresh_token) = rec.token.refresh_token.clone() else {
            return Err(Error::reconnect(
                ReconnectReason::NoRefreshToken,
                rec.idle_ms(now_millis()),
            ));
        };
        let started = Instant::now();
        // The version of the record whose refresh token is sent: our own unsaved record when
        // there is one (then newer than `expected`, the store's).
        let from = rec.version;
        let org = crate::events::org_of(rec.token.id.as_deref());
        let mut client = OAuthClient::new(&self.cfg, &self.http).for_conn(key, org.as_deref());
        if let Some(g) = guard {
            client = client.guarded(g);
        }
        match client.refresh_unverified(&refresh_token).await {
            Ok(tr) => {
                // Commit first, validate after: Salesforce has accepted the grant (and with
                // rotation retired the token we sent), so its answer is saved before any check
                // can fail; a problem found is reported, the tokens are never dropped.
                let problem = client.verify(&tr).err();
                let problem = apply_refresh(&mut rec, tr).or(problem);
                let rotated = rec.token.refresh_token.as_ref().map(|t| t.expose())
                    != Some(refresh_token.expose());
                let saved = self.commit_from(key, rec, expected, from).await?;
                if let Some(p) = problem {
                    return Err(p);
                }
                self.cfg.events.emit(|| Event::Refresh {
                    connection: key.into(),
                    org_id: org,
                    rotated,
                    duration_ms: started.elapsed().as_millis() as u64,
                });
                Ok(saved)
            }
            Err(Error::OAuth { error, description }) => {
                let Some(reason) = ReconnectReason::from_oauth(&error, &description) else {
                    return Err(Error::OAuth { error, description });
                };
                let why = Error::ReconnectRequired {
                    reason,
                    idle_ms: rec.idle_ms(now_millis()),
                    description: Some(safe_description(&description)),
                };
                self.invalidate(key, rec, expected, why).await
            }
            Err(e) => Err(e),
        }
    }

    /// Marks the connection invalidated (with why) through the fence. Only when that write landed
    /// is the connection reported (`reconnectRequired`, `why`): a newer record that won (a
    /// reconnect meanwhile) is adopted instead. The one place that decides and reports it.
    async fn invalidate(
        &self,
        key: &ConnKey,
        mut rec: TokenRecord,
        expected: Option<u64>,
        why: Error,
    ) -> Result<Arc<TokenRecord>> {
        let org = crate::events::org_of(rec.token.id.as_deref());
        rec.token_invalidated = true;
        if let Error::ReconnectRequired { reason, .. } = &why {
            rec.invalidated_reason = Some(reason.as_str().to_string());
        }
        rec.version = Some(next_version(expected));
        match self.store.save(&rec, expected).await {
            Ok(true) => {
                self.forget(key);
                if let Error::ReconnectRequired {
                    reason, idle_ms, ..
                } = &why
                {
                    let (reason, idle_ms) = (*reason, *idle_ms);
                    self.cfg.events.emit(|| Event::ReconnectRequired {
                        connection: key.into(),
                        org_id: org,
                        reason,
                        idle_ms,
                    });
                }
                Err(why)
            }
            Ok(false) => self.adopt_winner(key).await,
            Err(e) => {
                // Nothing was written: the store still holds the (dead) token; the next call
                // tries again.
                lock(&self.cache).remove(key);
                Err(e)
            }
        }
    }

    /// Saves a refreshed record if the store still holds `expected`. A lost race adopts the
    /// winner's record; a failed save keeps ours in memory (it is the only copy of a rotated
    /// refresh token) and saves it again in the background.
    async fn commit(
        self: &Arc<Self>,
        key: &ConnKey,
        rec: TokenRecord,
        expected: Option<u64>,
    ) -> Result<Arc<TokenRecord>> {
        self.commit_from(key, rec, expected, expected).await
    }

    /// `commit` for a record refreshed from version `from`. When the fence lost to that very
    /// version (our own unsaved record, saved in the background meanwhile), ours is its successor
    /// and replaces it: adopting it would bring back the refresh token just rotated out.
    async fn commit_from(
        self: &Arc<Self>,
        key: &ConnKey,
        mut rec: TokenRecord,
        mut expected: Option<u64>,
        from: Option<u64>,
    ) -> Result<Arc<TokenRecord>> {
        let mut retried = false;
        rec.version = Some(next_version(expected.max(from)));
        let saved = loop {
            match self.store.save(&rec, expected).await {
                Ok(false) if !retried && from.is_some() && from != expected => {
                    retried = true;
                    match self.store.find(key).await {
                        Ok(Some(w)) if w.version == from && !w.token_invalidated => {
                            expected = from;
                        }
                        _ => break Ok(false),
                    }
                }
                other => break other,
            }
        };
        match saved {
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

    /// One attempt at saving `key`'s unsaved record, renewing the lease it holds first. True
    /// when nothing is left to save (saved, superseded or forgotten).
    async fn flush_one(&self, key: &ConnKey) -> bool {
        let Some(c) = lock(&self.pending).get(key).cloned() else {
            self.release_held(key).await;
            return true;
        };
        let held = lock(&self.held).get(key).cloned();
        if let Some(l) = &held {
            // Lost or not, the save below is fenced; keeping the lease keeps others waiting.
            let _ = self.renew(key, l, refresh_bound(&self.cfg)).await;
        }
        let base = c.unsaved.unwrap_or(0);
        match self.store.save(&c.rec, Some(base)).await {
            Ok(true) => {
                let done = {
                    let mut pending = lock(&self.pending);
                    let mut cache = lock(&self.cache);
                    match pending.get_mut(key) {
                        Some(p) if Arc::ptr_eq(&p.rec, &c.rec) => {
                            pending.remove(key);
                            if cache
                                .get(key)
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
                            true
                        }
                        // A newer unsaved record replaced this one meanwhile: it now replaces
                        // the version just written.
                        Some(p) => {
                            p.unsaved = c.rec.version;
                            let newer = p.clone();
                            if cache
                                .get(key)
                                .is_some_and(|now| Arc::ptr_eq(&now.rec, &newer.rec))
                            {
                                cache.put(key.clone(), newer);
                            }
                            false
                        }
                        None => true,
                    }
                };
                if done {
                    self.release_held(key).await;
                }
                done
            }
            Ok(false) => {
                lock(&self.pending).remove(key);
                let _ = self.adopt_winner(key).await;
                self.release_held(key).await;
                true
            }
            Err(_) => false,
        }
    }

    async fn release_held(&self, key: &ConnKey) {
        let l = lock(&self.held).remove(key);
        if let Some(l) = l {
            let _ = self.store.release_lease(key, &l).await;
        }
    }

    /// Retries saving the unsaved record with growing backoff until it lands, another writer
    /// wins, or the connection is forgotten (disconnected). Its lease is renewed meanwhile.
    fn resave_in_background(self: &Arc<Self>, key: &ConnKey) {
        if lock(&self.resaving).insert(key.clone(), ()).is_some() {
            return;
        }
        let (inner, key) = (self.clone(), key.clone());
        tokio::spawn(async move {
            // Short enough that the lease (renewed on every attempt) never lapses meanwhile.
            let max = MAX_RESAVE_BACKOFF.min(refresh_bound(&inner.cfg) / 3);
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
                delay = (delay * 2).min(max);
                if inner.flush_one(&key).await {
                    break;
                }
            }
            lock(&inner.resaving).remove(&key);
            // A save that failed while this loop was ending found it still registered and started
            // none: without a loop its held lease would lapse and another process would refresh
            // from the rotated-out token the store still holds.
            if !*inner.stop.borrow() && lock(&inner.pending).contains_key(&key) {
                inner.resave_in_background(&key);
            }
        });
    }
}

/// RECONNECT_REQUIRED for a record stored as invalidated, with its stored reason.
fn reconnect_for(rec: &TokenRecord) -> Error {
    Error::reconnect(rec.reason(), rec.idle_ms(now_millis()))
}

/// Applies a refresh response: new access token, issued_at, instance_url; the refresh token only
/// changes when Salesforce rotated it. Every token is taken; what cannot be used (an instance_url
/// that fails validation, or none at all) is answered as the problem to report after saving.
pub fn apply_refresh(rec: &mut TokenRecord, tr: TokenResponse) -> Option<Error> {
    let mut problem = None;
    rec.token.access_token = tr.access_token;
    rec.refreshed_at = Some(crate::oauth::state::now_millis());
    if let Some(rt) = tr.refresh_token {
        rec.token.refresh_token = Some(rt);
    }
    if let Some(at) = tr.issued_at {
        rec.token.issued_at = Some(at);
    }
    if let Some(iu) = tr.instance_url {
        match check_instance_url(&iu) {
            Ok(u) => rec.token.instance_url = Some(u),
            Err(e) => problem = Some(e),
        }
    }
    if let Some(id) = tr.id {
        rec.token.id = Some(id);
    }
    if let Some(scope) = tr.scope {
        rec.token.scope = Some(scope);
    }
    if problem.is_none() && rec.token.instance_url.is_none() {
        problem = Some(Error::Unavailable(
            "Salesforce did not return an instance_url".into(),
        ));
    }
    problem
}

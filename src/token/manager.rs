//! The token lifecycle: an in-process cache of connections and the one refresh path every caller
//! shares. Concurrent callers that need a refresh of the same connection wait for a single token
//! request (single flight); with a store that offers leases, that holds across processes too.
//! This matters beyond efficiency: with refresh-token rotation, two refreshes of one token revoke
//! the whole token family.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::config::{is_loopback, Config};
use crate::error::{Error, Result};
use crate::net;
use crate::oauth::client::{OAuthClient, TokenResponse};
use crate::token::record::{ConnKey, TokenData, TokenRecord};
use crate::token::store::TokenStore;

/// How long a refresh lease is held at most (a crashed holder frees it after this).
const LEASE_TTL_MS: u64 = 30_000;

/// Validated `instance_url`: REST calls (and with them the bearer token) only go to https hosts,
/// or to loopback for tests.
pub fn check_instance_url(s: &str) -> Result<String> {
    let u = url::Url::parse(s).map_err(|_| Error::Unavailable("Salesforce returned an invalid instance_url".into()))?;
    let ok = match (u.scheme(), u.host_str()) {
        ("https", Some(_)) => true,
        ("http", Some(h)) => is_loopback(h),
        _ => false,
    };
    if !ok {
        return Err(Error::Unavailable("Salesforce returned an instance_url that is not https".into()));
    }
    Ok(u.origin().ascii_serialization())
}

pub struct TokenManager {
    store: Arc<dyn TokenStore>,
    cache: Mutex<HashMap<ConnKey, Arc<TokenRecord>>>,
    flights: Mutex<HashMap<ConnKey, Arc<tokio::sync::Mutex<()>>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

impl TokenManager {
    pub fn new(store: Arc<dyn TokenStore>) -> Self {
        Self { store, cache: Mutex::new(HashMap::new()), flights: Mutex::new(HashMap::new()) }
    }

    pub fn store(&self) -> &Arc<dyn TokenStore> {
        &self.store
    }

    pub fn forget(&self, key: &ConnKey) {
        lock(&self.cache).remove(key);
    }

    pub fn remember(&self, key: &ConnKey, rec: TokenRecord) -> Arc<TokenRecord> {
        let rec = Arc::new(rec);
        lock(&self.cache).insert(key.clone(), rec.clone());
        rec
    }

    /// The connection as last known: the cache, else the store.
    pub async fn current(&self, key: &ConnKey) -> Result<Arc<TokenRecord>> {
        if let Some(r) = lock(&self.cache).get(key).cloned() {
            return Ok(r);
        }
        self.load(key).await
    }

    async fn load(&self, key: &ConnKey) -> Result<Arc<TokenRecord>> {
        match self.store.find(key).await? {
            None => Err(Error::TokenNotFound),
            Some(r) if r.token_invalidated => {
                self.forget(key);
                Err(Error::ReconnectRequired)
            }
            Some(r) => Ok(self.remember(key, r)),
        }
    }

    /// A connection usable for REST: it has an instance URL (records written by the incumbent do
    /// not, so they get one refresh first).
    pub async fn usable(&self, cfg: &Config, http: &reqwest::Client, key: &ConnKey) -> Result<Arc<TokenRecord>> {
        let rec = match self.current(key).await {
            // A server-to-server connection is minted on first use: no user needs to be asked.
            Err(Error::TokenNotFound) if key.is_server() => return self.refresh(cfg, http, key, "").await,
            other => other?,
        };
        if rec.token.instance_url.is_some() {
            return Ok(rec);
        }
        self.refresh(cfg, http, key, rec.token.access_token.expose()).await
    }

    /// Refreshes the connection unless someone already replaced `stale_access` (then returns theirs).
    pub async fn refresh(
        &self,
        cfg: &Config,
        http: &reqwest::Client,
        key: &ConnKey,
        stale_access: &str,
    ) -> Result<Arc<TokenRecord>> {
        let flight = lock(&self.flights).entry(key.clone()).or_default().clone();
        let result = {
            let _turn = flight.lock().await;
            self.refresh_in_flight(cfg, http, key, stale_access).await
        };
        // Drop the flight entry once nobody else waits on it, so the map stays small.
        let mut flights = lock(&self.flights);
        if Arc::strong_count(&flight) == 2 {
            flights.remove(key);
        }
        result
    }

    async fn refresh_in_flight(
        &self,
        cfg: &Config,
        http: &reqwest::Client,
        key: &ConnKey,
        stale_access: &str,
    ) -> Result<Arc<TokenRecord>> {
        // Another caller in this process refreshed while we waited for our turn.
        if let Some(r) = lock(&self.cache).get(key).cloned() {
            if r.token.access_token.expose() != stale_access && r.token.instance_url.is_some() {
                return Ok(r);
            }
        }
        let leased = self.take_lease(cfg, key, stale_access).await?;
        let (rec, held) = match leased {
            Lease::SomeoneElseRefreshed(r) => return Ok(r),
            Lease::Held(r) => (r, true),
            Lease::Unsupported(r) => (r, false),
        };
        let out = match rec {
            Some(r) if r.token.refresh_token.is_some() => self.do_refresh(cfg, http, key, r).await,
            // Server flows have no refresh token: a new grant replaces the token.
            _ if key.is_server() => self.mint(cfg, http, key).await,
            _ => Err(Error::ReconnectRequired),
        };
        if held {
            let _ = self.store.release_lease(key).await;
        }
        out
    }

    /// With a leasing store: wait (bounded) for the lease, re-reading the record while waiting, so
    /// that a refresh done by another process is picked up instead of repeated.
    async fn take_lease(&self, cfg: &Config, key: &ConnKey, stale_access: &str) -> Result<Lease> {
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            let acquired = self.store.acquire_lease(key, LEASE_TTL_MS).await?;
            // Read after acquiring: the holder before us may have saved a new token.
            let fresh = self.store.find(key).await?;
            let fresh = match fresh {
                None if key.is_server() => {
                    return match acquired {
                        None => Ok(Lease::Unsupported(None)),
                        Some(true) => Ok(Lease::Held(None)),
                        Some(false) if started.elapsed() >= cfg.lease_wait => {
                            Err(Error::Unavailable("timed out waiting for another process to mint the token".into()))
                        }
                        Some(false) => {
                            attempt += 1;
                            tokio::time::sleep(net::backoff(attempt.min(3))).await;
                            continue;
                        }
                    };
                }
                None => {
                    if acquired == Some(true) {
                        let _ = self.store.release_lease(key).await;
                    }
                    self.forget(key);
                    return Err(Error::TokenNotFound);
                }
                Some(r) => r,
            };
            if fresh.token_invalidated {
                if acquired == Some(true) {
                    let _ = self.store.release_lease(key).await;
                }
                self.forget(key);
                return Err(Error::ReconnectRequired);
            }
            if fresh.token.access_token.expose() != stale_access && fresh.token.instance_url.is_some() {
                if acquired == Some(true) {
                    let _ = self.store.release_lease(key).await;
                }
                return Ok(Lease::SomeoneElseRefreshed(self.remember(key, fresh)));
            }
            match acquired {
                None => return Ok(Lease::Unsupported(Some(fresh))),
                Some(true) => return Ok(Lease::Held(Some(fresh))),
                Some(false) if started.elapsed() >= cfg.lease_wait => {
                    return Err(Error::Unavailable("timed out waiting for another process to refresh the token".into()))
                }
                Some(false) => {
                    attempt += 1;
                    tokio::time::sleep(net::backoff(attempt.min(3))).await;
                }
            }
        }
    }

    /// A new token from the configured server-to-server grant, saved as the connection's record.
    async fn mint(&self, cfg: &Config, http: &reqwest::Client, key: &ConnKey) -> Result<Arc<TokenRecord>> {
        let tr = (OAuthClient { cfg, http }).server_grant().await?;
        let mut extra = serde_json::Map::new();
        extra.insert("grant".into(), serde_json::Value::String(crate::oauth::server::grant_name(cfg).into()));
        let mut rec = TokenRecord {
            account_id: key.account_id().to_string(),
            owner: key.owner().to_string(),
            token: TokenData {
                access_token: tr.access_token.clone(),
                refresh_token: None,
                issued_at: Some(tr.issued_at.clone().unwrap_or_else(|| crate::oauth::state::now_millis().to_string())),
                instance_url: None,
                id: None,
                scope: None,
                extra,
            },
            token_invalidated: false,
            extra: Default::default(),
        };
        apply_refresh(&mut rec, tr)?;
        self.store.save(&rec).await?;
        Ok(self.remember(key, rec))
    }

    async fn do_refresh(
        &self,
        cfg: &Config,
        http: &reqwest::Client,
        key: &ConnKey,
        mut rec: TokenRecord,
    ) -> Result<Arc<TokenRecord>> {
        let Some(refresh_token) = rec.token.refresh_token.clone() else {
            return Err(Error::ReconnectRequired);
        };
        match (OAuthClient { cfg, http }).refresh(&refresh_token).await {
            Ok(tr) => {
                apply_refresh(&mut rec, tr)?;
                self.store.save(&rec).await?;
                Ok(self.remember(key, rec))
            }
            Err(Error::OAuth { error, .. }) if error == "invalid_grant" => {
                rec.token_invalidated = true;
                self.forget(key);
                self.store.save(&rec).await?;
                Err(Error::ReconnectRequired)
            }
            Err(e) => Err(e),
        }
    }
}

/// What the lease step found: the record to refresh (none yet for a new server connection),
/// whether we hold the store's lease, or a token another caller already replaced.
enum Lease {
    Held(Option<TokenRecord>),
    Unsupported(Option<TokenRecord>),
    SomeoneElseRefreshed(Arc<TokenRecord>),
}

/// Applies a refresh response: new access token, issued_at, instance_url; the refresh token only
/// changes when Salesforce rotated it.
pub fn apply_refresh(rec: &mut TokenRecord, tr: TokenResponse) -> Result<()> {
    rec.token.access_token = tr.access_token;
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
        return Err(Error::Unavailable("Salesforce did not return an instance_url".into()));
    }
    Ok(())
}

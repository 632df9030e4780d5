//! Shared simulator state (one instance behind an `Arc`, used by both hosts).
//! Std mutexes are fine: no lock is held across an `.await`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard, PoisonError};

use serde_json::json;

use crate::bulk::Jobs;
use crate::data::Data;
use crate::faults::Faults;
use crate::grants::JwtConfig;
use crate::query::Cursors;
use crate::tokens::Store;
use crate::SimConfig;

/// Lock that survives a poisoned mutex (a panic elsewhere must not wedge the sim).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Knobs changeable at runtime through `/__sim/config`.
pub struct Settings {
    pub rotation: AtomicBool,
    pub auto_approve: AtomicBool,
    pub api_limit: AtomicU64,
    pub api_usage: AtomicU64,
    pub latency_ms: AtomicU64,
    /// Extra server time per 1,000 records in a query page or Bulk results page.
    pub latency_per_1000_ms: AtomicU64,
    /// Requests the org serves at once; past it `REQUEST_LIMIT_EXCEEDED`
    /// (ConcurrentRequests). 0 = no cap.
    pub concurrent_limit: AtomicU64,
    /// Time a Bulk query job takes from creation to JobComplete.
    pub bulk_job_ms: AtomicU64,
    /// The next Bulk query job ends in state Failed.
    pub bulk_fail_next: AtomicBool,
    /// The next N Bulk results pages fail after their first chunk (a connection lost mid-page).
    pub bulk_cut_pages: AtomicU64,
    /// Every token request waits this long before it is processed (a slow token endpoint).
    pub token_delay_ms: AtomicU64,
    /// Queries whose `SystemModstamp` range holds more rows than this fail with
    /// `QUERY_TIMEOUT` (0 = never).
    pub query_timeout_rows: AtomicU64,
}

pub const DEFAULT_BULK_JOB_MS: u64 = 500;

#[derive(Default)]
pub struct Counts {
    pub token_code: AtomicU64,
    pub token_refresh: AtomicU64,
    pub token_jwt: AtomicU64,
    pub token_cc: AtomicU64,
    pub token_total: AtomicU64,
    pub revoke: AtomicU64,
    pub query: AtomicU64,
    pub query_more: AtomicU64,
    pub rest: AtomicU64,
    pub authorize: AtomicU64,
    pub create: AtomicU64,
    pub update: AtomicU64,
    pub bulk: AtomicU64,
    pub query_timeout: AtomicU64,
    pub deleted: AtomicU64,
    pub concurrent_refused: AtomicU64,
    /// REST calls refused with 401 INVALID_SESSION_ID (an expired or unknown access token).
    pub invalid_session: AtomicU64,
}

pub fn bump(c: &AtomicU64) {
    c.fetch_add(1, Relaxed);
}

impl Counts {
    pub fn snapshot(&self) -> serde_json::Value {
        let g = |c: &AtomicU64| c.load(Relaxed);
        json!({
            "token": {
                "authorization_code": g(&self.token_code),
                "refresh_token": g(&self.token_refresh),
                "jwt_bearer": g(&self.token_jwt),
                "client_credentials": g(&self.token_cc),
                "total": g(&self.token_total),
            },
            "revoke": g(&self.revoke),
            "query": g(&self.query),
            "queryMore": g(&self.query_more),
            "rest": g(&self.rest),
            "authorize": g(&self.authorize),
            "create": g(&self.create),
            "update": g(&self.update),
            "bulk": g(&self.bulk),
            "queryTimeout": g(&self.query_timeout),
            "deleted": g(&self.deleted),
            "concurrentRefused": g(&self.concurrent_refused),
            "invalidSession": g(&self.invalid_session),
        })
    }

    pub fn reset(&self) {
        for c in [
            &self.token_code,
            &self.token_refresh,
            &self.token_jwt,
            &self.token_cc,
            &self.token_total,
            &self.revoke,
            &self.query,
            &self.query_more,
            &self.rest,
            &self.authorize,
            &self.create,
            &self.update,
            &self.bulk,
            &self.query_timeout,
            &self.deleted,
            &self.concurrent_refused,
            &self.invalid_session,
        ] {
            c.store(0, Relaxed);
        }
    }
}

pub struct Sim {
    pub login_url: String,
    pub instance_url: String,
    /// The org's My Domain host: OAuth like the login host, plus client_credentials.
    pub my_domain_url: String,
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uri: Option<String>,
    /// Fields that are text in the second org.
    pub text_fields: Vec<String>,
    pub settings: Settings,
    pub counts: Counts,
    pub data: Mutex<Data>,
    pub auth: Mutex<Store>,
    pub cursors: Cursors,
    pub faults: Mutex<Faults>,
    pub jwt: Mutex<JwtConfig>,
    pub jobs: Jobs,
    /// `/services/data` requests being served now (for `concurrent_limit`).
    pub in_flight: AtomicU64,
    /// Change Data Capture events for the Pub/Sub API.
    pub bus: crate::pubsub::Bus,
}

pub const DEFAULT_API_LIMIT: u64 = 100_000;

impl Sim {
    /// Fails only on an unparseable `jwt_public_key_pem`.
    pub fn new(
        cfg: &SimConfig,
        login_url: String,
        instance_url: String,
        my_domain_url: String,
    ) -> Result<Sim, String> {
        let jwt = JwtConfig::new(cfg.jwt_public_key_pem.as_deref(), cfg.jwt_users.clone())?;
        let issuer = login_url.clone();
        Ok(Sim {
            login_url,
            instance_url,
            my_domain_url,
            client_id: cfg.client_id.clone(),
            client_secret: cfg.client_secret.clone(),
            text_fields: cfg.text_fields.clone(),
            redirect_uri: cfg.redirect_uri.clone(),
            settings: Settings {
                rotation: AtomicBool::new(cfg.rotation),
                auto_approve: AtomicBool::new(cfg.auto_approve),
                api_limit: AtomicU64::new(cfg.api_limit),
                api_usage: AtomicU64::new(0),
                latency_ms: AtomicU64::new(cfg.latency_ms),
                latency_per_1000_ms: AtomicU64::new(cfg.latency_per_1000_ms),
                concurrent_limit: AtomicU64::new(cfg.concurrent_limit),
                bulk_job_ms: AtomicU64::new(cfg.bulk_job_ms),
                bulk_fail_next: AtomicBool::new(false),
                bulk_cut_pages: AtomicU64::new(0),
                token_delay_ms: AtomicU64::new(0),
                query_timeout_rows: AtomicU64::new(0),
            },
            counts: Counts::default(),
            data: Mutex::new(Data::new(cfg.seed, cfg.contacts, cfg.deals, cfg.notes)),
            auth: Mutex::new(Store::with_issuer(issuer)),
            cursors: Cursors::default(),
            faults: Mutex::new(Faults::default()),
            jwt: Mutex::new(jwt),
            jobs: Jobs::default(),
            in_flight: AtomicU64::new(0),
            bus: crate::pubsub::Bus::default(),
        })
    }

    /// Snapshot of the org's data (counts, seed and the write overlay).
    pub fn data(&self) -> Data {
        lock(&self.data).clone()
    }

    pub fn rotation(&self) -> bool {
        self.settings.rotation.load(Relaxed)
    }

    pub fn auto_approve(&self) -> bool {
        self.settings.auto_approve.load(Relaxed)
    }

    /// API calls used today and the daily limit.
    pub fn api_usage(&self) -> (u64, u64) {
        (
            self.settings.api_usage.load(Relaxed),
            self.settings.api_limit.load(Relaxed),
        )
    }

    /// `Sforce-Limit-Info` value.
    pub fn limit_info(&self) -> String {
        format!(
            "api-usage={}/{}",
            self.settings.api_usage.load(Relaxed),
            self.settings.api_limit.load(Relaxed)
        )
    }

    /// Charges one API call; false when the org is already at its limit.
    pub fn charge_api_call(&self) -> bool {
        let limit = self.settings.api_limit.load(Relaxed);
        self.settings
            .api_usage
            .fetch_update(Relaxed, Relaxed, |u| (u < limit).then_some(u + 1))
            .is_ok()
    }

    /// Configured artificial latency, applied to OAuth and REST calls (not `/__sim`).
    pub async fn latency(&self) {
        let ms = self.settings.latency_ms.load(Relaxed);
        if ms > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        }
    }

    pub fn config_json(&self) -> serde_json::Value {
        let s = &self.settings;
        let d = self.data();
        let jwt = lock(&self.jwt);
        json!({
            "rotation": s.rotation.load(Relaxed),
            "autoApprove": s.auto_approve.load(Relaxed),
            "apiLimit": s.api_limit.load(Relaxed),
            "apiUsage": s.api_usage.load(Relaxed),
            "latencyMs": s.latency_ms.load(Relaxed),
            "latencyPer1000Ms": s.latency_per_1000_ms.load(Relaxed),
            "concurrentLimit": s.concurrent_limit.load(Relaxed),
            "bulkJobMs": s.bulk_job_ms.load(Relaxed),
            "bulkFailNext": s.bulk_fail_next.load(Relaxed),
            "bulkCutPages": s.bulk_cut_pages.load(Relaxed),
            "tokenDelayMs": s.token_delay_ms.load(Relaxed),
            "connectOrg": lock(&self.auth).next_org + 1,
            "accessTokenTtlMs": lock(&self.auth).access_ttl.map(|d| d.as_millis() as u64).unwrap_or(0),
            "refreshTokenIdleTtlMs": lock(&self.auth).refresh_idle_ttl_ms.unwrap_or(0),
            "jwtAccessTokens": lock(&self.auth).signer.is_some(),
            "clockOffsetMs": lock(&self.auth).clock_offset_ms,
            "queryTimeoutRows": s.query_timeout_rows.load(Relaxed),
            "jwtPublicKeyConfigured": jwt.key_configured(),
            "jwtUsers": jwt.users(),
            "clientId": self.client_id,
            "redirectUri": self.redirect_uri,
            "loginUrl": self.login_url,
            "instanceUrl": self.instance_url,
            "myDomainUrl": self.my_domain_url,
            "seed": d.seed,
            "contacts": d.contacts,
            "deals": d.deals,
            "notes": d.notes,
            "accounts": d.accounts(),
            "users": crate::data::USERS,
        })
    }
}

//! A governor per org, shared by every call of the process: at most `maxConcurrentRequestsPerOrg`
//! requests in flight to one org (Salesforce caps an org's concurrent long-running requests and
//! answers `REQUEST_LIMIT_EXCEEDED` "ConcurrentRequests" past it), a bounded back-off when that
//! answer comes anyway (another process on the same org), and the org's last `api-usage`, so
//! `apiUsageCeiling` can refuse new exports before they spend the customer's daily allocation.
//!
//! The org is keyed by the connection's `instance_url` (every connection to one org shares it).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{Error, Result};
use crate::salesforce::rest::{ApiUsage, Rest};
use crate::token::record::ConnKey;

/// Default for `maxConcurrentRequestsPerOrg`.
pub const DEFAULT_MAX_CONCURRENT: u32 = 10;
/// Back-offs after a ConcurrentRequests refusal before the call fails with `RATE_LIMITED`.
pub const CONCURRENCY_RETRIES: u32 = 6;
/// Orgs remembered (a process talks to a bounded set; past it the table starts afresh).
const MAX_ORGS: usize = 10_000;

struct Org {
    gate: Arc<Semaphore>,
    cap: u32,
    usage: Option<ApiUsage>,
}

fn orgs() -> &'static Mutex<HashMap<String, Org>> {
    static ORGS: OnceLock<Mutex<HashMap<String, Org>>> = OnceLock::new();
    ORGS.get_or_init(Default::default)
}

fn org_key(instance_url: &str) -> String {
    instance_url.trim_end_matches('/').to_ascii_lowercase()
}

/// Waits for a request slot on the org. A changed cap takes effect for slots taken afterwards.
pub async fn acquire(instance_url: &str, cap: u32) -> Option<OwnedSemaphorePermit> {
    let gate = {
        let mut g = orgs().lock().ok()?;
        if g.len() >= MAX_ORGS && !g.contains_key(&org_key(instance_url)) {
            g.clear();
        }
        let org = g.entry(org_key(instance_url)).or_insert_with(|| Org {
            gate: Arc::new(Semaphore::new(cap as usize)),
            cap,
            usage: None,
        });
        if org.cap != cap {
            // Permits in use stay with the old gate; new calls queue on one of the new size.
            org.gate = Arc::new(Semaphore::new(cap as usize));
            org.cap = cap;
        }
        org.gate.clone()
    };
    gate.acquire_owned().await.ok()
}

/// Keeps the org's latest `Sforce-Limit-Info` usage.
pub fn record_usage(instance_url: &str, u: ApiUsage) {
    if let Ok(mut g) = orgs().lock() {
        if let Some(org) = g.get_mut(&org_key(instance_url)) {
            org.usage = Some(u);
        }
    }
}

pub fn usage(instance_url: &str) -> Option<ApiUsage> {
    orgs()
        .lock()
        .ok()?
        .get(&org_key(instance_url))
        .and_then(|o| o.usage)
}

/// Salesforce's answer past the org's concurrent-request limit (as opposed to the daily
/// `TotalRequests` one, which no waiting within a call cures).
pub fn is_concurrency_refusal(e: &Error) -> bool {
    matches!(e, Error::RateLimited { message } if message.contains("ConcurrentRequests"))
}

/// Jittered exponential back-off: 250 ms, 500 ms, … capped at 8 s.
pub fn concurrency_backoff(attempt: u32) -> Duration {
    let base = 250u64.saturating_mul(1 << attempt.min(5)).min(8_000);
    Duration::from_millis(base / 2 + rand::random_range(0..=base / 2))
}

/// The refusal when usage is at or above the ceiling (None = go ahead).
pub fn over_ceiling(u: ApiUsage, ceiling: f64) -> Option<Error> {
    if u.max == 0 || (u.used as f64) < ceiling * u.max as f64 {
        return None;
    }
    let pct = 100.0 * u.used as f64 / u.max as f64;
    Some(Error::RateLimited {
        message: format!(
            "the org's API usage is {}/{} ({pct:.1}%), at or above apiUsageCeiling {}%: export refused to keep the daily allocation",
            u.used,
            u.max,
            ceiling * 100.0
        ),
    })
}

impl Rest<'_> {
    /// `apiUsageCeiling`: refuses a new export when the org's last known usage is at or above it.
    pub async fn check_usage_ceiling(&self, key: &ConnKey) -> Result<()> {
        let Some(ceiling) = self.cfg.api_usage_ceiling else {
            return Ok(());
        };
        let rec = self.tokens.usable(key).await?;
        let instance = rec.token.instance_url.as_deref().unwrap_or_default();
        match usage(instance).and_then(|u| over_ceiling(u, ceiling)) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceiling_names_the_usage() {
        let e = over_ceiling(
            ApiUsage {
                used: 900,
                max: 1000,
            },
            0.9,
        )
        .expect("refused");
        assert_eq!(e.code(), "RATE_LIMITED");
        assert!(e.to_string().contains("900/1000") || format!("{e:?}").contains("900/1000"));
        assert!(over_ceiling(
            ApiUsage {
                used: 899,
                max: 1000
            },
            0.9
        )
        .is_none());
        assert!(over_ceiling(ApiUsage { used: 5, max: 0 }, 0.9).is_none());
    }

    #[test]
    fn refusals_and_backoff() {
        assert!(is_concurrency_refusal(&Error::RateLimited {
            message: "ConcurrentRequests (Concurrent API Requests) Limit exceeded.".into()
        }));
        assert!(!is_concurrency_refusal(&Error::RateLimited {
            message: "TotalRequests Limit exceeded.".into()
        }));
        assert!(concurrency_backoff(0) <= Duration::from_millis(250));
        assert!(concurrency_backoff(30) <= Duration::from_secs(8));
    }

    #[tokio::test]
    async fn slots_are_capped_per_org() {
        let a = acquire("https://gov-test.example", 2).await.expect("slot");
        let _b = acquire("https://GOV-test.example/", 2).await.expect("slot");
        let third = tokio::time::timeout(
            Duration::from_millis(50),
            acquire("https://gov-test.example", 2),
        )
        .await;
        assert!(third.is_err(), "a third slot must wait");
        drop(a);
        assert!(tokio::time::timeout(
            Duration::from_millis(50),
            acquire("https://gov-test.example", 2)
        )
        .await
        .is_ok());
        // Another org is not held up.
        assert!(tokio::time::timeout(
            Duration::from_millis(50),
            acquire("https://other.example", 2)
        )
        .await
        .is_ok());
    }
}

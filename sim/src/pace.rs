//! Time and concurrency like a real org: a per-record cost on top of the flat
//! per-request latency, and a cap on the org's requests in flight (Salesforce answers
//! `REQUEST_LIMIT_EXCEEDED` "ConcurrentRequests" past its concurrent long-request limit).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use axum::response::Response;

use crate::http;
use crate::state::Sim;

/// Response-extension marker: how many records the body carries, for the per-1,000
/// records cost.
#[derive(Clone, Copy, Debug)]
pub struct Records(pub u64);

/// Records in a REST query page body (`{"records":[…]}`); 0 when it does not parse.
pub fn count_query_records(body: &[u8]) -> u64 {
    #[derive(serde::Deserialize)]
    struct Page {
        #[serde(default)]
        records: Vec<serde::de::IgnoredAny>,
    }
    serde_json::from_slice::<Page>(body)
        .map(|p| p.records.len() as u64)
        .unwrap_or(0)
}

/// Extra delay for a response that carries `records` rows.
pub async fn per_record_cost(sim: &Sim, records: u64) {
    let per_1000 = sim.settings.latency_per_1000_ms.load(Relaxed);
    if per_1000 > 0 && records > 0 {
        // Microseconds, so 100 records at 10 ms/1,000 still cost 1 ms.
        let us = records.saturating_mul(per_1000);
        tokio::time::sleep(Duration::from_micros(us)).await;
    }
}

/// One request in flight; dropping it frees the slot.
pub struct Slot<'a>(&'a AtomicU64);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Relaxed);
    }
}

/// Takes a slot, or answers `REQUEST_LIMIT_EXCEEDED` (ConcurrentRequests) when the org
/// already has `concurrentLimit` requests in flight (0 = no cap).
pub fn enter(sim: &Sim) -> Result<Slot<'_>, Response> {
    let cap = sim.settings.concurrent_limit.load(Relaxed);
    let now = sim.in_flight.fetch_add(1, Relaxed) + 1;
    let slot = Slot(&sim.in_flight);
    if cap > 0 && now > cap {
        crate::state::bump(&sim.counts.concurrent_refused);
        return Err(http::concurrent_limit_exceeded());
    }
    Ok(slot)
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_page_records() {
        assert_eq!(
            super::count_query_records(
                br#"{"totalSize":3,"done":true,"records":[{"a":{"b":1}},{},{}]}"#
            ),
            3
        );
        assert_eq!(super::count_query_records(b"not json"), 0);
    }
}

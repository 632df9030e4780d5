//! `GET /services/data/vXX.X/limits`: the org's limits, `{ Name: { Max, Remaining } }`.
//! `DailyApiRequests` is the same counter `Sforce-Limit-Info` reports (this call included); the
//! other entries are an org's usual defaults, unused.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Map, Value};

use crate::http;
use crate::state::Sim;

/// Fixed limits a fresh Enterprise org reports, with nothing used.
const STATIC: &[(&str, u64)] = &[
    ("ConcurrentAsyncGetReportInstances", 200),
    ("ConcurrentSyncReportRuns", 20),
    ("DailyAsyncApexExecutions", 250_000),
    ("DailyBulkApiBatches", 15_000),
    ("DailyBulkV2QueryFileStorageMB", 976_562),
    ("DailyBulkV2QueryJobs", 10_000),
    ("DailyStreamingApiEvents", 1_000_000),
    ("DataStorageMB", 1024),
    ("FileStorageMB", 1024),
    ("HourlyODataCallout", 10_000),
    ("MassEmail", 5000),
    ("SingleEmail", 5000),
];

pub fn limits(sim: &Sim) -> Response {
    let (used, max) = sim.api_usage();
    let mut out = Map::new();
    out.insert(
        "DailyApiRequests".into(),
        json!({ "Max": max, "Remaining": max.saturating_sub(used) }),
    );
    for (name, max) in STATIC {
        out.insert((*name).into(), json!({ "Max": max, "Remaining": max }));
    }
    http::json_value(StatusCode::OK, &Value::Object(out))
}

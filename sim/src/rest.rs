//! REST API on the instance host: `/services/data/` (versions), and per version `query`,
//! `queryAll` and `query/<locator>`.
//!
//! Request pipeline: count → latency → injected fault → version check → API limit →
//! bearer auth → handler. Every response except the versions list carries
//! `Sforce-Limit-Info`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::Response;
use serde_json::json;

use crate::faults::{self, Site};
use crate::http::{self, param};
use crate::plan;
use crate::query::{self, DEFAULT_BATCH};
use crate::state::{bump, lock, Sim};

pub const MIN_VERSION: u32 = 31;
pub const MAX_VERSION: u32 = 67;

/// Release label for API version `v`.0 (Summer '14 = 31.0, three releases a year).
fn release_label(v: u32) -> String {
    let r = v - MIN_VERSION;
    let (season, year) = match r % 3 {
        0 => ("Summer", 14 + r / 3),
        1 => ("Winter", 15 + r / 3),
        _ => ("Spring", 15 + r / 3),
    };
    format!("{season} '{year:02}")
}

pub async fn versions(State(sim): State<Arc<Sim>>) -> Response {
    bump(&sim.counts.rest);
    let list: Vec<_> = (MIN_VERSION..=MAX_VERSION)
        .map(|v| json!({"label": release_label(v), "url": format!("/services/data/v{v}.0"), "version": format!("{v}.0")}))
        .collect();
    http::json_value(StatusCode::OK, &serde_json::Value::Array(list))
}

/// `vNN.N` → "NN.N" when NN is a live API version.
fn parse_version(seg: &str) -> Option<&str> {
    let v = seg.strip_prefix('v')?;
    let (major, minor) = v.split_once('.')?;
    let ok = minor == "0"
        && major.len() == 2
        && major.parse::<u32>().is_ok_and(|m| (MIN_VERSION..=MAX_VERSION).contains(&m));
    ok.then_some(v)
}

enum Route<'a> {
    Resources,
    /// `queryAll` equals `query`: the generated org has no deleted rows.
    Query,
    More(&'a str),
    Unknown,
}

fn route<'a>(segs: &[&'a str]) -> Route<'a> {
    match segs {
        [] => Route::Resources,
        ["query" | "queryAll"] => Route::Query,
        ["query" | "queryAll", loc] => Route::More(loc),
        _ => Route::Unknown,
    }
}

pub async fn dispatch(State(sim): State<Arc<Sim>>, req: Request) -> Response {
    let mut r = handle(&sim, req).await;
    if let Ok(v) = HeaderValue::from_str(&sim.limit_info()) {
        r.headers_mut().insert("sforce-limit-info", v);
    }
    r
}

async fn handle(sim: &Arc<Sim>, req: Request) -> Response {
    bump(&sim.counts.rest);
    let path = req.uri().path().to_string();
    let tail = path.strip_prefix("/services/data/").unwrap_or("");
    let mut segs: Vec<&str> = tail.split('/').collect();
    while segs.last() == Some(&"") {
        segs.pop();
    }
    let Some((&ver_seg, rest)) = segs.split_first() else { return http::not_found() };
    let r = route(rest);
    let site = match r {
        Route::Query => {
            bump(&sim.counts.query);
            Site::Query
        }
        Route::More(_) => {
            bump(&sim.counts.query_more);
            Site::Query
        }
        _ => Site::Rest,
    };
    sim.latency().await;
    let hit = lock(&sim.faults).take(site);
    if let Some(resp) = faults::apply(hit, site).await {
        return resp;
    }
    let Some(version) = parse_version(ver_seg) else { return http::not_found() };
    if !sim.charge_api_call() {
        return http::limit_exceeded();
    }
    if !authorized(sim, req.headers()) {
        return http::invalid_session();
    }
    if matches!(r, Route::Unknown) {
        return http::not_found();
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let msg = format!("HTTP Method '{}' not allowed. Allowed are GET,HEAD", req.method());
        return http::rest_error(StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED", &msg);
    }
    let batch = query::batch_from_header(http::header_str(req.headers(), "sforce-query-options"));
    match r {
        Route::Resources => resources(version),
        Route::Query => {
            let params = http::query_params(req.uri());
            match param(&params, "q").filter(|q| !q.trim().is_empty()) {
                Some(q) => run_query(sim, q.to_string(), batch.unwrap_or(DEFAULT_BATCH), version).await,
                None => http::rest_error(StatusCode::BAD_REQUEST, "MALFORMED_QUERY", "A query string has to be specified"),
            }
        }
        Route::More(loc) => {
            let (loc, version) = (loc.to_string(), version.to_string());
            let out = blocking(sim, move |s| s.cursors.more(&loc, batch, &version)).await;
            query_response(out)
        }
        Route::Unknown => http::not_found(),
    }
}

fn authorized(sim: &Sim, headers: &axum::http::HeaderMap) -> bool {
    let Some(h) = http::header_str(headers, "authorization") else { return false };
    let token = h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("OAuth ")).map(str::trim);
    token.is_some_and(|t| lock(&sim.auth).session(t).is_some())
}

fn resources(version: &str) -> Response {
    let base = format!("/services/data/v{version}");
    http::json_value(
        StatusCode::OK,
        &json!({
            "query": format!("{base}/query"),
            "queryAll": format!("{base}/queryAll"),
            "sobjects": format!("{base}/sobjects"),
        }),
    )
}

/// Query work is CPU-bound (a filtered count can scan a million generated rows), so it
/// runs off the async workers.
async fn blocking<T: Send + 'static>(
    sim: &Arc<Sim>,
    f: impl FnOnce(&Sim) -> T + Send + 'static,
) -> Option<T> {
    let sim = sim.clone();
    tokio::task::spawn_blocking(move || f(&sim)).await.ok()
}

async fn run_query(sim: &Arc<Sim>, q: String, batch: u64, version: &str) -> Response {
    let plan = match plan::compile(&q) {
        Ok(p) => Arc::new(p),
        Err((code, msg)) => return http::rest_error(StatusCode::BAD_REQUEST, code, &msg),
    };
    let data = sim.data();
    let version = version.to_string();
    let out = blocking(sim, move |s| s.cursors.run(plan, data, batch, &version)).await;
    query_response(out)
}

fn query_response(out: Option<Result<Vec<u8>, plan::QueryFailure>>) -> Response {
    match out {
        Some(Ok(body)) => http::json(StatusCode::OK, body),
        Some(Err((code, msg))) => http::rest_error(StatusCode::BAD_REQUEST, code, &msg),
        None => http::rest_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "UNKNOWN_EXCEPTION",
            "An unexpected error occurred. Please include this ErrorId if you contact support: 0000000000-00000 (0)",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_versions() {
        assert_eq!(release_label(31), "Summer '14");
        assert_eq!(release_label(62), "Winter '25");
        assert_eq!(release_label(66), "Spring '26");
        assert_eq!(release_label(67), "Summer '26");
        assert_eq!(parse_version("v62.0"), Some("62.0"));
        for bad in ["v30.0", "v68.0", "v62.1", "62.0", "v62", "vx.0", "v062.0"] {
            assert_eq!(parse_version(bad), None, "{bad}");
        }
    }
}

//! REST API on the instance host: `/services/data/` (versions), and per version `query`,
//! `queryAll`, `query/<locator>`, `sobjects` (describe, create, retrieve, update) and
//! Bulk API 2.0 `jobs/query`.
//!
//! Request pipeline: count → concurrency cap → latency → injected fault → version check → API limit →
//! bearer auth → handler. Every response except the versions list carries
//! `Sforce-Limit-Info`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::Response;
use serde_json::json;

use crate::data::Obj;
use crate::faults::{self, Site};
use crate::http::{self, param};
use crate::plan;
use crate::query::{self, DEFAULT_BATCH};
use crate::state::{bump, lock, Sim};
use crate::{bulk, describe, gzip, pace, writes};

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
        && major
            .parse::<u32>()
            .is_ok_and(|m| (MIN_VERSION..=MAX_VERSION).contains(&m));
    ok.then_some(v)
}

enum Route<'a> {
    Resources,
    Query,
    /// `queryAll`: also the recycle bin's rows (`IsDeleted = true`).
    QueryAll,
    /// `sobjects/<Type>/deleted/?start=&end=` (mutate.rs).
    Deleted(&'a str),
    More(&'a str),
    SObjects,
    SObject(&'a str),
    Describe(&'a str),
    Record(&'a str, &'a str),
    Limits,
    Jobs,
    Job(&'a str),
    JobResults(&'a str),
    /// `resultPages` (API 58.0+).
    JobResultPages(&'a str),
    Unknown,
}

fn route<'a>(segs: &[&'a str]) -> Route<'a> {
    match segs {
        [] => Route::Resources,
        ["query"] => Route::Query,
        ["queryAll"] => Route::QueryAll,
        ["sobjects", t, "deleted"] => Route::Deleted(t),
        ["query" | "queryAll", loc] => Route::More(loc),
        ["sobjects"] => Route::SObjects,
        ["sobjects", t] => Route::SObject(t),
        ["sobjects", t, "describe"] => Route::Describe(t),
        ["sobjects", t, id] => Route::Record(t, id),
        ["limits"] => Route::Limits,
        ["jobs", "query"] => Route::Jobs,
        ["jobs", "query", id] => Route::Job(id),
        ["jobs", "query", id, "results"] => Route::JobResults(id),
        ["jobs", "query", id, "resultPages"] => Route::JobResultPages(id),
        _ => Route::Unknown,
    }
}

impl Route<'_> {
    /// Methods this sim serves on the route (HEAD is treated as GET).
    fn allowed(&self) -> &'static [&'static str] {
        match self {
            Route::SObject(_) | Route::Jobs => &["GET", "HEAD", "POST"],
            Route::Record(..) => &["GET", "HEAD", "PATCH", "DELETE"],
            Route::Job(_) => &["GET", "HEAD", "PATCH", "DELETE"],
            _ => &["GET", "HEAD"],
        }
    }
}

pub async fn dispatch(State(sim): State<Arc<Sim>>, req: Request) -> Response {
    let gz = gzip::accepts(req.headers());
    let mut r = handle(&sim, req).await;
    if let Ok(v) = HeaderValue::from_str(&sim.limit_info()) {
        r.headers_mut().insert("sforce-limit-info", v);
    }
    if gz && r.extensions().get::<http::ResetConnection>().is_none() {
        r = gzip::compress(r);
    }
    r
}

/// Request bodies (sObject JSON, job definitions) larger than this are refused.
const MAX_BODY: usize = 4 * 1024 * 1024;

async fn handle(sim: &Arc<Sim>, req: Request) -> Response {
    bump(&sim.counts.rest);
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let tail = path.strip_prefix("/services/data/").unwrap_or("");
    let mut segs: Vec<&str> = tail.split('/').collect();
    while segs.last() == Some(&"") {
        segs.pop();
    }
    let Some((&ver_seg, rest)) = segs.split_first() else {
        return http::not_found();
    };
    let r = route(rest);
    let method = parts.method.clone();
    let writes = method == Method::POST || method == Method::PATCH;
    let site = match r {
        Route::Query | Route::QueryAll => {
            bump(&sim.counts.query);
            Site::Query
        }
        Route::More(_) => {
            bump(&sim.counts.query_more);
            Site::Query
        }
        Route::Jobs | Route::Job(_) | Route::JobResults(_) | Route::JobResultPages(_) => {
            bump(&sim.counts.bulk);
            Site::Bulk
        }
        // Counted on arrival (like queries), so a write hit by a fault still shows.
        Route::SObject(_) if method == Method::POST => {
            bump(&sim.counts.create);
            Site::Write
        }
        Route::Record(..) if method == Method::PATCH => {
            bump(&sim.counts.update);
            Site::Write
        }
        Route::Record(..) if method == Method::DELETE => Site::Write,
        _ => Site::Rest,
    };
    let _slot = match pace::enter(sim) {
        Ok(slot) => slot,
        Err(refused) => return refused,
    };
    sim.latency().await;
    let hit = lock(&sim.faults).take(site);
    if let Some(resp) = faults::apply(hit, site).await {
        return resp;
    }
    let Some(version) = parse_version(ver_seg) else {
        return http::not_found();
    };
    if !sim.charge_api_call() {
        return http::limit_exceeded();
    }
    let Some(user) = session_user(sim, &parts.headers) else {
        crate::state::bump(&sim.counts.invalid_session);
        return http::invalid_session();
    };
    if matches!(r, Route::Unknown) {
        return http::not_found();
    }
    let allowed = r.allowed();
    if !allowed.contains(&method.as_str()) {
        let msg = format!(
            "HTTP Method '{method}' not allowed. Allowed are {}",
            allowed.join(",")
        );
        return http::rest_error(StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED", &msg);
    }
    let body = if writes || method == Method::DELETE {
        match http::read_body(body, MAX_BODY).await {
            Some(b) => b,
            None => {
                return http::rest_error(
                    StatusCode::BAD_REQUEST,
                    "JSON_PARSER_ERROR",
                    "request body too large",
                )
            }
        }
    } else {
        Default::default()
    };
    let batch = query::batch_from_header(http::header_str(&parts.headers, "sforce-query-options"));
    let obj = |t: &str| Obj::from_name(t).ok_or_else(http::not_found);
    let version = version.to_string();
    let allow_save =
        http::header_str(&parts.headers, "sforce-duplicate-rule-header").is_some_and(|h| {
            h.replace(' ', "")
                .to_ascii_lowercase()
                .contains("allowsave=true")
        });
    let resp = match (r, method) {
        (Route::Resources, _) => resources(&version),
        (Route::Deleted(t), _) => match obj(t) {
            Ok(o) => {
                bump(&sim.counts.deleted);
                crate::mutate::deleted_resource(sim, o, &parts.uri)
            }
            Err(nf) => nf,
        },
        (r @ (Route::Query | Route::QueryAll), _) => {
            let all = matches!(r, Route::QueryAll);
            let params = http::query_params(&parts.uri);
            match param(&params, "q").filter(|q| !q.trim().is_empty()) {
                Some(q) => {
                    run_query(
                        sim,
                        q.to_string(),
                        batch.unwrap_or(DEFAULT_BATCH),
                        &version,
                        all,
                    )
                    .await
                }
                None => http::rest_error(
                    StatusCode::BAD_REQUEST,
                    "MALFORMED_QUERY",
                    "A query string has to be specified",
                ),
            }
        }
        (Route::More(loc), _) => {
            let loc = loc.to_string();
            let out = blocking(sim, move |s| s.cursors.more(&loc, batch, &version)).await;
            query_response(sim, out)
        }
        (Route::SObjects, _) => describe::global(&version),
        (Route::Limits, _) => crate::limits::limits(sim),
        (Route::SObject(t), m) => match obj(t) {
            Err(nf) => nf,
            Ok(o) if m == Method::POST => {
                let ctx_version = version.clone();
                let out = blocking(sim, move |s| {
                    writes::create(
                        s,
                        o,
                        &body,
                        &writes::Ctx {
                            version: &ctx_version,
                            user,
                            allow_save,
                        },
                    )
                })
                .await;
                out.unwrap_or_else(internal_error)
            }
            Ok(o) => describe::basic_info(o, &version),
        },
        (Route::Describe(t), _) => match obj(t) {
            Ok(o) => {
                let bearer = http::header_str(&parts.headers, "authorization").unwrap_or_default();
                let token = bearer
                    .split_once(' ')
                    .map(|(_, t)| t.trim())
                    .unwrap_or_default();
                let second = lock(&sim.auth).session_org(token) == 1;
                describe::describe(
                    o,
                    &version,
                    if second { &sim.text_fields } else { &[] },
                    Some(user),
                )
            }
            Err(nf) => nf,
        },
        (Route::Record(t, id), m) => match obj(t) {
            Err(nf) => nf,
            Ok(o) if m == Method::PATCH => {
                let id = id.to_string();
                let out = blocking(sim, move |s| {
                    writes::update(
                        s,
                        o,
                        &id,
                        &body,
                        &writes::Ctx {
                            version: &version,
                            user,
                            allow_save,
                        },
                    )
                })
                .await;
                out.unwrap_or_else(internal_error)
            }
            Ok(o) if m == Method::DELETE => {
                let id = id.to_string();
                let out = blocking(sim, move |s| writes::delete(s, o, &id, user)).await;
                out.unwrap_or_else(internal_error)
            }
            Ok(o) => writes::retrieve(sim, o, id, &version),
        },
        (Route::Jobs, Method::POST) => bulk::create(sim, &body, &version, user).await,
        (Route::Jobs, _) => bulk::list(sim),
        (Route::Job(id), Method::PATCH) => bulk::patch(sim, id, &body),
        (Route::Job(id), Method::DELETE) => bulk::delete(sim, id),
        (Route::Job(id), _) => bulk::get(sim, id),
        (Route::JobResults(id), _) => {
            bulk::results(sim, id, &version, &http::query_params(&parts.uri)).await
        }
        (Route::JobResultPages(id), _) => match version.parse::<f64>() {
            Ok(v) if v >= bulk::RESULT_PAGES_MIN_VERSION => {
                bulk::result_pages(sim, id, &version, &http::query_params(&parts.uri))
            }
            _ => http::not_found(),
        },
        (Route::Unknown, _) => http::not_found(),
    };
    // Server time grows with the rows a page carries (while the slot is held).
    if let Some(pace::Records(n)) = resp.extensions().get::<pace::Records>().copied() {
        pace::per_record_cost(sim, n).await;
    }
    resp
}

fn internal_error() -> Response {
    http::rest_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "UNKNOWN_EXCEPTION",
        "An unexpected error occurred. Please include this ErrorId if you contact support: 0000000000-00000 (0)",
    )
}

/// User index behind `Authorization: Bearer|OAuth <token>`, if the token is live.
fn session_user(sim: &Sim, headers: &axum::http::HeaderMap) -> Option<u64> {
    let h = http::header_str(headers, "authorization")?;
    let token = h
        .strip_prefix("Bearer ")
        .or_else(|| h.strip_prefix("OAuth "))
        .map(str::trim)?;
    lock(&sim.auth).session_user(token)
}

fn resources(version: &str) -> Response {
    let base = format!("/services/data/v{version}");
    http::json_value(
        StatusCode::OK,
        &json!({
            "query": format!("{base}/query"),
            "queryAll": format!("{base}/queryAll"),
            "sobjects": format!("{base}/sobjects"),
            "jobs": format!("{base}/jobs"),
            "limits": format!("{base}/limits"),
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

async fn run_query(sim: &Arc<Sim>, q: String, batch: u64, version: &str, all: bool) -> Response {
    let plan = match plan::compile(&q) {
        Ok(p) => Arc::new(p),
        Err((code, msg)) => return http::rest_error(StatusCode::BAD_REQUEST, code, &msg),
    };
    let data = sim.data();
    let version = version.to_string();
    let out = blocking(sim, move |s| {
        match crate::mutate::query_timeout(s, &plan, &data) {
            Some(timeout) => Err(timeout),
            None => Ok(s.cursors.run_all(plan, data, batch, &version, all)),
        }
    })
    .await;
    match out {
        Some(Err(timeout)) => timeout,
        Some(Ok(r)) => query_response(sim, Some(r)),
        None => query_response(sim, None),
    }
}

fn query_response(sim: &Sim, out: Option<Result<Vec<u8>, plan::QueryFailure>>) -> Response {
    match out {
        Some(Ok(body)) => {
            let body = crate::schema::maybe_drop(body);
            // Parsed only when the per-record cost is on.
            let per_1000 = sim
                .settings
                .latency_per_1000_ms
                .load(std::sync::atomic::Ordering::Relaxed);
            let n = if per_1000 > 0 {
                pace::count_query_records(&body)
            } else {
                0
            };
            let mut r = http::json(StatusCode::OK, body);
            r.extensions_mut().insert(pace::Records(n));
            r
        }
        Some(Err((code, msg))) => http::rest_error(StatusCode::BAD_REQUEST, code, &msg),
        None => internal_error(),
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

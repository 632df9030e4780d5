//! `/__sim/pubsub/*` controls: state, settings (retention, keepalive), and faults (the next
//! changes of an object as gap events, an overflow, a stream reset, a stall, expiry of
//! stored events).

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Map, Value as Json};

use crate::data::Obj;
use crate::http;
use crate::state::Sim;
use crate::time;

type S = State<Arc<Sim>>;

pub fn router() -> Router<Arc<Sim>> {
    Router::new()
        .route("/__sim/pubsub", get(summary).post(settings))
        .route("/__sim/pubsub/gap", post(gap))
        .route("/__sim/pubsub/overflow", post(overflow))
        .route("/__sim/pubsub/reset", post(reset))
        .route("/__sim/pubsub/stall", post(stall))
        .route("/__sim/pubsub/expire", post(expire))
}

fn bad(msg: &str) -> Response {
    http::json_value(StatusCode::BAD_REQUEST, &json!({ "error": msg }))
}

async fn body(req: Request) -> Result<Map<String, Json>, Response> {
    let bytes = http::read_body(req.into_body(), 64 * 1024)
        .await
        .ok_or_else(|| bad("body too large"))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice(&bytes) {
        Ok(Json::Object(m)) => Ok(m),
        _ => Err(bad("body must be a JSON object")),
    }
}

fn num(m: &Map<String, Json>, k: &str) -> Result<Option<u64>, Response> {
    match m.get(k) {
        None | Some(Json::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .map(Some)
            .ok_or_else(|| bad(&format!("{k} must be a non-negative integer"))),
    }
}

fn object(m: &Map<String, Json>) -> Result<Obj, Response> {
    match Obj::from_name(m.get("object").and_then(Json::as_str).unwrap_or("Contact")) {
        Some(Obj::User) | None => Err(bad("object must be Contact, Account, Opportunity or Note")),
        Some(o) => Ok(o),
    }
}

async fn summary(State(sim): S) -> Response {
    http::json_value(StatusCode::OK, &sim.bus.summary())
}

/// `POST /__sim/pubsub {"retentionMs","keepaliveMs"}`.
async fn settings(State(sim): S, req: Request) -> Response {
    let m = match body(req).await {
        Ok(m) => m,
        Err(r) => return r,
    };
    let (r, k) = match (num(&m, "retentionMs"), num(&m, "keepaliveMs")) {
        (Ok(r), Ok(k)) => (r, k),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    if let Some(r) = r {
        sim.bus
            .retention_ms
            .store(r.min(i64::MAX as u64) as i64, Relaxed);
    }
    if let Some(k) = k {
        sim.bus.keepalive_ms.store(k.max(10), Relaxed);
    }
    http::json_value(StatusCode::OK, &sim.bus.summary())
}

/// `POST /__sim/pubsub/gap {"object","count"}`: the next `count` changes arrive as gap events.
async fn gap(State(sim): S, req: Request) -> Response {
    let m = match body(req).await {
        Ok(m) => m,
        Err(r) => return r,
    };
    match (object(&m), num(&m, "count")) {
        (Ok(o), Ok(n)) => {
            sim.bus.gap(o, n.unwrap_or(1));
            http::json_value(StatusCode::OK, &sim.bus.summary())
        }
        (Err(e), _) | (_, Err(e)) => e,
    }
}

/// `POST /__sim/pubsub/overflow {"object","count"}`: the next `count` changes are replaced
/// by one `GAP_OVERFLOW` event.
async fn overflow(State(sim): S, req: Request) -> Response {
    let m = match body(req).await {
        Ok(m) => m,
        Err(r) => return r,
    };
    match (object(&m), num(&m, "count")) {
        (Ok(o), Ok(n)) => {
            sim.bus.overflow(o, n.unwrap_or(1));
            http::json_value(StatusCode::OK, &sim.bus.summary())
        }
        (Err(e), _) | (_, Err(e)) => e,
    }
}

/// `POST /__sim/pubsub/reset`: every open stream ends with UNAVAILABLE.
async fn reset(State(sim): S) -> Response {
    sim.bus.resets.send_modify(|n| *n += 1);
    http::json_value(StatusCode::OK, &sim.bus.summary())
}

/// `POST /__sim/pubsub/stall {"ms"}`: streams send nothing (no events, no keepalives) for `ms`.
async fn stall(State(sim): S, req: Request) -> Response {
    let m = match body(req).await {
        Ok(m) => m,
        Err(r) => return r,
    };
    match num(&m, "ms") {
        Ok(ms) => {
            let ms = ms.unwrap_or(0).min(3_600_000) as i64;
            sim.bus.stall_until.store(time::now_ms() + ms, Relaxed);
            http::json_value(StatusCode::OK, &sim.bus.summary())
        }
        Err(e) => e,
    }
}

/// `POST /__sim/pubsub/expire {"olderThanMs"}`: drops stored events older than that (default:
/// all), as if the retention window had passed them.
async fn expire(State(sim): S, req: Request) -> Response {
    let m = match body(req).await {
        Ok(m) => m,
        Err(r) => return r,
    };
    match num(&m, "olderThanMs") {
        Ok(ms) => {
            let before = sim.bus.now() - ms.unwrap_or(0) as i64 + 1;
            let n = sim.bus.expire_before(before);
            http::json_value(StatusCode::OK, &json!({ "expired": n }))
        }
        Err(e) => e,
    }
}

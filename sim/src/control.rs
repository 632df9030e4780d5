//! `/__sim/*` control API (JSON), served on both hosts over the same state. Tests use
//! it to inspect call counts and to break things on purpose.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

use crate::faults::{Fault, Kind, Target, DEFAULT_SLOW_MS};
use crate::http;
use crate::state::{lock, Sim};

type S = State<Arc<Sim>>;

pub fn router() -> Router<Arc<Sim>> {
    Router::new()
        .route("/__sim", get(index))
        .route("/__sim/counts", get(counts))
        .route("/__sim/counts/reset", post(reset_counts))
        .route("/__sim/expire-access-tokens", post(expire_access))
        .route("/__sim/revoke-refresh-tokens", post(revoke_refresh))
        .route("/__sim/config", get(get_config).post(set_config))
        .route(
            "/__sim/faults",
            get(list_faults).post(add_fault).delete(clear_faults),
        )
        .route("/__sim/connections", get(connections))
        .route("/__sim/seed", get(get_seed).post(seed))
        .route("/__sim/jobs", get(jobs))
        .route("/__sim/reuses", get(reuses))
        .route("/__sim/mutate", post(crate::mutate::mutate))
        .route("/__sim/purge", post(crate::mutate::purge_bin))
        .route("/__sim/truth", get(crate::mutate::truth))
        .route("/__sim/delete-range", post(delete_range))
        .route("/__sim/fields/add", post(crate::schema::add))
        .route("/__sim/fields/hide", post(crate::schema::hide))
        .route("/__sim/clock", get(clock).post(advance_clock))
        .route("/__sim/refuse-refresh", post(refuse_refresh))
        .route("/__sim/mint-connections", post(mint_connections))
        .route(
            "/__sim/fields/drop-next-record",
            post(crate::schema::drop_next),
        )
        .merge(crate::pubsub::router())
}

fn ok(v: Value) -> Response {
    http::json_value(StatusCode::OK, &v)
}

fn bad(msg: &str) -> Response {
    http::json_value(StatusCode::BAD_REQUEST, &json!({ "error": msg }))
}

/// Optional JSON object body; empty body or `null` = `{}`.
async fn body_json(req: Request) -> Result<serde_json::Map<String, Value>, Response> {
    let bytes = http::read_body(req.into_body(), 64 * 1024)
        .await
        .ok_or_else(|| bad("body too large"))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Default::default());
    }
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(Value::Null) => Ok(Default::default()),
        _ => Err(bad("body must be a JSON object")),
    }
}

fn u64_field(m: &serde_json::Map<String, Value>, k: &str) -> Result<Option<u64>, Response> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .map(Some)
            .ok_or_else(|| bad(&format!("{k} must be a non-negative integer"))),
    }
}

fn bool_field(m: &serde_json::Map<String, Value>, k: &str) -> Result<Option<bool>, Response> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_bool()
            .map(Some)
            .ok_or_else(|| bad(&format!("{k} must be a boolean"))),
    }
}

async fn index() -> Response {
    ok(json!({"endpoints": [
        "GET /__sim/counts", "POST /__sim/counts/reset", "POST /__sim/expire-access-tokens",
        "POST /__sim/revoke-refresh-tokens", "GET|POST /__sim/config", "GET|POST|DELETE /__sim/faults",
        "GET /__sim/connections", "GET|POST /__sim/seed", "GET /__sim/jobs", "GET /__sim/reuses",
        "POST /__sim/mutate", "POST /__sim/purge", "GET /__sim/truth", "POST /__sim/delete-range",
        "GET|POST /__sim/clock", "POST /__sim/refuse-refresh", "POST /__sim/mint-connections",
        "GET|POST /__sim/pubsub", "POST /__sim/pubsub/gap", "POST /__sim/pubsub/overflow",
        "POST /__sim/pubsub/reset", "POST /__sim/pubsub/stall", "POST /__sim/pubsub/expire"
    ]}))
}

async fn counts(State(sim): S) -> Response {
    ok(sim.counts.snapshot())
}

async fn reset_counts(State(sim): S) -> Response {
    sim.counts.reset();
    ok(sim.counts.snapshot())
}

async fn expire_access(State(sim): S, req: Request) -> Response {
    let m = match body_json(req).await {
        Ok(m) => m,
        Err(r) => return r,
    };
    let one = m.get("accessToken").and_then(Value::as_str);
    let n = lock(&sim.auth).expire_access(one);
    ok(json!({ "expired": n }))
}

fn clock_json(sim: &Sim) -> Value {
    let a = lock(&sim.auth);
    json!({ "nowMs": a.now_ms(), "offsetMs": a.clock_offset_ms })
}

async fn clock(State(sim): S) -> Response {
    ok(clock_json(&sim))
}

/// `{ "advanceMs": n }`: the org's clock (token lifetimes) jumps forward.
async fn advance_clock(State(sim): S, req: Request) -> Response {
    let m = match body_json(req).await {
        Ok(m) => m,
        Err(r) => return r,
    };
    let ms = match u64_field(&m, "advanceMs") {
        Ok(Some(v)) if v <= 100 * 365 * 86_400_000 => v as i64,
        Ok(_) => return bad("advanceMs must be a whole number of milliseconds"),
        Err(r) => return r,
    };
    lock(&sim.auth).clock_offset_ms += ms;
    // Stored change events age on the same clock (replay retention).
    sim.bus
        .clock_offset_ms
        .fetch_add(ms, std::sync::atomic::Ordering::Relaxed);
    ok(clock_json(&sim))
}

/// `{ "reason": "user_inactive" | "org_inactive" | "ip_restricted" | "login_hours" | "app_blocked" | null }`:
/// every refresh grant is refused that way until cleared with null.
async fn refuse_refresh(State(sim): S, req: Request) -> Response {
    let m = match body_json(req).await {
        Ok(m) => m,
        Err(r) => return r,
    };
    let refusal = match m.get("reason") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => match crate::tokens::Refusal::parse(s) {
            Some(r) => Some(r),
            None => return bad("reason must be user_inactive, org_inactive, ip_restricted, login_hours, app_blocked or null"),
        },
        Some(_) => return bad("reason must be a string or null"),
    };
    lock(&sim.auth).refusal = refusal;
    ok(json!({ "reason": m.get("reason").cloned().unwrap_or(Value::Null) }))
}

/// `{ "count": n }` (at most 10,000 per call): opens n connections as if n users had connected
/// (for benchmarks that need many stored connections): their tokens and ids.
async fn mint_connections(State(sim): S, req: Request) -> Response {
    let m = match body_json(req).await {
        Ok(m) => m,
        Err(r) => return r,
    };
    let count = match u64_field(&m, "count") {
        Ok(Some(n)) if (1..=10_000).contains(&n) => n,
        Ok(_) => return bad("count must be a whole number from 1 to 10000"),
        Err(r) => return r,
    };
    let id_base = format!("{}/id/", sim.login_url);
    let mut auth = lock(&sim.auth);
    let out: Vec<Value> = (0..count)
        .map(|_| {
            let i = auth.open(crate::oauth::DEFAULT_SCOPE, false, true);
            json!({
                "accessToken": i.access_token,
                "refreshToken": i.refresh_token,
                "id": format!("{id_base}{}/{}", crate::tokens::org_id(i.org), i.user_id),
                "instanceUrl": sim.instance_url,
            })
        })
        .collect();
    ok(json!({ "connections": out }))
}

async fn revoke_refresh(State(sim): S) -> Response {
    let n = lock(&sim.auth).revoke_all_refresh();
    ok(json!({ "revoked": n }))
}

async fn get_config(State(sim): S) -> Response {
    ok(sim.config_json())
}

async fn set_config(State(sim): S, req: Request) -> Response {
    let m = match body_json(req).await {
        Ok(m) => m,
        Err(r) => return r,
    };
    let parsed = (|| {
        Ok::<_, Response>((
            bool_field(&m, "rotation")?,
            bool_field(&m, "autoApprove")?,
            u64_field(&m, "apiLimit")?,
            u64_field(&m, "apiUsage")?,
            u64_field(&m, "latencyMs")?,
            u64_field(&m, "bulkJobMs")?,
            bool_field(&m, "bulkFailNext")?,
            u64_field(&m, "tokenDelayMs")?,
            u64_field(&m, "accessTokenTtlMs")?,
            u64_field(&m, "connectOrg")?,
            u64_field(&m, "queryTimeoutRows")?,
            u64_field(&m, "latencyPer1000Ms")?,
            u64_field(&m, "concurrentLimit")?,
            u64_field(&m, "bulkCutPages")?,
        ))
    })();
    let (
        rotation,
        auto,
        limit,
        usage,
        latency,
        bulk_ms,
        bulk_fail,
        token_delay,
        access_ttl,
        org,
        timeout_rows,
        per_1000,
        concurrent,
        cut_pages,
    ) = match parsed {
        Ok(v) => v,
        Err(r) => return r,
    };
    let idle_ttl = match u64_field(&m, "refreshTokenIdleTtlMs") {
        Ok(v) => v,
        Err(r) => return r,
    };
    let jwt_access = match bool_field(&m, "jwtAccessTokens") {
        Ok(v) => v,
        Err(r) => return r,
    };
    // `accessTokenSigningKey: { privateKeyPem, publicJwk, kid? }` signs JWT access tokens.
    let signer = match m.get("accessTokenSigningKey") {
        None | Some(Value::Null) => None,
        Some(Value::Object(k)) => {
            let pem = k.get("privateKeyPem").and_then(Value::as_str).unwrap_or("");
            let Ok(key) = jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()) else {
                return bad("accessTokenSigningKey.privateKeyPem must be an RSA private key PEM");
            };
            let Some(jwk) = k
                .get("publicJwk")
                .filter(|j| j.get("n").is_some() && j.get("e").is_some())
            else {
                return bad(
                    "accessTokenSigningKey.publicJwk must be the public key as a JWK (kty, n, e)",
                );
            };
            let kid = k
                .get("kid")
                .and_then(Value::as_str)
                .unwrap_or("sim-access-1")
                .to_string();
            Some(crate::tokens::AccessSigner {
                key,
                kid,
                jwk: jwk.clone(),
            })
        }
        Some(_) => return bad("accessTokenSigningKey must be an object"),
    };
    if jwt_access == Some(true) && signer.is_none() && lock(&sim.auth).signer.is_none() {
        return bad("jwtAccessTokens needs accessTokenSigningKey");
    }
    // JWT settings are validated before anything is applied.
    let users = match m.get("jwtUsers") {
        None => None,
        Some(Value::Array(a)) if a.iter().all(Value::is_string) => Some(
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect::<Vec<_>>(),
        ),
        Some(_) => return bad("jwtUsers must be an array of usernames"),
    };
    match m.get("jwtPublicKeyPem") {
        None => {}
        Some(Value::Null) => {
            let _ = lock(&sim.jwt).set_key(None);
        }
        Some(Value::String(pem)) => {
            if let Err(e) = lock(&sim.jwt).set_key(Some(pem)) {
                return bad(&e);
            }
        }
        Some(_) => return bad("jwtPublicKeyPem must be a PEM string or null"),
    }
    if let Some(u) = users {
        lock(&sim.jwt).set_users(u);
    }
    let s = &sim.settings;
    if let Some(v) = token_delay {
        s.token_delay_ms.store(v, Relaxed);
    }
    match org {
        Some(1) | Some(2) => lock(&sim.auth).next_org = org.unwrap_or(1) as usize - 1,
        Some(_) => return bad("connectOrg must be 1 or 2"),
        None => {}
    }
    {
        let mut a = lock(&sim.auth);
        if let Some(v) = idle_ttl {
            // 0 turns the idle lifetime off.
            a.refresh_idle_ttl_ms = (v > 0).then_some(v as i64);
        }
        if let Some(sg) = signer {
            if a.signer.is_some() {
                a.signer = Some(sg);
            } else {
                a.pending_signer = Some(sg);
            }
        }
        match jwt_access {
            Some(true) => {
                if let Some(sg) = a.pending_signer.take() {
                    a.signer = Some(sg);
                }
            }
            Some(false) => {
                if let Some(sg) = a.signer.take() {
                    a.pending_signer = Some(sg);
                }
            }
            None => {}
        }
    }
    if let Some(v) = access_ttl {
        // 0 turns expiry off.
        lock(&sim.auth).access_ttl = (v > 0).then(|| std::time::Duration::from_millis(v));
    }
    if let Some(v) = bulk_ms {
        s.bulk_job_ms.store(v, Relaxed);
    }
    if let Some(v) = bulk_fail {
        s.bulk_fail_next.store(v, Relaxed);
    }
    if let Some(v) = timeout_rows {
        s.query_timeout_rows.store(v, Relaxed);
    }
    if let Some(v) = rotation {
        s.rotation.store(v, Relaxed);
    }
    if let Some(v) = auto {
        s.auto_approve.store(v, Relaxed);
    }
    if let Some(v) = limit {
        s.api_limit.store(v, Relaxed);
    }
    if let Some(v) = usage {
        s.api_usage.store(v, Relaxed);
    }
    if let Some(v) = latency {
        s.latency_ms.store(v, Relaxed);
    }
    if let Some(v) = per_1000 {
        s.latency_per_1000_ms.store(v, Relaxed);
    }
    if let Some(v) = concurrent {
        s.concurrent_limit.store(v, Relaxed);
    }
    if let Some(v) = cut_pages {
        s.bulk_cut_pages.store(v, Relaxed);
    }
    ok(sim.config_json())
}

fn faults_json(sim: &Sim) -> Value {
    json!({ "faults": lock(&sim.faults).list() })
}

async fn list_faults(State(sim): S) -> Response {
    ok(faults_json(&sim))
}

async fn add_fault(State(sim): S, req: Request) -> Response {
    let m = match body_json(req).await {
        Ok(m) => m,
        Err(r) => return r,
    };
    let target = m
        .get("target")
        .and_then(Value::as_str)
        .and_then(Target::parse);
    let kind = match m.get("kind") {
        Some(Value::Number(n)) => Kind::parse(&n.to_string()),
        Some(Value::String(s)) => Kind::parse(s),
        _ => None,
    };
    let (Some(target), Some(kind)) = (target, kind) else {
        return bad("need target (token|revoke|query|write|bulk|rest|any) and kind (503|reset|slow|rate_limit|invalid_session|unknown_exception)");
    };
    let (count, delay) = match (u64_field(&m, "count"), u64_field(&m, "delayMs")) {
        (Ok(c), Ok(d)) => (c.unwrap_or(1), d.unwrap_or(DEFAULT_SLOW_MS)),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    lock(&sim.faults).add(Fault {
        target,
        kind,
        count,
        delay_ms: delay,
    });
    ok(faults_json(&sim))
}

async fn clear_faults(State(sim): S) -> Response {
    lock(&sim.faults).clear();
    ok(faults_json(&sim))
}

async fn reuses(State(sim): S) -> Response {
    ok(lock(&sim.auth).reuses())
}

async fn connections(State(sim): S) -> Response {
    ok(lock(&sim.auth).connections())
}

fn seed_json(sim: &Sim) -> Value {
    let d = sim.data();
    json!({
        "seed": d.seed, "contacts": d.contacts, "deals": d.deals, "notes": d.notes, "accounts": d.accounts(),
        "overlay": d.overlay.summary(),
    })
}

/// Largest `/__sim/delete-range` call.
const MAX_DELETE_RANGE: u64 = 1_000_000;

/// `POST /__sim/delete-range {"object","from","to"}`: moves records `[from, to)` (in Id order)
/// to the recycle bin, leaving a gap in the Id space (skewed Id density for parallel exports).
async fn delete_range(State(sim): S, req: Request) -> Response {
    let m = match body_json(req).await {
        Ok(m) => m,
        Err(r) => return r,
    };
    let name = m.get("object").and_then(Value::as_str).unwrap_or("Contact");
    let obj = match crate::data::Obj::from_name(name) {
        Some(crate::data::Obj::User) | None => {
            return bad("object must be Contact, Account, Opportunity or Note")
        }
        Some(o) => o,
    };
    let (from, to) = match (u64_field(&m, "from"), u64_field(&m, "to")) {
        (Ok(f), Ok(t)) => (f.unwrap_or(0), t.unwrap_or(0)),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let mut d = lock(&sim.data);
    let to = to
        .min(d.count(obj))
        .min(from.saturating_add(MAX_DELETE_RANGE));
    let at = crate::time::now_ms();
    for idx in from..to {
        crate::mutate::delete(&mut d, obj, idx, at);
    }
    // One transaction: its deletes become multi-record change events.
    sim.bus.flush(&mut d, true);
    ok(json!({ "deleted": to.saturating_sub(from) }))
}

async fn jobs(State(sim): S) -> Response {
    ok(crate::bulk::sim_jobs(&sim))
}

async fn get_seed(State(sim): S) -> Response {
    ok(seed_json(&sim))
}

/// Re-seeds record counts (and optionally the seed) and clears the write overlay
/// (created records' Ids depend on the generated counts). Instant: data is procedural.
/// Open cursors and bulk jobs keep the snapshot they started with.
async fn seed(State(sim): S, req: Request) -> Response {
    let m = match body_json(req).await {
        Ok(m) => m,
        Err(r) => return r,
    };
    let fields = ["contacts", "deals", "notes", "seed"].map(|k| u64_field(&m, k));
    let mut vals = [None; 4];
    for (i, f) in fields.into_iter().enumerate() {
        match f {
            Ok(v) => vals[i] = v,
            Err(r) => return r,
        }
    }
    {
        let mut d = lock(&sim.data);
        d.contacts = vals[0].unwrap_or(d.contacts);
        d.deals = vals[1].unwrap_or(d.deals);
        d.notes = vals[2].unwrap_or(d.notes);
        d.seed = vals[3].unwrap_or(d.seed);
        d.overlay = Default::default();
    }
    sim.bus.forget();
    ok(seed_json(&sim))
}

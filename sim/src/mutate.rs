//! Changes for replication tests: random creates, updates, deletes and undeletes through the
//! control API (`POST /__sim/mutate`), the recycle bin (`queryAll` sees deleted rows with
//! `IsDeleted = true`; `POST /__sim/purge` empties it), the delete log behind
//! `GET /sobjects/<Type>/deleted/?start=&end=` (minute granularity, 15-day window,
//! `earliestDateAvailable` moved up by a purge), `QUERY_TIMEOUT` for `SystemModstamp` windows
//! holding more rows than `/__sim/config {"queryTimeoutRows"}`, and the ground truth
//! (`GET /__sim/truth`) a test compares a replica with.
//!
//! Stamps are whole seconds, as Salesforce's are, so many records share one `SystemModstamp`;
//! `sameStamp` gives a whole batch one stamp, and `lateMs` back-dates some stamps the way a
//! transaction that commits late shows an earlier `SystemModstamp` than rows already visible.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Map, Value as Json};

use crate::data::{self, Data, Obj, Value, F};
use crate::http;
use crate::overlay::{Change, ChangeKind, Rec};
use crate::plan::Plan;
use crate::soql::CmpOp;
use crate::state::{bump, lock, Sim};
use crate::time;

/// How long the delete log answers for (Salesforce: 15 days).
pub const DELETE_LOG_MS: i64 = 15 * time::DAY_MS;
const MINUTE_MS: i64 = 60_000;
/// Upper bound on one `/__sim/mutate` call.
const MAX_MUTATIONS: u64 = 100_000;

/// The text field a random update changes, per object.
fn edited_field(obj: Obj) -> Option<F> {
    match obj {
        Obj::Contact | Obj::Note => Some(F::Title),
        Obj::Account | Obj::Opportunity => Some(F::Name),
        Obj::User => None,
    }
}

fn record_mut(d: &mut Data, obj: Obj, idx: u64) -> Option<&mut Rec> {
    let n = d.gen_count(obj);
    let ov = Arc::make_mut(&mut d.overlay).obj_mut(obj);
    ov.modstamp_shuffled = true;
    if idx >= n {
        ov.created.get_mut(usize::try_from(idx - n).ok()?)
    } else {
        Some(ov.updated.entry(idx).or_default())
    }
}

fn stamp(rec: &mut Rec, at: i64) {
    rec.set(F::LastModifiedDate, Value::DateTime(at));
    rec.set(F::SystemModstamp, Value::DateTime(at));
}

fn modstamp(d: &Data, obj: Obj, idx: u64) -> i64 {
    match d.value(obj, idx, F::SystemModstamp) {
        Value::DateTime(ms) => ms,
        _ => 0,
    }
}

/// Moves a record to the recycle bin (deleting updates `SystemModstamp`).
pub fn delete(d: &mut Data, obj: Obj, idx: u64, at: i64) {
    if let Some(rec) = record_mut(d, obj, idx) {
        stamp(rec, at);
    }
    let ov = Arc::make_mut(&mut d.overlay);
    let o = ov.obj_mut(obj);
    o.deleted.insert(idx, at);
    o.delete_log.push((idx, at));
    ov.outbox
        .push(change(obj, ChangeKind::Delete, idx, Vec::new(), at));
}

fn change(obj: Obj, kind: ChangeKind, idx: u64, fields: Vec<(F, Value)>, at: i64) -> Change {
    Change {
        obj,
        kind,
        idx,
        fields,
        at,
        user: 0,
    }
}

/// Restores a record from the recycle bin with a new `SystemModstamp`.
pub fn undelete(d: &mut Data, obj: Obj, idx: u64, at: i64) {
    Arc::make_mut(&mut d.overlay)
        .obj_mut(obj)
        .deleted
        .remove(&idx);
    if let Some(rec) = record_mut(d, obj, idx) {
        stamp(rec, at);
    }
    // An undeleted record comes back with all its fields, as a create does.
    let fields = crate::pubsub::avro::event_fields(obj)
        .map(|f| (f.f, d.value(obj, idx, f.f)))
        .collect();
    Arc::make_mut(&mut d.overlay)
        .outbox
        .push(change(obj, ChangeKind::Undelete, idx, fields, at));
}

fn create(d: &mut Data, obj: Obj, at: i64, text: &str) -> u64 {
    let n = d.gen_count(obj);
    let ov = d.overlay.obj(obj);
    let k = ov.created.len() as u64;
    // CreatedDate keeps growing with the index (the executor's range search relies on it).
    let floor = match ov.created.last().and_then(|r| r.get(F::CreatedDate)) {
        Some(Value::DateTime(ms)) => ms + 1,
        _ => d.created_ms(n),
    };
    let mut rec = Rec::default();
    let s = |v: &str| Value::Str(std::borrow::Cow::Owned(v.to_string()));
    match obj {
        Obj::Contact => {
            rec.set(F::LastName, s(text));
            rec.set(F::Title, s(text));
        }
        Obj::Opportunity => {
            rec.set(F::Name, s(text));
            rec.set(F::StageName, s("Prospecting"));
            rec.set(F::CloseDate, Value::Date(data::BASE_MS / time::DAY_MS));
        }
        Obj::Note => {
            rec.set(F::Title, s(text));
            if d.gen_count(Obj::Contact) > 0 {
                rec.set(F::ParentId, Value::Id(Obj::Contact, 0));
            }
        }
        _ => rec.set(F::Name, s(text)),
    }
    rec.set(F::OwnerId, Value::Id(Obj::User, 0));
    rec.set(F::CreatedById, Value::Id(Obj::User, 0));
    rec.set(F::LastModifiedById, Value::Id(Obj::User, 0));
    rec.set(F::CreatedDate, Value::DateTime(floor.max(at)));
    stamp(&mut rec, at);
    let fields = rec.fields().to_vec();
    let ov = Arc::make_mut(&mut d.overlay);
    let o = ov.obj_mut(obj);
    o.modstamp_shuffled = true;
    o.created.push(rec);
    ov.outbox
        .push(change(obj, ChangeKind::Create, n + k, fields, at));
    n + k
}

/// Options of one `/__sim/mutate` call.
pub struct MutateOpts {
    pub obj: Obj,
    pub count: u64,
    pub seed: u64,
    pub same_stamp: bool,
    pub late_ms: i64,
}

/// Applies `count` random mutations; returns how many of each kind.
pub fn random(d: &mut Data, o: &MutateOpts) -> Json {
    let mut rng = StdRng::seed_from_u64(o.seed);
    let now = time::now_ms() / 1000 * 1000;
    let field = edited_field(o.obj);
    let (mut created, mut updated, mut deleted, mut undeleted) = (0u64, 0u64, 0u64, 0u64);
    for i in 0..o.count {
        let mut at = now;
        if !o.same_stamp && o.late_ms > 0 && rng.random_range(0..5) == 0 {
            at = (now - rng.random_range(0..=o.late_ms)) / 1000 * 1000;
        }
        let text = format!("m{}-{}", o.seed, i);
        let roll = rng.random_range(0..100);
        let ov = d.overlay.obj(o.obj);
        let n = d.count(o.obj);
        if roll < 10 && !ov.deleted.is_empty() {
            // Sorted, so one seed gives one sequence of changes.
            let mut binned: Vec<u64> = ov.deleted.keys().copied().collect();
            binned.sort_unstable();
            if let Some(&idx) = binned.get(rng.random_range(0..binned.len())) {
                let at = at.max(modstamp(d, o.obj, idx));
                undelete(d, o.obj, idx, at);
                undeleted += 1;
                continue;
            }
        }
        if roll < 35 || n == 0 {
            create(d, o.obj, at, &text);
            created += 1;
            continue;
        }
        // A live record: a few tries at random, enough when most records are alive.
        let live = (0..8)
            .map(|_| rng.random_range(0..n))
            .find(|i| !ov.deleted.contains_key(i) && !ov.purged.contains(i));
        let Some(idx) = live else { continue };
        let at = at.max(modstamp(d, o.obj, idx));
        if roll < 60 {
            delete(d, o.obj, idx, at);
            deleted += 1;
        } else if let Some(f) = field {
            if let Some(rec) = record_mut(d, o.obj, idx) {
                let v = Value::Str(std::borrow::Cow::Owned(text));
                rec.set(f, v.clone());
                stamp(rec, at);
                updated += 1;
                let fields = vec![(f, v), (F::LastModifiedDate, Value::DateTime(at))];
                Arc::make_mut(&mut d.overlay).outbox.push(change(
                    o.obj,
                    ChangeKind::Update,
                    idx,
                    fields,
                    at,
                ));
            }
        }
    }
    json!({ "created": created, "updated": updated, "deleted": deleted, "undeleted": undeleted })
}

/// Empties the recycle bin of `obj`: deleted records are gone for good and the delete log
/// starts now.
pub fn purge(d: &mut Data, obj: Obj, now: i64) -> usize {
    let ov = Arc::make_mut(&mut d.overlay).obj_mut(obj);
    let gone: Vec<u64> = ov.deleted.drain().map(|(i, _)| i).collect();
    ov.purged.extend(gone.iter().copied());
    ov.delete_log.retain(|(_, t)| *t >= now);
    ov.purged_before = Some(now);
    gone.len()
}

/// `QUERY_TIMEOUT` when the query's `SystemModstamp` range (a lower bound, and an upper one or
/// now) holds more than the configured number of rows: Salesforce gives up on scans that big.
pub fn query_timeout(sim: &Sim, plan: &Plan, data: &Data) -> Option<Response> {
    let limit = sim.settings.query_timeout_rows.load(Relaxed);
    let bounds: Vec<_> = plan
        .bounds
        .iter()
        .filter(|b| b.f == F::SystemModstamp)
        .collect();
    if limit == 0 || !bounds.iter().any(|b| matches!(b.op, CmpOp::Gt | CmpOp::Ge)) {
        return None;
    }
    let mut rows = 0u64;
    for idx in 0..data.count(plan.obj) {
        let v = data.value(plan.obj, idx, F::SystemModstamp);
        let inside = bounds.iter().all(|b| {
            crate::plan::compare(&v, &b.lit).is_some_and(|o| crate::plan::op_holds(b.op, o))
        });
        rows += inside as u64;
        if rows > limit {
            bump(&sim.counts.query_timeout);
            return Some(http::rest_error(
                StatusCode::BAD_REQUEST,
                "QUERY_TIMEOUT",
                "Your query request was running for too long.",
            ));
        }
    }
    None
}

/// `GET /sobjects/<Type>/deleted/?start=…&end=…`: the delete log between two instants
/// (seconds ignored). A start before `earliestDateAvailable` is `INVALID_REPLICATION_DATE`.
pub fn deleted_resource(sim: &Sim, obj: Obj, uri: &axum::http::Uri) -> Response {
    let params = http::query_params(uri);
    let parse = |k: &str| {
        http::param(&params, k)
            .and_then(time::parse_datetime)
            .map(|ms| ms - ms.rem_euclid(MINUTE_MS))
    };
    let (Some(start), Some(end)) = (parse("start"), parse("end")) else {
        return http::rest_error(
            StatusCode::BAD_REQUEST,
            "MALFORMED_QUERY",
            "start and end must be ISO 8601 dateTimes, such as 2013-05-05T00:00:00+00:00",
        );
    };
    let d = sim.data();
    let now = time::now_ms();
    let ov = d.overlay.obj(obj);
    let window = now - now.rem_euclid(MINUTE_MS) - DELETE_LOG_MS;
    let earliest = ov.purged_before.map_or(window, |p| p.max(window));
    let earliest = earliest - earliest.rem_euclid(MINUTE_MS);
    if end <= start {
        return http::rest_error(
            StatusCode::BAD_REQUEST,
            "INVALID_REPLICATION_DATE",
            "startDate must chronologically precede endDate",
        );
    }
    if start < earliest {
        return http::rest_error(
            StatusCode::BAD_REQUEST,
            "INVALID_REPLICATION_DATE",
            "startDate is earlier than the earliest date available for replication",
        );
    }
    let latest = end.min(now - now.rem_euclid(MINUTE_MS));
    let records: Vec<Json> = ov
        .delete_log
        .iter()
        .filter(|(_, t)| *t >= start && *t < latest)
        .map(|(i, t)| json!({ "id": data::id_string(obj, *i), "deletedDate": time::format_datetime(*t) }))
        .collect();
    http::json_value(
        StatusCode::OK,
        &json!({
            "deletedRecords": records,
            "earliestDateAvailable": time::format_datetime(earliest),
            "latestDateCovered": time::format_datetime(latest),
        }),
    )
}

// ---------------------------------------------------------------------------------------
// Control endpoints

type S = State<Arc<Sim>>;

fn bad(msg: &str) -> Response {
    http::json_value(StatusCode::BAD_REQUEST, &json!({ "error": msg }))
}

async fn body_map(req: Request) -> Result<Map<String, Json>, Response> {
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

fn object_of(m: &Map<String, Json>) -> Result<Obj, Response> {
    let name = m.get("object").and_then(Json::as_str).unwrap_or("Contact");
    match Obj::from_name(name) {
        Some(Obj::User) | None => Err(bad("object must be Contact, Account, Opportunity or Note")),
        Some(o) => Ok(o),
    }
}

/// `POST /__sim/mutate {"object","count","seed","sameStamp","lateMs"}`.
pub async fn mutate(State(sim): S, req: Request) -> Response {
    let m = match body_map(req).await {
        Ok(m) => m,
        Err(r) => return r,
    };
    let obj = match object_of(&m) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let num = |k: &str| m.get(k).and_then(Json::as_u64);
    let opts = MutateOpts {
        obj,
        count: num("count").unwrap_or(1).min(MAX_MUTATIONS),
        seed: num("seed").unwrap_or_else(|| rand::rng().random()),
        same_stamp: m.get("sameStamp").and_then(Json::as_bool).unwrap_or(false),
        late_ms: num("lateMs").unwrap_or(0).min(DELETE_LOG_MS as u64) as i64,
    };
    // `"transaction": true`: the whole call commits as one transaction (one transactionKey;
    // changes alike merge into multi-record events).
    let txn = m
        .get("transaction")
        .and_then(Json::as_bool)
        .unwrap_or(false);
    let sim2 = sim.clone();
    let out = tokio::task::spawn_blocking(move || {
        let mut d = lock(&sim2.data);
        let out = random(&mut d, &opts);
        sim2.bus.flush(&mut d, txn);
        out
    })
    .await;
    match out {
        Ok(v) => http::json_value(StatusCode::OK, &v),
        Err(_) => bad("mutation failed"),
    }
}

/// `POST /__sim/purge {"object"}`: empties the recycle bin.
pub async fn purge_bin(State(sim): S, req: Request) -> Response {
    let obj = match body_map(req).await.and_then(|m| object_of(&m)) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let n = purge(&mut lock(&sim.data), obj, time::now_ms());
    http::json_value(StatusCode::OK, &json!({ "purged": n }))
}

/// `GET /__sim/truth?object=Contact`: every live record's `SystemModstamp` and edited field.
pub async fn truth(State(sim): S, req: Request) -> Response {
    let params = http::query_params(req.uri());
    let obj = match Obj::from_name(http::param(&params, "object").unwrap_or("Contact")) {
        Some(o) => o,
        None => return bad("unknown object"),
    };
    let d = sim.data();
    let out = tokio::task::spawn_blocking(move || {
        let ov = d.overlay.obj(obj);
        let field = edited_field(obj);
        let mut records = Map::new();
        for idx in 0..d.count(obj) {
            if ov.deleted.contains_key(&idx) || ov.purged.contains(&idx) {
                continue;
            }
            let mut r = Map::new();
            r.insert(
                "SystemModstamp".into(),
                json!(time::format_datetime(modstamp(&d, obj, idx))),
            );
            if let Some(f) = field.and_then(|f| obj.def(f)) {
                let v = match d.value(obj, idx, f.f) {
                    Value::Str(s) => json!(s),
                    _ => Json::Null,
                };
                r.insert(f.name.into(), v);
            }
            records.insert(data::id_string(obj, idx), Json::Object(r));
        }
        json!({ "count": records.len(), "records": records })
    })
    .await;
    match out {
        Ok(v) => http::json_value(StatusCode::OK, &v),
        Err(_) => bad("truth failed"),
    }
}

//! The org's schema as it changes at runtime: fields an admin adds (`/__sim/fields/add`) and
//! field-level security hiding a field from one user or from everyone (`/__sim/fields/hide`).
//! Process-wide (one simulator process serves one test file), read by describe and the query
//! planner, which has no handle on the simulator's state.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::RwLock;

use axum::extract::Json;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use crate::data::{Data, FieldDef, Obj, Ty, Value, F};
use crate::http;

struct Hidden {
    obj: Obj,
    /// Lower-cased field name.
    field: String,
    /// `None`: hidden from every user.
    user: Option<u64>,
}

static ADDED: RwLock<Vec<(Obj, &'static str)>> = RwLock::new(Vec::new());
static HIDDEN: RwLock<Vec<Hidden>> = RwLock::new(Vec::new());
/// Custom fields per object at most (each leaks its name once, for `&'static str` field defs).
const MAX_ADDED: usize = 200;

/// A field added at runtime: a text custom field, null on every record until written.
pub fn added(obj: Obj, name: &str) -> Option<FieldDef> {
    let list = ADDED.read().ok()?;
    list.iter()
        .enumerate()
        .find(|(_, (o, n))| *o == obj && n.eq_ignore_ascii_case(name))
        .map(|(i, (_, n))| FieldDef {
            name: n,
            f: F::Extra(i as u16),
            ty: Ty::Str,
        })
}

pub fn added_fields(obj: Obj) -> Vec<FieldDef> {
    let Ok(list) = ADDED.read() else {
        return Vec::new();
    };
    list.iter()
        .enumerate()
        .filter(|(_, (o, _))| *o == obj)
        .map(|(i, (_, n))| FieldDef {
            name: n,
            f: F::Extra(i as u16),
            ty: Ty::Str,
        })
        .collect()
}

/// Hidden from `user` (`None`: asks whether it is hidden from everyone).
pub fn is_hidden(obj: Obj, field: &str, user: Option<u64>) -> bool {
    let field = field.to_ascii_lowercase();
    HIDDEN.read().is_ok_and(|h| {
        h.iter().any(|x| {
            x.obj == obj
                && x.field == field
                && (x.user.is_none() || (user.is_some() && x.user == user))
        })
    })
}

#[derive(Deserialize)]
pub struct FieldBody {
    #[serde(rename = "type")]
    object: String,
    field: String,
    /// The user (`userId`, as `/__sim/connections` lists them) it is hidden from; none: everyone.
    user: Option<String>,
}

fn bad(msg: &str) -> Response {
    http::json_value(StatusCode::BAD_REQUEST, &json!({ "error": msg }))
}

/// `POST /__sim/fields/add {type, field}`.
pub async fn add(Json(b): Json<FieldBody>) -> Response {
    let Some(obj) = Obj::from_name(&b.object) else {
        return bad("unknown type");
    };
    let ok_name = b.field.ends_with("__c")
        && b.field.len() <= 40
        && b.field
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_');
    if !ok_name {
        return bad("custom field names are letters, digits and _ ending in __c");
    }
    if obj.field(&b.field).is_some() {
        return bad("field exists");
    }
    let Ok(mut list) = ADDED.write() else {
        return bad("lock");
    };
    if list.len() >= MAX_ADDED {
        return bad("too many fields");
    }
    list.push((obj, Box::leak(b.field.into_boxed_str())));
    http::json_value(StatusCode::OK, &json!({ "added": true }))
}

/// `POST /__sim/fields/hide {type, field, user?}`.
pub async fn hide(Json(b): Json<FieldBody>) -> Response {
    let Some(obj) = Obj::from_name(&b.object) else {
        return bad("unknown type");
    };
    let user = match b.user.as_deref() {
        None => None,
        Some(id) => match crate::data::parse_id(id) {
            Some((Obj::User, idx)) => Some(idx),
            _ => return bad("user must be a userId from /__sim/connections"),
        },
    };
    let Ok(mut h) = HIDDEN.write() else {
        return bad("lock");
    };
    h.push(Hidden {
        obj,
        field: b.field.to_ascii_lowercase(),
        user,
    });
    http::json_value(StatusCode::OK, &json!({ "hidden": true }))
}

/// Compound fields describe lists but Bulk API 2.0 refuses: (object, name, describe type).
pub const COMPOUNDS: [(Obj, &str, &str); 2] = [
    (Obj::Account, "BillingAddress", "address"),
    (Obj::Account, "Location__c", "location"),
];

/// A compound as a selectable field (REST renders it as an object; Bulk refuses it).
pub fn compound_def(obj: Obj, name: &str) -> Option<FieldDef> {
    COMPOUNDS
        .iter()
        .find(|(o, n, _)| *o == obj && n.eq_ignore_ascii_case(name))
        .map(|(_, n, kind)| FieldDef {
            name: n,
            f: if *kind == "address" {
                F::CompoundAddress
            } else {
                F::CompoundLocation
            },
            ty: Ty::Str,
        })
}

pub fn is_compound(f: F) -> bool {
    matches!(f, F::CompoundAddress | F::CompoundLocation)
}

/// REST's rendering of a compound: an object of its components (keys in Salesforce's order),
/// `null` when every component is null.
pub fn push_compound(out: &mut Vec<u8>, d: &Data, obj: Obj, idx: u64, f: F) {
    let parts: &[(&str, Option<F>)] = match f {
        F::CompoundAddress => &[
            ("city", Some(F::BillingCity)),
            ("country", Some(F::BillingCountry)),
            ("geocodeAccuracy", None),
            ("latitude", None),
            ("longitude", None),
            ("postalCode", Some(F::BillingPostalCode)),
            ("state", None),
            ("street", Some(F::BillingStreet)),
        ],
        _ => &[
            ("latitude", Some(F::Latitude)),
            ("longitude", Some(F::Longitude)),
        ],
    };
    let values: Vec<(&str, Value)> = parts
        .iter()
        .map(|(k, c)| (*k, c.map_or(Value::Null, |c| d.value(obj, idx, c))))
        .collect();
    if values.iter().all(|(_, v)| v.is_null()) {
        out.extend_from_slice(b"null");
        return;
    }
    out.push(b'{');
    for (i, (k, v)) in values.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        crate::http::push_json_str(out, k);
        out.push(b':');
        crate::render::push_value(out, v);
    }
    out.push(b'}');
}

/// The compound field a component belongs to.
pub fn compound_of(obj: Obj, field: &str) -> Option<&'static str> {
    match (obj, field) {
        (
            Obj::Account,
            "BillingStreet" | "BillingCity" | "BillingPostalCode" | "BillingCountry",
        ) => Some("BillingAddress"),
        (Obj::Account, "Location__Latitude__s" | "Location__Longitude__s") => Some("Location__c"),
        _ => None,
    }
}

/// Whether a Bulk query selects a compound field (Salesforce refuses the job).
pub fn selects_compound(query: &str) -> bool {
    let lower = query.to_ascii_lowercase();
    let select = lower
        .split_once(" from ")
        .map_or(lower.as_str(), |(s, _)| s);
    select
        .split(|c: char| c == ',' || c.is_whitespace())
        .any(|tok| {
            COMPOUNDS
                .iter()
                .any(|(_, n, _)| n.eq_ignore_ascii_case(tok))
        })
}

/// Fault: the next `times` query pages (or Bulk result chunks) with several records each lose
/// their first one (a page that disagrees with `SELECT COUNT()` over the same filter).
static DROP_NEXT: AtomicU32 = AtomicU32::new(0);

#[derive(Deserialize)]
pub struct DropBody {
    times: Option<u32>,
}

/// `POST /__sim/fields/drop-next-record {times?}` (default once).
pub async fn drop_next(Json(b): Json<DropBody>) -> Response {
    DROP_NEXT.store(b.times.unwrap_or(1).min(1000), Ordering::SeqCst);
    http::json_value(StatusCode::OK, &json!({ "armed": true }))
}

/// Whether a page (REST) or chunk (Bulk results) of `rows` records loses its first one. Pages
/// of one record (a probe such as `LIMIT 1`) are left alone.
pub fn take_drop(rows: usize) -> bool {
    rows >= 2
        && DROP_NEXT
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
}

/// A query page's body, with its first record dropped when the fault is armed.
pub fn maybe_drop(body: Vec<u8>) -> Vec<u8> {
    if DROP_NEXT.load(Ordering::SeqCst) == 0 {
        return body;
    }
    let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return body;
    };
    let Some(recs) = v.get_mut("records").and_then(|r| r.as_array_mut()) else {
        return body;
    };
    if !take_drop(recs.len()) {
        return body;
    }
    recs.remove(0);
    serde_json::to_vec(&v).unwrap_or(body)
}

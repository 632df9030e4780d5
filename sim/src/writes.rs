//! sObject writes on the instance host (research §7): create (`POST /sobjects/<Type>/`),
//! update (`PATCH /sobjects/<Type>/<Id>`) and retrieve (`GET /sobjects/<Type>/<Id>`).
//!
//! Validation runs in Salesforce's order and answers with its bodies
//! (`[{"message","errorCode","fields"}]`): JSON deserialisation (unknown field, `Id`,
//! wrong value type), read-only fields, required fields, per-field checks (length,
//! email, lookups), the org's validation rule (Opportunity Amount ≥ 0), then the
//! Contact duplicate rule on Email. Writes land in the overlay (`overlay.rs`).

use std::borrow::Cow;
use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value as Json};

use crate::data::{self, Data, Obj, Value, F};
use crate::describe::{self, DType, Meta};
use crate::http;
use crate::overlay::{Change, ChangeKind, Rec};
use crate::plan::Sel;
use crate::render;
use crate::state::{lock, Sim};
use crate::tokens::CONN_USER_BASE;

/// Email that always trips the duplicate rule (handy for client tests).
pub const RESERVED_DUPLICATE_EMAIL: &str = "duplicate@example.com";

/// `[{"message","errorCode","fields"}]`.
fn field_error(code: &str, message: &str, fields: &[&str]) -> Response {
    http::json_value(
        StatusCode::BAD_REQUEST,
        &json!([{"message": message, "errorCode": code, "fields": fields}]),
    )
}

fn parser_error(message: String) -> Response {
    http::json_value(
        StatusCode::BAD_REQUEST,
        &json!([{"message": message, "errorCode": "JSON_PARSER_ERROR"}]),
    )
}

/// Who is writing, and how.
pub struct Ctx<'a> {
    pub version: &'a str,
    /// Session user (record owner / creator).
    pub user: u64,
    /// `Sforce-Duplicate-Rule-Header: allowSave=true`.
    pub allow_save: bool,
}

// ---------------------------------------------------------------------------------------
// Body parsing

/// Line/column (1-based) just after the value of `key`, as Jackson reports positions.
/// Best effort: falls back to the start of the body.
fn value_pos(body: &[u8], key: &str) -> (usize, usize) {
    let needle = format!("\"{key}\"");
    let end = body
        .windows(needle.len())
        .position(|w| w == needle.as_bytes())
        .map(|k| {
            let mut i = k + needle.len();
            while body
                .get(i)
                .is_some_and(|c| c.is_ascii_whitespace() || *c == b':')
            {
                i += 1;
            }
            if body.get(i) == Some(&b'"') {
                i += 1;
                while let Some(&c) = body.get(i) {
                    i += if c == b'\\' { 2 } else { 1 };
                    if c == b'"' {
                        break;
                    }
                }
            } else {
                while body.get(i).is_some_and(|c| !b",}] \t\r\n".contains(c)) {
                    i += 1;
                }
            }
            i.min(body.len())
        })
        .unwrap_or(0);
    let before = &body[..end];
    let line = before.iter().filter(|&&c| c == b'\n').count() + 1;
    let col = end
        - before
            .iter()
            .rposition(|&c| c == b'\n')
            .map_or(0, |p| p + 1)
        + 1;
    (line, col)
}

fn token_of(v: &Json) -> (&'static str, String) {
    match v {
        Json::String(s) => ("VALUE_STRING", s.clone()),
        Json::Number(n) if n.is_f64() => ("VALUE_NUMBER_FLOAT", n.to_string()),
        Json::Number(n) => ("VALUE_NUMBER_INT", n.to_string()),
        Json::Bool(true) => ("VALUE_TRUE", "true".into()),
        Json::Bool(false) => ("VALUE_FALSE", "false".into()),
        Json::Array(_) => ("START_ARRAY", "[".into()),
        Json::Object(_) => ("START_OBJECT", "{".into()),
        Json::Null => ("VALUE_NULL", "null".into()),
    }
}

/// A written value before lookups are resolved.
enum In {
    V(Value),
    Ref(String),
}

/// JSON value → field value, coercing the way Salesforce's REST deserialiser does
/// (numeric strings into numbers, scalars into text, "" into null).
fn coerce(m: &Meta, v: &Json) -> Option<In> {
    if v.is_null() {
        return Some(In::V(Value::Null));
    }
    let text = |s: &str| {
        if s.is_empty() {
            Value::Null
        } else {
            Value::Str(Cow::Owned(s.to_string()))
        }
    };
    Some(In::V(match m.dtype {
        DType::Id => return None,
        DType::Reference => {
            return match v {
                Json::String(s) if s.is_empty() => Some(In::V(Value::Null)),
                Json::String(s) => Some(In::Ref(s.clone())),
                _ => None,
            }
        }
        t if t.is_text() => match v {
            Json::String(s) => text(s),
            Json::Number(n) => text(&n.to_string()),
            Json::Bool(b) => text(if *b { "true" } else { "false" }),
            _ => return None,
        },
        t if t.is_number() => match v {
            Json::Number(n) => Value::Num(n.as_f64()?),
            Json::String(s) if s.trim().is_empty() => Value::Null,
            Json::String(s) => Value::Num(s.trim().parse::<f64>().ok().filter(|x| x.is_finite())?),
            _ => return None,
        },
        DType::Boolean => match v {
            Json::Bool(b) => Value::Bool(*b),
            Json::String(s) if s.eq_ignore_ascii_case("true") => Value::Bool(true),
            Json::String(s) if s.eq_ignore_ascii_case("false") => Value::Bool(false),
            _ => return None,
        },
        DType::Date => match v {
            Json::String(s) if s.is_empty() => Value::Null,
            Json::String(s) => Value::Date(crate::time::parse_date(s)?),
            _ => return None,
        },
        DType::DateTime => match v {
            Json::String(s) if s.is_empty() => Value::Null,
            Json::String(s) => Value::DateTime(crate::time::parse_datetime(s)?),
            _ => return None,
        },
        _ => return None,
    }))
}

/// Deserialises a write body: `(field, value)` in body order. `attributes` is ignored
/// (Salesforce accepts `{"attributes":{"type":…}}`).
fn parse_body(obj: Obj, body: &[u8]) -> Result<Vec<(Meta, In)>, Response> {
    let parsed: Json = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) if body.iter().all(u8::is_ascii_whitespace) => {
            let _ = e;
            return Err(parser_error(
                "No content to map due to end-of-input at [line:1, column:0]".into(),
            ));
        }
        Err(e) => {
            let (line, col) = (e.line(), e.column());
            let c = body
                .split(|&b| b == b'\n')
                .nth(line.saturating_sub(1))
                .and_then(|l| l.get(col.saturating_sub(1)))
                .map_or('?', |&b| b as char);
            return Err(parser_error(format!(
                "Unexpected character ('{c}' (code {})): was expecting a valid JSON value at [line:{line}, column:{col}]",
                c as u32
            )));
        }
    };
    let Json::Object(map) = parsed else {
        let (tok, v) = token_of(&parsed);
        return Err(parser_error(format!(
            "Cannot deserialize instance of {} from {tok} value {v} or request may be missing a required field at [line:1, column:1]",
            obj.name().to_ascii_lowercase()
        )));
    };
    let mut out = Vec::with_capacity(map.len());
    for (k, v) in &map {
        if k == "attributes" {
            continue;
        }
        if k.eq_ignore_ascii_case("Id") {
            let body = json!([{"message": "The Id field should not be specified in the sobject data.", "errorCode": "INVALID_FIELD"}]);
            return Err(http::json_value(StatusCode::BAD_REQUEST, &body));
        }
        let Some(def) = obj.field(k) else {
            return Err(field_error(
                "INVALID_FIELD",
                &format!("No such column '{k}' on sobject of type {}", obj.name()),
                &[],
            ));
        };
        let m = describe::meta(obj, def);
        match coerce(&m, v) {
            Some(i) => out.push((m, i)),
            None => {
                let (tok, shown) = token_of(v);
                let (line, col) = value_pos(body, k);
                return Err(parser_error(format!(
                    "Cannot deserialize instance of {} from {tok} value {shown} or request may be missing a required field at [line:{line}, column:{col}]",
                    m.dtype.name()
                )));
            }
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Checks

fn valid_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(|c| c.is_whitespace() || c == ',' || c == ';')
        && !domain.contains('@')
}

/// Lookup value → Id of an existing record of the right type.
fn resolve_ref(d: &Data, m: &Meta, raw: &str) -> Result<Value, Response> {
    let data::Ty::Ref(target) = m.def.ty else {
        return Ok(Value::Null);
    };
    let msg = format!("{}: id value of incorrect type: {raw}", m.label);
    let Some(norm) = data::normalize_id_literal(raw) else {
        return Err(field_error("MALFORMED_ID", &msg, &[m.def.name]));
    };
    if &norm[..3] != target.prefix() {
        return Err(field_error(
            "FIELD_INTEGRITY_EXCEPTION",
            &msg,
            &[m.def.name],
        ));
    }
    let exists = |o: Obj, i: u64| match o {
        Obj::User => i < d.count(Obj::User) || i >= CONN_USER_BASE,
        _ => i < d.count(o),
    };
    match data::parse_id(raw) {
        Some((o, i)) if o == target && exists(o, i) => Ok(Value::Id(o, i)),
        _ => Err(field_error(
            "INVALID_CROSS_REFERENCE_KEY",
            "invalid cross reference id",
            &[m.def.name],
        )),
    }
}

/// Field checks after deserialisation; returns resolved values.
fn check_fields(d: &Data, fields: Vec<(Meta, In)>) -> Result<Vec<(Meta, Value)>, Response> {
    let mut out = Vec::with_capacity(fields.len());
    for (m, i) in fields {
        let v = match i {
            In::Ref(raw) => resolve_ref(d, &m, &raw)?,
            In::V(v) => v,
        };
        if let Value::Str(s) = &v {
            let len = s.chars().count();
            if m.length > 0 && len > m.length as usize {
                let msg = format!(
                    "{}: data value too large: {s} (max length={})",
                    m.label, m.length
                );
                return Err(field_error("STRING_TOO_LONG", &msg, &[m.def.name]));
            }
            if m.dtype == DType::Email && !valid_email(s) {
                return Err(field_error(
                    "INVALID_EMAIL_ADDRESS",
                    &format!("{}: invalid email address: {s}", m.label),
                    &[m.def.name],
                ));
            }
        }
        out.push((m, v));
    }
    Ok(out)
}

/// Names of written fields the operation may not set.
fn read_only(fields: &[(Meta, In)], create: bool) -> Vec<&'static str> {
    fields
        .iter()
        .filter(|(m, _)| if create { !m.createable } else { !m.updateable })
        .map(|(m, _)| m.def.name)
        .collect()
}

fn read_only_error(names: &[&str]) -> Response {
    let msg = format!(
        "Unable to create/update fields: {}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.",
        names.join(", ")
    );
    field_error("INVALID_FIELD_FOR_INSERT_UPDATE", &msg, names)
}

fn required_error(names: &[&str]) -> Response {
    field_error(
        "REQUIRED_FIELD_MISSING",
        &format!("Required fields are missing: [{}]", names.join(", ")),
        names,
    )
}

/// The simulated org's validation rule on Opportunity.
fn validation_rule(
    d: &Data,
    obj: Obj,
    idx: Option<u64>,
    fields: &[(Meta, Value)],
) -> Result<(), Response> {
    if obj != Obj::Opportunity {
        return Ok(());
    }
    let amount = match fields.iter().find(|(m, _)| m.def.f == F::Amount) {
        Some((_, v)) => v.clone(),
        None => idx.map_or(Value::Null, |i| d.value(obj, i, F::Amount)),
    };
    match amount {
        Value::Num(a) if a < 0.0 => Err(field_error(
            "FIELD_CUSTOM_VALIDATION_EXCEPTION",
            "Amount must not be negative",
            &["Amount"],
        )),
        _ => Ok(()),
    }
}

/// Another contact with this email (case-insensitive): overlay records, generated
/// contacts, or the reserved duplicate address.
fn find_duplicate(d: &Data, email: &str, exclude: Option<u64>) -> Option<u64> {
    let not_self = |i: &u64| Some(*i) != exclude;
    if email.eq_ignore_ascii_case(RESERVED_DUPLICATE_EMAIL) {
        return Some(if exclude == Some(0) { 1 } else { 0 });
    }
    let eq = |v: Option<&Value>| matches!(v, Some(Value::Str(s)) if s.eq_ignore_ascii_case(email));
    let ov = d.overlay.obj(Obj::Contact);
    let n = d.gen_count(Obj::Contact);
    let created = ov
        .created
        .iter()
        .enumerate()
        .map(|(k, r)| (n + k as u64, r));
    let updated = ov.updated.iter().map(|(i, r)| (*i, r));
    if let Some((i, _)) = created
        .chain(updated)
        .filter(|(i, _)| not_self(i))
        .find(|(_, r)| eq(r.get(F::Email)))
    {
        return Some(i);
    }
    d.find_generated_contact_email(email)
        .filter(not_self)
        .filter(|i| ov.updated.get(i).is_none_or(|r| r.get(F::Email).is_none()))
}

/// Research §7's capture, including Salesforce's misspelt `duplicateResut` key.
fn duplicates_error(version: &str, idx: u64) -> Response {
    let id = data::id_string(Obj::Contact, idx);
    let msg =
        "You're creating a duplicate record. We recommend you use an existing record instead.";
    let body = json!([{
        "duplicateResut": {
            "allowSave": false,
            "duplicateRule": "Standard_Contact_Duplicate_Rule",
            "duplicateRuleEntityType": "Contact",
            "errorMessage": msg,
            "matchResults": [{
                "entityType": "Contact",
                "errors": [],
                "matchEngine": "FuzzyMatchEngine",
                "matchRecords": [{
                    "additionalInformation": [],
                    "fieldDiffs": [],
                    "matchConfidence": 100.0,
                    "record": {
                        "attributes": {"type": "Contact", "url": format!("/services/data/v{version}/sobjects/Contact/{id}")},
                        "Id": id,
                    },
                }],
                "rule": "Standard_Contact_Match_Rule_v1_1",
                "size": 1,
                "success": true,
            }],
        },
        "errorCode": "DUPLICATES_DETECTED",
        "message": msg,
    }]);
    http::json_value(StatusCode::BAD_REQUEST, &body)
}

fn duplicate_rule(
    d: &Data,
    ctx: &Ctx,
    obj: Obj,
    idx: Option<u64>,
    fields: &[(Meta, Value)],
) -> Result<(), Response> {
    if obj != Obj::Contact || ctx.allow_save {
        return Ok(());
    }
    let Some((_, Value::Str(email))) = fields.iter().find(|(m, _)| m.def.f == F::Email) else {
        return Ok(());
    };
    match find_duplicate(d, email, idx) {
        Some(i) => Err(duplicates_error(ctx.version, i)),
        None => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------
// Handlers (run on a blocking thread: the duplicate rule may scan generated contacts)

fn stamp(rec: &mut Rec, at: i64, user: u64) {
    // Salesforce keeps these in whole seconds (as `/__sim/mutate` does).
    let at = at - at.rem_euclid(1000);
    rec.set(F::LastModifiedDate, Value::DateTime(at));
    rec.set(F::SystemModstamp, Value::DateTime(at));
    rec.set(F::LastModifiedById, Value::Id(Obj::User, user));
}

/// `POST /sobjects/<Type>/` → 201 `{"id","success":true,"errors":[]}`.
pub fn create(sim: &Sim, obj: Obj, body: &[u8], ctx: &Ctx) -> Response {
    let parsed = match parse_body(obj, body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let ro = read_only(&parsed, true);
    if !ro.is_empty() {
        return read_only_error(&ro);
    }
    let missing: Vec<&str> = describe::metas(obj)
        .filter(|m| m.required)
        .filter(|m| {
            !parsed
                .iter()
                .any(|(p, i)| p.def.f == m.def.f && !matches!(i, In::V(Value::Null)))
        })
        .map(|m| m.def.name)
        .collect();
    if !missing.is_empty() {
        return required_error(&missing);
    }
    let mut d = lock(&sim.data);
    let fields = match check_fields(&d, parsed)
        .and_then(|f| validation_rule(&d, obj, None, &f).map(|_| f))
        .and_then(|f| duplicate_rule(&d, ctx, obj, None, &f).map(|_| f))
    {
        Ok(f) => f,
        Err(r) => return r,
    };
    let n = d.gen_count(obj);
    let k = d.overlay.obj(obj).created.len() as u64;
    // CreatedDate must keep growing with the index (the executor's range search relies
    // on it): after the last generated record and after the previous created one.
    let floor = match d
        .overlay
        .obj(obj)
        .created
        .last()
        .and_then(|r| r.get(F::CreatedDate))
    {
        Some(Value::DateTime(ms)) => ms + 1,
        _ => d.created_ms(n),
    };
    let at = crate::time::now_ms().max(floor);
    let mut rec = Rec::default();
    for (m, v) in fields {
        rec.set(m.def.f, v);
    }
    if obj.def(F::OwnerId).is_some() && rec.get(F::OwnerId).is_none_or(Value::is_null) {
        rec.set(F::OwnerId, Value::Id(Obj::User, ctx.user));
    }
    rec.set(F::CreatedDate, Value::DateTime(at));
    rec.set(F::CreatedById, Value::Id(Obj::User, ctx.user));
    stamp(&mut rec, at, ctx.user);
    let change = Change {
        obj,
        kind: ChangeKind::Create,
        idx: n + k,
        fields: rec.fields().to_vec(),
        at,
        user: ctx.user,
    };
    let ov = Arc::make_mut(&mut d.overlay);
    ov.obj_mut(obj).created.push(rec);
    ov.outbox.push(change);
    sim.bus.flush(&mut d, true);
    let id = data::id_string(obj, n + k);
    http::json_value(
        StatusCode::CREATED,
        &json!({"id": id, "success": true, "errors": []}),
    )
}

/// Id in a record URL → record index. Wrong shape or wrong object → 400 MALFORMED_ID;
/// well-formed but unknown → 404 NOT_FOUND.
fn record_index(d: &Data, obj: Obj, id: &str) -> Result<u64, Response> {
    let malformed = || {
        let body = json!([{"fields": ["Id"], "message": format!("{} ID: id value of incorrect type: {id}", obj.name()), "errorCode": "MALFORMED_ID"}]);
        http::json_value(StatusCode::BAD_REQUEST, &body)
    };
    let norm = data::normalize_id_literal(id).ok_or_else(malformed)?;
    if &norm[..3] != obj.prefix() {
        return Err(malformed());
    }
    match data::parse_id(id) {
        Some((o, i)) if o == obj && d.overlay.obj(obj).deleted.contains_key(&i) => {
            Err(http::rest_error(
                StatusCode::NOT_FOUND,
                "ENTITY_IS_DELETED",
                "entity is deleted",
            ))
        }
        Some((o, i)) if o == obj && i < d.count(obj) && !d.overlay.obj(obj).purged.contains(&i) => {
            Ok(i)
        }
        _ => Err(http::not_found()),
    }
}

/// `PATCH /sobjects/<Type>/<Id>` → 204.
pub fn update(sim: &Sim, obj: Obj, id: &str, body: &[u8], ctx: &Ctx) -> Response {
    if let Err(r) = record_index(&sim.data(), obj, id) {
        return r;
    }
    let parsed = match parse_body(obj, body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let ro = read_only(&parsed, false);
    if !ro.is_empty() {
        return read_only_error(&ro);
    }
    let nulled: Vec<&str> = parsed
        .iter()
        .filter(|(m, i)| m.required && matches!(i, In::V(Value::Null)))
        .map(|(m, _)| m.def.name)
        .collect();
    if !nulled.is_empty() {
        return required_error(&nulled);
    }
    let mut d = lock(&sim.data);
    let idx = match record_index(&d, obj, id) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let fields = match check_fields(&d, parsed)
        .and_then(|f| validation_rule(&d, obj, Some(idx), &f).map(|_| f))
        .and_then(|f| duplicate_rule(&d, ctx, obj, Some(idx), &f).map(|_| f))
    {
        Ok(f) => f,
        Err(r) => return r,
    };
    let n = d.gen_count(obj);
    let at = crate::time::now_ms();
    let ov = Arc::make_mut(&mut d.overlay).obj_mut(obj);
    ov.modstamp_shuffled = true;
    let rec = if idx >= n {
        match ov.created.get_mut((idx - n) as usize) {
            Some(r) => r,
            None => return http::not_found(),
        }
    } else {
        ov.updated.entry(idx).or_default()
    };
    let mut written = Vec::with_capacity(fields.len() + 2);
    for (m, v) in fields {
        written.push((m.def.f, v.clone()));
        rec.set(m.def.f, v);
    }
    stamp(rec, at, ctx.user);
    written.push((
        F::LastModifiedDate,
        Value::DateTime(at - at.rem_euclid(1000)),
    ));
    written.push((F::LastModifiedById, Value::Id(Obj::User, ctx.user)));
    let change = Change {
        obj,
        kind: ChangeKind::Update,
        idx,
        fields: written,
        at,
        user: ctx.user,
    };
    Arc::make_mut(&mut d.overlay).outbox.push(change);
    sim.bus.flush(&mut d, true);
    let mut r = Response::new(axum::body::Body::empty());
    *r.status_mut() = StatusCode::NO_CONTENT;
    r
}

/// `DELETE /sobjects/<Type>/<Id>` → 204: the record goes to the recycle bin.
pub fn delete(sim: &Sim, obj: Obj, id: &str, user: u64) -> Response {
    let mut d = lock(&sim.data);
    let idx = match record_index(&d, obj, id) {
        Ok(i) => i,
        Err(r) => return r,
    };
    crate::mutate::delete(&mut d, obj, idx, crate::time::now_ms());
    if let Some(c) = Arc::make_mut(&mut d.overlay).outbox.last_mut() {
        c.user = user;
    }
    sim.bus.flush(&mut d, true);
    let mut r = Response::new(axum::body::Body::empty());
    *r.status_mut() = StatusCode::NO_CONTENT;
    r
}

/// `GET /sobjects/<Type>/<Id>`: every field, in the query record shape.
pub fn retrieve(sim: &Sim, obj: Obj, id: &str, version: &str) -> Response {
    let d = sim.data();
    let idx = match record_index(&d, obj, id) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let sels: Vec<Sel> = obj.fields().iter().map(|f| Sel::Field(*f)).collect();
    let mut out = Vec::with_capacity(1024);
    render::push_record(&mut out, &d, obj, idx, obj.name(), version, &sels);
    http::json(StatusCode::OK, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_point_after_the_value() {
        let body = br#"{"LastName":"X","Amount":"abc"}"#;
        assert_eq!(value_pos(body, "Amount"), (1, 31));
        assert_eq!(value_pos(b"{\n  \"A\": 12,\n}", "A"), (2, 10));
        assert_eq!(value_pos(b"{}", "missing"), (1, 1));
    }

    #[test]
    fn email_shapes() {
        assert!(valid_email("a.b@example.com"));
        for bad in ["nope", "a@b", "@x.com", "a b@x.com", "a@x.com.", "a@@x.com"] {
            assert!(!valid_email(bad), "{bad}");
        }
    }
}

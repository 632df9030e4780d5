//! Avro for Change Data Capture events: the schema Salesforce gives a `<Type>ChangeEvent`
//! (a `ChangeEventHeader` record, then one `["null", T]` union per field) and the binary
//! encoding of one event. Hand-written: the sim only ever writes this one shape.

use serde_json::{json, Value as Json};
use sha2::{Digest, Sha256};

use crate::data::{FieldDef, Obj, Ty, Value, F};

/// Fields a change event carries: the object's fields minus those CDC leaves out
/// (the Id travels in `recordIds`; `IsDeleted` and `SystemModstamp` are not in change events).
pub fn event_fields(obj: Obj) -> impl Iterator<Item = &'static FieldDef> {
    obj.fields()
        .iter()
        .filter(|d| !matches!(d.f, F::Id | F::IsDeleted | F::SystemModstamp))
}

const CHANGE_TYPES: [&str; 10] = [
    "CREATE",
    "UPDATE",
    "DELETE",
    "UNDELETE",
    "GAP_CREATE",
    "GAP_UPDATE",
    "GAP_DELETE",
    "GAP_UNDELETE",
    "GAP_OVERFLOW",
    "SNAPSHOT",
];

/// Index of a change type in the `ChangeType` enum.
pub fn change_type_index(name: &str) -> Option<usize> {
    CHANGE_TYPES.iter().position(|c| *c == name)
}

pub fn change_type_name(i: usize) -> &'static str {
    CHANGE_TYPES.get(i).copied().unwrap_or("UPDATE")
}

fn field_type(ty: Ty) -> Json {
    match ty {
        Ty::Id | Ty::Ref(_) | Ty::Str => json!("string"),
        Ty::Num => json!("double"),
        Ty::Bool => json!("boolean"),
        Ty::DateTime => json!({"type": "long", "logicalType": "timestamp-millis"}),
        Ty::Date => json!({"type": "int", "logicalType": "date"}),
    }
}

/// The schema JSON of `/data/<Type>ChangeEvent`.
pub fn schema_json(obj: Obj) -> String {
    let strings = json!({"type": "array", "items": "string"});
    let header = json!({
        "type": "record",
        "name": "ChangeEventHeader",
        "namespace": "com.salesforce.eventbus",
        "fields": [
            {"name": "entityName", "type": "string"},
            {"name": "recordIds", "type": strings},
            {"name": "changeType", "type": {"type": "enum", "name": "ChangeType", "namespace": "com.salesforce.eventbus", "symbols": CHANGE_TYPES}},
            {"name": "changeOrigin", "type": "string"},
            {"name": "transactionKey", "type": "string"},
            {"name": "sequenceNumber", "type": "int"},
            {"name": "commitTimestamp", "type": "long"},
            {"name": "commitNumber", "type": "long"},
            {"name": "commitUser", "type": "string"},
            {"name": "nulledFields", "type": strings},
            {"name": "diffFields", "type": strings},
            {"name": "changedFields", "type": strings},
        ]
    });
    let mut fields = vec![json!({"name": "ChangeEventHeader", "type": header})];
    for d in event_fields(obj) {
        fields.push(json!({"name": d.name, "type": ["null", field_type(d.ty)], "doc": format!("Data:{}", d.name), "default": null}));
    }
    json!({
        "type": "record",
        "name": format!("{}ChangeEvent", obj.name()),
        "namespace": "com.sforce.eventbus",
        "fields": fields,
    })
    .to_string()
}

/// Schema fingerprint: 22 characters of URL-safe base64 over the schema's SHA-256.
pub fn schema_id(schema: &str) -> String {
    use base64::Engine;
    let digest = Sha256::digest(schema.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16])
}

/// A bitmap string (`0x` + big-endian hex, bit i = top-level schema field i) over the given
/// field positions; None when empty.
pub fn bitmap(positions: &[usize]) -> Option<String> {
    let top = *positions.iter().max()?;
    let mut bytes = vec![0u8; top / 8 + 1];
    for p in positions {
        let len = bytes.len();
        bytes[len - 1 - p / 8] |= 1 << (p % 8);
    }
    let mut s = String::from("0x");
    for b in bytes {
        s.push_str(&format!("{b:02X}"));
    }
    Some(s)
}

/// Position of a field in the event schema (0 is the header).
pub fn position(obj: Obj, f: F) -> Option<usize> {
    event_fields(obj).position(|d| d.f == f).map(|i| i + 1)
}

/// One change event's content.
pub struct Header<'a> {
    pub entity: &'a str,
    pub record_ids: &'a [String],
    pub change_type: usize,
    pub change_origin: &'a str,
    pub transaction_key: &'a str,
    pub sequence_number: i32,
    pub commit_timestamp: i64,
    pub commit_number: i64,
    pub commit_user: &'a str,
    pub nulled: &'a [String],
    pub diff: &'a [String],
    pub changed: &'a [String],
}

fn long(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    loop {
        let b = (z & 0x7f) as u8;
        z >>= 7;
        if z == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn string(out: &mut Vec<u8>, s: &str) {
    long(out, s.len() as i64);
    out.extend_from_slice(s.as_bytes());
}

fn strings(out: &mut Vec<u8>, items: &[String]) {
    if !items.is_empty() {
        long(out, items.len() as i64);
        for s in items {
            string(out, s);
        }
    }
    long(out, 0);
}

/// Encodes an event: the header, then each event field (`values` holds the fields the event
/// carries; the others are null).
pub fn encode(obj: Obj, h: &Header<'_>, values: &[(F, Value)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    string(&mut out, h.entity);
    strings(&mut out, h.record_ids);
    long(&mut out, h.change_type as i64);
    string(&mut out, h.change_origin);
    string(&mut out, h.transaction_key);
    long(&mut out, i64::from(h.sequence_number));
    long(&mut out, h.commit_timestamp);
    long(&mut out, h.commit_number);
    string(&mut out, h.commit_user);
    strings(&mut out, h.nulled);
    strings(&mut out, h.diff);
    strings(&mut out, h.changed);
    for d in event_fields(obj) {
        let v = values.iter().find(|(f, _)| *f == d.f).map(|(_, v)| v);
        match v {
            None | Some(Value::Null) => long(&mut out, 0),
            Some(v) => {
                long(&mut out, 1);
                match (d.ty, v) {
                    (_, Value::Bool(b)) => out.push(u8::from(*b)),
                    (_, Value::Num(n)) => out.extend_from_slice(&n.to_le_bytes()),
                    (_, Value::Str(s)) => string(&mut out, s),
                    (_, Value::Id(o, i)) => string(&mut out, &crate::data::id_string(*o, *i)),
                    (_, Value::DateTime(ms)) => long(&mut out, *ms),
                    (_, Value::Date(days)) => long(&mut out, *days),
                    (_, Value::Null) => {}
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitmaps_are_big_endian_hex() {
        assert_eq!(bitmap(&[]), None);
        assert_eq!(bitmap(&[0, 1]).as_deref(), Some("0x03"));
        assert_eq!(bitmap(&[3, 9]).as_deref(), Some("0x0208"));
    }

    #[test]
    fn zigzag_longs() {
        let enc = |v| {
            let mut o = Vec::new();
            long(&mut o, v);
            o
        };
        assert_eq!(enc(0), [0]);
        assert_eq!(enc(-1), [1]);
        assert_eq!(enc(1), [2]);
        assert_eq!(enc(64), [0x80, 1]);
    }

    #[test]
    fn schema_is_json_with_header_first() {
        let s: Json = serde_json::from_str(&schema_json(Obj::Contact)).unwrap();
        assert_eq!(s["fields"][0]["name"], "ChangeEventHeader");
        assert_eq!(s["name"], "ContactChangeEvent");
        assert_eq!(schema_id(&schema_json(Obj::Contact)).len(), 22);
    }
}

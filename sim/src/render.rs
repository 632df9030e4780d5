//! Writes query results straight into a byte buffer in Salesforce's REST shape (no
//! intermediate serde values: a 2,000-record page is a few hundred KB).

use crate::data::{self, Data, Obj, Value};
use crate::http::push_json_str;
use crate::plan::Sel;
use crate::time;

pub fn push_num(out: &mut Vec<u8>, n: f64) {
    // Salesforce renders currency/percent as doubles: 50000.0, 12.5
    if n.fract() == 0.0 && n.abs() < 1e15 {
        out.extend_from_slice(format!("{n:.1}").as_bytes());
    } else {
        out.extend_from_slice(n.to_string().as_bytes());
    }
}

pub fn push_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Num(n) => push_num(out, *n),
        Value::Str(s) => push_json_str(out, s),
        Value::Id(o, i) => {
            out.push(b'"');
            out.extend_from_slice(&data::id_bytes(*o, *i));
            out.push(b'"');
        }
        Value::DateTime(ms) => {
            out.push(b'"');
            time::write_datetime(out, *ms);
            out.push(b'"');
        }
        Value::Date(d) => {
            out.push(b'"');
            time::write_date(out, *d);
            out.push(b'"');
        }
    }
}

/// `{"attributes":{"type":…,"url":"/services/data/vXX.X/sobjects/<Type>/<Id>"},<fields>}`
pub fn push_record(
    out: &mut Vec<u8>,
    d: &Data,
    obj: Obj,
    idx: u64,
    attr_type: &str,
    version: &str,
    sels: &[Sel],
) {
    out.extend_from_slice(b"{\"attributes\":{\"type\":");
    push_json_str(out, attr_type);
    out.extend_from_slice(b",\"url\":\"/services/data/v");
    out.extend_from_slice(version.as_bytes());
    out.extend_from_slice(b"/sobjects/");
    out.extend_from_slice(obj.name().as_bytes());
    out.push(b'/');
    out.extend_from_slice(&data::id_bytes(obj, idx));
    out.extend_from_slice(b"\"}");
    for sel in sels {
        out.push(b',');
        match sel {
            Sel::Field(f) if crate::schema::is_compound(f.f) => {
                push_json_str(out, f.name);
                out.push(b':');
                crate::schema::push_compound(out, d, obj, idx, f.f);
            }
            Sel::Field(f) => {
                push_json_str(out, f.name);
                out.push(b':');
                push_value(out, &d.value(obj, idx, f.f));
            }
            Sel::Rel(rel, children) => {
                push_json_str(out, rel.name);
                out.push(b':');
                match d.parent(obj, idx, rel.via) {
                    Some(p) => push_record(out, d, rel.target, p, rel.attr_type, version, children),
                    None => out.extend_from_slice(b"null"),
                }
            }
        }
    }
    out.push(b'}');
}

/// Query response envelope. Field order follows Salesforce's examples.
pub fn push_page(
    out: &mut Vec<u8>,
    total: u64,
    next_url: Option<&str>,
    records: impl FnOnce(&mut Vec<u8>),
) {
    out.extend_from_slice(
        format!("{{\"totalSize\":{total},\"done\":{}", next_url.is_none()).as_bytes(),
    );
    if let Some(u) = next_url {
        out.extend_from_slice(b",\"nextRecordsUrl\":");
        push_json_str(out, u);
    }
    out.extend_from_slice(b",\"records\":[");
    records(out);
    out.extend_from_slice(b"]}");
}

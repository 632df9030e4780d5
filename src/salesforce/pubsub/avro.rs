//! Change events in Avro: the schema of each id (fetched once by `GetSchema`, then cached: a
//! schema change mid-stream arrives as a new id), and one event decoded into its header and its
//! field values, compound fields flattened to the component names REST uses.

use std::collections::HashMap;
use std::sync::Arc;

use apache_avro::types::Value as Avro;
use apache_avro::Schema;
use serde_json::Value as Json;

use super::bitmap::{self, Bit};
use super::PubSubError;

/// Schemas kept per stream (a schema changes rarely; past this the cache starts over).
const MAX_SCHEMAS: usize = 64;

/// A top-level field of an event schema; a compound field lists its components' flat names.
#[derive(Debug)]
struct TopField {
    name: String,
    components: Option<Vec<String>>,
}

/// One parsed event schema.
#[derive(Debug)]
pub struct EventSchema {
    schema: Schema,
    top: Vec<TopField>,
}

/// `MailingAddress` + `City` → `MailingCity`; `Name` + `FirstName` → `FirstName`.
fn component_name(parent: &str, component: &str) -> String {
    match parent.strip_suffix("Address") {
        Some(prefix) if !prefix.is_empty() => format!("{prefix}{component}"),
        _ => component.to_string(),
    }
}

fn record_fields(s: &Schema) -> Option<Vec<String>> {
    match s {
        Schema::Record(r) => Some(r.fields.iter().map(|f| f.name.clone()).collect()),
        Schema::Union(u) => u.variants().iter().find_map(record_fields),
        _ => None,
    }
}

impl EventSchema {
    pub fn parse(json: &str) -> Result<Self, PubSubError> {
        let schema = Schema::parse_str(json).map_err(|e| PubSubError::Decode(e.to_string()))?;
        let Schema::Record(r) = &schema else {
            return Err(PubSubError::Decode(
                "the event schema is not a record".into(),
            ));
        };
        let top = r
            .fields
            .iter()
            .map(|f| TopField {
                components: (f.name != "ChangeEventHeader")
                    .then(|| record_fields(&f.schema))
                    .flatten()
                    .map(|c| c.iter().map(|x| component_name(&f.name, x)).collect()),
                name: f.name.clone(),
            })
            .collect();
        Ok(Self { schema, top })
    }

    /// Field names of a bitmap list (`changedFields` …), compound fields as their components.
    pub fn names(&self, entries: &[String]) -> Vec<String> {
        let mut bits = Vec::new();
        for e in entries {
            let decoded = bitmap::entry(e);
            if decoded.is_empty() && !e.starts_with("0x") && !e.contains("-0x") {
                // Plain names, as CometD sends them: `BillingAddress.City` → `BillingCity`.
                bits.push(Err(match e.split_once('.') {
                    Some((parent, c)) => component_name(parent, c),
                    None => e.clone(),
                }));
            }
            bits.extend(decoded.into_iter().map(Ok));
        }
        let nested_parents: Vec<usize> = bits
            .iter()
            .filter_map(|b| match b {
                Ok(Bit::Nested(p, _)) => Some(*p),
                _ => None,
            })
            .collect();
        let mut out: Vec<String> = Vec::new();
        let mut push = |n: &str| {
            if !out.iter().any(|x| x == n) {
                out.push(n.to_string());
            }
        };
        for b in &bits {
            match b {
                Err(name) => push(name),
                Ok(Bit::Top(i)) => match self.top.get(*i) {
                    Some(TopField {
                        components: Some(c),
                        ..
                    }) if !nested_parents.contains(i) => c.iter().for_each(|n| push(n)),
                    Some(TopField {
                        components: Some(_),
                        ..
                    }) => {}
                    Some(f) if *i > 0 => push(&f.name),
                    _ => {}
                },
                Ok(Bit::Nested(p, i)) => {
                    if let Some(n) = self
                        .top
                        .get(*p)
                        .and_then(|f| f.components.as_ref())
                        .and_then(|c| c.get(*i))
                    {
                        push(n);
                    }
                }
            }
        }
        out
    }
}

/// Schemas by id.
#[derive(Default)]
pub struct SchemaCache {
    by_id: HashMap<String, Arc<EventSchema>>,
}

impl SchemaCache {
    pub fn get(&self, id: &str) -> Option<Arc<EventSchema>> {
        self.by_id.get(id).cloned()
    }

    pub fn insert(&mut self, id: String, schema: EventSchema) -> Arc<EventSchema> {
        if self.by_id.len() >= MAX_SCHEMAS {
            self.by_id.clear();
        }
        let s = Arc::new(schema);
        self.by_id.insert(id, s.clone());
        s
    }
}

/// One decoded change event.
#[derive(Debug, Clone, Default)]
pub struct ChangeEvent {
    pub entity: String,
    pub change_type: String,
    pub record_ids: Vec<String>,
    /// Ms since the epoch.
    pub commit_timestamp: i64,
    pub transaction_key: String,
    pub changed: Vec<String>,
    pub nulled: Vec<String>,
    pub diff: Vec<String>,
    /// The non-null field values (flat names), in schema order.
    pub values: Vec<(String, Json)>,
}

fn unwrap(v: &Avro) -> &Avro {
    match v {
        Avro::Union(_, inner) => unwrap(inner),
        other => other,
    }
}

fn strings(v: &Avro) -> Vec<String> {
    match unwrap(v) {
        Avro::Array(items) => items
            .iter()
            .filter_map(|i| match unwrap(i) {
                Avro::String(s) => Some(s.clone()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// An Avro value as JSON: dates and timestamps as the ISO text REST gives.
pub fn to_json(v: &Avro) -> Json {
    match unwrap(v) {
        Avro::Null => Json::Null,
        Avro::Boolean(b) => Json::Bool(*b),
        Avro::Int(i) => Json::from(*i),
        Avro::Long(l) => Json::from(*l),
        Avro::Float(f) => {
            serde_json::Number::from_f64(f64::from(*f)).map_or(Json::Null, Json::Number)
        }
        Avro::Double(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Avro::String(s) | Avro::Enum(_, s) => Json::String(s.clone()),
        Avro::Date(d) => Json::String(iso_date(i64::from(*d))),
        Avro::TimestampMillis(ms) | Avro::LocalTimestampMillis(ms) => Json::String(iso_millis(*ms)),
        Avro::TimestampMicros(us) | Avro::LocalTimestampMicros(us) => {
            Json::String(iso_millis(us.div_euclid(1000)))
        }
        Avro::Array(items) => Json::Array(items.iter().map(to_json).collect()),
        Avro::Map(m) => Json::Object(m.iter().map(|(k, v)| (k.clone(), to_json(v))).collect()),
        Avro::Record(f) => Json::Object(f.iter().map(|(k, v)| (k.clone(), to_json(v))).collect()),
        Avro::Bytes(b) | Avro::Fixed(_, b) => {
            use base64::Engine;
            Json::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
        Avro::Decimal(_) | Avro::BigDecimal(_) => Json::Null,
        Avro::TimeMillis(t) => Json::from(*t),
        other => Json::String(format!("{other:?}")),
    }
}

/// `2024-05-01T10:00:00.000+0000`, as REST writes datetimes.
pub fn iso_millis(ms: i64) -> String {
    match crate::salesforce::soql::SoqlDateTime::from_millis(ms) {
        Ok(d) => d.as_str().trim_end_matches('Z').to_string() + "+0000",
        Err(_) => ms.to_string(),
    }
}

/// `YYYY-MM-DD` of days since the epoch.
pub fn iso_date(days: i64) -> String {
    let t = iso_millis(days.saturating_mul(86_400_000));
    t.get(..10).unwrap_or(&t).to_string()
}

/// Decodes one event's payload under its schema.
pub fn decode(schema: &EventSchema, payload: &[u8]) -> Result<ChangeEvent, PubSubError> {
    // A length prefix is never trusted past the message size (8 MiB): a corrupt one fails the
    // decode instead of allocating gigabytes. (Process-wide and set once.)
    static LIMIT: std::sync::Once = std::sync::Once::new();
    LIMIT.call_once(|| {
        apache_avro::util::max_allocation_bytes(8 << 20);
    });
    let mut reader = payload;
    let value = apache_avro::from_avro_datum(&schema.schema, &mut reader, None)
        .map_err(|e| PubSubError::Decode(e.to_string()))?;
    let Avro::Record(fields) = value else {
        return Err(PubSubError::Decode("the event is not a record".into()));
    };
    let mut ev = ChangeEvent::default();
    let (mut changed, mut nulled, mut diff) = (Vec::new(), Vec::new(), Vec::new());
    for (i, (name, v)) in fields.iter().enumerate() {
        if name == "ChangeEventHeader" {
            let Avro::Record(h) = unwrap(v) else {
                return Err(PubSubError::Decode(
                    "the ChangeEventHeader is not a record".into(),
                ));
            };
            for (k, hv) in h {
                match (k.as_str(), unwrap(hv)) {
                    ("entityName", Avro::String(s)) => ev.entity = s.clone(),
                    ("changeType", Avro::Enum(_, s) | Avro::String(s)) => {
                        ev.change_type = s.clone()
                    }
                    ("transactionKey", Avro::String(s)) => ev.transaction_key = s.clone(),
                    ("commitTimestamp", Avro::Long(t) | Avro::TimestampMillis(t)) => {
                        ev.commit_timestamp = *t
                    }
                    ("recordIds", x) => ev.record_ids = strings(x),
                    ("changedFields", x) => changed = strings(x),
                    ("nulledFields", x) => nulled = strings(x),
                    ("diffFields", x) => diff = strings(x),
                    _ => {}
                }
            }
            continue;
        }
        let inner = unwrap(v);
        if matches!(inner, Avro::Null) {
            continue;
        }
        match (inner, schema.top.get(i).and_then(|t| t.components.as_ref())) {
            (Avro::Record(parts), Some(_)) => {
                for (c, cv) in parts {
                    let j = to_json(cv);
                    if !j.is_null() {
                        ev.values.push((component_name(name, c), j));
                    }
                }
            }
            _ => ev.values.push((name.clone(), to_json(inner))),
        }
    }
    ev.changed = schema.names(&changed);
    ev.nulled = schema.names(&nulled);
    ev.diff = schema.names(&diff);
    Ok(ev)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_text() {
        assert_eq!(iso_millis(0), "1970-01-01T00:00:00.000+0000");
        assert_eq!(iso_date(1), "1970-01-02");
    }

    #[test]
    fn compound_fields_flatten_and_bitmaps_name_components() {
        let schema_json = r#"{"type":"record","name":"ContactChangeEvent","fields":[
            {"name":"ChangeEventHeader","type":{"type":"record","name":"H","fields":[
                {"name":"changeType","type":"string"},
                {"name":"recordIds","type":{"type":"array","items":"string"}},
                {"name":"commitTimestamp","type":"long"},
                {"name":"changedFields","type":{"type":"array","items":"string"}},
                {"name":"nulledFields","type":{"type":"array","items":"string"}}]}},
            {"name":"Title","type":["null","string"]},
            {"name":"MailingAddress","type":["null",{"type":"record","name":"Address","fields":[
                {"name":"Street","type":["null","string"]},
                {"name":"City","type":["null","string"]}]}]}]}"#;
        let schema = EventSchema::parse(schema_json).unwrap();
        let strs =
            |v: &[&str]| Avro::Array(v.iter().map(|s| Avro::String(s.to_string())).collect());
        let value = Avro::Record(vec![
            (
                "ChangeEventHeader".into(),
                Avro::Record(vec![
                    ("changeType".into(), Avro::String("UPDATE".into())),
                    ("recordIds".into(), strs(&["003A"])),
                    ("commitTimestamp".into(), Avro::Long(5)),
                    ("changedFields".into(), strs(&["0x06", "2-0x02"])),
                    ("nulledFields".into(), strs(&["MailingAddress.Street"])),
                ]),
            ),
            (
                "Title".into(),
                Avro::Union(1, Box::new(Avro::String("CEO".into()))),
            ),
            (
                "MailingAddress".into(),
                Avro::Union(
                    1,
                    Box::new(Avro::Record(vec![
                        ("Street".into(), Avro::Union(0, Box::new(Avro::Null))),
                        (
                            "City".into(),
                            Avro::Union(1, Box::new(Avro::String("Paris".into()))),
                        ),
                    ])),
                ),
            ),
        ]);
        let bytes = apache_avro::to_avro_datum(&schema.schema, value).unwrap();
        let ev = decode(&schema, &bytes).unwrap();
        assert_eq!(ev.changed, vec!["Title", "MailingCity"]);
        assert_eq!(ev.nulled, vec!["MailingStreet"]);
        assert_eq!(
            ev.values,
            vec![
                ("Title".to_string(), Json::from("CEO")),
                ("MailingCity".to_string(), Json::from("Paris"))
            ]
        );
    }

    #[test]
    fn compound_names() {
        assert_eq!(component_name("MailingAddress", "City"), "MailingCity");
        assert_eq!(component_name("Name", "FirstName"), "FirstName");
    }
}

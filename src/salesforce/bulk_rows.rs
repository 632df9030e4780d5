//! Bulk CSV rows written straight to output text: the REST-shaped JSON record (for `exportAll`,
//! NDJSON and JSON) or the export's CSV row (formula guard per cell), with the column plan
//! resolved once per job into a template. No `serde_json::Value` tree per record: the old path
//! built one and serialised it, about 4 µs a record (BENCHMARKS.md, micro-benchmarks).

use std::fmt::Write as _;

use serde_json::{Number, Value};

use crate::salesforce::csv::Row;
use crate::salesforce::describe::ValueKind;

/// One member of a record object, in the order REST (and the old `Map`-building path) gives it.
#[derive(Debug, Clone)]
pub enum Node {
    /// `"Key":value` read from column `col`.
    Leaf {
        key: String,
        col: usize,
        kind: ValueKind,
    },
    /// A parent record: `null` when its Id column is empty, else an object.
    Parent {
        key: String,
        object: String,
        id_col: usize,
        children: Vec<Node>,
    },
}

impl Node {
    fn key(&self) -> &str {
        match self {
            Node::Leaf { key, .. } | Node::Parent { key, .. } => key,
        }
    }
}

/// One relationship step of an output path.
pub struct Step<'a> {
    pub name: &'a str,
    pub object: &'a str,
    pub id_col: usize,
}

/// Adds one output path to the template with a JSON object's insert semantics: a repeated key
/// keeps its first position and takes the last value; a path through a key that holds a plain
/// value is dropped (the old path's `entry().or_insert` found no object there).
pub fn add_output(
    nodes: &mut Vec<Node>,
    rels: &[Step<'_>],
    leaf: &str,
    col: usize,
    kind: ValueKind,
) {
    let Some((r, rest)) = rels.split_first() else {
        let node = Node::Leaf {
            key: leaf.to_string(),
            col,
            kind,
        };
        match nodes.iter_mut().find(|n| n.key() == leaf) {
            Some(n) => *n = node,
            None => nodes.push(node),
        }
        return;
    };
    let i = match nodes.iter().position(|n| n.key() == r.name) {
        Some(i) => i,
        None => {
            nodes.push(Node::Parent {
                key: r.name.to_string(),
                object: r.object.to_string(),
                id_col: r.id_col,
                children: Vec::new(),
            });
            nodes.len() - 1
        }
    };
    if let Node::Parent { children, .. } = &mut nodes[i] {
        add_output(children, rest, leaf, col, kind);
    }
}

/// JSON string escaping exactly as serde_json writes it (so the bytes match the old path's):
/// `"` and `\`, the short escapes for \b \t \n \f \r, `\u00XX` for other control characters.
pub fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    push_json_str_body(out, s);
    out.push('"');
}

fn push_json_str_body(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let b = s.as_bytes();
    let mut run = 0;
    for (i, &c) in b.iter().enumerate() {
        let esc: &str = match c {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[run..i]);
        if esc.is_empty() {
            out.push_str("\\u00");
            out.push(HEX[(c >> 4) as usize] as char);
            out.push(HEX[(c & 0xf) as usize] as char);
        } else {
            out.push_str(esc);
        }
        run = i + 1;
    }
    out.push_str(&s[run..]);
}

fn push_number(out: &mut String, n: &Number) {
    let _ = write!(out, "{n}");
}

/// A Bulk cell as a typed value (the describe's type): empty is null; a number that does not parse
/// stays text; Bulk's `…Z` date-times become REST's `…+0000`.
pub enum Cell<'a> {
    Null,
    Number(Number),
    Bool(bool),
    Text(&'a str),
    /// A date-time without its `Z`, written with `+0000`.
    Utc(&'a str),
}

pub fn cell(s: &str, kind: ValueKind) -> Cell<'_> {
    if s.is_empty() {
        return Cell::Null;
    }
    match kind {
        ValueKind::Number => match s.parse::<f64>().ok().and_then(Number::from_f64) {
            Some(n) => Cell::Number(n),
            None => Cell::Text(s),
        },
        ValueKind::Boolean => Cell::Bool(s.eq_ignore_ascii_case("true")),
        ValueKind::DateTime => match s.strip_suffix('Z') {
            Some(t) => Cell::Utc(t),
            None => Cell::Text(s),
        },
        ValueKind::Text => Cell::Text(s),
    }
}

fn push_cell_json(out: &mut String, c: Cell<'_>) {
    match c {
        Cell::Null => out.push_str("null"),
        Cell::Number(n) => push_number(out, &n),
        Cell::Bool(b) => out.push_str(if b { "true" } else { "false" }),
        Cell::Text(s) => push_json_str(out, s),
        Cell::Utc(t) => {
            out.push('"');
            push_json_str_body(out, t);
            out.push_str("+0000\"");
        }
    }
}

/// Writes rows as records: the template plus where record URLs start.
pub struct JsonWriter<'a> {
    pub nodes: &'a [Node],
    pub object: &'a str,
    /// `/services/data/vXX.X`
    pub data_path: &'a str,
    /// Salesforce's `attributes` objects (type and URL) on the record and its parents.
    pub attributes: bool,
}

impl JsonWriter<'_> {
    /// One record as REST returns it, appended to `out`.
    pub fn record(&self, out: &mut String, row: &Row) {
        self.object_at(out, self.object, row.get(0), self.nodes, row);
    }

    fn attributes(&self, out: &mut String, object: &str, id: &str) {
        out.push_str("\"attributes\":{\"type\":");
        push_json_str(out, object);
        out.push_str(",\"url\":\"");
        push_json_str_body(out, self.data_path);
        out.push_str("/sobjects/");
        push_json_str_body(out, object);
        out.push('/');
        push_json_str_body(out, id);
        out.push_str("\"}");
    }

    fn object_at(&self, out: &mut String, object: &str, id: &str, nodes: &[Node], row: &Row) {
        out.push('{');
        let mut first = true;
        if self.attributes {
            self.attributes(out, object, id);
            first = false;
        }
        for n in nodes {
            if !first {
                out.push(',');
            }
            first = false;
            push_json_str(out, n.key());
            out.push(':');
            match n {
                Node::Leaf { col, kind, .. } => push_cell_json(out, cell(row.get(*col), *kind)),
                Node::Parent {
                    object,
                    id_col,
                    children,
                    ..
                } => {
                    let pid = row.get(*id_col);
                    if pid.is_empty() {
                        out.push_str("null");
                    } else {
                        self.object_at(out, object, pid, children, row);
                    }
                }
            }
        }
        out.push('}');
    }
}

/// Reused text values for the CSV writer, so a text cell goes through the formula guard without
/// an allocation.
#[derive(Default)]
pub struct CsvScratch {
    text: Option<Value>,
}

impl CsvScratch {
    fn text(&mut self, s: &str, suffix: &str) -> &Value {
        let v = self
            .text
            .get_or_insert_with(|| Value::String(String::new()));
        if let Value::String(t) = v {
            t.clear();
            t.push_str(s);
            t.push_str(suffix);
        }
        v
    }
}

/// One CSV column: the Bulk column it reads and the parents' Id columns (an absent parent makes
/// the record's value `null`, so the cell is empty).
pub struct CsvCol {
    pub col: usize,
    pub kind: ValueKind,
    pub parents: Vec<usize>,
}

/// One export CSV row (the columns of `ExportType::fields`) from a Bulk row: each cell typed as
/// the JSON record would hold it and written by `format::csv_cell`, formula guard included, so
/// the bytes are the ones the record path wrote.
pub fn csv_row(
    out: &mut String,
    cols: &[CsvCol],
    row: &Row,
    guard: bool,
    scratch: &mut CsvScratch,
) {
    for (i, c) in cols.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if c.parents.iter().any(|p| row.get(*p).is_empty()) {
            continue;
        }
        let num;
        let v: Option<&Value> = match cell(row.get(c.col), c.kind) {
            Cell::Null => None,
            Cell::Number(n) => {
                num = Value::Number(n);
                Some(&num)
            }
            Cell::Bool(b) => {
                num = Value::Bool(b);
                Some(&num)
            }
            Cell::Text(s) => Some(scratch.text(s, "")),
            Cell::Utc(t) => Some(scratch.text(t, "+0000")),
        };
        crate::salesforce::format::csv_cell(out, v, guard);
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn strings_escape_as_serde_json(s in "(?s).{0,40}") {
            let mut out = String::new();
            push_json_str(&mut out, &s);
            prop_assert_eq!(out, serde_json::to_string(&s).unwrap());
        }

        #[test]
        fn numbers_print_as_serde_json(x in proptest::num::f64::NORMAL | proptest::num::f64::ZERO | proptest::num::f64::SUBNORMAL) {
            let n = Number::from_f64(x).unwrap();
            let mut out = String::new();
            push_number(&mut out, &n);
            prop_assert_eq!(out, serde_json::to_string(&Value::Number(n)).unwrap());
        }
    }
}

//! Export batches as download bytes (CSV or NDJSON) written in Rust, so a streamed download never
//! turns records into JS objects.

use serde_json::value::RawValue;
use serde_json::Value;

use crate::salesforce::soql::ExportType;

/// A field path's value in a record, matching names case-insensitively (`account.name` finds
/// `"Account":{"Name":…}`); a missing parent gives `None`.
fn lookup<'v>(rec: &'v Value, path: &str) -> Option<&'v Value> {
    let mut cur = rec;
    for seg in path.split('.') {
        let obj = cur.as_object()?;
        cur = match obj.get(seg) {
            Some(v) => v,
            None => obj
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(seg))
                .map(|(_, v)| v)?,
        };
    }
    Some(cur)
}

/// Characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection"),
/// full-width forms included (spreadsheets normalise them).
const FORMULA_START: [char; 10] = [
    '=', '+', '-', '@', '\t', '\r', '\u{FF1D}', '\u{FF0B}', '\u{FF0D}', '\u{FF20}',
];

/// Whether a text cell could be read as a formula: it (or any part after a `;`, the list
/// separator in many locales) starts with a formula character, leading spaces and no-break spaces
/// ignored (spreadsheets skip them).
fn looks_like_formula(s: &str) -> bool {
    if s.starts_with(FORMULA_START) {
        return true;
    }
    s.split(';').any(|part| {
        part.trim_start_matches([' ', '\u{00A0}', '\u{202F}', '\u{3000}'])
            .starts_with(FORMULA_START)
    })
}

pub(crate) fn csv_cell(out: &mut String, v: Option<&Value>, guard: bool) {
    let text = match v {
        None | Some(Value::Null) => return,
        // Only text is guarded: a number (even a negative one) stays a number.
        Some(Value::String(s)) if guard && looks_like_formula(s) => {
            std::borrow::Cow::Owned(format!("'{s}"))
        }
        Some(Value::String(s)) => std::borrow::Cow::Borrowed(s.as_str()),
        Some(Value::Number(n)) => std::borrow::Cow::Owned(n.to_string()),
        Some(Value::Bool(b)) => std::borrow::Cow::Borrowed(if *b { "true" } else { "false" }),
        Some(other) => std::borrow::Cow::Owned(other.to_string()),
    };
    if text.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&text.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(&text);
    }
}

/// The CSV header line for a type: its field paths.
pub fn csv_header(ty: &ExportType) -> String {
    let mut s = ty
        .fields
        .iter()
        .map(|f| f.as_str())
        .collect::<Vec<_>>()
        .join(",");
    s.push('\n');
    s
}

/// CSV rows with the formula guard on.
pub fn csv_rows<R: std::borrow::Borrow<RawValue>>(
    ty: &ExportType,
    records: &[R],
) -> Result<String, serde_json::Error> {
    csv_rows_with(ty, records, true)
}

/// `formula_guard`: a text value starting with `=`, `+`, `-`, `@`, tab or CR gets a leading `'`
/// so a spreadsheet shows it rather than running it.
pub fn csv_rows_with<R: std::borrow::Borrow<RawValue>>(
    ty: &ExportType,
    records: &[R],
    formula_guard: bool,
) -> Result<String, serde_json::Error> {
    let mut out = String::with_capacity(records.len() * 96);
    for r in records {
        let v: Value = serde_json::from_str(r.borrow().get())?;
        for (i, f) in ty.fields.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            csv_cell(&mut out, lookup(&v, f.as_str()), formula_guard);
        }
        out.push('\n');
    }
    Ok(out)
}

pub fn ndjson_rows<R: std::borrow::Borrow<RawValue>>(records: &[R]) -> String {
    let mut out = String::with_capacity(records.iter().map(|r| r.borrow().get().len() + 1).sum());
    for r in records {
        out.push_str(r.borrow().get());
        out.push('\n');
    }
    out
}

/// JSON text with every non-ASCII character written as a `\uXXXX` escape. V8 builds a one-byte
/// string from pure ASCII without transcoding, and parses it faster: measured 177 ms against 34 ms
/// of string creation for 100,000 contacts (BENCHMARKS.md). Only valid for JSON, where non-ASCII
/// can only occur inside strings.
pub fn ascii_json(s: String) -> String {
    if s.is_ascii() {
        return s;
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len() + s.len() / 64);
    let mut start = 0;
    loop {
        // ASCII runs are copied as slices; only the rare non-ASCII character is escaped.
        let i = next_non_ascii(bytes, start);
        out.push_str(&s[start..i]);
        let Some(c) = s[i..].chars().next() else {
            break;
        };
        let mut units = [0u16; 2];
        for u in c.encode_utf16(&mut units) {
            out.push_str("\\u");
            for shift in [12, 8, 4, 0] {
                out.push(HEX[((*u >> shift) & 0xf) as usize] as char);
            }
        }
        start = i + c.len_utf8();
    }
    out
}

/// The index of the first byte ≥ 0x80 at or after `i`, eight bytes at a time.
fn next_non_ascii(b: &[u8], mut i: usize) -> usize {
    while let Some(chunk) = b.get(i..i + 8) {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        if u64::from_le_bytes(w) & 0x8080_8080_8080_8080 != 0 {
            break;
        }
        i += 8;
    }
    while i < b.len() && b[i] < 0x80 {
        i += 1;
    }
    i
}

/// The records as one JSON array text.
pub fn json_array<R: std::borrow::Borrow<RawValue>>(records: &[R]) -> String {
    let mut out = String::with_capacity(
        records
            .iter()
            .map(|r| r.borrow().get().len() + 1)
            .sum::<usize>()
            + 2,
    );
    out.push('[');
    for (i, r) in records.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(r.borrow().get());
    }
    out.push(']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_json_round_trips() {
        let s = r#"{"n":"Zoë 😀 Müller","a":[1,"ß"]}"#.to_string();
        let a = ascii_json(s.clone());
        assert!(a.is_ascii());
        let v1: Value = serde_json::from_str(&s).unwrap();
        let v2: Value = serde_json::from_str(&a).unwrap();
        assert_eq!(v1, v2);
        assert_eq!(ascii_json("plain".into()), "plain");
    }

    #[test]
    fn csv_flattens_paths_and_escapes() {
        let ty = ExportType::new("Contact", &["Name", "Account.Name", "Title"]).unwrap();
        let recs: Vec<Box<RawValue>> = serde_json::from_str(
            r#"[{"attributes":{"type":"Contact"},"Name":"Ann \"A\", B","Account":{"Name":"Acme"},"Title":null},
                {"attributes":{"type":"Contact"},"Name":"Bo","Account":null,"Title":"CEO\nx"}]"#,
        )
        .unwrap();
        assert_eq!(csv_header(&ty), "Name,Account.Name,Title\n");
        assert_eq!(
            csv_rows(&ty, &recs).unwrap(),
            "\"Ann \"\"A\"\", B\",Acme,\nBo,,\"CEO\nx\"\n"
        );
        assert_eq!(ndjson_rows(&recs).lines().count(), 2);
    }

    #[test]
    fn csv_formula_guard() {
        let ty = ExportType::new("Contact", &["Name", "Title", "Amount"]).unwrap();
        let recs: Vec<Box<RawValue>> = serde_json::from_str(
            r#"[{"Name":"=HYPERLINK(\"http://evil.example\",\"x\")","Title":"+1 415","Amount":-5},
                {"Name":"-2+3","Title":"@SUM(A1)","Amount":1.5},
                {"Name":"\tx","Title":"\r=1","Amount":null},
                {"Name":"Ann = B","Title":"x-1","Amount":0}]"#,
        )
        .unwrap();
        let guarded = csv_rows(&ty, &recs).unwrap();
        assert_eq!(
            guarded,
            "\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\",'+1 415,-5\n'-2+3,'@SUM(A1),1.5\n'\tx,\"'\r=1\",\nAnn = B,x-1,0\n"
        );
        let raw = csv_rows_with(&ty, &recs, false).unwrap();
        assert!(raw.starts_with("\"=HYPERLINK(") && raw.contains("\n-2+3,@SUM(A1),1.5\n"));
        // Leading (no-break) spaces, full-width signs and cells after a `;` are guarded too.
        for risky in [
            " =1",
            "\u{a0}+1",
            "\u{FF1D}1+1",
            "\u{FF0B}1",
            "\u{FF0D}1",
            "\u{FF20}SUM(A1)",
            "a;=cmd()",
            "a; @x",
        ] {
            assert!(looks_like_formula(risky), "{risky:?}");
        }
        for safe in ["Ann = B", "x-1", "a;b", "", "  plain"] {
            assert!(!looks_like_formula(safe), "{safe:?}");
        }
        // NDJSON is never altered.
        assert!(ndjson_rows(&recs).contains(r#""Name":"=HYPERLINK("#));
    }
}

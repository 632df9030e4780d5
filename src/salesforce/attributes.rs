//! `attributes: false`: Salesforce's per-record `attributes` objects (`{"type":…,"url":…}`, on the
//! record and on every parent record) cut out of a batch's JSON text in one scan, before the batch
//! reaches JS. They are about half of a batch's bytes and of its `JSON.parse` time (BENCHMARKS.md
//! §6); Bulk batches never write them in the first place.

/// The JSON text without any object member named `attributes`. Other text is copied unchanged;
/// text that is not valid JSON stays as it was apart from such members (nothing panics).
pub fn strip(json: &str) -> String {
    let b = json.as_bytes();
    let mut out = String::with_capacity(json.len());
    // Open containers: true for an object.
    let mut stack: Vec<bool> = Vec::with_capacity(8);
    let mut expect_key = false;
    // Start of the text not copied yet.
    let mut run = 0;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                let end = string_end(b, i);
                if expect_key && &b[i..end] == b"\"attributes\"" {
                    let colon = skip_ws(b, end);
                    if b.get(colon) == Some(&b':') {
                        let value = skip_ws(b, colon + 1);
                        let mut next = skip_ws(b, value_end(b, value));
                        out.push_str(&json[run..i]);
                        if b.get(next) == Some(&b',') {
                            // `"attributes":{…},` goes; the next member's key follows.
                            next += 1;
                        } else {
                            // The last member: the comma before it goes instead.
                            let kept = out.trim_end().len();
                            out.truncate(kept);
                            if out.ends_with(',') {
                                out.pop();
                            }
                        }
                        run = next;
                        i = next;
                        continue;
                    }
                }
                expect_key = false;
                i = end;
                continue;
            }
            b'{' => {
                stack.push(true);
                expect_key = true;
            }
            b'[' => {
                stack.push(false);
                expect_key = false;
            }
            b'}' | b']' => {
                stack.pop();
                expect_key = false;
            }
            b',' => expect_key = stack.last() == Some(&true),
            _ => {}
        }
        i += 1;
    }
    out.push_str(&json[run.min(json.len())..]);
    out
}

/// The index just past the string starting at `i` (its opening quote).
fn string_end(b: &[u8], i: usize) -> usize {
    let mut j = i + 1;
    while j < b.len() {
        match b[j] {
            b'\\' => j += 2,
            b'"' => return j + 1,
            _ => j += 1,
        }
    }
    b.len()
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// The index just past the JSON value starting at `i`.
fn value_end(b: &[u8], i: usize) -> usize {
    match b.get(i) {
        Some(b'"') => string_end(b, i),
        Some(b'{' | b'[') => {
            let mut depth = 0usize;
            let mut j = i;
            while j < b.len() {
                match b[j] {
                    b'"' => {
                        j = string_end(b, j);
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return j + 1;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            b.len()
        }
        _ => {
            let mut j = i;
            while j < b.len() && !matches!(b[j], b',' | b'}' | b']') && !b[j].is_ascii_whitespace()
            {
                j += 1;
            }
            j
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::Value;

    fn without(v: &Value) -> Value {
        match v {
            Value::Object(m) => Value::Object(
                m.iter()
                    .filter(|(k, _)| k.as_str() != "attributes")
                    .map(|(k, v)| (k.clone(), without(v)))
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.iter().map(without).collect()),
            other => other.clone(),
        }
    }

    #[test]
    fn drops_attributes_at_every_level() {
        let text = r#"[{"attributes":{"type":"Contact","url":"/x/Contact/1"},"Name":"A \"attributes\":{}","Account":{"attributes":{"type":"Account","url":"/y"},"Name":"Acme"},"Owner":null},
            { "Name" : "B" , "attributes" : { "type" : "Contact", "u": [1, {"a":"}"}] } },{"attributes":{}}]"#;
        let got = strip(text);
        assert_eq!(
            serde_json::from_str::<Value>(&got).unwrap(),
            without(&serde_json::from_str(text).unwrap())
        );
        assert!(got.starts_with(r#"[{"Name":"A \"attributes\":{}","Account":{"Name":"Acme"}"#));
        assert_eq!(strip("[]"), "[]");
        // Not JSON: no panic.
        for bad in [
            "[{\"attributes\"",
            "{\"attributes\":",
            "\"",
            "[{\"attributes\":{\"a\":\"}",
        ] {
            let _ = strip(bad);
        }
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(Value::from),
            "[a-z\"\\\\ {}:,\\[\\]]{0,8}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec(
                    (
                        prop_oneof![Just("attributes".to_string()), "[a-z]{1,4}"],
                        inner
                    ),
                    0..5
                )
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn equals_dropping_from_the_parsed_value(v in arb_json(), pretty in any::<bool>()) {
            let text = if pretty { serde_json::to_string_pretty(&v).unwrap() } else { v.to_string() };
            let got: Value = serde_json::from_str(&strip(&text)).unwrap();
            prop_assert_eq!(got, without(&v));
        }
    }
}

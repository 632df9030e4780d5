//! Type errors that name the field path and the expected type, never the value. serde's own
//! messages echo the offending value ("invalid type: string" followed by a PEM private key), and the
//! values here are private keys, client secrets and tokens.

use serde_json::Value;

/// "a string", "an object", … for a JSON value; never its content.
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// serde's message with any echoed value removed. What remains comes from our own types (the
/// expected type, a missing field's name).
pub fn serde_reason(msg: &str) -> String {
    let msg = msg.split(" at line ").next().unwrap_or(msg);
    if let Some(rest) = msg.strip_prefix("invalid type: ") {
        let got = match rest.split([' ', ',']).next().unwrap_or("") {
            "string" | "character" => "a string",
            "integer" | "floating" => "a number",
            "boolean" => "a boolean",
            "map" => "an object",
            "sequence" => "an array",
            "null" | "unit" => "null",
            _ => "a value of another type",
        };
        // The expected part is last and is ours; the value before it may contain anything.
        let expected = rest
            .rfind(", expected ")
            .map(|i| &rest[i + ", expected ".len()..])
            .unwrap_or("");
        return format!("must be {}, not {got}", friendly(expected));
    }
    if let Some(rest) = msg.strip_prefix("missing field `") {
        if let Some(name) = rest.split('`').next() {
            if name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return format!("is missing field {name}");
            }
        }
    }
    if msg.starts_with("unknown field") {
        return "has a field that is not allowed".into();
    }
    "has an invalid value".into()
}

fn friendly(expected: &str) -> &str {
    match expected {
        "a string" | "a boolean" | "an array" | "an object" => expected,
        "f64" | "f32" | "u64" | "u32" | "i64" | "i32" | "u16" | "u8" => "a number",
        "a sequence" => "an array",
        "a map" => "an object",
        e if e.starts_with("struct ") || e.starts_with("a map") => "an object",
        "a boolean or null" => "a boolean",
        _ => "a value of the documented type",
    }
}

/// What a field must hold, for walking a value by hand.
#[derive(Clone, Copy)]
pub enum Want {
    Str,
    OptStr,
    OptBool,
    StrArray,
}

/// The first field of `obj` (at `path`) that does not hold what `fields` says, as
/// `(path, reason)`. Missing required fields count too.
pub fn check_fields(path: &str, obj: &Value, fields: &[(&str, Want)]) -> Option<(String, String)> {
    let join = |f: &str| {
        if path.is_empty() {
            f.to_string()
        } else {
            format!("{path}.{f}")
        }
    };
    let Value::Object(map) = obj else {
        return Some((
            path.to_string(),
            format!("must be an object, not {}", kind(obj)),
        ));
    };
    for (name, want) in fields {
        let v = map.get(*name);
        // (suffix of the path, reason)
        let bad: Option<(String, String)> = match (want, v) {
            (Want::Str, Some(Value::String(_))) => None,
            (Want::Str | Want::StrArray, None) => Some((String::new(), "is required".into())),
            (Want::OptStr, None | Some(Value::Null | Value::String(_))) => None,
            (Want::OptBool, None | Some(Value::Null | Value::Bool(_))) => None,
            // `fields: 'all'`
            (Want::StrArray, Some(Value::String(s))) if s == "all" => None,
            (Want::StrArray, Some(Value::Array(a))) => {
                a.iter().position(|x| !x.is_string()).map(|i| {
                    (
                        format!("[{i}]"),
                        format!("must be a string, not {}", kind(&a[i])),
                    )
                })
            }
            (Want::Str | Want::OptStr, Some(other)) => Some((
                String::new(),
                format!("must be a string, not {}", kind(other)),
            )),
            (Want::OptBool, Some(other)) => Some((
                String::new(),
                format!("must be a boolean, not {}", kind(other)),
            )),
            (Want::StrArray, Some(other)) => Some((
                String::new(),
                format!("must be an array of strings or 'all', not {}", kind(other)),
            )),
        };
        if let Some((suffix, reason)) = bad {
            return Some((format!("{}{suffix}", join(name)), reason));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const MARK: &str = "SECRET-MARKER-e5a1, expected x";

    #[test]
    fn serde_messages_lose_their_values() {
        for v in [
            serde_json::json!(MARK),
            serde_json::json!([MARK]),
            serde_json::json!({ "k": MARK }),
            serde_json::json!(12345.678),
        ] {
            for e in [
                serde_json::from_value::<bool>(v.clone()).err(),
                serde_json::from_value::<u32>(v.clone()).err(),
                serde_json::from_value::<Vec<u8>>(v.clone()).err(),
                serde_json::from_value::<std::collections::BTreeMap<String, u8>>(v.clone()).err(),
            ]
            .into_iter()
            .flatten()
            {
                let r = serde_reason(&e.to_string());
                assert!(!r.contains("SECRET-MARKER") && !r.contains("12345"), "{r}");
                assert!(
                    r.starts_with("must be") || r == "has an invalid value",
                    "{r}"
                );
            }
        }
        assert_eq!(
            serde_reason(
                &serde_json::from_str::<bool>(&format!("{:?}", MARK))
                    .unwrap_err()
                    .to_string()
            ),
            "must be a boolean, not a string"
        );
    }

    #[test]
    fn walks_name_the_path() {
        let v = serde_json::json!({ "username": "u", "privateKeyPem": 5, "list": ["a", 1] });
        let (p, r) = check_fields(
            "jwtBearer",
            &v,
            &[("username", Want::Str), ("privateKeyPem", Want::Str)],
        )
        .unwrap();
        assert_eq!(
            (p.as_str(), r.as_str()),
            ("jwtBearer.privateKeyPem", "must be a string, not a number")
        );
        let (p, r) = check_fields("x", &v, &[("list", Want::StrArray)]).unwrap();
        assert_eq!(
            (p.as_str(), r.as_str()),
            ("x.list[1]", "must be a string, not a number")
        );
        let (p, _) = check_fields("jwtBearer", &serde_json::json!(MARK), &[]).unwrap();
        assert_eq!(p, "jwtBearer");
    }
}

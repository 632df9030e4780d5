//! No configuration error echoes a value: every option given a wrong type names the option (or
//! the path inside it) and the expected type only.

use forcelink::{Config, Error};
use serde_json::{json, Value};

const MARK: &str = "SECRET-MARKER-7c2d";

fn base() -> Value {
    json!({
        "clientId": "cid", "clientSecret": "csecret", "redirectUri": "http://localhost:3000/cb",
        "stateSecret": "0123456789abcdef0123456789abcdef"
    })
}

#[test]
fn wrong_types_never_echo_values() {
    let pem = format!("-----BEGIN PRIVATE KEY-----\n{MARK}\n-----END PRIVATE KEY-----\n");
    let strings = [
        "clientId",
        "clientSecret",
        "redirectUri",
        "stateSecret",
        "loginUrl",
        "apiVersion",
        "storePath",
        "encryptionKey",
    ];
    let numbers = [
        "stateTtlSeconds",
        "httpTimeoutMs",
        "maxRetries",
        "leaseWaitMs",
        "bulkThreshold",
        "bulkDeadlineMs",
        "maxConcurrentRequestsPerOrg",
        "apiUsageCeiling",
    ];
    let mut cases: Vec<(&str, Value, &str)> = vec![];
    for f in strings {
        cases.push((f, json!([MARK]), f));
        cases.push((f, json!({ "v": MARK }), f));
    }
    for f in numbers {
        cases.push((f, json!(MARK), f));
        cases.push((f, json!([MARK]), f));
    }
    for f in ["scopes", "allowedForwardOrigins"] {
        cases.push((f, json!(MARK), f));
        cases.push((f, json!([{ "v": MARK }]), f));
    }
    cases.extend([
        ("clientCredentials", json!(MARK), "clientCredentials"),
        ("jwtBearer", json!(pem), "jwtBearer"),
        (
            "jwtBearer",
            json!({ "username": "u", "privateKeyPem": [pem] }),
            "jwtBearer.privateKeyPem",
        ),
        (
            "jwtBearer",
            json!({ "username": { "v": MARK }, "privateKeyPem": pem }),
            "jwtBearer.username",
        ),
        (
            "jwtBearer",
            json!({ "username": "u", "privateKeyPem": pem, "audience": [MARK] }),
            "jwtBearer.audience",
        ),
        ("exportTypes", json!(MARK), "exportTypes"),
        (
            "exportTypes",
            json!({ "t": { "object": "Contact", "fields": ["Id"], "extra": MARK } }),
            "exportTypes",
        ),
        (
            "jwtBearer",
            json!({ "username": "u", "privateKeyPem": pem, "privateKey": MARK }),
            "jwtBearer",
        ),
        ("exportTypes", json!({ "t": MARK }), "exportTypes.t"),
        (
            "exportTypes",
            json!({ "t": { "object": [MARK], "fields": ["Id"] } }),
            "exportTypes.t.object",
        ),
        (
            "exportTypes",
            json!({ "t": { "object": "Contact", "fields": [{ "v": MARK }] } }),
            "exportTypes.t.fields[0]",
        ),
    ]);
    for (field, value, path) in cases {
        let mut cfg = base();
        cfg[field] = value.clone();
        let err = Config::from_json(&cfg.to_string())
            .err()
            .unwrap_or_else(|| panic!("{field} = {value} accepted"));
        let shown = format!(
            "{err} {err:?} {}",
            serde_json::to_string(&err.to_wire()).unwrap()
        );
        assert!(!shown.contains(MARK), "{field}: {shown}");
        match &err {
            Error::ConfigInvalid { field: f, reason } => {
                assert_eq!(f, path, "{shown}");
                assert!(
                    reason.starts_with("must be") || reason.starts_with("has a field"),
                    "{shown}"
                );
            }
            other => panic!("{field}: {other}"),
        }
    }
}

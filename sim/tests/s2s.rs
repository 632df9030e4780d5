//! Server-to-server grants: JWT bearer and client credentials (My Domain host).
//! The keys in tests/fixtures are throwaway test keys.

mod common;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::*;
use forcelink_sim::SimConfig;
use hmac::{Hmac, Mac};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use sha2::Sha256;

const KEY: &str = include_str!("fixtures/jwt-test-key.pem");
const PUBLIC: &str = include_str!("fixtures/jwt-test-key.pub");
const CERT: &str = include_str!("fixtures/jwt-test-cert.pem");
const OTHER_KEY: &str = include_str!("fixtures/jwt-other-key.pem");
const USER: &str = "integration@example.com";
const JWT_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn sign(claims: &Value, key: &str) -> String {
    let k = EncodingKey::from_rsa_pem(key.as_bytes()).expect("test key");
    encode(&Header::new(Algorithm::RS256), claims, &k).expect("sign")
}

fn claims(aud: &str) -> Value {
    json!({"iss": "sim-client-id", "sub": USER, "aud": aud, "exp": now() + 120})
}

fn jwt_token(host: &str, assertion: &str) -> Resp {
    post_form(
        &format!("{host}/services/oauth2/token"),
        &[("grant_type", JWT_GRANT), ("assertion", assertion)],
    )
}

fn keys(v: &Value) -> Vec<String> {
    v.as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

fn oauth_err(error: &str, description: &str) -> Value {
    json!({"error": error, "error_description": description})
}

#[test]
fn jwt_bearer_grant() {
    let sim = spawn(SimConfig::default());
    let aud = "https://login.salesforce.com";

    // No key configured yet.
    let r = jwt_token(&sim.login, &sign(&claims(aud), KEY));
    assert_eq!(
        (r.status, r.json()),
        (400, oauth_err("invalid_grant", "invalid assertion"))
    );

    let cfg = format!("{}/__sim/config", sim.login);
    let r = post_json(
        &cfg,
        json!({"jwtPublicKeyPem": "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----"}),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    let r = post_json(&cfg, json!({"jwtPublicKeyPem": PUBLIC, "jwtUsers": [USER]}));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        (
            r.json()["jwtPublicKeyConfigured"].clone(),
            r.json()["jwtUsers"].clone()
        ),
        (json!(true), json!([USER]))
    );

    let r = jwt_token(&sim.login, &sign(&claims(aud), KEY));
    assert_eq!(r.status, 200, "{}", r.text());
    let t = r.json();
    assert_eq!(
        keys(&t),
        ["access_token", "scope", "instance_url", "id", "token_type"]
    );
    assert_eq!(
        (t["scope"].as_str(), t["token_type"].as_str()),
        (Some("api"), Some("Bearer"))
    );
    assert_eq!(t["instance_url"], sim.instance.as_str());
    let q = format!(
        "{}/services/data/v62.0/query?q=SELECT+Id+FROM+Account",
        sim.instance
    );
    assert_eq!(get(&q, &[("Authorization", &bearer(&t))]).status, 200);

    // Every accepted audience, and `prn` instead of `sub`; the My Domain host serves the grant too.
    for aud in [
        sim.login.clone(),
        format!("{}/", sim.my_domain),
        "https://test.salesforce.com".into(),
    ] {
        assert_eq!(
            jwt_token(&sim.my_domain, &sign(&claims(&aud), KEY)).status,
            200,
            "{aud}"
        );
    }
    let prn = json!({"iss": "sim-client-id", "prn": USER, "sub": "someone@else.com", "aud": [aud], "exp": now() + 60});
    assert_eq!(jwt_token(&sim.login, &sign(&prn, KEY)).status, 200);

    // Errors, in Salesforce's words.
    let cases = [
        (
            sign(&claims(aud), OTHER_KEY),
            oauth_err("invalid_grant", "invalid assertion"),
        ),
        (
            "not.a.jwt".to_string(),
            oauth_err("invalid_grant", "invalid assertion"),
        ),
        (
            String::new(),
            oauth_err("invalid_grant", "invalid assertion"),
        ),
        (
            sign(
                &json!({"iss": "other", "sub": USER, "aud": aud, "exp": now() + 60}),
                KEY,
            ),
            oauth_err("invalid_client_id", "client identifier invalid"),
        ),
        (
            sign(&claims("https://evil.example.com"), KEY),
            oauth_err("invalid_grant", "audience is invalid"),
        ),
        (
            sign(
                &json!({"iss": "sim-client-id", "sub": USER, "exp": now() + 60}),
                KEY,
            ),
            oauth_err("invalid_grant", "audience is invalid"),
        ),
        (
            sign(
                &json!({"iss": "sim-client-id", "sub": USER, "aud": aud, "exp": now() - 60}),
                KEY,
            ),
            oauth_err("invalid_grant", "expired authorization code"),
        ),
        (
            sign(
                &json!({"iss": "sim-client-id", "sub": USER, "aud": aud}),
                KEY,
            ),
            oauth_err("invalid_grant", "expired authorization code"),
        ),
        (
            sign(
                &json!({"iss": "sim-client-id", "sub": USER, "aud": aud, "exp": now() + 600}),
                KEY,
            ),
            oauth_err("invalid_grant", "invalid assertion"),
        ),
        (
            sign(
                &json!({"iss": "sim-client-id", "sub": "stranger@example.com", "aud": aud, "exp": now() + 60}),
                KEY,
            ),
            oauth_err("invalid_grant", "user hasn't approved this consumer"),
        ),
    ];
    for (i, (assertion, want)) in cases.iter().enumerate() {
        let r = jwt_token(&sim.login, assertion);
        assert_eq!((r.status, r.json()), (400, want.clone()), "case {i}");
    }

    // Token families without refresh tokens, expired like any other.
    let conns = get(&format!("{}/__sim/connections", sim.login), &[]).json();
    let jwt: Vec<&Value> = conns
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["grant"] == "jwt_bearer")
        .collect();
    assert_eq!(jwt.len(), 5);
    assert!(jwt
        .iter()
        .all(|c| c["refreshTokenActive"] == false && c["subject"] == USER));
    post_json(
        &format!("{}/__sim/expire-access-tokens", sim.login),
        Value::Null,
    );
    assert_eq!(get(&q, &[("Authorization", &bearer(&t))]).status, 401);
    let counts = get(&format!("{}/__sim/counts", sim.login), &[]).json();
    assert_eq!(counts["token"]["jwt_bearer"], 5 + 1 + cases.len() as u64);
    assert_eq!(counts["token"]["total"], counts["token"]["jwt_bearer"]);
}

#[test]
fn jwt_key_from_config_as_certificate() {
    let sim = spawn(SimConfig {
        jwt_public_key_pem: Some(CERT.into()),
        jwt_users: vec![USER.into()],
        ..Default::default()
    });
    assert_eq!(
        jwt_token(&sim.login, &sign(&claims(&sim.login), KEY)).status,
        200
    );
    let r = jwt_token(&sim.login, &sign(&claims(&sim.login), OTHER_KEY));
    assert_eq!(r.json(), oauth_err("invalid_grant", "invalid assertion"));
}

#[test]
fn client_credentials_grant() {
    let sim = spawn(SimConfig::default());
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", "sim-client-id"),
        ("client_secret", "sim-client-secret"),
    ];
    let r = post_form(&format!("{}/services/oauth2/token", sim.login), &form);
    assert_eq!(
        (r.status, r.json()),
        (
            400,
            oauth_err("invalid_grant", "request not supported on this domain")
        )
    );

    let url = format!("{}/services/oauth2/token", sim.my_domain);
    let r = post_form(
        &url,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "sim-client-id"),
            ("client_secret", "bad"),
        ],
    );
    assert_eq!(
        (r.status, r.json()),
        (
            400,
            oauth_err("invalid_client", "invalid client credentials")
        )
    );
    let r = post_form(
        &url,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "sim-client-id"),
        ],
    );
    assert_eq!(
        r.json(),
        oauth_err("invalid_client", "invalid client credentials")
    );
    let r = post_form(
        &url,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "nope"),
            ("client_secret", "sim-client-secret"),
        ],
    );
    assert_eq!(
        r.json(),
        oauth_err("invalid_client_id", "client identifier invalid")
    );

    let r = post_form(&url, &form);
    assert_eq!(r.status, 200, "{}", r.text());
    let t = r.json();
    assert_eq!(
        keys(&t),
        [
            "access_token",
            "signature",
            "scope",
            "instance_url",
            "id",
            "token_type",
            "issued_at",
            "api_instance_url"
        ]
    );
    assert_eq!(
        (t["scope"].as_str(), t["api_instance_url"].as_str()),
        (Some("api"), Some("https://api.salesforce.com"))
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(b"sim-client-secret").expect("hmac");
    mac.update(
        format!(
            "{}{}",
            t["id"].as_str().unwrap_or(""),
            t["issued_at"].as_str().unwrap_or("")
        )
        .as_bytes(),
    );
    assert_eq!(
        t["signature"].as_str(),
        Some(STANDARD.encode(mac.finalize().into_bytes()).as_str())
    );
    let q = format!(
        "{}/services/data/v62.0/query?q=SELECT+Id+FROM+Contact",
        sim.instance
    );
    assert_eq!(
        get(&q, &[("Authorization", &bearer(&t))]).json()["totalSize"],
        50
    );

    // Basic client authentication.
    let basic = format!(
        "Basic {}",
        STANDARD.encode("sim-client-id:sim-client-secret")
    );
    let r = request(
        "POST",
        &url,
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Authorization", &basic),
        ],
        b"grant_type=client_credentials",
    )
    .expect("resp");
    assert_eq!(r.status, 200, "{}", r.text());

    // The My Domain host runs the web-server flow and the control API as well.
    let loc = get(
        &authorize_url(&sim, "").replace(&sim.login, &sim.my_domain),
        &[],
    );
    let code = query_param(loc.header("location").unwrap_or(""), "code").expect("code");
    let r = post_form(
        &url,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", "sim-client-id"),
            ("client_secret", "sim-client-secret"),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json()["refresh_token"].is_string());

    let counts = get(&format!("{}/__sim/counts", sim.my_domain), &[]).json();
    assert_eq!(counts["token"]["client_credentials"], 6);
    assert_eq!(counts["token"]["authorization_code"], 1);
    let conns = get(&format!("{}/__sim/connections", sim.login), &[]).json();
    let cc = conns
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["grant"] == "client_credentials")
        .count();
    assert_eq!(cc, 2);
    let cfg = get(&format!("{}/__sim/config", sim.login), &[]).json();
    assert_eq!(cfg["myDomainUrl"], sim.my_domain.as_str());
}

//! What other Salesforce clients send: jsforce's PKCE (the base64url of 128 random bytes, 171
//! characters, and no `code_challenge_method`) and the `limits` resource.

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::*;
use forcelink_sim::SimConfig;
use sha2::{Digest, Sha256};

#[test]
fn a_171_character_verifier_without_a_method_is_accepted() {
    let sim = spawn(SimConfig::default());
    let verifier = URL_SAFE_NO_PAD.encode([7u8; 128]);
    assert_eq!(verifier.len(), 171);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let url = format!(
        "{}/services/oauth2/authorize?response_type=code&client_id=sim-client-id&redirect_uri={}&scope={}&code_challenge={challenge}",
        sim.login,
        enc(REDIRECT),
        enc("api refresh_token")
    );
    let r = get(&url, &[]);
    assert_eq!(r.status, 302);
    let code = query_param(r.header("location").unwrap_or(""), "code").expect("code");
    let token_url = format!("{}/services/oauth2/token", sim.login);
    let form = |v: &str| {
        vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("client_id", "sim-client-id"),
            ("client_secret", "sim-client-secret"),
            ("redirect_uri", REDIRECT),
            ("code_verifier", v),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.to_string()))
        .collect::<Vec<_>>()
    };
    let send = |v: &str| {
        let f = form(v);
        let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        post_form(&token_url, &pairs)
    };
    // A wrong long verifier is still a mismatch.
    let wrong = URL_SAFE_NO_PAD.encode([8u8; 128]);
    assert_eq!(send(&wrong).json()["error"], "invalid_request");
    let r = send(&verifier);
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn limits_agree_with_sforce_limit_info() {
    let sim = spawn(SimConfig::default());
    let tok = connect(&sim);
    let r = call(
        "GET",
        &format!("{}/services/data/v62.0/limits", sim.instance),
        &bearer(&tok),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let info = r.header("sforce-limit-info").unwrap_or("").to_string();
    let (used, max) = info
        .trim_start_matches("api-usage=")
        .split_once('/')
        .expect("usage");
    let (used, max): (u64, u64) = (used.parse().expect("used"), max.parse().expect("max"));
    let body = r.json();
    assert_eq!(body["DailyApiRequests"]["Max"], max);
    assert_eq!(body["DailyApiRequests"]["Remaining"], max - used);
    assert!(body["DailyBulkV2QueryJobs"]["Max"].is_u64());
    let unauth = call(
        "GET",
        &format!("{}/services/data/v62.0/limits", sim.instance),
        "Bearer nope",
        None,
    );
    assert_eq!(unauth.status, 401);
}

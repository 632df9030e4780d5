//! HTTP-level tests against a running simulator: OAuth web-server flow and REST query.

mod common;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::*;
use forcelink_sim::SimConfig;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use std::time::Duration;

#[test]
fn code_flow_with_pkce() {
    let sim = spawn(SimConfig::default());
    let r = get(&authorize_url(&sim, ""), &[]);
    assert_eq!(r.status, 302);
    let loc = r.header("location").unwrap_or("").to_string();
    assert!(loc.starts_with(REDIRECT), "{loc}");
    assert!(loc.contains("%3D%3D"), "code is URL-encoded: {loc}");
    assert_eq!(query_param(&loc, "state").as_deref(), Some("xyz/1"));
    let code = query_param(&loc, "code").expect("code");
    assert!(code.ends_with("==") && code.contains('.') && code.contains('_'));

    let token_url = format!("{}/services/oauth2/token", sim.login);
    let base = |code: &str, verifier: Option<&str>, redirect: &str| {
        let mut f = vec![
            ("grant_type", "authorization_code".to_string()),
            ("code", code.to_string()),
            ("client_id", "sim-client-id".into()),
            ("client_secret", "sim-client-secret".into()),
            ("redirect_uri", redirect.into()),
        ];
        if let Some(v) = verifier {
            f.push(("code_verifier", v.into()));
        }
        let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        post_form(&token_url, &pairs)
    };
    // Failures that must not consume the code.
    let r = base(&code, None, REDIRECT);
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let r = base(
        &code,
        Some("wrong-verifier-wrong-verifier-wrong-verifier-x"),
        REDIRECT,
    );
    assert_eq!(
        r.json(),
        serde_json::json!({"error":"invalid_request","error_description":"invalid code verifier"})
    );
    let r = base(&code, Some(VERIFIER), "http://localhost:3000/other");
    assert_eq!(r.json()["error"], "redirect_uri_mismatch");
    assert_eq!(
        r.header("content-type"),
        Some("application/json;charset=UTF-8")
    );
    assert_eq!(
        r.header("cache-control"),
        Some("no-cache,must-revalidate,max-age=0,no-store,private")
    );

    let r = base(&code, Some(VERIFIER), REDIRECT);
    assert_eq!(r.status, 200, "{}", r.text());
    let t = r.json();
    let keys: Vec<&str> = t
        .as_object()
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default();
    assert_eq!(
        keys,
        [
            "access_token",
            "refresh_token",
            "signature",
            "scope",
            "instance_url",
            "id",
            "token_type",
            "issued_at"
        ]
    );
    assert!(t["access_token"]
        .as_str()
        .is_some_and(|a| a.starts_with("00D5g000004XYZa!")));
    assert_eq!(t["scope"], "api refresh_token");
    assert_eq!(t["instance_url"], sim.instance.as_str());
    assert_eq!(t["token_type"], "Bearer");
    let id = t["id"].as_str().unwrap_or("");
    assert!(
        id.starts_with(&format!("{}/id/00D5g000004XYZaEAK/005", sim.login)),
        "{id}"
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(b"sim-client-secret").expect("hmac");
    mac.update(format!("{id}{}", t["issued_at"].as_str().unwrap_or("")).as_bytes());
    assert_eq!(
        t["signature"].as_str(),
        Some(STANDARD.encode(mac.finalize().into_bytes()).as_str())
    );

    // Single use.
    let r = base(&code, Some(VERIFIER), REDIRECT);
    assert_eq!(
        r.json(),
        serde_json::json!({"error":"invalid_grant","error_description":"expired authorization code"})
    );
    let r = base("nope", Some(VERIFIER), REDIRECT);
    assert_eq!(r.json()["error_description"], "invalid authorization code");

    // The access token works on the instance host only.
    let q = format!(
        "{}/services/data/v62.0/query?q={}",
        sim.instance,
        enc("SELECT Id, Name, Account.Name FROM Contact")
    );
    let r = get(&q, &[("Authorization", &bearer(&t))]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r
        .header("sforce-limit-info")
        .is_some_and(|v| v.starts_with("api-usage=")));
    assert_eq!(r.json()["totalSize"], 50);
    let r = get(
        &q.replace(&sim.instance, &sim.login),
        &[("Authorization", &bearer(&t))],
    );
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json(),
        serde_json::json!([{"message":"The requested resource does not exist","errorCode":"NOT_FOUND"}])
    );
}

#[test]
fn token_endpoint_errors() {
    let sim = spawn(SimConfig::default());
    let url = format!("{}/services/oauth2/token", sim.login);
    let r = request("POST", &url, &[("Content-Type", "application/json")], b"{}").expect("resp");
    assert_eq!(
        r.json(),
        serde_json::json!({"error":"unsupported_grant_type","error_description":"grant type not supported"})
    );
    let r = post_form(&url, &[("grant_type", "password")]);
    assert_eq!(r.json()["error"], "unsupported_grant_type");
    let r = post_form(
        &url,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "x"),
            ("refresh_token", "y"),
        ],
    );
    assert_eq!(
        r.json(),
        serde_json::json!({"error":"invalid_client_id","error_description":"client identifier invalid"})
    );
    let r = post_form(
        &url,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "sim-client-id"),
            ("client_secret", "bad"),
            ("refresh_token", "y"),
        ],
    );
    assert_eq!(
        r.json(),
        serde_json::json!({"error":"invalid_client","error_description":"invalid client credentials"})
    );
    let basic = format!(
        "Basic {}",
        STANDARD.encode("sim-client-id:sim-client-secret")
    );
    let body = "grant_type=refresh_token&refresh_token=nope";
    let r = request(
        "POST",
        &url,
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Authorization", &basic),
        ],
        body.as_bytes(),
    )
    .expect("resp");
    assert_eq!(
        r.json(),
        serde_json::json!({"error":"invalid_grant","error_description":"expired access/refresh token"})
    );

    // Authorize errors: bad client id is redirected, plain PKCE is rejected.
    let r = get(
        &authorize_url(&sim, "").replace("client_id=sim-client-id", "client_id=bad"),
        &[],
    );
    let loc = r.header("location").unwrap_or("").to_string();
    assert_eq!(
        query_param(&loc, "error").as_deref(),
        Some("invalid_client_id")
    );
    assert_eq!(
        query_param(&loc, "error_description").as_deref(),
        Some("client identifier invalid")
    );
    let r = get(&authorize_url(&sim, "").replace("S256", "plain"), &[]);
    assert_eq!(
        query_param(r.header("location").unwrap_or(""), "error").as_deref(),
        Some("invalid_request")
    );
    let r = get(&authorize_url(&sim, "&sim_action=deny"), &[]);
    let loc = r.header("location").unwrap_or("").to_string();
    assert!(
        loc.contains(
            "error=access_denied&error_description=end-user+denied+authorization&state=xyz%2F1"
        ),
        "{loc}"
    );
}

#[test]
fn registered_redirect_and_consent_page() {
    let sim = spawn(SimConfig {
        redirect_uri: Some(REDIRECT.into()),
        auto_approve: false,
        ..Default::default()
    });
    let r = get(&authorize_url(&sim, "").replace("3000", "4000"), &[]);
    assert_eq!(r.status, 400);
    assert!(r.text().contains("redirect_uri_mismatch"));
    let r = get(&authorize_url(&sim, ""), &[]);
    assert_eq!(r.status, 200);
    let html = r.text();
    assert!(html.contains("Allow Access?") && html.contains("Forcelink Simulator"));
    assert!(html.contains("action=\"/services/oauth2/authorize/decision\""));
    let decision = format!("{}/services/oauth2/authorize/decision", sim.login);
    let mut form = vec![
        ("response_type", "code"),
        ("client_id", "sim-client-id"),
        ("redirect_uri", REDIRECT),
        ("state", "s1"),
    ];
    form.push(("action", "deny"));
    let r = post_form(&decision, &form);
    assert_eq!(r.status, 302);
    assert_eq!(r.header("location"), Some(format!("{REDIRECT}?error=access_denied&error_description=end-user+denied+authorization&state=s1").as_str()));
    form.pop();
    form.push(("action", "allow"));
    let r = post_form(&decision, &form);
    assert!(query_param(r.header("location").unwrap_or(""), "code").is_some());
}

#[test]
fn refresh_rotation_revoke_and_sessions() {
    let sim = spawn(SimConfig::default());
    let t = connect(&sim);
    let rt = t["refresh_token"].as_str().unwrap_or("").to_string();
    let token_url = format!("{}/services/oauth2/token", sim.login);
    let refresh = |rt: &str| {
        post_form(
            &token_url,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", rt),
                ("client_id", "sim-client-id"),
                ("client_secret", "sim-client-secret"),
            ],
        )
    };
    // No rotation: new access token, no refresh_token field, old refresh token still good.
    let r = refresh(&rt);
    assert_eq!(r.status, 200);
    assert!(r.json().get("refresh_token").is_none());
    assert_eq!(refresh(&rt).status, 200);

    // Expired access token → 401 INVALID_SESSION_ID.
    let q = format!(
        "{}/services/data/v62.0/query?q=SELECT+Id+FROM+Account",
        sim.instance
    );
    assert_eq!(get(&q, &[("Authorization", &bearer(&t))]).status, 200);
    let r = post_json(
        &format!("{}/__sim/expire-access-tokens", sim.instance),
        Value::Null,
    );
    assert!(r.json()["expired"].as_u64().is_some_and(|n| n >= 3));
    let r = get(&q, &[("Authorization", &bearer(&t))]);
    assert_eq!(
        (r.status, r.json()),
        (
            401,
            serde_json::json!([{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}])
        )
    );

    // Rotation: a rotated-out token's reuse revokes the family.
    post_json(
        &format!("{}/__sim/config", sim.login),
        serde_json::json!({"rotation": true}),
    );
    let r1 = refresh(&rt).json();
    let rt1 = r1["refresh_token"]
        .as_str()
        .expect("rotated token")
        .to_string();
    assert_eq!(get(&q, &[("Authorization", &bearer(&r1))]).status, 200);
    let r = refresh(&rt);
    assert_eq!(
        r.json(),
        serde_json::json!({"error":"invalid_grant","error_description":"expired access/refresh token"})
    );
    assert_eq!(refresh(&rt1).status, 400);
    assert_eq!(get(&q, &[("Authorization", &bearer(&r1))]).status, 401);

    // Revoke endpoint.
    let t2 = connect(&sim);
    let revoke = format!("{}/services/oauth2/revoke", sim.login);
    let r = post_form(
        &revoke,
        &[("token", t2["refresh_token"].as_str().unwrap_or(""))],
    );
    assert_eq!((r.status, r.body.len()), (200, 0));
    assert_eq!(get(&q, &[("Authorization", &bearer(&t2))]).status, 401);
    let r = get(&format!("{revoke}?token=bogus"), &[]);
    assert_eq!(
        r.json(),
        serde_json::json!({"error":"invalid_token","error_description":"Token was invalid"})
    );

    let conns = get(&format!("{}/__sim/connections", sim.login), &[]).json();
    assert_eq!(conns.as_array().map(Vec::len), Some(2));
    assert_eq!(conns[1]["refreshTokenActive"], false);
    let counts = get(&format!("{}/__sim/counts", sim.login), &[]).json();
    assert_eq!(counts["token"]["authorization_code"], 2);
    assert!(counts["token"]["refresh_token"]
        .as_u64()
        .is_some_and(|n| n >= 5));
    assert_eq!(counts["revoke"], 2);
}

#[test]
fn query_paging_errors_and_faults() {
    let sim = spawn(SimConfig {
        contacts: 4500,
        ..Default::default()
    });
    let t = connect(&sim);
    let auth = bearer(&t);
    let h = [
        ("Authorization", auth.as_str()),
        ("Sforce-Query-Options", "batchSize=1000"),
    ];
    let base = format!("{}/services/data/v58.0", sim.instance);

    let mut r = get(
        &format!(
            "{base}/query?q={}",
            enc("SELECT Id, Name, Owner.Alias FROM Contact")
        ),
        &h,
    )
    .json();
    let mut seen = std::collections::HashSet::new();
    let mut pages = 1;
    loop {
        assert_eq!(r["totalSize"], 4500);
        for rec in r["records"].as_array().into_iter().flatten() {
            assert_eq!(rec["attributes"]["type"], "Contact");
            assert!(rec["attributes"]["url"]
                .as_str()
                .is_some_and(|u| u.starts_with("/services/data/v58.0/sobjects/Contact/003")));
            assert!(seen.insert(rec["Id"].as_str().unwrap_or("").to_string()));
        }
        if r["done"] == true {
            break;
        }
        let next = r["nextRecordsUrl"].as_str().unwrap_or("").to_string();
        assert!(
            next.starts_with("/services/data/v58.0/query/0r8")
                && next.ends_with(&format!("-{}", seen.len())),
            "{next}"
        );
        r = get(&format!("{}{next}", sim.instance), &h).json();
        pages += 1;
    }
    assert_eq!((seen.len(), pages), (4500, 5));

    let r = get(
        &format!("{base}/query?q={}", enc("select count() from contact")),
        &h,
    );
    assert_eq!(
        r.json(),
        serde_json::json!({"totalSize":4500,"done":true,"records":[]})
    );
    let r = get(
        &format!(
            "{base}/query?q={}",
            enc("SELECT Id FROM Contact LIMIT 10 OFFSET 2001")
        ),
        &h,
    );
    assert_eq!(
        r.json(),
        serde_json::json!([{"message":"Maximum SOQL offset allowed for apiName Contact is 2000","errorCode":"NUMBER_OUTSIDE_VALID_RANGE"}])
    );
    let r = get(&format!("{base}/query?q={}", enc("SELECT Id FROM Foo")), &h);
    assert_eq!(
        (r.status, r.json()[0]["errorCode"].as_str()),
        (400, Some("INVALID_TYPE"))
    );
    let r = get(&format!("{base}/query/0r8doesnotexistAAP-2000"), &h);
    assert_eq!(
        r.json(),
        serde_json::json!([{"message":"invalid query locator","errorCode":"INVALID_QUERY_LOCATOR"}])
    );
    assert_eq!(
        get(
            &format!(
                "{}/services/data/v30.0/query?q=SELECT+Id+FROM+Contact",
                sim.instance
            ),
            &h
        )
        .status,
        404
    );
    let versions = get(&format!("{}/services/data/", sim.instance), &[]);
    assert!(versions.header("sforce-limit-info").is_none());
    assert!(versions.json().as_array().is_some_and(|v| v
        .iter()
        .any(|x| x["label"] == "Winter '25" && x["version"] == "62.0")));

    // Faults.
    let faults = format!("{}/__sim/faults", sim.login);
    let q = format!("{base}/query?q=SELECT+Id+FROM+Account");
    post_json(
        &faults,
        serde_json::json!({"target":"query","kind":"503","count":1}),
    );
    let r = get(&q, &h);
    assert_eq!(
        (r.status, r.json()),
        (
            503,
            serde_json::json!([{"message":"Server too busy","errorCode":"SERVER_UNAVAILABLE"}])
        )
    );
    assert_eq!(get(&q, &h).status, 200);
    post_json(
        &faults,
        serde_json::json!({"target":"rest","kind":"reset","count":1}),
    );
    assert!(
        request("GET", &q, &h, b"").is_err(),
        "reset yields no response"
    );
    assert_eq!(get(&q, &h).status, 200);
    post_json(
        &faults,
        serde_json::json!({"target":"any","kind":"rate_limit","count":1}),
    );
    assert_eq!(get(&q, &h).json()[0]["errorCode"], "REQUEST_LIMIT_EXCEEDED");
    post_json(
        &faults,
        serde_json::json!({"target":"token","kind":"503","count":1}),
    );
    let r = post_form(
        &format!("{}/services/oauth2/token", sim.login),
        &[("grant_type", "refresh_token")],
    );
    assert_eq!(r.status, 503);
    post_json(
        &faults,
        serde_json::json!({"target":"query","kind":"slow","count":1,"delayMs":300}),
    );
    let t0 = std::time::Instant::now();
    assert_eq!(get(&q, &h).status, 200);
    assert!(t0.elapsed() >= Duration::from_millis(300));
    post_json(
        &faults,
        serde_json::json!({"target":"query","kind":"invalid_session","count":5}),
    );
    let r = request("DELETE", &faults, &[], b"").expect("resp");
    assert_eq!(r.json(), serde_json::json!({"faults": []}));

    // API limit.
    post_json(
        &format!("{}/__sim/config", sim.login),
        serde_json::json!({"apiLimit": 10, "apiUsage": 10}),
    );
    let r = get(&q, &h);
    assert_eq!(
        (r.status, r.header("sforce-limit-info")),
        (403, Some("api-usage=10/10"))
    );
    assert_eq!(
        r.json(),
        serde_json::json!([{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}])
    );
}

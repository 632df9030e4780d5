//! OAuth 2.0 endpoints on the login and My Domain hosts: authorize (+ consent decision),
//! token, revoke. Error codes and texts follow shared/research/salesforce-api.md §1–§4;
//! the server-to-server grants live in `grants.rs`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Extension, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::Response;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use url::Url;

use crate::consent;
use crate::faults::{self, Site};
use crate::grants::{self, Host};
use crate::http::{self, param, Params};
use crate::state::{bump, lock, Sim};
use crate::tokens::{CodeState, Issued, RefreshError};

/// Scopes granted when the authorize request names none (a connected app's usual set).
pub const DEFAULT_SCOPE: &str = "api id refresh_token";
const MAX_FORM: usize = 64 * 1024;

fn bad(error: &str, description: &str) -> Response {
    http::oauth_error(StatusCode::BAD_REQUEST, error, description)
}

// ---------------------------------------------------------------------------------------
// Authorize

pub async fn authorize(State(sim): State<Arc<Sim>>, req: Request) -> Response {
    bump(&sim.counts.authorize);
    let params = http::query_params(req.uri());
    authorize_flow(&sim, &params, None)
}

/// Consent form target (and a direct entry point for tests): authorize params +
/// `action=allow|deny`.
pub async fn decision(State(sim): State<Arc<Sim>>, req: Request) -> Response {
    let Some(body) = http::read_body(req.into_body(), MAX_FORM).await else {
        return consent::error_page("invalid_request", "request body too large");
    };
    let params = http::parse_form(&body);
    let allow = match param(&params, "action") {
        Some("allow") => true,
        Some("deny") => false,
        _ => return consent::error_page("invalid_request", "action must be allow or deny"),
    };
    authorize_flow(&sim, &params, Some(allow))
}

fn with_query(target: &Url, pairs: &[(&str, &str)], state: Option<&str>) -> Response {
    let mut u = target.clone();
    {
        let mut q = u.query_pairs_mut();
        for (k, v) in pairs {
            q.append_pair(k, v);
        }
        if let Some(s) = state {
            q.append_pair("state", s);
        }
    }
    http::redirect(u.as_str())
}

fn normalize_scope(s: Option<&str>) -> String {
    let joined = s
        .unwrap_or("")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if joined.is_empty() {
        DEFAULT_SCOPE.to_string()
    } else {
        joined
    }
}

/// `decision`: None = GET authorize (auto-approve / consent / `sim_action`), Some = the
/// user's answer from the consent form.
fn authorize_flow(sim: &Sim, p: &Params, decision: Option<bool>) -> Response {
    let redirect_uri = param(p, "redirect_uri").unwrap_or("");
    // The redirect target is checked first: errors can only be redirected to a trusted URI.
    if let Some(reg) = &sim.redirect_uri {
        if redirect_uri != reg {
            return consent::error_page(
                "redirect_uri_mismatch",
                "redirect_uri must match configuration",
            );
        }
    }
    let Ok(target) = Url::parse(redirect_uri) else {
        return consent::error_page("invalid_request", "missing or invalid redirect_uri");
    };
    let state = param(p, "state");
    let fail = |error: &str, desc: &str| {
        with_query(
            &target,
            &[("error", error), ("error_description", desc)],
            state,
        )
    };
    if param(p, "client_id") != Some(sim.client_id.as_str()) {
        return fail("invalid_client_id", "client identifier invalid");
    }
    if param(p, "response_type") != Some("code") {
        return fail("unsupported_response_type", "response type not supported");
    }
    match param(p, "code_challenge_method") {
        None | Some("") | Some("S256") => {}
        Some(_) => {
            return fail(
                "invalid_request",
                "invalid code_challenge_method: only S256 is supported",
            )
        }
    }
    let deny = match decision {
        Some(allow) => !allow,
        None => param(p, "sim_action") == Some("deny"),
    };
    if deny {
        return fail("access_denied", "end-user denied authorization");
    }
    let scope = normalize_scope(param(p, "scope"));
    let approved =
        decision.is_some() || sim.auto_approve() || param(p, "sim_action") == Some("allow");
    if !approved {
        return consent::consent_page(p, &scope);
    }
    let challenge = param(p, "code_challenge").filter(|c| !c.is_empty());
    let code = lock(&sim.auth).issue_code(&sim.client_id, redirect_uri, challenge, &scope);
    with_query(&target, &[("code", &code)], state)
}

// ---------------------------------------------------------------------------------------
// Token

/// Supported grants; each has a counter in `state::Counts` and a response shape
/// (research §1.2).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Grant {
    AuthorizationCode,
    RefreshToken,
    JwtBearer,
    ClientCredentials,
}

impl Grant {
    fn parse(s: Option<&str>) -> Option<Grant> {
        match s? {
            "authorization_code" => Some(Grant::AuthorizationCode),
            "refresh_token" => Some(Grant::RefreshToken),
            "urn:ietf:params:oauth:grant-type:jwt-bearer" => Some(Grant::JwtBearer),
            "client_credentials" => Some(Grant::ClientCredentials),
            _ => None,
        }
    }
}

pub struct ClientAuth {
    pub id: Option<String>,
    pub secret: Option<String>,
}

/// Body `client_id`/`client_secret`, else `Authorization: Basic base64(id:secret)`.
fn client_auth(headers: &HeaderMap, p: &Params) -> ClientAuth {
    let basic = http::header_str(headers, "authorization")
        .and_then(|h| {
            h.strip_prefix("Basic ")
                .or_else(|| h.strip_prefix("basic "))
        })
        .and_then(|b| STANDARD.decode(b.trim()).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            s.split_once(':')
                .map(|(a, b)| (a.to_string(), b.to_string()))
        });
    let (bid, bsecret) = match basic {
        Some((a, b)) => (Some(a), Some(b)),
        None => (None, None),
    };
    ClientAuth {
        id: param(p, "client_id").map(String::from).or(bid),
        secret: param(p, "client_secret").map(String::from).or(bsecret),
    }
}

pub async fn token(
    State(sim): State<Arc<Sim>>,
    Extension(host): Extension<Host>,
    req: Request,
) -> Response {
    bump(&sim.counts.token_total);
    let (parts, body) = req.into_parts();
    let is_form = http::header_str(&parts.headers, "content-type").is_some_and(|c| {
        c.to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded")
    });
    let body = http::read_body(body, MAX_FORM).await.unwrap_or_default();
    let p = if is_form {
        http::parse_form(&body)
    } else {
        Vec::new()
    };
    let grant = Grant::parse(param(&p, "grant_type"));
    match grant {
        Some(Grant::AuthorizationCode) => bump(&sim.counts.token_code),
        Some(Grant::RefreshToken) => bump(&sim.counts.token_refresh),
        Some(Grant::JwtBearer) => bump(&sim.counts.token_jwt),
        Some(Grant::ClientCredentials) => bump(&sim.counts.token_cc),
        None => {}
    }
    sim.latency().await;
    let delay = sim
        .settings
        .token_delay_ms
        .load(std::sync::atomic::Ordering::Relaxed);
    if delay > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
    }
    let hit = lock(&sim.faults).take(Site::Token);
    if let Some(r) = faults::apply(hit, Site::Token).await {
        return r;
    }
    // Salesforce answers a non-form body with unsupported_grant_type too.
    let Some(grant) = grant else {
        return bad("unsupported_grant_type", "grant type not supported");
    };
    let client = client_auth(&parts.headers, &p);
    // The assertion names the client (iss); client credentials have their own checks.
    match grant {
        Grant::JwtBearer => return respond(&sim, grants::jwt_bearer(&sim, &p), Shape::JwtBearer),
        Grant::ClientCredentials => {
            return respond(
                &sim,
                grants::client_credentials(&sim, host, &client),
                Shape::ClientCredentials,
            )
        }
        _ => {}
    }
    if client.id.as_deref() != Some(sim.client_id.as_str()) {
        return bad("invalid_client_id", "client identifier invalid");
    }
    if client
        .secret
        .as_deref()
        .is_some_and(|s| s != sim.client_secret)
    {
        return bad("invalid_client", "invalid client credentials");
    }
    let secret_given = client.secret.is_some();
    let issued = match grant {
        Grant::RefreshToken => refresh(&sim, &p, secret_given),
        _ => exchange_code(&sim, &p, secret_given),
    };
    respond(&sim, issued, Shape::Interactive)
}

fn respond(sim: &Sim, issued: Result<Issued, Response>, shape: Shape) -> Response {
    match issued {
        Ok(i) => token_response(sim, i, shape),
        Err(r) => r,
    }
}

/// Salesforce asks for the base64url of 128 random bytes (171 characters), beyond RFC 7636's 128
/// maximum, and documents no length rule: any URL-safe verifier up to a generous bound is checked
/// against the challenge (a stricter check would refuse clients that work against real orgs).
const MAX_VERIFIER_LEN: usize = 1024;

fn pkce_ok(verifier: &str, challenge: &str) -> bool {
    let shape = (1..=MAX_VERIFIER_LEN).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    shape && URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) == challenge
}

fn exchange_code(sim: &Sim, p: &Params, secret_given: bool) -> Result<Issued, Response> {
    let code = param(p, "code").unwrap_or("");
    let mut store = lock(&sim.auth);
    let c = match store.code_state(code) {
        CodeState::Unknown => return Err(bad("invalid_grant", "invalid authorization code")),
        CodeState::Expired => return Err(bad("invalid_grant", "expired authorization code")),
        CodeState::Valid(c) => c,
    };
    if c.client_id != sim.client_id {
        return Err(bad("invalid_grant", "invalid authorization code"));
    }
    if param(p, "redirect_uri") != Some(c.redirect_uri.as_str()) {
        return Err(bad(
            "redirect_uri_mismatch",
            "redirect_uri must match configuration",
        ));
    }
    if let Some(ch) = &c.challenge {
        match param(p, "code_verifier").filter(|v| !v.is_empty()) {
            None => return Err(bad("invalid_grant", "code verifier required")),
            Some(v) if !pkce_ok(v, ch) => {
                return Err(bad("invalid_request", "invalid code verifier"))
            }
            Some(_) => {}
        }
    } else if !secret_given {
        // Without PKCE the web-server flow needs the client secret.
        return Err(bad("invalid_client", "invalid client credentials"));
    }
    store.consume_code(code);
    let with_refresh = c
        .scope
        .split(' ')
        .any(|s| s == "refresh_token" || s == "offline_access");
    Ok(store.open(&c.scope, !secret_given, with_refresh))
}

fn refresh(sim: &Sim, p: &Params, secret_given: bool) -> Result<Issued, Response> {
    let rt = param(p, "refresh_token").unwrap_or("");
    lock(&sim.auth)
        .refresh(rt, sim.rotation(), secret_given)
        .map_err(|e| match e {
            RefreshError::Invalid => bad("invalid_grant", "expired access/refresh token"),
            RefreshError::SecretRequired => bad("invalid_client", "invalid client credentials"),
            RefreshError::Refused(r) => {
                let (error, description) = r.answer();
                bad(error, description)
            }
        })
}

/// Token response field sets per grant (research §1.2): the JWT bearer response has no
/// signature and no issued_at; client credentials add `api_instance_url`.
#[derive(Clone, Copy, PartialEq)]
enum Shape {
    Interactive,
    JwtBearer,
    ClientCredentials,
}

fn token_response(sim: &Sim, i: Issued, shape: Shape) -> Response {
    let issued_at = crate::time::now_ms().to_string();
    let id = format!(
        "{}/id/{}/{}",
        sim.login_url,
        crate::tokens::org_id(i.org),
        i.user_id
    );
    let signature = match Hmac::<Sha256>::new_from_slice(sim.client_secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(id.as_bytes());
            mac.update(issued_at.as_bytes());
            STANDARD.encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    };
    let mut m = serde_json::Map::new();
    m.insert("access_token".into(), i.access_token.into());
    if let Some(rt) = i.refresh_token {
        m.insert("refresh_token".into(), rt.into());
    }
    if shape != Shape::JwtBearer {
        m.insert("signature".into(), signature.into());
    }
    m.insert("scope".into(), i.scope.into());
    m.insert("instance_url".into(), sim.instance_url.clone().into());
    m.insert("id".into(), id.into());
    m.insert("token_type".into(), "Bearer".into());
    if shape != Shape::JwtBearer {
        m.insert("issued_at".into(), issued_at.into());
    }
    if shape == Shape::ClientCredentials {
        m.insert(
            "api_instance_url".into(),
            "https://api.salesforce.com".into(),
        );
    }
    let mut r = http::json_value(StatusCode::OK, &serde_json::Value::Object(m));
    http::oauth_headers(&mut r);
    r
}

// ---------------------------------------------------------------------------------------
// Keys

/// `GET /id/keys`: the JWKS that verifies JWT-based access tokens (empty until a signing key is set).
pub async fn keys(State(sim): State<Arc<Sim>>) -> Response {
    let keys: Vec<serde_json::Value> = lock(&sim.auth)
        .signer
        .as_ref()
        .map(|s| {
            let mut k = s.jwk.clone();
            if let Some(o) = k.as_object_mut() {
                o.insert("kid".into(), s.kid.clone().into());
                o.insert("alg".into(), "RS256".into());
                o.insert("use".into(), "sig".into());
            }
            vec![k]
        })
        .unwrap_or_default();
    http::json_value(StatusCode::OK, &serde_json::json!({ "keys": keys }))
}

// ---------------------------------------------------------------------------------------
// Revoke

pub async fn revoke(State(sim): State<Arc<Sim>>, req: Request) -> Response {
    bump(&sim.counts.revoke);
    let (parts, body) = req.into_parts();
    let p = if parts.method == Method::GET {
        http::query_params(&parts.uri)
    } else {
        http::parse_form(&http::read_body(body, MAX_FORM).await.unwrap_or_default())
    };
    sim.latency().await;
    let hit = lock(&sim.faults).take(Site::Revoke);
    if let Some(r) = faults::apply(hit, Site::Revoke).await {
        return r;
    }
    let token = param(&p, "token").unwrap_or("");
    if lock(&sim.auth).revoke(token) {
        let mut r = Response::new(Body::empty());
        r.headers_mut().insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static(http::NO_CACHE),
        );
        r
    } else {
        bad("invalid_token", "Token was invalid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_rfc7636_vector() {
        // RFC 7636 appendix B.
        let v = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert!(pkce_ok(v, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
        assert!(!pkce_ok(v, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN"));
        assert!(!pkce_ok("short", "x"));
    }
}

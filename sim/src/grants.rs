//! Server-to-server grants on `POST /services/oauth2/token` (research §1.8, §1.9):
//! - JWT bearer: an RS256 assertion signed with the connected app's private key,
//!   checked against the configured public key (or certificate) PEM.
//! - client credentials: client id + secret, accepted only on the My Domain host
//!   (Salesforce rejects the grant on login/test.salesforce.com).
//!
//! Neither grant issues a refresh token; each success opens a token family that
//! `/__sim/expire-access-tokens` expires like any other.

use axum::http::StatusCode;
use axum::response::Response;
use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};
use serde_json::Value;

use crate::http::{self, param, Params};
use crate::oauth::ClientAuth;
use crate::state::{lock, Sim};
use crate::tokens::Issued;

/// Scope granted to server-to-server tokens.
pub const S2S_SCOPE: &str = "api";
/// Clock skew tolerated on `exp`.
const SKEW_S: f64 = 5.0;
/// Salesforce: "the expiration time of the assertion within 3 minutes".
const MAX_LIFETIME_S: f64 = 180.0;

/// Which listener a request arrived on (an axum `Extension` on the OAuth routers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Host {
    Login,
    MyDomain,
}

/// JWT bearer settings: the connected app's certificate and the pre-authorised users.
#[derive(Default)]
pub struct JwtConfig {
    key: Option<DecodingKey>,
    users: Vec<String>,
}

fn parse_key(pem: &str) -> Result<DecodingKey, String> {
    DecodingKey::from_rsa_pem(pem.as_bytes())
        .map_err(|e| format!("jwtPublicKeyPem: not an RSA public key or certificate PEM ({e})"))
}

impl JwtConfig {
    pub fn new(pem: Option<&str>, users: Vec<String>) -> Result<JwtConfig, String> {
        let key = pem.map(parse_key).transpose()?;
        Ok(JwtConfig { key, users })
    }

    /// None clears the key (every assertion is then invalid).
    pub fn set_key(&mut self, pem: Option<&str>) -> Result<(), String> {
        self.key = pem.map(parse_key).transpose()?;
        Ok(())
    }

    pub fn set_users(&mut self, users: Vec<String>) {
        self.users = users;
    }

    pub fn key_configured(&self) -> bool {
        self.key.is_some()
    }

    pub fn users(&self) -> &[String] {
        &self.users
    }
}

fn bad(error: &str, description: &str) -> Response {
    http::oauth_error(StatusCode::BAD_REQUEST, error, description)
}

fn invalid_assertion() -> Response {
    bad("invalid_grant", "invalid assertion")
}

fn origin(u: &str) -> &str {
    u.trim_end_matches('/')
}

/// Audiences Salesforce would accept for this org: the login hosts and its My Domain.
fn audience_ok(sim: &Sim, aud: Option<&Value>) -> bool {
    let allowed = [
        origin(&sim.login_url),
        origin(&sim.my_domain_url),
        "https://login.salesforce.com",
        "https://test.salesforce.com",
    ];
    let ok = |v: &Value| v.as_str().is_some_and(|s| allowed.contains(&origin(s)));
    match aud {
        Some(Value::Array(items)) => items.iter().any(ok),
        Some(v) => ok(v),
        None => false,
    }
}

/// `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWT>`.
pub fn jwt_bearer(sim: &Sim, p: &Params) -> Result<Issued, Response> {
    let assertion = param(p, "assertion").unwrap_or("");
    let claims = {
        let cfg = lock(&sim.jwt);
        let Some(key) = cfg.key.as_ref() else {
            return Err(invalid_assertion());
        };
        // Only the signature is checked by the library; the claims are checked below so
        // each failure gets Salesforce's own error.
        let mut v = Validation::new(Algorithm::RS256);
        v.validate_exp = false;
        v.validate_nbf = false;
        v.validate_aud = false;
        v.required_spec_claims.clear();
        match decode::<serde_json::Map<String, Value>>(assertion, key, &v) {
            Ok(t) => t.claims,
            Err(_) => return Err(invalid_assertion()),
        }
    };
    if claims.get("iss").and_then(Value::as_str) != Some(sim.client_id.as_str()) {
        return Err(bad("invalid_client_id", "client identifier invalid"));
    }
    if !audience_ok(sim, claims.get("aud")) {
        return Err(bad("invalid_grant", "audience is invalid"));
    }
    let now = crate::time::now_ms() as f64 / 1000.0;
    match claims.get("exp").and_then(Value::as_f64) {
        Some(exp) if exp + SKEW_S < now => {
            return Err(bad("invalid_grant", "expired authorization code"))
        }
        None => return Err(bad("invalid_grant", "expired authorization code")),
        Some(exp) if exp > now + MAX_LIFETIME_S + SKEW_S => return Err(invalid_assertion()),
        Some(_) => {}
    }
    // Salesforce: "you can use principal (prn) instead of subject (sub). If both are
    // specified, prn is used."
    let subject = claims
        .get("prn")
        .or_else(|| claims.get("sub"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let approved = lock(&sim.jwt)
        .users
        .iter()
        .any(|u| u.eq_ignore_ascii_case(subject));
    if !approved {
        return Err(bad("invalid_grant", "user hasn't approved this consumer"));
    }
    Ok(lock(&sim.auth).open_s2s("jwt_bearer", S2S_SCOPE, Some(subject)))
}

/// `grant_type=client_credentials`, client authenticated in the body or with Basic.
pub fn client_credentials(sim: &Sim, host: Host, client: &ClientAuth) -> Result<Issued, Response> {
    if host != Host::MyDomain {
        return Err(bad("invalid_grant", "request not supported on this domain"));
    }
    if client.id.as_deref() != Some(sim.client_id.as_str()) {
        return Err(bad("invalid_client_id", "client identifier invalid"));
    }
    if client.secret.as_deref() != Some(sim.client_secret.as_str()) {
        return Err(bad("invalid_client", "invalid client credentials"));
    }
    Ok(lock(&sim.auth).open_s2s("client_credentials", S2S_SCOPE, None))
}

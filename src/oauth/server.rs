//! Server-to-server grants (no user in the loop): the JWT bearer assertion and client credentials.

use jsonwebtoken::{encode, Algorithm, Header};
use serde::Serialize;

use crate::config::{Config, ServerFlow};
use crate::error::{Error, Result};
use crate::oauth::state::now_secs;

/// Salesforce accepts assertions valid for at most three minutes.
const ASSERTION_TTL_SECS: u64 = 180;

#[derive(Serialize)]
struct AssertionClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: u64,
}

/// The form fields of the token request for the configured server flow.
pub fn grant_form(cfg: &Config) -> Result<Vec<(&'static str, String)>> {
    match &cfg.server_flow {
        Some(ServerFlow::JwtBearer {
            username,
            key,
            audience,
        }) => {
            let claims = AssertionClaims {
                iss: &cfg.client_id,
                sub: username,
                aud: audience,
                exp: now_secs() + ASSERTION_TTL_SECS,
            };
            super::jwt_crypto::install();
            let assertion = encode(&Header::new(Algorithm::RS256), &claims, key)
                .map_err(|e| Error::Internal(format!("could not sign the JWT assertion: {e}")))?;
            Ok(vec![
                (
                    "grant_type",
                    "urn:ietf:params:oauth:grant-type:jwt-bearer".into(),
                ),
                ("assertion", assertion),
            ])
        }
        Some(ServerFlow::ClientCredentials) => Ok(vec![
            ("grant_type", "client_credentials".into()),
            ("client_id", cfg.client_id.clone()),
            ("client_secret", cfg.client_secret.expose().to_string()),
        ]),
        None => Err(Error::config(
            "jwtBearer",
            "connectionId calls need jwtBearer or clientCredentials in the config",
        )),
    }
}

/// The grant's name as stored in the record (`token.grant`), so renewals know what to do.
pub fn grant_name(cfg: &Config) -> &'static str {
    match cfg.server_flow {
        Some(ServerFlow::JwtBearer { .. }) => "jwt_bearer",
        Some(ServerFlow::ClientCredentials) => "client_credentials",
        None => "authorization_code",
    }
}

/// Turns Salesforce's refusals of a server grant into errors that say what to fix.
pub fn explain(e: Error) -> Error {
    match e {
        Error::OAuth { ref description, .. } if description == "request not supported on this domain" => Error::config(
            "loginUrl",
            "Salesforce refused the client credentials flow on this host: use your My Domain URL (https://<MyDomain>.my.salesforce.com) as loginUrl",
        ),
        other => other,
    }
}

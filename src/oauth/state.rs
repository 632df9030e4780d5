//! OAuth `state`: an HS256 JWT carrying who started the flow and where to send them back, plus a
//! random nonce that makes each state single-use and seeds the flow's PKCE verifier.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use jsonwebtoken::{
    decode, encode, errors::ErrorKind, Algorithm, DecodingKey, EncodingKey, Header, Validation,
};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::secret::StateSecret;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StateClaims {
    pub aid: String,
    pub uid: String,
    pub forward_url: String,
    pub nonce: String,
    pub iat: u64,
    pub exp: u64,
    /// Keyed hash of the browser binding (never the value); absent when the caller opted out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bh: Option<String>,
}

/// Seconds a state still verifies after its `exp` (clock skew between hosts).
pub const LEEWAY_SECS: u64 = 5;

/// Signs and verifies state tokens with one key.
pub struct StateCodec {
    enc: EncodingKey,
    dec: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

/// A signed state token; only `StateCodec::sign` makes one.
#[derive(Debug, Clone)]
pub struct StateToken(String);

impl StateToken {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl StateCodec {
    pub fn new(secret: &StateSecret, ttl: Duration) -> Self {
        super::jwt_crypto::install();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        validation.set_required_spec_claims(&["exp", "iat"]);
        Self {
            enc: EncodingKey::from_secret(secret.expose().as_bytes()),
            dec: DecodingKey::from_secret(secret.expose().as_bytes()),
            validation,
            ttl,
        }
    }

    /// `binding_hash`: see `oauth::binding`.
    pub fn sign(
        &self,
        aid: &str,
        uid: &str,
        forward_url: &str,
        binding_hash: Option<String>,
    ) -> Result<(StateToken, StateClaims)> {
        let mut nonce = [0u8; 18];
        rand::rng().fill_bytes(&mut nonce);
        let iat = now_secs();
        let claims = StateClaims {
            aid: aid.to_string(),
            uid: uid.to_string(),
            forward_url: forward_url.to_string(),
            nonce: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(nonce),
            iat,
            exp: iat + self.ttl.as_secs(),
            bh: binding_hash,
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &self.enc)
            .map_err(|e| Error::Internal(format!("could not sign state: {e}")))?;
        Ok((StateToken(token), claims))
    }

    /// Verifies signature, algorithm and expiry. Says why it failed, never echoing the token.
    pub fn verify(&self, token: &str) -> Result<StateClaims> {
        if token.is_empty() || token.len() > 8192 {
            return Err(Error::InvalidState {
                reason: "missing or oversized",
            });
        }
        decode::<StateClaims>(token, &self.dec, &self.validation)
            .map(|d| d.claims)
            .map_err(|e| Error::InvalidState {
                reason: match e.kind() {
                    ErrorKind::ExpiredSignature => "expired",
                    ErrorKind::InvalidSignature => "bad signature",
                    ErrorKind::InvalidAlgorithm => "wrong algorithm",
                    _ => "malformed",
                },
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codec(ttl: u64) -> StateCodec {
        StateCodec::new(&StateSecret::new("k".repeat(32)), Duration::from_secs(ttl))
    }

    #[test]
    fn round_trip_and_tamper() {
        let c = codec(60);
        let (t, claims) = c.sign("acc", "usr", "/done", None).unwrap();
        assert_eq!(c.verify(t.as_str()).unwrap(), claims);
        // Change the signature's last character (to a different one: the flake to avoid).
        let mut bad = t.as_str().to_string();
        let last = bad.pop().unwrap();
        bad.push(if last == 'A' { 'E' } else { 'A' });
        assert!(matches!(c.verify(&bad), Err(Error::InvalidState { .. })));
        let other = StateCodec::new(&StateSecret::new("z".repeat(32)), Duration::from_secs(60));
        assert!(matches!(
            other.verify(t.as_str()),
            Err(Error::InvalidState {
                reason: "bad signature"
            })
        ));
        assert!(c.verify("").is_err());
        assert!(c.verify("not.a.jwt").is_err());
    }

    #[test]
    fn expired_state_is_rejected() {
        let c = codec(60);
        let claims = StateClaims {
            aid: "a".into(),
            uid: "u".into(),
            forward_url: "/".into(),
            nonce: "n".into(),
            iat: now_secs() - 4000,
            exp: now_secs() - 3600,
            bh: None,
        };
        let t = encode(&Header::new(Algorithm::HS256), &claims, &c.enc).unwrap();
        assert!(matches!(
            c.verify(&t),
            Err(Error::InvalidState { reason: "expired" })
        ));
    }

    #[test]
    fn nonces_differ() {
        let c = codec(60);
        assert_ne!(
            c.sign("a", "u", "/", None).unwrap().1.nonce,
            c.sign("a", "u", "/", None).unwrap().1.nonce
        );
    }
}

//! PKCE (RFC 7636, S256). The verifier is derived from the state's nonce with a keyed hash, so it
//! never travels in any URL, needs no server-side session, and the callback can land on any process
//! that shares the state secret.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::secret::StateSecret;

/// A code verifier: 43 characters of base64url (32 bytes of keyed-hash output).
pub struct Verifier(String);

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Verifier(***)")
    }
}

impl Verifier {
    pub fn derive(secret: &StateSecret, nonce: &str) -> Self {
        // HMAC accepts keys of any length, so construction cannot fail.
        let mut mac = match Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()) {
            Ok(m) => m,
            Err(_) => unreachable!("HMAC takes keys of any size"),
        };
        mac.update(b"forcelink/pkce/v1:");
        mac.update(nonce.as_bytes());
        Self(URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `base64url(sha256(verifier))`
    pub fn challenge(&self) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(self.0.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_shape_and_determinism() {
        let s = StateSecret::new("s".repeat(32));
        let v = Verifier::derive(&s, "nonce-1");
        assert_eq!(v.expose().len(), 43);
        assert!(v
            .expose()
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(v.expose(), Verifier::derive(&s, "nonce-1").expose());
        assert_ne!(v.expose(), Verifier::derive(&s, "nonce-2").expose());
        assert_eq!(v.challenge().len(), 43);
        assert_eq!(format!("{v:?}"), "Verifier(***)");
    }

    #[test]
    fn rfc7636_appendix_b_vector() {
        let v = Verifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into());
        assert_eq!(v.challenge(), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }
}

//! Browser binding (login-CSRF defence, RFC 9700 §4.7): `begin_login` hands the caller a random
//! value for the browser that starts the flow, and the signed state carries only a keyed hash of
//! it. The callback must present the value again, so a state finished in another browser (an
//! attacker's authorize URL opened by a victim) is refused before the code is exchanged.

use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::secret::StateSecret;

/// Domain separation: the state secret also derives PKCE verifiers.
const LABEL: &[u8] = b"forcelink browser binding v1\0";

/// The browser's copy: 256 random bits, base64url. Debug never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Binding(String);

impl Binding {
    pub fn generate() -> Self {
        let mut b = [0u8; 32];
        rand::rng().fill_bytes(&mut b);
        Self(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b))
    }

    /// A value the browser sent back; checked only by comparing its hash.
    pub fn presented(v: impl Into<String>) -> Self {
        Self(v.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    fn mac(&self, secret: &StateSecret) -> Hmac<Sha256> {
        // HMAC takes keys of any length; the error arm cannot happen.
        let mut m =
            Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()).unwrap_or_else(|_| {
                Hmac::<Sha256>::new_from_slice(&[0u8; 32]).expect("fixed-size HMAC key")
            });
        m.update(LABEL);
        m.update(self.0.as_bytes());
        m
    }

    /// The keyed hash the state carries (base64url).
    pub fn hash(&self, secret: &StateSecret) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(self.mac(secret).finalize().into_bytes())
    }

    /// Whether this value hashes to `expected`, compared in constant time.
    pub fn matches(&self, secret: &StateSecret, expected: &str) -> bool {
        let Ok(tag) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(expected) else {
            return false;
        };
        self.mac(secret).verify_slice(&tag).is_ok()
    }
}

impl std::fmt::Debug for Binding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Binding(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_matches_only_its_value() {
        let s = StateSecret::new("k".repeat(32));
        let b = Binding::generate();
        assert!(
            b.expose().len() >= 43
                && b.expose()
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        let h = b.hash(&s);
        assert!(!h.contains(b.expose()));
        assert!(b.matches(&s, &h));
        assert!(!Binding::generate().matches(&s, &h));
        assert!(!Binding::presented("").matches(&s, &h));
        assert!(!b.matches(&StateSecret::new("z".repeat(32)), &h));
        assert!(!b.matches(&s, "not base64 !"));
        assert_eq!(format!("{b:?}"), "Binding(***)");
    }
}

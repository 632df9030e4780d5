//! The two JWT algorithms forcelink uses, for `jsonwebtoken`: HS256 (the signed OAuth state) with
//! `hmac`/`sha2`, and RS256 signing (the JWT bearer assertion) with `ring`, which rustls already
//! links. `jsonwebtoken`'s own `rust_crypto` provider would add a second RSA and three elliptic-curve
//! stacks to every platform package (about 350 KB) for algorithms nothing here signs or checks.

use std::sync::Once;

use hmac::{Hmac, Mac};
use jsonwebtoken::crypto::{CryptoProvider, JwkUtils, JwtSigner, JwtVerifier};
use jsonwebtoken::errors::{Error, ErrorKind};
use jsonwebtoken::signature::{self, Signer, Verifier};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use ring::rand::SystemRandom;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

static PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: new_signer,
    verifier_factory: new_verifier,
    jwk_utils: JwkUtils::new_unimplemented(),
};

/// Makes this provider the process default; call before any `encode`/`decode`. A build where
/// another provider is already the default (the workspace's tests, through the simulator's
/// features) keeps it: both sign the same bytes for these algorithms.
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = PROVIDER.install_default();
    });
}

/// Whether `key` (PKCS#1 DER, as `EncodingKey::from_rsa_pem` keeps it) can sign RS256 here.
pub fn rsa_key_usable(key: &EncodingKey) -> Result<(), String> {
    RsaKeyPair::from_der(key.inner())
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn new_signer(alg: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>, Error> {
    match alg {
        Algorithm::HS256 => Ok(Box::new(Hs256(hmac_key(key.try_get_hmac_secret()?)?))),
        Algorithm::RS256 => {
            let pair = RsaKeyPair::from_der(key.inner())
                .map_err(|e| Error::from(ErrorKind::InvalidRsaKey(e.to_string())))?;
            Ok(Box::new(Rs256(pair)))
        }
        _ => Err(ErrorKind::InvalidAlgorithm.into()),
    }
}

fn new_verifier(alg: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>, Error> {
    match alg {
        Algorithm::HS256 => Ok(Box::new(Hs256(hmac_key(key.try_get_hmac_secret()?)?))),
        _ => Err(ErrorKind::InvalidAlgorithm.into()),
    }
}

fn hmac_key(secret: &[u8]) -> Result<HmacSha256, Error> {
    HmacSha256::new_from_slice(secret).map_err(|_| ErrorKind::InvalidKeyFormat.into())
}

struct Hs256(HmacSha256);

impl Signer<Vec<u8>> for Hs256 {
    fn try_sign(&self, msg: &[u8]) -> Result<Vec<u8>, signature::Error> {
        let mut mac = self.0.clone();
        mac.update(msg);
        Ok(mac.finalize().into_bytes().to_vec())
    }
}

impl JwtSigner for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

impl Verifier<Vec<u8>> for Hs256 {
    fn verify(&self, msg: &[u8], sig: &Vec<u8>) -> Result<(), signature::Error> {
        let mut mac = self.0.clone();
        mac.update(msg);
        // Constant-time comparison.
        mac.verify_slice(sig).map_err(|_| signature::Error::new())
    }
}

impl JwtVerifier for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

struct Rs256(RsaKeyPair);

impl Signer<Vec<u8>> for Rs256 {
    fn try_sign(&self, msg: &[u8]) -> Result<Vec<u8>, signature::Error> {
        let mut sig = vec![0; self.0.public().modulus_len()];
        self.0
            .sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), msg, &mut sig)
            .map_err(|_| signature::Error::new())?;
        Ok(sig)
    }
}

impl JwtSigner for Rs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::RS256
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hs256_matches_rfc7515_example() {
        // RFC 7515 appendix A.1: the HS256 example's signing input, key and signature.
        install();
        let key = base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow",
        )
        .unwrap();
        let input = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
        let sig = jsonwebtoken::crypto::sign(
            input.as_bytes(),
            &EncodingKey::from_secret(&key),
            Algorithm::HS256,
        )
        .unwrap();
        assert_eq!(sig, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        assert!(jsonwebtoken::crypto::verify(
            &sig,
            input.as_bytes(),
            &DecodingKey::from_secret(&key),
            Algorithm::HS256
        )
        .unwrap());
    }

    #[test]
    fn rs256_signs_what_the_public_key_verifies() {
        install();
        let key =
            EncodingKey::from_rsa_pem(include_bytes!("../../sim/tests/fixtures/jwt-test-key.pem"))
                .unwrap();
        rsa_key_usable(&key).unwrap();
        let sig = jsonwebtoken::crypto::sign(b"header.claims", &key, Algorithm::RS256).unwrap();
        let raw = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &sig)
            .unwrap();
        let pair = RsaKeyPair::from_der(key.inner()).unwrap();
        let public = ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            pair.public().as_ref(),
        );
        assert!(public.verify(b"header.claims", &raw).is_ok());
        assert!(public.verify(b"header.claimz", &raw).is_err());
    }

    #[test]
    fn hs256_rejects_a_wrong_signature_and_other_algorithms() {
        let s = Hs256(hmac_key(b"k").unwrap());
        let good = s.try_sign(b"m").unwrap();
        assert!(Verifier::verify(&s, b"m", &good).is_ok());
        assert!(Verifier::verify(&s, b"n", &good).is_err());
        assert!(new_signer(&Algorithm::ES256, &EncodingKey::from_secret(b"k")).is_err());
        assert!(new_verifier(&Algorithm::RS256, &DecodingKey::from_secret(b"k")).is_err());
    }
}

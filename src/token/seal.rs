//! Sealing of stored tokens with AES-256-GCM, bound to the connection they belong to (the key is
//! the host's `encryptionKey`). Sealed text: `fl1:` + base64(nonce ‖ ciphertext).

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::RngCore;

use crate::error::{Error, Result};

const PREFIX: &str = "fl1:";

pub struct Sealer {
    cipher: Aes256Gcm,
}

impl Sealer {
    pub fn new(key: &[u8; 32]) -> Self {
        Self {
            cipher: Aes256Gcm::new(key.into()),
        }
    }

    pub fn is_sealed(text: &str) -> bool {
        text.starts_with(PREFIX)
    }

    pub fn seal(&self, plain: &[u8], aad: &[u8]) -> Result<String> {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let ct = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plain, aad })
            .map_err(|_| Error::store("save", "encryption failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(format!("{PREFIX}{}", STANDARD.encode(out)))
    }

    pub fn open(&self, sealed: &str, aad: &[u8]) -> Result<Vec<u8>> {
        let raw = sealed
            .strip_prefix(PREFIX)
            .and_then(|b| STANDARD.decode(b).ok())
            .filter(|r| r.len() > 12)
            .ok_or_else(|| Error::store("find", "sealed token is corrupt"))?;
        let (nonce, ct) = raw.split_at(12);
        self.cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad })
            .map_err(|_| {
                Error::store(
                    "find",
                    "could not decrypt the stored token (wrong encryptionKey?)",
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_binding() {
        let s = Sealer::new(&[7u8; 32]);
        let sealed = s.seal(b"secret", b"a|b").unwrap();
        assert!(Sealer::is_sealed(&sealed) && !sealed.contains("secret"));
        assert_eq!(s.open(&sealed, b"a|b").unwrap(), b"secret");
        assert!(s.open(&sealed, b"a|c").is_err());
        assert!(Sealer::new(&[8u8; 32]).open(&sealed, b"a|b").is_err());
    }
}

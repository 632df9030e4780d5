//! The TokenStore contract the host implements (or the embedded SQLite default). Leases and nonces
//! are optional capabilities: without them, single-flight refresh and single-use state still hold
//! within this process.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::error::Result;
use crate::token::record::{ConnKey, TokenRecord};

#[async_trait]
pub trait TokenStore: Send + Sync {
    async fn find(&self, key: &ConnKey) -> Result<Option<TokenRecord>>;
    async fn save(&self, record: &TokenRecord) -> Result<()>;
    async fn delete(&self, key: &ConnKey) -> Result<bool>;

    /// `None` when the store has no cross-process leases.
    async fn acquire_lease(&self, _key: &ConnKey, _ttl_ms: u64) -> Result<Option<bool>> {
        Ok(None)
    }
    async fn release_lease(&self, _key: &ConnKey) -> Result<()> {
        Ok(())
    }
    /// `None` when the store cannot record nonces (the in-process guard then decides).
    async fn consume_nonce(&self, _nonce: &str, _expires_at_ms: i64) -> Result<Option<bool>> {
        Ok(None)
    }
}

/// In-process single use of state nonces, bounded by expiry.
#[derive(Default)]
pub struct NonceGuard {
    seen: Mutex<HashMap<String, i64>>,
}

impl NonceGuard {
    /// True the first time a nonce is presented before it expires.
    pub fn consume(&self, nonce: &str, expires_at_ms: i64, now_ms: i64) -> bool {
        let mut seen = match self.seen.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if seen.len() > 1024 {
            seen.retain(|_, exp| *exp > now_ms);
        }
        if seen.contains_key(nonce) {
            return false;
        }
        seen.insert(nonce.to_string(), expires_at_ms);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_single_use() {
        let g = NonceGuard::default();
        assert!(g.consume("a", 10, 0));
        assert!(!g.consume("a", 10, 0));
        assert!(g.consume("b", 10, 0));
    }
}

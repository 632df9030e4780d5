//! Store faults for the chaos run, from `FORCELINK_TEST_STORE_FAULTS` (JSON): renewals that stall
//! past the lease and conditional saves that fail, each at a rate. Wraps any store, embedded or
//! the host's.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::token::record::{ConnKey, TokenRecord};
use crate::token::store::{LeaseGrant, LeaseToken, TokenStore};

#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "camelCase", default)]
pub struct Faults {
    renew_stall_rate: f64,
    renew_stall_ms: u64,
    save_fail_rate: f64,
}

pub struct FaultyStore {
    inner: Arc<dyn TokenStore>,
    faults: Faults,
}

/// The faults asked for by the environment, if any.
pub fn from_env() -> Option<Faults> {
    let raw = std::env::var("FORCELINK_TEST_STORE_FAULTS").ok()?;
    serde_json::from_str(&raw).ok()
}

pub fn wrap(inner: Arc<dyn TokenStore>, faults: Faults) -> Arc<dyn TokenStore> {
    Arc::new(FaultyStore { inner, faults })
}

fn hit(rate: f64) -> bool {
    rate > 0.0 && rand::random::<f64>() < rate
}

#[async_trait]
impl TokenStore for FaultyStore {
    async fn find(&self, key: &ConnKey) -> Result<Option<TokenRecord>> {
        self.inner.find(key).await
    }
    async fn save(&self, record: &TokenRecord, expected: Option<u64>) -> Result<bool> {
        if expected.is_some() && hit(self.faults.save_fail_rate) {
            return Err(Error::store("save", "injected failure (chaos)"));
        }
        self.inner.save(record, expected).await
    }
    async fn delete(&self, key: &ConnKey) -> Result<bool> {
        self.inner.delete(key).await
    }
    async fn acquire_lease(&self, key: &ConnKey, ttl_ms: u64) -> Result<LeaseGrant> {
        self.inner.acquire_lease(key, ttl_ms).await
    }
    async fn can_renew_lease(&self) -> bool {
        self.inner.can_renew_lease().await
    }
    async fn renew_lease(
        &self,
        key: &ConnKey,
        lease: &LeaseToken,
        ttl_ms: u64,
    ) -> Result<Option<bool>> {
        if hit(self.faults.renew_stall_rate) {
            tokio::time::sleep(Duration::from_millis(self.faults.renew_stall_ms)).await;
        }
        self.inner.renew_lease(key, lease, ttl_ms).await
    }
    async fn release_lease(&self, key: &ConnKey, lease: &LeaseToken) -> Result<()> {
        self.inner.release_lease(key, lease).await
    }
    async fn consume_nonce(&self, nonce: &str, expires_at_ms: i64) -> Result<Option<bool>> {
        self.inner.consume_nonce(nonce, expires_at_ms).await
    }
    async fn close(&self) {
        self.inner.close().await
    }
}

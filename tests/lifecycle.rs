//! Token lifecycle edges in the core, against the in-process simulator: a rotated token whose
//! save fails is kept and re-saved (and flushed, or named, by drain), a refresh outlives its
//! cancelled caller, disconnect wins.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use forcelink::error::Result;
use forcelink::service::Forcelink;
use forcelink::token::record::{ConnKey, TokenRecord};
use forcelink::token::store::TokenStore;
use forcelink::Error;
use forcelink_sim::{start, SimConfig, SimHandle};

/// A fencing store whose next `fail_saves` saves fail.
#[derive(Default)]
struct FlakyStore {
    docs: Mutex<HashMap<ConnKey, TokenRecord>>,
    fail_saves: AtomicU32,
}

#[async_trait]
impl TokenStore for FlakyStore {
    async fn find(&self, key: &ConnKey) -> Result<Option<TokenRecord>> {
        Ok(self.docs.lock().unwrap().get(key).cloned())
    }
    async fn save(&self, r: &TokenRecord, expected: Option<u64>) -> Result<bool> {
        if self.fail_saves.load(Ordering::SeqCst) > 0 {
            self.fail_saves.fetch_sub(1, Ordering::SeqCst);
            return Err(Error::store("save", "db down"));
        }
        let mut m = self.docs.lock().unwrap();
        let key = r.key()?;
        if let Some(v) = expected {
            if m.get(&key).map(|c| c.stored_version()) != Some(v) {
                return Ok(false);
            }
        }
        m.insert(key, r.clone());
        Ok(true)
    }
    async fn delete(&self, key: &ConnKey) -> Result<bool> {
        Ok(self.docs.lock().unwrap().remove(key).is_some())
    }
}

mod common;
use common::{connect, control, REDIRECT};
use serde_json::json;

async fn sim() -> SimHandle {
    start(SimConfig {
        redirect_uri: Some(REDIRECT.into()),
        rotation: true,
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

fn service(sim: &SimHandle, store: Arc<FlakyStore>) -> Forcelink {
    let cfg = common::config(sim, json!({ "storeTimeoutMs": 500 }));
    Forcelink::new(cfg, Some(store)).unwrap()
}

fn stored_refresh(store: &FlakyStore, key: &ConnKey) -> Option<String> {
    store.docs.lock().unwrap().get(key).and_then(|r| {
        r.token
            .refresh_token
            .as_ref()
            .map(|t| t.expose().to_string())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotated_token_survives_a_failed_save() {
    let sim = sim().await;
    let store = Arc::new(FlakyStore::default());
    let fl = service(&sim, store.clone());
    let key = ConnKey::new("a", "u").unwrap();
    connect(&fl, key.account_id(), key.owner()).await;
    let before = stored_refresh(&store, &key);
    store.fail_saves.store(1, Ordering::SeqCst);
    fl.get_access_token(&key, true).await.unwrap();
    // Still the old token in the store, the new one in memory; the background save lands it.
    for _ in 0..50 {
        if stored_refresh(&store, &key) != before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_ne!(stored_refresh(&store, &key), before);
    fl.get_access_token(&key, true).await.unwrap();
    assert_eq!(control(&sim, "reuses", None).await["count"], 0);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_outlives_its_cancelled_caller_and_disconnect_wins() {
    let sim = sim().await;
    let store = Arc::new(FlakyStore::default());
    let fl = Arc::new(service(&sim, store.clone()));
    let key = ConnKey::new("a", "u").unwrap();
    connect(&fl, key.account_id(), key.owner()).await;
    let before = stored_refresh(&store, &key);
    control(&sim, "config", Some(json!({"tokenDelayMs": 400}))).await;
    // The caller gives up long before the token endpoint answers.
    let _ = tokio::time::timeout(Duration::from_millis(100), fl.get_access_token(&key, true)).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_ne!(stored_refresh(&store, &key), before);

    // A disconnect during a slow refresh: the record never comes back.
    let pending = {
        let (fl, key) = (fl.clone(), key.clone());
        tokio::spawn(async move { fl.get_access_token(&key, true).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    fl.disconnect(&key).await.unwrap();
    let _ = pending.await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(store.find(&key).await.unwrap().is_none());
    assert!(matches!(
        fl.get_access_token(&key, false).await,
        Err(Error::TokenNotFound)
    ));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_saves_unsaved_tokens_and_names_what_it_could_not() {
    let sim = sim().await;
    let store = Arc::new(FlakyStore::default());
    let cfg = common::config(
        &sim,
        json!({ "storeTimeoutMs": 500, "closeTimeoutMs": 400 }),
    );
    let fl = Forcelink::new(cfg, Some(store.clone())).unwrap();
    let key = ConnKey::new("a", "u").unwrap();
    connect(&fl, key.account_id(), key.owner()).await;
    let before = stored_refresh(&store, &key);
    // Every save fails: the rotated token lives only in memory, and drain says so.
    store.fail_saves.store(1_000, Ordering::SeqCst);
    fl.get_access_token(&key, true).await.unwrap();
    assert!(fl.busy());
    assert_eq!(stored_refresh(&store, &key), before);
    // The store comes back: drain flushes it before answering.
    store.fail_saves.store(0, Ordering::SeqCst);
    assert!(fl.drain().await.is_empty());
    assert_ne!(stored_refresh(&store, &key), before);
    assert!(!fl.busy());
    assert_eq!(control(&sim, "reuses", None).await["count"], 0);

    // It does not come back: drain gives up after closeTimeoutMs and names the connection.
    store.fail_saves.store(1_000, Ordering::SeqCst);
    fl.get_access_token(&key, true).await.unwrap();
    assert_eq!(fl.drain().await, vec![key.clone()]);
    sim.shutdown().await;
}

//! Plumbing shared by the core's integration tests: an in-memory TokenStore, the simulator's
//! control API, and a connection made through the real web-server flow (browser binding included).
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use forcelink::error::Result;
use forcelink::secret::AuthCode;
use forcelink::service::{CallbackParams, Forcelink};
use forcelink::token::record::{ConnKey, TokenRecord};
use forcelink::token::store::TokenStore;
use forcelink::Config;
use forcelink_sim::SimHandle;
use serde_json::{json, Value};

#[derive(Default)]
pub struct MemStore(pub Mutex<HashMap<ConnKey, TokenRecord>>);

#[async_trait]
impl TokenStore for MemStore {
    async fn find(&self, key: &ConnKey) -> Result<Option<TokenRecord>> {
        Ok(self.0.lock().unwrap().get(key).cloned())
    }
    /// Fenced as the TokenStore contract asks: a save expecting another version is refused.
    async fn save(&self, r: &TokenRecord, expected: Option<u64>) -> Result<bool> {
        let mut m = self.0.lock().unwrap();
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
        Ok(self.0.lock().unwrap().remove(key).is_some())
    }
}

pub const REDIRECT: &str = "http://localhost:3999/cb";

pub async fn control(sim: &SimHandle, path: &str, body: Option<Value>) -> Value {
    let c = reqwest::Client::new();
    let url = format!("{}/__sim/{path}", sim.login_url);
    let r = match body {
        None => c.get(url).send().await,
        Some(b) => {
            c.post(url)
                .header("content-type", "application/json")
                .body(b.to_string())
                .send()
                .await
        }
    };
    serde_json::from_str(&r.unwrap().text().await.unwrap()).unwrap_or(Value::Null)
}

/// The test app's config against `sim`, with `extra` options on top.
pub fn config(sim: &SimHandle, extra: Value) -> Config {
    let mut cfg = json!({
        "clientId": "sim-client-id", "clientSecret": "sim-client-secret", "redirectUri": REDIRECT,
        "stateSecret": "s".repeat(40), "loginUrl": sim.login_url,
    });
    for (k, v) in extra.as_object().unwrap() {
        cfg[k] = v.clone();
    }
    Config::from_json(&cfg.to_string()).unwrap()
}

/// The authorize step as the browser does it: the callback query Salesforce redirects with.
pub async fn authorize(redirect_url: &str) -> HashMap<String, String> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = http.get(redirect_url).send().await.unwrap();
    assert_eq!(resp.status(), 302);
    let loc = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
    loc.query_pairs().into_owned().collect()
}

/// Connects account `a` / owner `u` through the web-server flow; returns the callback's redirect.
pub async fn connect(fl: &Forcelink, a: &str, u: &str) -> String {
    let start = fl.begin_login(a, u, Some("/done"), true).await.unwrap();
    assert!(!start.already_connected);
    let q = authorize(&start.redirect_url).await;
    fl.handle_callback(CallbackParams {
        code: q.get("code").cloned().map(AuthCode::new),
        state: q.get("state").cloned(),
        binding: start.binding.clone(),
        ..Default::default()
    })
    .await
    .unwrap()
}

pub async fn connected(sim: &SimHandle) -> (Forcelink, ConnKey) {
    connected_with(sim, json!({})).await
}

pub async fn connected_with(sim: &SimHandle, extra: Value) -> (Forcelink, ConnKey) {
    let fl = Forcelink::new(config(sim, extra), Some(Arc::new(MemStore::default()))).unwrap();
    connect(&fl, "a", "u").await;
    (fl, ConnKey::new("a", "u").unwrap())
}

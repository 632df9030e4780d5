//! The core end to end over HTTP against the simulator (started in-process on 127.0.0.1).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use forcelink::error::Result;
use forcelink::oauth::binding::Binding;
use forcelink::secret::AuthCode;
use forcelink::service::{CallbackParams, Forcelink};
use forcelink::token::record::{ConnKey, TokenRecord};
use forcelink::token::store::TokenStore;
use forcelink::{Config, Error};
use forcelink_sim::{start, SimConfig, SimHandle};

#[derive(Default)]
struct MemStore(Mutex<HashMap<ConnKey, TokenRecord>>);

#[async_trait]
impl TokenStore for MemStore {
    async fn find(&self, key: &ConnKey) -> Result<Option<TokenRecord>> {
        Ok(self.0.lock().unwrap().get(key).cloned())
    }
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

const REDIRECT: &str = "http://localhost:3999/cb";

async fn sim() -> SimHandle {
    start(SimConfig {
        redirect_uri: Some(REDIRECT.into()),
        contacts: 4500,
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

fn service(sim: &SimHandle, store: Arc<MemStore>) -> Forcelink {
    let cfg = Config::from_json(
        &serde_json::json!({
            "clientId": "sim-client-id", "clientSecret": "sim-client-secret", "redirectUri": REDIRECT,
            "stateSecret": "s".repeat(40), "loginUrl": sim.login_url,
        })
        .to_string(),
    )
    .unwrap();
    Forcelink::new(cfg, Some(store)).unwrap()
}

async fn control(sim: &SimHandle, path: &str) -> serde_json::Value {
    let c = reqwest::Client::new();
    let url = format!("{}/__sim/{path}", sim.login_url);
    let r = if path == "counts" {
        c.get(url).send().await
    } else {
        c.post(url)
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
    };
    let text = r.unwrap().text().await.unwrap();
    serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
}

/// The authorize step as the browser does it: the callback query Salesforce redirects with.
async fn authorize(redirect_url: &str) -> HashMap<String, String> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = http.get(redirect_url).send().await.unwrap();
    assert_eq!(resp.status(), 302);
    let loc = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
    loc.query_pairs().into_owned().collect()
}

async fn connect(fl: &Forcelink, a: &str, u: &str) -> String {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_callback_must_come_from_the_browser_and_user_that_started_it() {
    let sim = sim().await;
    let store = Arc::new(MemStore::default());
    let fl = service(&sim, store.clone());
    let start = fl.begin_login("b", "u", Some("/done"), true).await.unwrap();
    let other = fl
        .begin_login("b2", "u", Some("/done"), true)
        .await
        .unwrap();
    let q = authorize(&start.redirect_url).await;
    control(&sim, "counts/reset").await;
    let params = |binding: Option<Binding>, identity: Option<(&str, &str)>| CallbackParams {
        code: q.get("code").cloned().map(AuthCode::new),
        state: q.get("state").cloned(),
        binding,
        identity: identity.map(|(a, u)| (a.to_string(), u.to_string())),
        ..Default::default()
    };
    for p in [
        params(None, None),
        params(other.binding.clone(), None),
        params(Some(Binding::presented("")), None),
        params(start.binding.clone(), Some(("b", "victim"))),
    ] {
        assert!(matches!(
            fl.handle_callback(p).await,
            Err(Error::InvalidState { .. })
        ));
    }
    assert_eq!(control(&sim, "counts").await["token"]["total"], 0);
    assert!(store.0.lock().unwrap().is_empty());
    let ok = fl
        .handle_callback(params(start.binding.clone(), Some(("b", "u"))))
        .await
        .unwrap();
    assert_eq!(ok, "/done?status=success&integration=salesforce");
    // The Debug of what the callback carried shows neither the code nor the binding.
    let shown = format!("{:?}", params(start.binding.clone(), None));
    assert!(
        !shown.contains(q["code"].as_str())
            && !shown.contains(start.binding.as_ref().unwrap().expose())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_refresh_export_disconnect() {
    let sim = sim().await;
    let store = Arc::new(MemStore::default());
    let fl = Arc::new(service(&sim, store.clone()));
    assert_eq!(
        connect(&fl, "a", "u").await,
        "/done?status=success&integration=salesforce"
    );

    // 50 concurrent callers after expiry share one refresh.
    control(&sim, "expire-access-tokens").await;
    control(&sim, "counts/reset").await;
    let calls = (0..50).map(|_| {
        let fl = fl.clone();
        tokio::spawn(async move {
            fl.query(
                &ConnKey::new("a", "u").unwrap(),
                "SELECT Id FROM Contact ORDER BY Id LIMIT 1",
            )
            .await
        })
    });
    for c in calls {
        c.await.unwrap().unwrap();
    }
    assert_eq!(control(&sim, "counts").await["token"]["refresh_token"], 1);

    // Pages past OFFSET 2,000 tile the Id order.
    let key = ConnKey::new("a", "u").unwrap();
    let mut ids = Vec::new();
    for page in 1..=5 {
        let p = fl
            .export_page(&key, "contacts", Some(&page.to_string()), Some("1000"))
            .await
            .unwrap();
        let data: Vec<serde_json::Value> = serde_json::from_str(&p.data_json).unwrap();
        ids.extend(
            data.iter()
                .map(|r| r["attributes"]["url"].as_str().unwrap().to_string()),
        );
        assert_eq!(p.pagination.total, 4500);
    }
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(ids.len(), 4500);
    assert_eq!(sorted, ids);

    assert!(matches!(
        fl.export_page(&key, "leads", None, None).await,
        Err(Error::InvalidType)
    ));
    assert!(fl.disconnect(&key).await.unwrap());
    assert!(matches!(
        fl.disconnect(&key).await,
        Err(Error::TokenNotFound)
    ));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_grant_invalidates_the_record() {
    let sim = sim().await;
    let store = Arc::new(MemStore::default());
    let fl = service(&sim, store.clone());
    connect(&fl, "a", "u").await;
    control(&sim, "revoke-refresh-tokens").await;
    let e = fl
        .get_access_token(&ConnKey::new("a", "u").unwrap(), true)
        .await
        .err()
        .unwrap();
    assert_eq!(e.code(), "RECONNECT_REQUIRED");
    let key = ConnKey::new("a", "u").unwrap();
    assert!(store.find(&key).await.unwrap().unwrap().token_invalidated);
    sim.shutdown().await;
}

//! The core end to end over HTTP against the simulator (started in-process on 127.0.0.1).

use std::sync::Arc;

use forcelink::oauth::binding::Binding;
use forcelink::secret::AuthCode;
use forcelink::service::{CallbackParams, Forcelink};
use forcelink::token::record::ConnKey;
use forcelink::token::store::TokenStore;
use forcelink::Error;
use forcelink_sim::{start, SimConfig, SimHandle};

mod common;
use common::{authorize, connect, control, MemStore, REDIRECT};
use serde_json::json;

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
    Forcelink::new(common::config(sim, json!({})), Some(store)).unwrap()
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
    control(&sim, "counts/reset", Some(json!({}))).await;
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
    assert_eq!(control(&sim, "counts", None).await["token"]["total"], 0);
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
    control(&sim, "expire-access-tokens", Some(json!({}))).await;
    control(&sim, "counts/reset", Some(json!({}))).await;
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
    assert_eq!(
        control(&sim, "counts", None).await["token"]["refresh_token"],
        1
    );

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
    control(&sim, "revoke-refresh-tokens", Some(json!({}))).await;
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

//! `sync` in the core against the in-process simulator: initial sync, random changes (late
//! commits included), incremental runs, and a replica equal to the simulator's ground truth.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use forcelink::error::Result;
use forcelink::secret::AuthCode;
use forcelink::service::{CallbackParams, Forcelink, SyncArgs};
use forcelink::token::record::{ConnKey, TokenRecord};
use forcelink::token::store::TokenStore;
use forcelink::Config;
use forcelink_sim::{start, SimConfig, SimHandle};
use serde_json::{json, Value};

#[derive(Default)]
struct MemStore(Mutex<HashMap<ConnKey, TokenRecord>>);

#[async_trait]
impl TokenStore for MemStore {
    async fn find(&self, key: &ConnKey) -> Result<Option<TokenRecord>> {
        Ok(self.0.lock().unwrap().get(key).cloned())
    }
    async fn save(&self, r: &TokenRecord, _expected: Option<u64>) -> Result<bool> {
        self.0.lock().unwrap().insert(r.key()?, r.clone());
        Ok(true)
    }
    async fn delete(&self, key: &ConnKey) -> Result<bool> {
        Ok(self.0.lock().unwrap().remove(key).is_some())
    }
}

const REDIRECT: &str = "http://localhost:3999/cb";

async fn control(sim: &SimHandle, path: &str, body: Option<Value>) -> Value {
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
    serde_json::from_str(&r.unwrap().text().await.unwrap()).unwrap()
}

/// Applies every step of one run; returns the last checkpoint.
async fn sync(
    fl: &Forcelink,
    key: &ConnKey,
    replica: &mut BTreeMap<String, String>,
    checkpoint: Option<String>,
) -> String {
    let args = SyncArgs {
        checkpoint,
        batch_size: Some(120.0),
        ..Default::default()
    };
    let mut run = fl.sync_run(key, "contacts", args).unwrap();
    let mut last = None;
    while let Some(step) = fl.sync_next(&mut run).await.unwrap() {
        let ups: Vec<Value> = serde_json::from_str(&step.upserts_json).unwrap();
        assert_eq!(ups.len(), step.upserts);
        for r in ups {
            replica.insert(
                r["Id"].as_str().unwrap().into(),
                r["SystemModstamp"].as_str().unwrap().into(),
            );
        }
        for d in step.deletes {
            replica.remove(&d.id);
        }
        last = Some(step.checkpoint);
    }
    last.expect("every run yields a step")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replica_follows_random_changes() {
    let sim = start(SimConfig {
        redirect_uri: Some(REDIRECT.into()),
        contacts: 600,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let cfg = json!({
        "clientId": "sim-client-id", "clientSecret": "sim-client-secret", "redirectUri": REDIRECT,
        "stateSecret": "s".repeat(40), "loginUrl": sim.login_url,
    });
    let fl = Forcelink::new(
        Config::from_json(&cfg.to_string()).unwrap(),
        Some(Arc::new(MemStore::default())),
    )
    .unwrap();
    let start = fl.begin_login("a", "u", Some("/done"), true).await.unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = http.get(&start.redirect_url).send().await.unwrap();
    let loc = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
    let q: HashMap<String, String> = loc.query_pairs().into_owned().collect();
    let params = CallbackParams {
        code: q.get("code").cloned().map(AuthCode::new),
        state: q.get("state").cloned(),
        binding: start.binding.clone(),
        ..Default::default()
    };
    fl.handle_callback(params).await.unwrap();
    let key = ConnKey::new("a", "u").unwrap();

    let mut replica = BTreeMap::new();
    let mut cp = sync(&fl, &key, &mut replica, None).await;
    for round in 0..5 {
        let body = json!({"object": "Contact", "count": 200, "seed": round, "lateMs": 45_000, "sameStamp": round == 2});
        control(&sim, "mutate", Some(body)).await;
        cp = sync(&fl, &key, &mut replica, Some(cp)).await;
        let truth = control(&sim, "truth?object=Contact", None).await;
        let want: BTreeMap<String, String> = truth["records"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(id, r)| {
                (
                    id.clone(),
                    r["SystemModstamp"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(replica, want, "round {round}");
    }
    // A foreign connection's checkpoint is refused before any request.
    let other = ConnKey::new("a", "someone-else").unwrap();
    let err = fl
        .sync_run(
            &other,
            "contacts",
            SyncArgs {
                checkpoint: Some(cp),
                ..Default::default()
            },
        )
        .err()
        .unwrap();
    assert_eq!((err.code(), err.status()), ("INVALID_INPUT", 400));
}

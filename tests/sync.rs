//! `sync` in the core against the in-process simulator: initial sync, random changes (late
//! commits included), incremental runs, and a replica equal to the simulator's ground truth.

mod common;

use std::collections::BTreeMap;

use common::{connected, control, REDIRECT};
use forcelink::service::{Forcelink, SyncArgs};
use forcelink::token::record::ConnKey;
use forcelink_sim::{start, SimConfig};
use serde_json::{json, Value};

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
    let (fl, key) = connected(&sim).await;

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

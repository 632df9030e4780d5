//! `sync({ live })` in the core: change events encoded by the simulator's Avro encoder decode to
//! the fields and bitmap names they carry; a live run against the in-process simulator yields the
//! polling catch-up, then CREATE / UPDATE / DELETE stream steps; the Subscribe stream never gets
//! more than one FetchRequest's worth of events per response.

mod common;

use std::time::Duration;

use common::{connected_with, control, REDIRECT};
use forcelink::salesforce::pubsub::avro::{decode, EventSchema};
use forcelink::salesforce::pubsub::channel::{self, Credentials};
use forcelink::salesforce::pubsub::stream::{Start, Subscription, BATCH};
use forcelink::service::SyncArgs;
use forcelink_sim::data::{Obj, Value as SimValue, F};
use forcelink_sim::pubsub::avro as sim_avro;
use forcelink_sim::{start, SimConfig};
use serde_json::{json, Value};

#[test]
fn decodes_the_simulators_events_with_bitmaps() {
    let schema_json = sim_avro::schema_json(Obj::Contact);
    let schema = EventSchema::parse(&schema_json).unwrap();
    let title = sim_avro::position(Obj::Contact, F::Title).unwrap();
    let phone = sim_avro::position(Obj::Contact, F::Phone).unwrap();
    let modified = sim_avro::position(Obj::Contact, F::LastModifiedDate).unwrap();
    let changed = sim_avro::bitmap(&[title, modified]).unwrap();
    let nulled = sim_avro::bitmap(&[phone]).unwrap();
    let ids = vec![
        "003000000000001AAA".to_string(),
        "003000000000002AAA".to_string(),
    ];
    let header = sim_avro::Header {
        entity: "Contact",
        record_ids: &ids,
        change_type: sim_avro::change_type_index("UPDATE").unwrap(),
        change_origin: "com/salesforce/api/rest/62.0",
        transaction_key: "tx-1",
        sequence_number: 1,
        commit_timestamp: 1_700_000_000_123,
        commit_number: 42,
        commit_user: "005000000000001AAA",
        nulled: std::slice::from_ref(&nulled),
        diff: &[],
        changed: std::slice::from_ref(&changed),
    };
    let values = [
        (F::Title, SimValue::Str("VP Sales".into())),
        (F::LastModifiedDate, SimValue::DateTime(1_700_000_000_000)),
    ];
    let payload = sim_avro::encode(Obj::Contact, &header, &values);
    let ev = decode(&schema, &payload).unwrap();
    assert_eq!(ev.entity, "Contact");
    assert_eq!(ev.change_type, "UPDATE");
    assert_eq!(ev.record_ids, ids);
    assert_eq!(ev.commit_timestamp, 1_700_000_000_123);
    assert_eq!(ev.changed, vec!["Title", "LastModifiedDate"]);
    assert_eq!(ev.nulled, vec!["Phone"]);
    let get = |n: &str| {
        ev.values
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(get("Title"), Some(json!("VP Sales")));
    assert_eq!(
        get("LastModifiedDate"),
        Some(json!("2023-11-14T22:13:20.000+0000"))
    );
    // Null fields are absent, not null.
    assert_eq!(get("Phone"), None);
    // A schema is the sim's own: its fingerprint is what GetTopic reports.
    assert_eq!(sim_avro::schema_id(&schema_json).len(), 22);
}

#[test]
fn garbage_payloads_are_typed_errors() {
    let schema = EventSchema::parse(&sim_avro::schema_json(Obj::Contact)).unwrap();
    assert!(decode(&schema, &[0xff, 0xff, 0xff]).is_err());
    assert!(EventSchema::parse("{not json").is_err());
}

async fn sim_and_fl() -> (
    forcelink_sim::SimHandle,
    forcelink::service::Forcelink,
    forcelink::token::record::ConnKey,
) {
    let sim = start(SimConfig {
        redirect_uri: Some(REDIRECT.into()),
        contacts: 30,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let (fl, key) = connected_with(&sim, json!({ "pubsubUrl": sim.pubsub_url })).await;
    (sim, fl, key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_run_yields_poll_then_stream_steps() {
    let (sim, fl, key) = sim_and_fl().await;
    let mut run = fl
        .sync_runner(&key, "contacts", SyncArgs::default(), true, Some(2000.0))
        .unwrap();
    // The catch-up: every step says it was polled.
    let first = fl.runner_next(&mut run).await.unwrap().unwrap();
    assert_eq!(first.meta["source"], "poll");
    assert!(first.upserts >= 30);

    // Changes after the catch-up arrive on the stream (the subscription predates the catch-up).
    control(
        &sim,
        "mutate",
        Some(json!({"object": "Contact", "count": 20, "seed": 7})),
    )
    .await;
    let mut types = Vec::new();
    let mut stream_steps = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while tokio::time::Instant::now() < deadline && stream_steps == 0 {
        let step = tokio::time::timeout(Duration::from_secs(10), fl.runner_next(&mut run))
            .await
            .expect("a step within the stall window")
            .unwrap()
            .unwrap();
        if step.meta["source"] == "stream" {
            stream_steps += 1;
            for t in step.meta["changeTypes"].as_array().unwrap() {
                types.push(t.as_str().unwrap().to_string());
            }
            let ups: Vec<Value> = serde_json::from_str(&step.upserts_json).unwrap();
            for r in ups {
                assert!(r["Id"].is_string());
                assert!(r["SystemModstamp"].is_string());
            }
        }
    }
    assert!(stream_steps > 0, "no stream step");
    // Seed 7 creates, updates and deletes records.
    for t in ["CREATE", "UPDATE", "DELETE"] {
        assert!(types.iter().any(|x| x == t), "{t} missing from {types:?}");
    }
    run.stop();
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_hold_at_most_one_fetch_of_events() {
    let (sim, fl, key) = sim_and_fl().await;
    let tok = fl.get_access_token(&key, false).await.unwrap();
    let tenant = forcelink_sim::data::ORG_ID.to_string();
    let creds = Credentials {
        access_token: tok.access_token.clone(),
        instance_url: tok.instance_url.clone(),
        tenant_id: tenant,
    };
    let mut client = channel::connect(&sim.pubsub_url).unwrap();
    let mut sub = Subscription::open(
        &mut client,
        &creds,
        "/data/ContactChangeEvent",
        &Start::Latest,
    )
    .await
    .unwrap();
    control(
        &sim,
        "mutate",
        Some(json!({"object": "Contact", "count": 250, "seed": 3})),
    )
    .await;
    let mut total = 0;
    while total < 200 {
        let resp = sub.next(Duration::from_secs(10)).await.unwrap();
        assert!(resp.events.len() <= BATCH as usize);
        total += resp.events.len();
    }
    sim.shutdown().await;
}

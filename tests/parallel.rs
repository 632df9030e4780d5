//! Parallel REST export by Id ranges against the simulator: every record exactly once over
//! random org sizes and skewed Id density (large deleted gaps), Id order when `ordered`, the
//! API-call bound (serial + 2K), and `parallelism: 1` walking one chain as before.

mod common;

use std::collections::HashSet;

use common::{connected, connected_with, control, REDIRECT};
use forcelink::service::Forcelink;
use forcelink::token::record::ConnKey;
use forcelink::Config;
use forcelink_sim::{start, SimConfig, SimHandle};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

/// Runs one export; returns (Ids in delivery order, largest batch, REST query calls).
async fn export(
    sim: &SimHandle,
    fl: &Forcelink,
    key: &ConnKey,
    batch: u32,
    k: u32,
    ordered: bool,
    since: Option<&str>,
) -> (Vec<String>, usize, u64) {
    control(sim, "counts/reset", Some(json!({}))).await;
    let mut c = fl
        .export_cursor(key, "contacts", Some(batch as f64), since, None, None)
        .unwrap()
        .with_parallelism(k, ordered);
    let mut ids = Vec::new();
    let mut largest = 0;
    while let Some(b) = fl.export_next(&mut c).await.unwrap() {
        let rows: Vec<Value> = serde_json::from_str(&b.json).unwrap();
        assert_eq!(rows.len(), b.count);
        largest = largest.max(b.count);
        ids.extend(rows.iter().map(|r| {
            r["attributes"]["url"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_string()
        }));
    }
    let counts = control(sim, "counts", None).await;
    let calls = counts["query"].as_u64().unwrap() + counts["queryMore"].as_u64().unwrap();
    (ids, largest, calls)
}

async fn live_ids(sim: &SimHandle) -> HashSet<String> {
    let truth = control(sim, "truth?object=Contact", None).await;
    truth["records"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_record_once_over_skewed_ranges() {
    let sim = start(SimConfig {
        redirect_uri: Some(REDIRECT.into()),
        contacts: 10,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let (fl, key) = connected(&sim).await;
    let mut rng = StdRng::seed_from_u64(13);
    for case in 0..14 {
        let n: u64 = match case {
            0 => 0,
            1 => 1,
            2 => 2000,
            _ => rng.random_range(1..24_000),
        };
        control(&sim, "seed", Some(json!({ "contacts": n }))).await;
        // Gaps: some long runs deleted, so Id density is far from uniform.
        for _ in 0..rng.random_range(0..4) {
            let from = rng.random_range(0..n.max(1));
            let len = rng.random_range(0..=n / 2 + 1);
            control(
                &sim,
                "delete-range",
                Some(json!({ "from": from, "to": from + len })),
            )
            .await;
        }
        let live = live_ids(&sim).await;
        let batch = [200u32, 500, 2000][rng.random_range(0..3)];
        let k = rng.random_range(2..=10);
        let ordered = rng.random_bool(0.6);
        let (ids, largest, calls) = export(&sim, &fl, &key, batch, k, ordered, None).await;
        let got: HashSet<&String> = ids.iter().collect();
        assert_eq!(got.len(), ids.len(), "case {case}: a record came twice");
        assert_eq!(
            ids.len(),
            live.len(),
            "case {case}: n={n} k={k} batch={batch}"
        );
        assert!(ids.iter().all(|i| live.contains(i)), "case {case}");
        if ordered {
            assert!(
                ids.windows(2).all(|w| w[0] < w[1]),
                "case {case}: not in Id order"
            );
        }
        assert!(largest <= batch as usize);
        let serial = (live.len() as u64).div_ceil(batch as u64).max(1);
        assert!(
            calls <= serial + 2 * k as u64,
            "case {case}: {calls} calls, serial {serial}, k {k}, n {}",
            live.len()
        );
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallelism_one_is_one_chain_and_since_works() {
    let sim = start(SimConfig {
        redirect_uri: Some(REDIRECT.into()),
        contacts: 5_000,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let (fl, key) = connected(&sim).await;
    let (serial, _, calls) = export(&sim, &fl, &key, 1000, 1, true, None).await;
    assert_eq!((serial.len(), calls), (5_000, 5));
    let (par, _, calls) = export(&sim, &fl, &key, 1000, 4, true, None).await;
    assert_eq!(par, serial);
    assert!(calls <= 5 + 8, "{calls}");
    // `since` filters every range alike.
    let (all_since, _, _) =
        export(&sim, &fl, &key, 1000, 1, true, Some("2001-01-01T00:00:00Z")).await;
    let (par_since, _, _) = export(
        &sim,
        &fl,
        &key,
        1000,
        6,
        false,
        Some("2001-01-01T00:00:00Z"),
    )
    .await;
    let mut sorted = par_since.clone();
    sorted.sort();
    assert_eq!(sorted, all_since);
    assert!(
        Forcelink::parallelism(Some(0.0)).is_err()
            && Forcelink::parallelism(Some(11.0)).is_err()
            && Forcelink::parallelism(Some(2.5)).is_err()
    );
    assert_eq!(Forcelink::parallelism(None).unwrap(), 4);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn governor_caps_requests_and_backs_off() {
    // An org that serves 3 requests at once, 40 ms each.
    let sim = start(SimConfig {
        redirect_uri: Some(REDIRECT.into()),
        contacts: 6_000,
        latency_ms: 40,
        concurrent_limit: 3,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    // Capped at the org's limit: never refused.
    let (fl, key) = connected_with(&sim, json!({ "maxConcurrentRequestsPerOrg": 3 })).await;
    let (ids, _, _) = export(&sim, &fl, &key, 500, 8, true, None).await;
    assert_eq!(ids.len(), 6_000);
    assert_eq!(control(&sim, "counts", None).await["concurrentRefused"], 0);
    // Above it (another process's share, say): refusals are waited out, nothing is lost.
    let (fl, key) = connected_with(&sim, json!({ "maxConcurrentRequestsPerOrg": 10 })).await;
    let (ids, _, _) = export(&sim, &fl, &key, 500, 8, true, None).await;
    assert_eq!(ids.len(), 6_000);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 6_000);
    assert!(
        control(&sim, "counts", None).await["concurrentRefused"]
            .as_u64()
            .unwrap()
            > 0
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_usage_ceiling_refuses_new_exports() {
    let sim = start(SimConfig {
        redirect_uri: Some(REDIRECT.into()),
        contacts: 3_000,
        api_limit: 1_000,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let (fl, key) = connected_with(&sim, json!({ "apiUsageCeiling": 0.9 })).await;
    control(&sim, "config", Some(json!({ "apiUsage": 880 }))).await;
    let (ids, _, _) = export(&sim, &fl, &key, 500, 4, true, None).await;
    assert_eq!(ids.len(), 3_000);
    control(&sim, "config", Some(json!({ "apiUsage": 899 }))).await;
    // One more call reports 900/1000: at the ceiling.
    fl.query(&key, "SELECT Id FROM Contact LIMIT 1")
        .await
        .unwrap();
    let before = control(&sim, "config", None).await["apiUsage"]
        .as_u64()
        .unwrap();
    let mut c = fl
        .export_cursor(&key, "contacts", None, None, None, None)
        .unwrap()
        .with_parallelism(4, true);
    let err = fl.export_next(&mut c).await.err().expect("refused");
    assert_eq!(err.code(), "RATE_LIMITED");
    assert!(
        err.to_string().contains("900/1000") || format!("{err:?}").contains("900/1000"),
        "{err:?}"
    );
    let page = fl.export_page(&key, "contacts", None, Some("10")).await;
    assert_eq!(page.err().map(|e| e.code()), Some("RATE_LIMITED"));
    assert_eq!(
        control(&sim, "config", None).await["apiUsage"]
            .as_u64()
            .unwrap(),
        before,
        "no budget spent"
    );
    assert!(Config::from_json(&json!({"clientId": "c", "clientSecret": "s", "redirectUri": "http://localhost/cb", "stateSecret": "s".repeat(40), "apiUsageCeiling": 1.5}).to_string()).is_err());
    sim.shutdown().await;
}

/// Runs a Bulk export; returns its Ids.
async fn bulk_ids(fl: &Forcelink, key: &ConnKey) -> Vec<String> {
    let mut c = fl
        .export_cursor(key, "contacts", None, None, Some("bulk"), None)
        .unwrap();
    let mut ids = Vec::new();
    while let Some(b) = fl.export_next(&mut c).await.unwrap() {
        let rows: Vec<Value> = serde_json::from_str(&b.json).unwrap();
        ids.extend(rows.iter().map(|r| {
            r["attributes"]["url"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_string()
        }));
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_result_pages_in_parallel_survive_a_page_cut_midway() {
    let sim = start(SimConfig {
        redirect_uri: Some(REDIRECT.into()),
        contacts: 120_000,
        bulk_job_ms: 0,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let (fl, key) = connected(&sim).await;
    // Two of the three 50,000-row pages lose their connection after the first chunk.
    control(&sim, "config", Some(json!({ "bulkCutPages": 2 }))).await;
    let ids = bulk_ids(&fl, &key).await;
    assert_eq!(ids.len(), 120_000);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 120_000);
    assert_eq!(
        control(&sim, "config", None).await["bulkCutPages"],
        0,
        "both cuts happened"
    );
    // Before API 58.0 there are no result pages: the locator walk (checked on a small org).
    control(&sim, "seed", Some(json!({ "contacts": 3_000 }))).await;
    let (old, key) = connected_with(&sim, json!({ "apiVersion": "57.0" })).await;
    let seq = bulk_ids(&old, &key).await;
    assert_eq!(seq.iter().collect::<HashSet<_>>().len(), 3_000);
    sim.shutdown().await;
}

/// The window is a pipeline, not rounds: while the caller works on a batch, K requests stay in
/// flight (never more: an org that serves exactly K at once refuses none), so a slow reader is
/// bounded by its own work, not by its work plus a round of waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn window_stays_full_while_the_reader_works() {
    let sim = start(SimConfig {
        redirect_uri: Some(REDIRECT.into()),
        contacts: 4_000,
        latency_ms: 300,
        concurrent_limit: 4,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let (fl, key) = connected_with(&sim, json!({ "maxConcurrentRequestsPerOrg": 10 })).await;
    control(&sim, "counts/reset", Some(json!({}))).await;
    let mut c = fl
        .export_cursor(&key, "contacts", Some(200.0), None, None, None)
        .unwrap()
        .with_parallelism(4, true);
    let t0 = std::time::Instant::now();
    let mut ids = Vec::new();
    while let Some(b) = fl.export_next(&mut c).await.unwrap() {
        let rows: Vec<Value> = serde_json::from_str(&b.json).unwrap();
        ids.extend(rows.iter().map(|r| {
            r["attributes"]["url"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_string()
        }));
        // The reader's own work on each batch.
        tokio::time::sleep(std::time::Duration::from_millis(75)).await;
    }
    let wall = t0.elapsed();
    assert_eq!(ids.len(), 4_000);
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "Id order");
    let counts = control(&sim, "counts", None).await;
    assert_eq!(counts["concurrentRefused"], 0, "at most K in flight");
    // 20 batches of 200: the first page, then rounds of 4 would take 300 ms + 5 × (300 ms +
    // 4 × 75 ms) = 3.3 s; the pipeline reads the next 4 while the reader works on these, about
    // 300 ms + 5 × 300 ms + 75 ms ≈ 1.9 s (the margin is for a loaded machine and a debug build).
    assert!(
        wall < std::time::Duration::from_millis(2_700),
        "{wall:?}: the window waited for the reader"
    );
    sim.shutdown().await;
}

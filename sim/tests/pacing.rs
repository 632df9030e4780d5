//! Time and limits like a real org: latency (flat and per 1,000 records), the
//! concurrent-request cap, the daily API budget, Bulk `resultPages` and gzip.

mod common;

use std::collections::HashSet;
use std::io::Read;
use std::time::{Duration, Instant};

use common::*;
use forcelink_sim::SimConfig;
use serde_json::json;

fn base(sim: &Sim, v: &str) -> String {
    format!("{}/services/data/v{v}", sim.instance)
}

#[test]
fn latency_flat_and_per_record() {
    let sim = spawn(SimConfig {
        contacts: 2000,
        latency_ms: 60,
        ..Default::default()
    });
    let auth = cc_auth(&sim);
    let q = format!(
        "{}/query?q={}",
        base(&sim, "62.0"),
        enc("SELECT Id FROM Contact")
    );
    let t = Instant::now();
    assert_eq!(get(&q, &[("Authorization", &auth)]).status, 200);
    let flat = t.elapsed();
    assert!(flat >= Duration::from_millis(60), "{flat:?}");
    post_json(
        &format!("{}/__sim/config", sim.login),
        json!({"latencyMs": 0, "latencyPer1000Ms": 100}),
    );
    let t = Instant::now();
    assert_eq!(get(&q, &[("Authorization", &auth)]).status, 200);
    // 2,000 records at 100 ms per 1,000.
    assert!(
        t.elapsed() >= Duration::from_millis(200),
        "{:?}",
        t.elapsed()
    );
    let cfg = get(&format!("{}/__sim/config", sim.login), &[]).json();
    assert_eq!(
        (cfg["latencyMs"].as_u64(), cfg["latencyPer1000Ms"].as_u64()),
        (Some(0), Some(100))
    );
}

#[test]
fn concurrency_cap_and_daily_budget() {
    let sim = spawn(SimConfig {
        contacts: 10,
        latency_ms: 300,
        concurrent_limit: 2,
        api_limit: 1_000,
        ..Default::default()
    });
    let auth = cc_auth(&sim);
    let q = format!(
        "{}/query?q={}",
        base(&sim, "62.0"),
        enc("SELECT Id FROM Contact")
    );
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let (q, auth) = (q.clone(), auth.clone());
            std::thread::spawn(move || get(&q, &[("Authorization", &auth)]))
        })
        .collect();
    let resps: Vec<Resp> = handles
        .into_iter()
        .map(|h| h.join().expect("thread"))
        .collect();
    let ok = resps.iter().filter(|r| r.status == 200).count();
    let refused: Vec<&Resp> = resps.iter().filter(|r| r.status == 403).collect();
    assert_eq!((ok, refused.len()), (2, 2));
    assert_eq!(refused[0].json()[0]["errorCode"], "REQUEST_LIMIT_EXCEEDED");
    assert!(refused[0].json()[0]["message"]
        .as_str()
        .unwrap_or("")
        .starts_with("ConcurrentRequests"));
    assert_eq!(
        get(&format!("{}/__sim/counts", sim.login), &[]).json()["concurrentRefused"],
        2
    );

    // Daily budget: usage shows in Sforce-Limit-Info and runs out with TotalRequests.
    post_json(
        &format!("{}/__sim/config", sim.login),
        json!({"latencyMs": 0, "apiUsage": 998}),
    );
    let r = get(&q, &[("Authorization", &auth)]);
    assert_eq!(
        (r.status, r.header("sforce-limit-info")),
        (200, Some("api-usage=999/1000"))
    );
    assert_eq!(get(&q, &[("Authorization", &auth)]).status, 200);
    let r = get(&q, &[("Authorization", &auth)]);
    assert_eq!(r.status, 403);
    assert_eq!(r.json()[0]["errorCode"], "REQUEST_LIMIT_EXCEEDED");
    assert!(r.json()[0]["message"]
        .as_str()
        .unwrap_or("")
        .contains("TotalRequests"));
}

fn gunzip(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(b)
        .read_to_end(&mut out)
        .expect("gzip body");
    out
}

#[test]
fn result_pages_and_gzip() {
    let sim = spawn(SimConfig {
        contacts: 12_345,
        bulk_job_ms: 0,
        ..Default::default()
    });
    let auth = cc_auth(&sim);
    let b = base(&sim, "62.0");
    let job = call(
        "POST",
        &format!("{b}/jobs/query"),
        &auth,
        Some(&json!({"operation": "query", "query": "SELECT Id FROM Contact"})),
    )
    .json();
    let id = job["id"].as_str().unwrap_or("").to_string();
    std::thread::sleep(Duration::from_millis(50));
    let mut url = format!("{b}/jobs/query/{id}/resultPages?maxRecords=1000");
    let mut ids = HashSet::new();
    let mut answers = 0;
    loop {
        let r = get(&url, &[("Authorization", &auth)]);
        assert_eq!(r.status, 200, "{}", r.text());
        let v = r.json();
        answers += 1;
        let pages = v["resultPages"].as_array().cloned().unwrap_or_default();
        assert!(!pages.is_empty() && pages.len() <= 5);
        for p in pages {
            let u = p["resultUrl"].as_str().unwrap_or("");
            assert!(
                u.starts_with(&format!("/services/data/v62.0/jobs/query/{id}/results?")),
                "{u}"
            );
            let page = get(
                &format!("{}{u}", sim.instance),
                &[("Authorization", &auth), ("Accept-Encoding", "gzip")],
            );
            assert_eq!(
                (page.status, page.header("content-encoding")),
                (200, Some("gzip"))
            );
            let text = String::from_utf8(gunzip(&page.body)).expect("utf8");
            let mut lines = text.lines();
            assert_eq!(lines.next(), Some("\"Id\""));
            for l in lines {
                assert!(ids.insert(l.to_string()), "row delivered twice");
            }
        }
        if v["done"] == true {
            assert!(v["nextRecordUrl"].is_null());
            break;
        }
        url = format!(
            "{}{}",
            sim.instance,
            v["nextRecordUrl"].as_str().unwrap_or("")
        );
    }
    assert_eq!((ids.len(), answers), (12_345, 3));
    // Before API 58.0 there is no such resource.
    let old = get(
        &format!("{}/jobs/query/{id}/resultPages", base(&sim, "57.0")),
        &[("Authorization", &auth)],
    );
    assert_eq!(old.status, 404);
    // Gzip on REST JSON too; without Accept-Encoding the body is plain.
    let q = format!("{b}/query?q={}", enc("SELECT Id FROM Contact LIMIT 3"));
    let r = get(
        &q,
        &[
            ("Authorization", &auth),
            ("Accept-Encoding", "gzip, deflate"),
        ],
    );
    let v: serde_json::Value = serde_json::from_slice(&gunzip(&r.body)).expect("json");
    assert_eq!(v["totalSize"], 3);
    assert_eq!(
        get(&q, &[("Authorization", &auth)]).header("content-encoding"),
        None
    );
}

//! What `sync` relies on: random mutations, the recycle bin through `queryAll`, the delete log
//! resource and its window, a purge, and `QUERY_TIMEOUT` on windows holding too many rows.

mod common;

use common::*;
use forcelink_sim::SimConfig;
use serde_json::{json, Value};

fn base(sim: &Sim) -> String {
    format!("{}/services/data/v62.0", sim.instance)
}

fn ids(v: &Value) -> Vec<String> {
    v["records"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["Id"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn recycle_bin_delete_log_purge_and_query_timeout() {
    let sim = spawn(SimConfig {
        contacts: 300,
        ..SimConfig::default()
    });
    let auth = bearer(&connect(&sim));
    let get_q = |endpoint: &str, q: &str| {
        let r = get(
            &format!("{}/{endpoint}?q={}", base(&sim), enc(q)),
            &[("Authorization", &auth)],
        );
        (r.status, r.json())
    };
    let m = post_json(
        &format!("{}/__sim/mutate", sim.login),
        json!({"object": "Contact", "count": 200, "seed": 3, "lateMs": 1_200_000}),
    );
    assert_eq!(m.status, 200, "{}", m.text());
    let deleted = m.json()["deleted"].as_u64().unwrap_or(0);
    assert!(deleted > 0);

    // query hides the recycle bin; queryAll shows it with IsDeleted = true.
    let q = "SELECT Id FROM Contact WHERE IsDeleted = true";
    assert_eq!(get_q("query", q).1["totalSize"], 0);
    let (_, all) = get_q("queryAll", q);
    let binned = ids(&all);
    assert!(!binned.is_empty() && binned.len() as u64 <= deleted);
    let truth = get(&format!("{}/__sim/truth?object=Contact", sim.login), &[]).json();
    let (_, live) = get_q("query", "SELECT COUNT() FROM Contact");
    assert_eq!(live["totalSize"], truth["count"]);
    // A deleted record is gone for the sObject resource too.
    let r = get(
        &format!("{}/sobjects/Contact/{}", base(&sim), binned[0]),
        &[("Authorization", &auth)],
    );
    assert_eq!(
        (r.status, r.json()[0]["errorCode"].clone()),
        (404, json!("ENTITY_IS_DELETED"))
    );

    // The delete log, up to the last whole minute (the back-dated deletes, at least).
    let day = 86_400_000i64;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let iso = |ms: i64| enc(&forcelink_sim::time::format_datetime(ms));
    let log = |start: i64, end: i64| {
        get(
            &format!(
                "{}/sobjects/Contact/deleted/?start={}&end={}",
                base(&sim),
                iso(start),
                iso(end)
            ),
            &[("Authorization", &auth)],
        )
    };
    let r = log(now - 3_600_000, now + 120_000);
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    let logged = v["deletedRecords"].as_array().map(Vec::len).unwrap_or(0) as u64;
    assert!(logged > 0 && logged <= deleted, "{logged} of {deleted}");
    assert!(v["earliestDateAvailable"].is_string() && v["latestDateCovered"].is_string());
    // More than 15 days back is refused.
    assert_eq!(
        log(now - 16 * day, now).json()[0]["errorCode"],
        "INVALID_REPLICATION_DATE"
    );

    // Emptying the bin: gone even from queryAll, and the log starts at the purge.
    let p = post_json(
        &format!("{}/__sim/purge", sim.login),
        json!({"object": "Contact"}),
    );
    assert_eq!(p.json()["purged"].as_u64(), Some(binned.len() as u64));
    assert_eq!(get_q("queryAll", q).1["totalSize"], 0);
    assert_eq!(
        log(now - 3_600_000, now + 120_000).json()[0]["errorCode"],
        "INVALID_REPLICATION_DATE"
    );

    // QUERY_TIMEOUT above the configured window size; narrower windows answer.
    let c = post_json(
        &format!("{}/__sim/config", sim.login),
        json!({"queryTimeoutRows": 50}),
    );
    assert_eq!(c.status, 200);
    let (status, body) = get_q("query", "SELECT Id FROM Contact WHERE SystemModstamp > 2020-01-01T00:00:00Z ORDER BY SystemModstamp LIMIT 10");
    assert_eq!(
        (status, body[0]["errorCode"].clone()),
        (400, json!("QUERY_TIMEOUT"))
    );
    let (status, _) = get_q(
        "query",
        "SELECT Id FROM Contact WHERE SystemModstamp > 2024-01-01T00:00:00Z AND SystemModstamp <= 2024-01-01T00:30:00Z",
    );
    assert_eq!(status, 200);
}

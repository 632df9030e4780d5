//! keepAlive in the core against the simulator's virtual clock: connections refreshed through the
//! embedded SQLite store's listing survive several refresh-token idle lifetimes; without it they
//! come back RECONNECT_REQUIRED with their reason.

mod common;

use common::{config, connect, control, REDIRECT};
use forcelink::error::ReconnectReason;
use forcelink::service::Forcelink;
use forcelink::token::keepalive::KeepAliveOptions;
use forcelink::token::record::ConnKey;
use forcelink::Error;
use forcelink_sim::{start, SimConfig, SimHandle};
use serde_json::json;

const DAY: u64 = 86_400_000;

async fn sim() -> SimHandle {
    start(SimConfig {
        redirect_uri: Some(REDIRECT.into()),
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

fn sweep_opts() -> KeepAliveOptions {
    KeepAliveOptions::new(Some(0.0), None, None).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_outlives_idle_lifetimes_and_idle_connections_say_why() {
    let sim = sim().await;
    control(
        &sim,
        "config",
        Some(json!({ "refreshTokenIdleTtlMs": 30 * DAY })),
    )
    .await;
    let path = std::env::temp_dir().join(format!(
        "fl-ka-{}-{}.db",
        std::process::id(),
        rand::random::<u32>()
    ));
    let fl = Forcelink::new(
        config(&sim, json!({ "storePath": path.to_string_lossy() })),
        None,
    )
    .unwrap();
    for a in ["a1", "a2", "a3"] {
        connect(&fl, a, "u").await;
    }
    let (_tx, rx) = tokio::sync::watch::channel(false);
    for _ in 0..3 {
        control(&sim, "clock", Some(json!({ "advanceMs": 20 * DAY }))).await;
        let r = fl.keep_alive(sweep_opts(), rx.clone()).await.unwrap();
        assert_eq!((r.refreshed, r.skipped, r.failed.len()), (3, 0, 0));
    }
    // One connection is left idle past the lifetime; the others are kept.
    control(&sim, "clock", Some(json!({ "advanceMs": 20 * DAY }))).await;
    let only_two = KeepAliveOptions::new(Some(0.0), Some(1.0), Some(2.0)).unwrap();
    assert_eq!(
        fl.keep_alive(only_two, rx.clone()).await.unwrap().refreshed,
        2
    );
    control(&sim, "clock", Some(json!({ "advanceMs": 20 * DAY }))).await;
    control(&sim, "expire-access-tokens", Some(json!({}))).await;
    for a in ["a1", "a2"] {
        fl.get_access_token(&ConnKey::new(a, "u").unwrap(), true)
            .await
            .unwrap();
    }
    match fl
        .get_access_token(&ConnKey::new("a3", "u").unwrap(), true)
        .await
    {
        Err(Error::ReconnectRequired {
            reason,
            idle_ms,
            description,
        }) => {
            assert_eq!(reason, ReconnectReason::ExpiredOrRevoked);
            assert!(idle_ms.is_some());
            assert_eq!(description.as_deref(), Some("expired access/refresh token"));
        }
        Err(other) => panic!("expected RECONNECT_REQUIRED, got {other:?}"),
        Ok(_) => panic!("expected RECONNECT_REQUIRED, got a token"),
    }
    // A cancelled sweep answers CANCELLED.
    let (tx, rx) = tokio::sync::watch::channel(false);
    tx.send_replace(true);
    assert!(matches!(
        fl.keep_alive(sweep_opts(), rx).await,
        Err(Error::Cancelled)
    ));
    fl.close_store().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.to_string_lossy()));
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_without_list_connections_is_unsupported() {
    let sim = sim().await;
    let fl = Forcelink::new(
        config(&sim, json!({})),
        Some(std::sync::Arc::new(common::MemStore::default())),
    )
    .unwrap();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    match fl.keep_alive(sweep_opts(), rx).await {
        Err(e @ Error::Unsupported { .. }) => {
            assert_eq!(e.code(), "UNSUPPORTED");
            assert!(e.to_string().contains("listConnections"));
        }
        other => panic!("expected UNSUPPORTED, got {other:?}"),
    }
    sim.shutdown().await;
}

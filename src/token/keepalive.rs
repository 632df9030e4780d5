//! `keepAlive`: refreshes connections nobody used lately, before Salesforce's refresh-token idle
//! lifetime (typically 30 days) ends them. It walks the store's `listConnections` pages (keyset
//! paging: memory stays flat whatever the number of connections) and refreshes each connection
//! through the one refresh path (single flight, lease, fenced save), so running it from several
//! processes at once costs one token request per connection: the others find the record
//! refreshed, or wait on the lease and adopt the winner's token.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::events::Connection;
use crate::oauth::state::now_millis;
use crate::salesforce::governor;
use crate::token::manager::TokenManager;
use crate::token::record::ConnKey;
use crate::token::store::ListQuery;

/// Default `olderThanMs`: 20 days, well inside a 30-day idle lifetime.
pub const DEFAULT_OLDER_THAN_MS: u64 = 20 * 24 * 3_600_000;
pub const DEFAULT_CONCURRENCY: u32 = 4;
/// Connections asked of the store per page.
const PAGE_SIZE: u32 = 500;

#[derive(Debug, Clone)]
pub struct KeepAliveOptions {
    pub older_than_ms: u64,
    pub concurrency: u32,
    /// At most this many connections are looked at (None: all).
    pub limit: Option<u64>,
}

impl KeepAliveOptions {
    /// Checks the host's values; each mistake names its field.
    pub fn new(
        older_than_ms: Option<f64>,
        concurrency: Option<f64>,
        limit: Option<f64>,
    ) -> Result<Self> {
        let whole = |field: &str, v: f64, min: f64, max: f64| {
            if v.is_finite() && v.fract() == 0.0 && (min..=max).contains(&v) {
                Ok(v)
            } else {
                Err(Error::input(
                    field,
                    format!("must be a whole number from {min} to {max}"),
                ))
            }
        };
        Ok(Self {
            older_than_ms: match older_than_ms {
                None => DEFAULT_OLDER_THAN_MS,
                Some(v) => whole("olderThanMs", v, 0.0, 3_650.0 * 86_400_000.0)? as u64,
            },
            concurrency: match concurrency {
                None => DEFAULT_CONCURRENCY,
                Some(v) => whole("concurrency", v, 1.0, 64.0)? as u32,
            },
            limit: limit
                .map(|v| whole("limit", v, 1.0, 1e12).map(|v| v as u64))
                .transpose()?,
        })
    }
}

/// A connection keepAlive could not refresh.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeepAliveFailure {
    pub connection: Connection,
    pub code: &'static str,
    /// RECONNECT_REQUIRED's reason; null for other failures.
    pub reason: Option<&'static str>,
    pub message: String,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeepAliveReport {
    /// Connections whose token was granted anew during the sweep (here or by another process).
    pub refreshed: u64,
    /// Connections found fresh, gone, invalidated or without a refresh token when their turn came.
    pub skipped: u64,
    pub failed: Vec<KeepAliveFailure>,
}

enum One {
    Refreshed,
    Skipped,
    Failed(KeepAliveFailure),
}

/// Runs one sweep. `cancel` turning true stops it: no connection is started after that, the
/// refreshes under way finish (a token request that was sent must have its answer saved), and the
/// sweep answers CANCELLED.
pub async fn keep_alive(
    tokens: Arc<TokenManager>,
    cfg: Arc<Config>,
    opts: KeepAliveOptions,
    mut cancel: watch::Receiver<bool>,
) -> Result<KeepAliveReport> {
    let cutoff = now_millis().saturating_sub(opts.older_than_ms as i64);
    let gate = Arc::new(Semaphore::new(opts.concurrency as usize));
    let mut running: JoinSet<One> = JoinSet::new();
    let mut report = KeepAliveReport::default();
    let mut after = None;
    let mut seen: u64 = 0;
    let cancelled = |rx: &watch::Receiver<bool>| *rx.borrow();
    'pages: loop {
        if cancelled(&cancel) {
            break;
        }
        let room = opts
            .limit
            .map(|l| l.saturating_sub(seen))
            .unwrap_or(u64::MAX);
        if room == 0 {
            break;
        }
        let q = ListQuery {
            refreshed_before: cutoff,
            after: after.take(),
            limit: PAGE_SIZE.min(room.min(u32::MAX as u64) as u32),
        };
        let given = q.after.clone();
        let page = match tokens.store().list_connections(&q).await {
            Ok(Some(p)) => p,
            Ok(None) => {
                return Err(Error::Unsupported {
                    method: "listConnections",
                    operation: "keepAlive",
                })
            }
            Err(e) => {
                // The refreshes already started finish first (their waiters are not dropped).
                while running.join_next().await.is_some() {}
                return Err(e);
            }
        };
        for (account_id, owner) in page.connections {
            if seen >= opts.limit.unwrap_or(u64::MAX) {
                break 'pages;
            }
            seen += 1;
            let permit = tokio::select! {
                p = gate.clone().acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => break 'pages,
                },
                _ = cancel.wait_for(|v| *v) => break 'pages,
            };
            while let Some(done) = running.try_join_next() {
                tally(&mut report, done);
            }
            let (tokens, cfg) = (tokens.clone(), cfg.clone());
            running.spawn(async move {
                let out = keep_one(&tokens, &cfg, &account_id, &owner, cutoff).await;
                drop(permit);
                out
            });
        }
        match page.next {
            Some(n) if !n.is_null() => {
                // A store that answers the cursor it was given would loop forever.
                if given.as_ref() == Some(&n) {
                    while running.join_next().await.is_some() {}
                    return Err(Error::store(
                        "listConnections",
                        "returned the same next as the after it was given (the cursor must advance)",
                    ));
                }
                after = Some(n);
            }
            _ => break,
        }
    }
    while let Some(done) = running.join_next().await {
        tally(&mut report, done);
    }
    if cancelled(&cancel) {
        return Err(Error::Cancelled);
    }
    Ok(report)
}

fn tally(report: &mut KeepAliveReport, done: std::result::Result<One, tokio::task::JoinError>) {
    match done {
        Ok(One::Refreshed) => report.refreshed += 1,
        Ok(One::Skipped) => report.skipped += 1,
        Ok(One::Failed(f)) => report.failed.push(f),
        // A panicked task is a bug, but the sweep goes on.
        Err(_) => report.skipped += 1,
    }
}

async fn keep_one(
    tokens: &TokenManager,
    cfg: &Config,
    account_id: &str,
    owner: &str,
    cutoff: i64,
) -> One {
    let key = match ConnKey::of_record(account_id, owner) {
        Ok(k) => k,
        Err(e) => {
            return One::Failed(KeepAliveFailure {
                connection: Connection::User {
                    account_id: account_id.to_string(),
                    owner_id: owner.to_string(),
                },
                code: e.code(),
                reason: None,
                message: e.to_string(),
            })
        }
    };
    match refresh_if_idle(tokens, cfg, &key, cutoff).await {
        Ok(out) => out,
        Err(e) => One::Failed(KeepAliveFailure {
            connection: (&key).into(),
            code: e.code(),
            reason: match &e {
                Error::ReconnectRequired { reason, .. } => Some(reason.as_str()),
                _ => None,
            },
            message: e.to_string(),
        }),
    }
}

async fn refresh_if_idle(
    tokens: &TokenManager,
    cfg: &Config,
    key: &ConnKey,
    cutoff: i64,
) -> Result<One> {
    // The store, not the cache: another process may have refreshed it since the page was read.
    let Some(rec) = tokens.store().find(key).await? else {
        return Ok(One::Skipped);
    };
    if rec.token_invalidated
        || rec.token.refresh_token.is_none()
        || rec.refreshed_at.is_some_and(|t| t >= cutoff)
    {
        return Ok(One::Skipped);
    }
    let instance = rec.token.instance_url.clone();
    let _slot = match &instance {
        Some(i) => governor::acquire(i, cfg.max_concurrent_requests_per_org).await,
        None => None,
    };
    if let (Some(i), Some(ceiling)) = (&instance, cfg.api_usage_ceiling) {
        if let Some(e) = governor::usage(i).and_then(|u| governor::over_ceiling(u, ceiling)) {
            return Err(e);
        }
    }
    let mut stale = rec.token.access_token.expose().to_string();
    // At most twice: the first answer may be this process's cached token, older than the store's.
    for _ in 0..2 {
        let got = tokens.refresh(key, &stale).await?;
        if got.refreshed_at.is_some_and(|t| t >= cutoff) {
            return Ok(One::Refreshed);
        }
        if got.token.access_token.expose() == stale {
            break;
        }
        stale = got.token.access_token.expose().to_string();
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Ok(One::Skipped)
}

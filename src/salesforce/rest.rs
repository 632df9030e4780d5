//! REST calls on the connection's `instance_url`: bearer auth, one shared refresh on
//! `401 INVALID_SESSION_ID` (then one retry, never a loop), bounded jittered retries for transient
//! failures, Salesforce's `[{"message","errorCode"}]` bodies mapped to typed errors, and the latest
//! `Sforce-Limit-Info` kept for the caller.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::events::Event;
use crate::net;
use crate::salesforce::governor;
use crate::token::manager::TokenManager;
use crate::token::record::ConnKey;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ApiUsage {
    pub used: u64,
    pub max: u64,
}

impl ApiUsage {
    /// `api-usage=10018/100000`
    pub fn parse(header: &str) -> Option<Self> {
        let v = header
            .split(',')
            .find_map(|p| p.trim().strip_prefix("api-usage="))?;
        let (used, max) = v.split_once('/')?;
        Some(Self {
            used: used.trim().parse().ok()?,
            max: max.trim().parse().ok()?,
        })
    }
}

/// `Sforce-Limit-Info` as seen: the last value from any org, and the latest per org.
#[derive(Default)]
pub struct LimitTracker(Mutex<Option<ApiUsage>>, crate::events::UsageByOrg);

impl LimitTracker {
    pub fn record(&self, u: ApiUsage) {
        if let Ok(mut g) = self.0.lock() {
            *g = Some(u);
        }
    }
    /// Records `u` as the usage of `key`'s org (when the org is known).
    pub fn record_for(&self, key: &ConnKey, org: Option<&str>, u: ApiUsage) {
        self.record(u);
        if let Some(org) = org {
            self.1.record(key, org, u);
        }
    }
    pub fn latest(&self) -> Option<ApiUsage> {
        self.0.lock().ok().and_then(|g| *g)
    }
    /// The latest usage of `key`'s org: (org id, usage).
    pub fn for_conn(&self, key: &ConnKey) -> Option<(String, ApiUsage)> {
        self.1.for_conn(key)
    }
}

#[derive(Deserialize)]
struct SfError {
    #[serde(default)]
    message: String,
    #[serde(rename = "errorCode")]
    error_code: String,
    #[serde(default)]
    fields: Vec<String>,
}

pub struct Rest<'a> {
    pub cfg: &'a Config,
    pub http: &'a reqwest::Client,
    pub tokens: &'a TokenManager,
    pub limits: &'a LimitTracker,
}

/// The same parts, owned (cheap clones), for requests that run as their own tasks and so outlive
/// the call that started them (the parallel export's sliding window, parallel.rs).
#[derive(Clone)]
pub struct SharedRest {
    pub cfg: Arc<Config>,
    pub http: reqwest::Client,
    pub tokens: Arc<TokenManager>,
    pub limits: Arc<LimitTracker>,
}

impl SharedRest {
    pub fn rest(&self) -> Rest<'_> {
        Rest {
            cfg: &self.cfg,
            http: &self.http,
            tokens: &self.tokens,
            limits: &self.limits,
        }
    }
}

/// `/services/data/vXX.X/query?q=<soql>`
pub fn query_path(cfg: &Config, soql: &str) -> String {
    let q: String = url::form_urlencoded::byte_serialize(soql.as_bytes()).collect();
    format!("{}/query?q={q}", cfg.data_path())
}

/// A REST request: method, path on the instance, optional JSON body and headers.
pub struct Call<'b> {
    pub method: reqwest::Method,
    pub path: &'b str,
    pub body: Option<String>,
    pub headers: Vec<(&'static str, String)>,
    /// Whether the request may be sent again after it may have reached Salesforce (GET, PATCH,
    /// DELETE); a create (POST) is only retried when it never left this process.
    pub idempotent: bool,
}

impl<'b> Call<'b> {
    pub fn get(path: &'b str) -> Self {
        Self {
            method: reqwest::Method::GET,
            path,
            body: None,
            headers: Vec::new(),
            idempotent: true,
        }
    }

    pub fn header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }
}

/// A 2xx answer: status, the headers callers read, and the body.
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Bytes,
}

impl Rest<'_> {
    /// GETs a REST path (relative to the instance) and returns the body of a 2xx answer.
    pub async fn get(&self, key: &ConnKey, path: &str, batch_size: Option<u32>) -> Result<Bytes> {
        let mut call = Call::get(path);
        if let Some(b) = batch_size {
            call = call.header("Sforce-Query-Options", format!("batchSize={b}"));
        }
        Ok(self.send(key, call).await?.body)
    }

    /// Sends a call with bearer auth, the shared refresh on 401 and the retry policy; reads the
    /// whole body. One budget covers connecting and reading: at most `maxRetries + 1` attempts.
    pub async fn send(&self, key: &ConnKey, call: Call<'_>) -> Result<Answer> {
        let mut budget = Budget::default();
        loop {
            let resp = self.open_within(key, &call, &mut budget).await?;
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            match resp.bytes().await {
                Ok(body) => {
                    return Ok(Answer {
                        status,
                        headers,
                        body,
                    })
                }
                Err(_) if budget.attempts <= self.cfg.max_retries && call.idempotent => {
                    self.pause(key, None, budget.attempts, None, "body read failed")
                        .await;
                }
                Err(e) => return Err(Error::Unavailable(net::describe(e))),
            }
        }
    }

    /// Sleeps the retry backoff, telling the host first.
    async fn pause(
        &self,
        key: &ConnKey,
        org: Option<&str>,
        attempt: u32,
        status: Option<u16>,
        reason: &str,
    ) {
        self.cfg
            .events
            .retry_pause(Some((key, org)), attempt, status, reason)
            .await;
    }

    /// Like `send`, but hands back the response as soon as a 2xx status arrives, so a large body
    /// (Bulk results) can be read incrementally.
    pub async fn open(&self, key: &ConnKey, call: &Call<'_>) -> Result<reqwest::Response> {
        self.open_within(key, call, &mut Budget::default()).await
    }

    async fn open_within(
        &self,
        key: &ConnKey,
        call: &Call<'_>,
        budget: &mut Budget,
    ) -> Result<reqwest::Response> {
        if !call.path.starts_with("/services/data/") || call.path.contains("..") {
            return Err(Error::input("path", "must be a /services/data/ path"));
        }
        let mut rec = self.tokens.usable(key).await?;
        // ConcurrentRequests refusals are waited out apart from the retry budget (governor.rs).
        let mut crowded = 0u32;
        loop {
            budget.attempts += 1;
            let can_retry = budget.attempts <= self.cfg.max_retries;
            let instance = rec.token.instance_url.as_deref().unwrap_or_default();
            // The org's request slot (governor.rs), held until the answer's headers are in.
            let _slot = governor::acquire(instance, self.cfg.max_concurrent_requests_per_org).await;
            let mut req = self
                .http
                .request(call.method.clone(), format!("{instance}{}", call.path))
                .bearer_auth(rec.token.access_token.expose());
            for (k, v) in &call.headers {
                req = req.header(*k, v);
            }
            if let Some(b) = &call.body {
                req = req
                    .header("Content-Type", "application/json")
                    .body(b.clone());
            }
            let org = crate::events::org_of(rec.token.id.as_deref());
            let resp = match req.send().await {
                Ok(r) => r,
                Err(e) if can_retry && (call.idempotent || net::never_sent(&e)) => {
                    self.pause(
                        key,
                        org.as_deref(),
                        budget.attempts,
                        None,
                        if e.is_timeout() {
                            "timeout"
                        } else {
                            "connection failed"
                        },
                    )
                    .await;
                    continue;
                }
                Err(e) => return Err(Error::Unavailable(net::describe(e))),
            };
            if let Some(u) = resp
                .headers()
                .get("sforce-limit-info")
                .and_then(|v| v.to_str().ok())
                .and_then(ApiUsage::parse)
            {
                self.limits.record_for(key, org.as_deref(), u);
                self.cfg.events.emit(|| Event::ApiUsage {
                    connection: key.into(),
                    org_id: org.clone(),
                    used: u.used,
                    max: u.max,
                });
                governor::record_usage(instance, u);
            }
            let status = resp.status().as_u16();
            if (200..300).contains(&status) {
                return Ok(resp);
            }
            let body = match resp.bytes().await {
                Ok(b) => b,
                Err(_) if can_retry && call.idempotent => {
                    self.pause(
                        key,
                        org.as_deref(),
                        budget.attempts,
                        Some(status),
                        "body read failed",
                    )
                    .await;
                    continue;
                }
                Err(e) => return Err(Error::Unavailable(net::describe(e))),
            };
            let err = parse_error(status, &body);
            match &err {
                // Salesforce refused the session before doing anything: safe to resend any call,
                // once per call (a second 401 after a fresh token is the answer). The resend is
                // allowed even with maxRetries 0, so an expired token never fails a call.
                Error::Salesforce {
                    salesforce_code, ..
                } if status == 401
                    && salesforce_code == "INVALID_SESSION_ID"
                    && !budget.refreshed
                    && budget.attempts <= self.cfg.max_retries.max(1) =>
                {
                    budget.refreshed = true;
                    rec = self
                        .tokens
                        .refresh(key, rec.token.access_token.expose())
                        .await?;
                }
                Error::Unavailable(_) if can_retry && call.idempotent => {
                    self.pause(
                        key,
                        org.as_deref(),
                        budget.attempts,
                        Some(status),
                        "unavailable",
                    )
                    .await;
                }
                // Refused before any work (the org's concurrent-request cap): wait and resend.
                e if governor::is_concurrency_refusal(e)
                    && crowded < governor::CONCURRENCY_RETRIES =>
                {
                    crowded += 1;
                    budget.attempts -= 1;
                    tokio::time::sleep(governor::concurrency_backoff(crowded)).await;
                }
                _ => {
                    if err.code() == "RATE_LIMITED" {
                        self.cfg.events.emit(|| Event::RateLimited {
                            connection: key.into(),
                            org_id: org.clone(),
                        });
                    }
                    return Err(err);
                }
            }
        }
    }
}

/// What one call has spent: attempts at its Salesforce request, and whether it refreshed.
#[derive(Default)]
struct Budget {
    attempts: u32,
    refreshed: bool,
}

/// Maps a non-2xx REST answer to the error a caller can act on.
pub fn parse_error(status: u16, body: &[u8]) -> Error {
    let first = serde_json::from_slice::<Vec<SfError>>(body)
        .ok()
        .and_then(|v| v.into_iter().next());
    match (status, first) {
        (_, Some(e)) if e.error_code == "REQUEST_LIMIT_EXCEEDED" => {
            Error::RateLimited { message: e.message }
        }
        (503, e) => Error::Unavailable(match e {
            Some(e) => format!("{}: {}", e.error_code, e.message),
            None => "HTTP 503".into(),
        }),
        (_, Some(e)) => Error::Salesforce {
            http_status: status,
            salesforce_code: e.error_code,
            message: e.message,
            fields: e.fields,
        },
        (502 | 504, None) => Error::Unavailable(format!("HTTP {status}")),
        (_, None) => Error::Salesforce {
            http_status: status,
            salesforce_code: format!("HTTP_{status}"),
            message: "Salesforce answered with an unexpected body".into(),
            fields: vec![],
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_header() {
        assert_eq!(
            ApiUsage::parse("api-usage=10018/100000"),
            Some(ApiUsage {
                used: 10018,
                max: 100000
            })
        );
        assert_eq!(
            ApiUsage::parse("per-app-api-usage=1/2, api-usage=5/10"),
            Some(ApiUsage { used: 5, max: 10 })
        );
        assert_eq!(ApiUsage::parse("junk"), None);
    }

    #[test]
    fn error_bodies() {
        let e = parse_error(403, br#"[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]"#);
        assert_eq!(e.code(), "RATE_LIMITED");
        assert_eq!(e.status(), 429);
        let e = parse_error(
            400,
            br#"[{"message":"unexpected token: q","errorCode":"MALFORMED_QUERY"}]"#,
        );
        assert_eq!(
            (e.code(), e.status(), e.salesforce_code()),
            ("SALESFORCE_ERROR", 400, Some("MALFORMED_QUERY"))
        );
        assert_eq!(parse_error(503, b"<html>").code(), "SALESFORCE_UNAVAILABLE");
        assert_eq!(parse_error(500, b"").code(), "SALESFORCE_ERROR");
    }
}

//! REST calls on the connection's `instance_url`: bearer auth, one shared refresh on
//! `401 INVALID_SESSION_ID` (then one retry, never a loop), bounded jittered retries for transient
//! failures, Salesforce's `[{"message","errorCode"}]` bodies mapped to typed errors, and the latest
//! `Sforce-Limit-Info` kept for the caller.

use std::sync::Mutex;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::net;
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
        let v = header.split(',').find_map(|p| p.trim().strip_prefix("api-usage="))?;
        let (used, max) = v.split_once('/')?;
        Some(Self { used: used.trim().parse().ok()?, max: max.trim().parse().ok()? })
    }
}

#[derive(Default)]
pub struct LimitTracker(Mutex<Option<ApiUsage>>);

impl LimitTracker {
    pub fn record(&self, u: ApiUsage) {
        if let Ok(mut g) = self.0.lock() {
            *g = Some(u);
        }
    }
    pub fn latest(&self) -> Option<ApiUsage> {
        self.0.lock().ok().and_then(|g| *g)
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

/// `/services/data/vXX.X/query?q=<soql>`
pub fn query_path(cfg: &Config, soql: &str) -> String {
    let q: String = url::form_urlencoded::byte_serialize(soql.as_bytes()).collect();
    format!("{}/query?q={q}", cfg.data_path())
}

impl Rest<'_> {
    /// GETs a REST path (relative to the instance) and returns the body of a 2xx answer.
    pub async fn get(&self, key: &ConnKey, path: &str, batch_size: Option<u32>) -> Result<Bytes> {
        if !path.starts_with("/services/data/") {
            return Err(Error::input("nextRecordsUrl", "must be a /services/data/ path"));
        }
        let mut rec = self.tokens.usable(self.cfg, self.http, key).await?;
        let mut refreshed = false;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let can_retry = attempt <= self.cfg.max_retries;
            let instance = rec.token.instance_url.as_deref().unwrap_or_default();
            let mut req = self.http.get(format!("{instance}{path}")).bearer_auth(rec.token.access_token.expose());
            if let Some(b) = batch_size {
                req = req.header("Sforce-Query-Options", format!("batchSize={b}"));
            }
            let resp = match req.send().await {
                Ok(r) => r,
                Err(_) if can_retry => {
                    tokio::time::sleep(net::backoff(attempt)).await;
                    continue;
                }
                Err(e) => return Err(Error::Unavailable(net::describe(e))),
            };
            if let Some(u) = resp.headers().get("sforce-limit-info").and_then(|v| v.to_str().ok()).and_then(ApiUsage::parse) {
                self.limits.record(u);
            }
            let status = resp.status().as_u16();
            let body = match resp.bytes().await {
                Ok(b) => b,
                Err(_) if can_retry => {
                    tokio::time::sleep(net::backoff(attempt)).await;
                    continue;
                }
                Err(e) => return Err(Error::Unavailable(net::describe(e))),
            };
            if (200..300).contains(&status) {
                return Ok(body);
            }
            let err = parse_error(status, &body);
            match &err {
                Error::Salesforce { salesforce_code, .. } if status == 401 && salesforce_code == "INVALID_SESSION_ID" && !refreshed => {
                    refreshed = true;
                    rec = self.tokens.refresh(self.cfg, self.http, key, rec.token.access_token.expose()).await?;
                    continue;
                }
                Error::Unavailable(_) if can_retry => {
                    tokio::time::sleep(net::backoff(attempt)).await;
                    continue;
                }
                _ => return Err(err),
            }
        }
    }
}

/// Maps a non-2xx REST answer to the error a caller can act on.
pub fn parse_error(status: u16, body: &[u8]) -> Error {
    let first = serde_json::from_slice::<Vec<SfError>>(body).ok().and_then(|v| v.into_iter().next());
    match (status, first) {
        (_, Some(e)) if e.error_code == "REQUEST_LIMIT_EXCEEDED" => Error::RateLimited { message: e.message },
        (503, e) => Error::Unavailable(match e {
            Some(e) => format!("{}: {}", e.error_code, e.message),
            None => "HTTP 503".into(),
        }),
        (_, Some(e)) => Error::Salesforce { http_status: status, salesforce_code: e.error_code, message: e.message, fields: e.fields },
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
        assert_eq!(ApiUsage::parse("api-usage=10018/100000"), Some(ApiUsage { used: 10018, max: 100000 }));
        assert_eq!(ApiUsage::parse("per-app-api-usage=1/2, api-usage=5/10"), Some(ApiUsage { used: 5, max: 10 }));
        assert_eq!(ApiUsage::parse("junk"), None);
    }

    #[test]
    fn error_bodies() {
        let e = parse_error(403, br#"[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]"#);
        assert_eq!(e.code(), "RATE_LIMITED");
        assert_eq!(e.status(), 429);
        let e = parse_error(400, br#"[{"message":"unexpected token: q","errorCode":"MALFORMED_QUERY"}]"#);
        assert_eq!((e.code(), e.status(), e.salesforce_code()), ("SALESFORCE_ERROR", 400, Some("MALFORMED_QUERY")));
        assert_eq!(parse_error(503, b"<html>").code(), "SALESFORCE_UNAVAILABLE");
        assert_eq!(parse_error(500, b"").code(), "SALESFORCE_ERROR");
    }
}

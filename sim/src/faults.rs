//! Injected faults: "the next `count` requests hitting `target` fail with `kind`".
//!
//! Targets: `token`, `revoke` (OAuth), `query` (query + queryMore), `write` (sObject
//! POST/PATCH), `bulk` (Bulk API 2.0 jobs), `rest` (every `/services/data` call,
//! including query, write and bulk), `any`.
//!
//! REST targets answer in REST shape (`[{"message","errorCode"}]`). OAuth targets
//! (token, revoke) answer as the OAuth endpoints would:
//! - `503`: HTTP 503, `text/html` maintenance page (Salesforce's edge serves HTML when
//!   down, so clients must not assume a JSON body on 5xx).
//! - `rate_limit`: HTTP 400 `{"error":"rate_limit_exceeded","error_description":"rate limit exceeded"}`.
//! - `invalid_session`: token → 400 invalid_grant "expired access/refresh token" (no
//!   state change); revoke → 400 invalid_token "Token was invalid".
//! - `unknown_exception`: HTTP 500 `{"error":"unknown_error","error_description":"retry your request"}`.
//! - `reset` / `slow`: as for REST.

use std::time::Duration;

use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;

use crate::http;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Token,
    Revoke,
    Query,
    Write,
    Bulk,
    Rest,
    Any,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Kind {
    #[serde(rename = "503")]
    Unavailable,
    #[serde(rename = "reset")]
    Reset,
    #[serde(rename = "slow")]
    Slow,
    #[serde(rename = "rate_limit")]
    RateLimit,
    #[serde(rename = "invalid_session")]
    InvalidSession,
    #[serde(rename = "unknown_exception")]
    UnknownException,
    /// A query page whose `nextRecordsUrl` climbs out of the query resource (a hostile or
    /// compromised endpoint), to prove clients refuse to follow it.
    #[serde(rename = "hostile_next")]
    HostileNext,
}

impl Target {
    pub fn parse(s: &str) -> Option<Target> {
        Some(match s {
            "token" => Target::Token,
            "revoke" => Target::Revoke,
            "query" => Target::Query,
            "write" => Target::Write,
            "bulk" => Target::Bulk,
            "rest" => Target::Rest,
            "any" => Target::Any,
            _ => return None,
        })
    }
}

impl Kind {
    pub fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "503" => Kind::Unavailable,
            "reset" => Kind::Reset,
            "slow" => Kind::Slow,
            "rate_limit" => Kind::RateLimit,
            "invalid_session" => Kind::InvalidSession,
            "unknown_exception" => Kind::UnknownException,
            "hostile_next" => Kind::HostileNext,
            _ => return None,
        })
    }
}

/// Where a request landed. Query, write and bulk endpoints are also REST calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Site {
    Token,
    Revoke,
    Query,
    Write,
    Bulk,
    Rest,
}

impl Site {
    fn hit_by(self, t: Target) -> bool {
        matches!(
            (self, t),
            (_, Target::Any)
                | (Site::Token, Target::Token)
                | (Site::Revoke, Target::Revoke)
                | (Site::Query, Target::Query | Target::Rest)
                | (Site::Write, Target::Write | Target::Rest)
                | (Site::Bulk, Target::Bulk | Target::Rest)
                | (Site::Rest, Target::Rest)
        )
    }
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Fault {
    pub target: Target,
    pub kind: Kind,
    /// Requests still to be hit.
    pub count: u64,
    pub delay_ms: u64,
}

pub const DEFAULT_SLOW_MS: u64 = 2000;

#[derive(Default)]
pub struct Faults(Vec<Fault>);

impl Faults {
    pub fn add(&mut self, f: Fault) {
        if f.count > 0 {
            self.0.push(f);
        }
    }
    pub fn clear(&mut self) {
        self.0.clear();
    }
    pub fn list(&self) -> &[Fault] {
        &self.0
    }
    /// Consumes one hit of the first fault armed for `site` (faults fire in the order
    /// they were added).
    pub fn take(&mut self, site: Site) -> Option<(Kind, u64)> {
        let i = self.0.iter().position(|f| site.hit_by(f.target))?;
        let f = &mut self.0[i];
        f.count -= 1;
        let hit = (f.kind, f.delay_ms);
        if f.count == 0 {
            self.0.remove(i);
        }
        Some(hit)
    }
}

/// Applies a fault. `None` = carry on with the normal response (after any delay).
pub async fn apply(hit: Option<(Kind, u64)>, site: Site) -> Option<Response> {
    let (kind, delay_ms) = hit?;
    let oauth = matches!(site, Site::Token | Site::Revoke);
    Some(match kind {
        Kind::Slow => {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            return None;
        }
        Kind::Reset => http::reset_connection(),
        Kind::Unavailable if oauth => http::with_body(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/html;charset=UTF-8",
            "<html><head><title>Service Unavailable</title></head><body><h1>Service Unavailable</h1><p>The server is temporarily unable to service your request due to maintenance downtime or capacity problems. Please try again later.</p></body></html>",
        ),
        Kind::Unavailable => http::rest_error(StatusCode::SERVICE_UNAVAILABLE, "SERVER_UNAVAILABLE", "Server too busy"),
        Kind::RateLimit if oauth => {
            http::oauth_error(StatusCode::BAD_REQUEST, "rate_limit_exceeded", "rate limit exceeded")
        }
        Kind::RateLimit => http::limit_exceeded(),
        Kind::InvalidSession if site == Site::Token => {
            http::oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "expired access/refresh token")
        }
        Kind::InvalidSession if site == Site::Revoke => {
            http::oauth_error(StatusCode::BAD_REQUEST, "invalid_token", "Token was invalid")
        }
        Kind::InvalidSession => http::invalid_session(),
        Kind::HostileNext => http::json_value(
            StatusCode::OK,
            &serde_json::json!({
                "totalSize": 5000,
                "done": false,
                "nextRecordsUrl": "/services/data/v62.0/query/%2e%2e/sobjects/Contact/describe",
                "records": []
            }),
        ),
        Kind::UnknownException if oauth => {
            http::oauth_error(StatusCode::INTERNAL_SERVER_ERROR, "unknown_error", "retry your request")
        }
        Kind::UnknownException => http::rest_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "UNKNOWN_EXCEPTION",
            "An unexpected error occurred. Please include this ErrorId if you contact support: 1234567890-12345 (-1234567890)",
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_consumed_in_order_and_by_target() {
        let mut f = Faults::default();
        f.add(Fault {
            target: Target::Query,
            kind: Kind::Unavailable,
            count: 2,
            delay_ms: 0,
        });
        f.add(Fault {
            target: Target::Any,
            kind: Kind::Reset,
            count: 1,
            delay_ms: 0,
        });
        assert_eq!(f.take(Site::Token).map(|h| h.0), Some(Kind::Reset));
        assert_eq!(f.take(Site::Token), None);
        assert_eq!(f.take(Site::Rest), None);
        assert_eq!(f.take(Site::Query).map(|h| h.0), Some(Kind::Unavailable));
        assert_eq!(f.take(Site::Query).map(|h| h.0), Some(Kind::Unavailable));
        assert_eq!(f.take(Site::Query), None);
        f.add(Fault {
            target: Target::Rest,
            kind: Kind::Unavailable,
            count: 2,
            delay_ms: 0,
        });
        assert!(f.take(Site::Write).is_some() && f.take(Site::Bulk).is_some());
        f.add(Fault {
            target: Target::Write,
            kind: Kind::Unavailable,
            count: 1,
            delay_ms: 0,
        });
        assert_eq!(f.take(Site::Bulk), None);
        assert!(f.take(Site::Write).is_some());
    }
}

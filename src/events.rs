//! What forcelink is doing, for the host's logs and metrics: refreshes, retries, rate limiting,
//! API usage, store failures and Bulk job states. The core emits through `EventSink`; the Node
//! binding forwards to JS. No event carries a token, code or secret, only who and what.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::token::record::ConnKey;

/// Which connection an event is about (never its tokens).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Connection {
    #[serde(rename_all = "camelCase")]
    User {
        account_id: String,
        owner_id: String,
    },
    #[serde(rename_all = "camelCase")]
    Server { connection_id: String },
}

impl From<&ConnKey> for Connection {
    fn from(k: &ConnKey) -> Self {
        if k.is_server() {
            Connection::Server {
                connection_id: k.account_id().to_string(),
            }
        } else {
            Connection::User {
                account_id: k.account_id().to_string(),
                owner_id: k.owner().to_string(),
            }
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(
    tag = "event",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Event {
    /// A refresh-token grant succeeded.
    Refresh {
        connection: Connection,
        org_id: Option<String>,
        rotated: bool,
        duration_ms: u64,
    },
    /// Salesforce refused the refresh token (`invalid_grant`): the user must connect again.
    ReconnectRequired {
        connection: Connection,
        org_id: Option<String>,
        reason: crate::token::reason::ReconnectReason,
        /// Ms since the connection's last grant; null when unknown.
        idle_ms: Option<u64>,
    },
    /// A transient failure is retried after `delay_ms`.
    Retry {
        connection: Connection,
        org_id: Option<String>,
        status: Option<u16>,
        attempt: u32,
        delay_ms: u64,
        reason: String,
    },
    /// `REQUEST_LIMIT_EXCEEDED`: the org is out of API calls.
    RateLimited {
        connection: Connection,
        org_id: Option<String>,
    },
    /// `Sforce-Limit-Info` on a response.
    ApiUsage {
        connection: Connection,
        org_id: Option<String>,
        used: u64,
        max: u64,
    },
    /// A TokenStore call failed or timed out.
    StoreError {
        op: String,
        message: String,
        timed_out: bool,
        /// Set when the failure concerns one connection (a rotated token `close()` could not save).
        #[serde(skip_serializing_if = "Option::is_none")]
        connection: Option<Connection>,
    },
    /// A Bulk API 2.0 job changed state.
    BulkJob {
        connection: Connection,
        org_id: Option<String>,
        job_id: String,
        state: String,
    },
    /// A sync's `fields: 'all'` list changed since its checkpoint (a field added, or removed or
    /// hidden from the connected user).
    SchemaChange {
        connection: Connection,
        org_id: Option<String>,
        #[serde(rename = "type")]
        type_name: String,
        added: Vec<String>,
        removed: Vec<String>,
    },
    /// `sync({ live: true })`: the change stream (re)subscribed, or recovered from a gap, an
    /// overflow or an expired replay id.
    ChangeStream {
        connection: Connection,
        org_id: Option<String>,
        #[serde(rename = "type")]
        type_name: String,
        /// `subscribed`, `resubscribed`, `gap`, `overflow` or `replayExpired`.
        kind: &'static str,
        /// `resubscribed`: why (`auth`, `unavailable`, `internal`, `stall`, `reset`).
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<&'static str>,
        /// `gap`: the records re-read.
        #[serde(skip_serializing_if = "Option::is_none")]
        record_ids: Option<Vec<String>>,
        /// `subscribed` / `resubscribed`: `LATEST`, or `CUSTOM` (after the last replay id).
        #[serde(skip_serializing_if = "Option::is_none")]
        replay_from: Option<&'static str>,
    },
    /// `sync({ verify: true })`: a window's `SELECT COUNT()` still disagreed with the records read
    /// for it after one re-read.
    VerifyMismatch {
        connection: Connection,
        org_id: Option<String>,
        #[serde(rename = "type")]
        type_name: String,
        from: String,
        to: String,
        expected: u64,
        received: u64,
    },
}

pub trait EventSink: Send + Sync {
    fn emit(&self, event: &Event);
}

/// The sink forcelink emits to: none (the default) costs one branch per event.
#[derive(Clone, Default)]
pub struct Events(Option<Arc<dyn EventSink>>);

impl Events {
    pub fn new(sink: Arc<dyn EventSink>) -> Self {
        Self(Some(sink))
    }

    pub fn emit(&self, make: impl FnOnce() -> Event) {
        if let Some(s) = &self.0 {
            s.emit(&make());
        }
    }

    /// Tells the host about a retry, then sleeps its backoff (REST and OAuth retries alike).
    pub async fn retry_pause(
        &self,
        who: Option<(&ConnKey, Option<&str>)>,
        attempt: u32,
        status: Option<u16>,
        reason: &str,
    ) {
        let delay = crate::net::backoff(attempt);
        if let Some((key, org)) = who {
            self.emit(|| Event::Retry {
                connection: key.into(),
                org_id: org.map(str::to_string),
                status,
                attempt,
                delay_ms: delay.as_millis() as u64,
                reason: reason.to_string(),
            });
        }
        tokio::time::sleep(delay).await;
    }
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Events(on)"
        } else {
            "Events(off)"
        })
    }
}

/// The org id in an identity URL (`…/id/<orgId>/<userId>`).
pub fn org_of(identity_url: Option<&str>) -> Option<String> {
    let mut parts = identity_url?.trim_end_matches('/').rsplit('/');
    let _user = parts.next()?;
    let org = parts.next()?;
    (org.starts_with("00D") && org.len() <= 18).then(|| org.to_string())
}

/// `Sforce-Limit-Info` per org, and which org each connection belongs to.
#[derive(Default)]
pub struct UsageByOrg {
    inner: Mutex<UsageInner>,
}

#[derive(Default)]
struct UsageInner {
    orgs: HashMap<String, crate::salesforce::rest::ApiUsage>,
    /// Connection → org, bounded: cleared when it grows past `MAX_TRACKED`.
    conns: HashMap<ConnKey, String>,
}

const MAX_TRACKED: usize = 100_000;

impl UsageByOrg {
    pub fn record(&self, key: &ConnKey, org: &str, u: crate::salesforce::rest::ApiUsage) {
        if let Ok(mut g) = self.inner.lock() {
            if g.conns.len() >= MAX_TRACKED {
                g.conns.clear();
            }
            if g.orgs.len() >= MAX_TRACKED {
                g.orgs.clear();
            }
            g.conns.insert(key.clone(), org.to_string());
            g.orgs.insert(org.to_string(), u);
        }
    }

    /// The latest usage seen for this connection's org.
    pub fn for_conn(&self, key: &ConnKey) -> Option<(String, crate::salesforce::rest::ApiUsage)> {
        let g = self.inner.lock().ok()?;
        let org = g.conns.get(key)?;
        g.orgs.get(org).map(|u| (org.clone(), *u))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn org_ids_come_from_identity_urls() {
        assert_eq!(
            org_of(Some(
                "https://login.salesforce.com/id/00D5g000004XYZaEAK/0055g00000AbCdEAAV"
            ))
            .as_deref(),
            Some("00D5g000004XYZaEAK")
        );
        assert_eq!(org_of(Some("https://x/id/nope/005")), None);
        assert_eq!(org_of(None), None);
    }

    #[test]
    fn events_serialise_camel_case_without_secrets() {
        let k = ConnKey::new("a", "u").unwrap();
        let e = Event::Refresh {
            connection: (&k).into(),
            org_id: Some("00Dx".into()),
            rotated: true,
            duration_ms: 12,
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"event":"refresh","connection":{"accountId":"a","ownerId":"u"},"orgId":"00Dx","rotated":true,"durationMs":12})
        );
        let s = ConnKey::server("svc").unwrap();
        let v = serde_json::to_value(Event::BulkJob {
            connection: (&s).into(),
            org_id: None,
            job_id: "750".into(),
            state: "JobComplete".into(),
        })
        .unwrap();
        assert_eq!(v["connection"], serde_json::json!({"connectionId":"svc"}));
        assert_eq!(v["event"], "bulkJob");
    }
}

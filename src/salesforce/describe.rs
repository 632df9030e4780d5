//! sObject describe, cached per org and object (with a TTL): the field types that turn Bulk CSV text back into the
//! typed values REST returns, and where relationships point.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::lru::Lru;
use crate::salesforce::rest::{Call, Rest};
use crate::salesforce::soql::SObjectName;
use crate::token::record::{ConnKey, TokenRecord};

#[derive(Debug, Deserialize)]
pub struct Describe {
    pub name: String,
    pub fields: Vec<FieldInfo>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldInfo {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub relationship_name: Option<String>,
    #[serde(default)]
    pub reference_to: Vec<String>,
}

/// How a CSV value becomes JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    Number,
    Boolean,
    /// Bulk writes `…Z`; REST writes `…+0000`.
    DateTime,
    Text,
}

impl Describe {
    pub fn field(&self, name: &str) -> Option<&FieldInfo> {
        self.fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
    }

    pub fn relationship(&self, name: &str) -> Option<&FieldInfo> {
        self.fields.iter().find(|f| {
            f.relationship_name
                .as_deref()
                .is_some_and(|r| r.eq_ignore_ascii_case(name))
        })
    }
}

impl FieldInfo {
    pub fn value_kind(&self) -> ValueKind {
        match self.kind.as_str() {
            "double" | "currency" | "percent" | "int" | "long" => ValueKind::Number,
            "boolean" => ValueKind::Boolean,
            "datetime" => ValueKind::DateTime,
            _ => ValueKind::Text,
        }
    }
}

/// How long a describe is trusted (an admin may change a field's type).
const DESCRIBE_TTL: Duration = Duration::from_secs(10 * 60);
const MAX_DESCRIBES: usize = 1_000;

/// (org id, lower-cased object name)
type Slot = (String, String);

/// Describes cached per org and object: two orgs' `Amount` fields need not share a type.
pub struct DescribeCache(Mutex<Lru<Slot, (Arc<Describe>, Instant)>>);

impl Default for DescribeCache {
    fn default() -> Self {
        Self(Mutex::new(Lru::new(MAX_DESCRIBES)))
    }
}

/// The org a token belongs to: the organization id in its identity URL
/// (`…/id/<orgId>/<userId>`), else the access token's prefix (`<orgId>!…`), else the connection.
pub fn org_of(rec: &TokenRecord, key: &ConnKey) -> String {
    if let Some(org) = rec
        .token
        .id
        .as_deref()
        .and_then(|id| id.split("/id/").nth(1))
        .and_then(|p| p.split('/').next())
    {
        if !org.is_empty() {
            return org.to_string();
        }
    }
    match rec.token.access_token.expose().split_once('!') {
        Some((org, _)) if org.len() == 15 || org.len() == 18 => org.to_string(),
        _ => format!("conn:{}\u{0}{}", key.account_id(), key.owner()),
    }
}

impl DescribeCache {
    pub async fn get(&self, rest: &Rest<'_>, key: &ConnKey, object: &str) -> Result<Arc<Describe>> {
        let rec = rest.tokens.current(key).await?;
        let slot = (org_of(&rec, key), object.to_ascii_lowercase());
        if let Some((d, at)) = self.0.lock().ok().and_then(|mut m| m.get(&slot).cloned()) {
            if at.elapsed() < DESCRIBE_TTL {
                return Ok(d);
            }
        }
        let object = SObjectName::parse(object).map_err(|e| Error::input("object", e))?;
        let path = format!(
            "{}/sobjects/{}/describe",
            rest.cfg.data_path(),
            object.as_str()
        );
        let body = rest.send(key, Call::get(&path)).await?.body;
        let d: Arc<Describe> = Arc::new(serde_json::from_slice(&body).map_err(|e| {
            Error::Unavailable(format!("unreadable describe for {}: {e}", object.as_str()))
        })?);
        if let Ok(mut m) = self.0.lock() {
            m.put(slot, (d.clone(), Instant::now()));
        }
        Ok(d)
    }
}

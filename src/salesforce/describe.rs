//! sObject describe, cached per object: the field types that turn Bulk CSV text back into the
//! typed values REST returns, and where relationships point.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::salesforce::rest::{Call, Rest};
use crate::salesforce::soql::SObjectName;
use crate::token::record::ConnKey;

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
        self.fields.iter().find(|f| f.name.eq_ignore_ascii_case(name))
    }

    pub fn relationship(&self, name: &str) -> Option<&FieldInfo> {
        self.fields
            .iter()
            .find(|f| f.relationship_name.as_deref().is_some_and(|r| r.eq_ignore_ascii_case(name)))
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

#[derive(Default)]
pub struct DescribeCache(Mutex<HashMap<String, Arc<Describe>>>);

impl DescribeCache {
    pub async fn get(&self, rest: &Rest<'_>, key: &ConnKey, object: &str) -> Result<Arc<Describe>> {
        let lower = object.to_ascii_lowercase();
        if let Some(d) = self.0.lock().ok().and_then(|m| m.get(&lower).cloned()) {
            return Ok(d);
        }
        let object = SObjectName::parse(object).map_err(|e| Error::input("object", e))?;
        let path = format!("{}/sobjects/{}/describe", rest.cfg.data_path(), object.as_str());
        let body = rest.send(key, Call::get(&path)).await?.body;
        let d: Arc<Describe> = Arc::new(
            serde_json::from_slice(&body).map_err(|e| Error::Unavailable(format!("unreadable describe for {}: {e}", object.as_str())))?,
        );
        if let Ok(mut m) = self.0.lock() {
            m.insert(lower, d.clone());
        }
        Ok(d)
    }
}

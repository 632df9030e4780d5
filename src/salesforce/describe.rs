//! sObject describe, cached per org and object (with a TTL): the field types that turn Bulk CSV text back into the
//! typed values REST returns, and where relationships point.

use std::sync::{Arc, Mutex};
use std::time::Instant;

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
    #[serde(default)]
    pub label: String,
    /// Set on a compound field's components (`BillingCity` → `BillingAddress`).
    #[serde(default)]
    pub compound_field_name: Option<String>,
    #[serde(default)]
    pub filterable: bool,
    #[serde(default)]
    pub nillable: bool,
    #[serde(default)]
    pub updateable: bool,
    #[serde(default)]
    pub calculated: bool,
    #[serde(default)]
    pub deprecated_and_hidden: bool,
}

/// Why a described field is not exported by `fields: 'all'`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// `address` / `location`: Bulk API 2.0 refuses them; their components are exported instead
    /// (on both engines, so REST and Bulk records match field for field).
    Compound,
    /// `base64`: Bulk cannot return it, and REST answers a blob URL, not the content.
    Base64,
    /// Deprecated and hidden: not queryable.
    Hidden,
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

impl Describe {
    /// The fields `fields: 'all'` exports, in describe order: every field the connected user can
    /// read (describe already leaves out fields field-level security hides), without compound,
    /// base64 or deprecated fields.
    pub fn all_fields(&self) -> Vec<String> {
        self.fields
            .iter()
            .filter(|f| f.skip().is_none())
            .map(|f| f.name.clone())
            .collect()
    }
}

impl Describe {
    /// A compound named in a field list stands for its readable components, in describe order
    /// (Bulk API 2.0 refuses compounds, REST answers an object): REST and Bulk then give the
    /// same records, as with `fields: 'all'`. Other names are kept; duplicates go.
    pub fn expand_compounds(&self, names: &[String]) -> Vec<String> {
        let mut out: Vec<String> = Vec::with_capacity(names.len());
        let mut push = |n: &str| {
            if !out.iter().any(|o| o.eq_ignore_ascii_case(n)) {
                out.push(n.to_string());
            }
        };
        for n in names {
            match self
                .field(n)
                .filter(|f| !n.contains('.') && f.skip() == Some(Skip::Compound))
            {
                Some(c) => {
                    let parts: Vec<&FieldInfo> = self
                        .fields
                        .iter()
                        .filter(|f| {
                            f.skip().is_none()
                                && f.compound_field_name
                                    .as_deref()
                                    .is_some_and(|p| p.eq_ignore_ascii_case(&c.name))
                        })
                        .collect();
                    // A describe that names no component leaves the compound as asked.
                    if parts.is_empty() {
                        push(n);
                    }
                    for part in parts {
                        push(&part.name);
                    }
                }
                None => push(n),
            }
        }
        out
    }
}

/// Whether a field list may name a compound: standard ones are addresses (`BillingAddress`,
/// `MailingAddress`, `Address`…), custom ones geolocations (`Spot__c`). Only then does a fixed
/// list cost a describe.
fn may_name_compound(ty: &crate::salesforce::soql::ExportType) -> bool {
    ty.fields.iter().any(|f| {
        let n = f.as_str().to_ascii_lowercase();
        !n.contains('.') && (n.ends_with("address") || n.ends_with("__c"))
    })
}

impl FieldInfo {
    pub fn skip(&self) -> Option<Skip> {
        if self.deprecated_and_hidden {
            Some(Skip::Hidden)
        } else if self.kind.eq_ignore_ascii_case("address")
            || self.kind.eq_ignore_ascii_case("location")
        {
            Some(Skip::Compound)
        } else if self.kind.eq_ignore_ascii_case("base64") {
            Some(Skip::Base64)
        } else {
            None
        }
    }

    pub fn value_kind(&self) -> ValueKind {
        match self.kind.as_str() {
            "double" | "currency" | "percent" | "int" | "long" => ValueKind::Number,
            "boolean" => ValueKind::Boolean,
            "datetime" => ValueKind::DateTime,
            _ => ValueKind::Text,
        }
    }
}

const MAX_DESCRIBES: usize = 1_000;

/// (org id and user, lower-cased object name): field-level security differs per user.
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
        let user = rec
            .token
            .id
            .as_deref()
            .and_then(|id| id.rsplit('/').next())
            .unwrap_or_default();
        let who = format!("{}\u{0}{user}", org_of(&rec, key));
        let slot = (who, object.to_ascii_lowercase());
        if let Some((d, at)) = self.0.lock().ok().and_then(|mut m| m.get(&slot).cloned()) {
            if at.elapsed() < rest.cfg.describe_ttl {
                return Ok(d);
            }
        }
        let object = SObjectName::parse(object).map_err(|e| Error::input("object", e))?;
        let path = format!(
            "{}/sobjects/{}/describe",
            rest.cfg.data_path(),
            object.as_str()
        );
        let body = match rest.send(key, Call::get(&path)).await {
            Ok(r) => r.body,
            // Salesforce answers 404 NOT_FOUND for an object this org (or user) does not have.
            Err(Error::Salesforce {
                http_status: 404, ..
            }) => {
                return Err(Error::input(
                    "type",
                    format!("Salesforce does not know the object {}", object.as_str()),
                ))
            }
            Err(e) => return Err(e),
        };
        let d: Arc<Describe> = Arc::new(serde_json::from_slice(&body).map_err(|e| {
            Error::Unavailable(format!("unreadable describe for {}: {e}", object.as_str()))
        })?);
        if let Ok(mut m) = self.0.lock() {
            m.put(slot, (d.clone(), Instant::now()));
        }
        Ok(d)
    }
}

/// Resolves `fields: 'all'` from the connected user's describe, or checks a call's own field list
/// against it (`check`), so an unknown type or field is `INVALID_INPUT` naming it before any query.
pub async fn resolve_fields(
    describes: &DescribeCache,
    rest: &Rest<'_>,
    key: &ConnKey,
    ty: &mut crate::salesforce::soql::ExportType,
    check: bool,
) -> Result<()> {
    let expand = may_name_compound(ty);
    if !ty.all && !check && !expand {
        return Ok(());
    }
    let d = match describes.get(rest, key, ty.object.as_str()).await {
        Ok(d) => d,
        // A configured list is Salesforce's to judge: its query reports the same failure.
        Err(_) if !ty.all && !check => return Ok(()),
        Err(e) => return Err(e),
    };
    if ty.all {
        return ty
            .resolve(&d.all_fields())
            .map_err(|e| Error::Unavailable(format!("unusable describe field: {e}")));
    }
    for f in ty.fields.iter().filter(|_| check) {
        let path = f.as_str();
        let known = match path.split_once('.') {
            None => d.field(path).is_some(),
            Some((rel, _)) => d.relationship(rel).is_some(),
        };
        if !known {
            return Err(Error::input(
                "fields",
                format!("{} has no field {path} for this user", d.name),
            ));
        }
    }
    let names = ty.field_names();
    let expanded = d.expand_compounds(&names);
    if expanded != names {
        let refs: Vec<&str> = expanded.iter().map(String::as_str).collect();
        ty.fields = crate::salesforce::soql::ExportType::new(ty.object.as_str(), &refs)
            .map_err(|e| Error::Unavailable(format!("unusable describe field: {e}")))?
            .fields;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_fields_skip_compound_base64_and_hidden() {
        let d: Describe = serde_json::from_str(
            r#"{"name":"Account","fields":[
                {"name":"Id","type":"id"},
                {"name":"BillingAddress","type":"address"},
                {"name":"BillingCity","type":"string","compoundFieldName":"BillingAddress"},
                {"name":"Spot__c","type":"location"},
                {"name":"Logo__c","type":"base64"},
                {"name":"Old__c","type":"string","deprecatedAndHidden":true},
                {"name":"Score__c","type":"double","calculated":true}
            ]}"#,
        )
        .unwrap();
        assert_eq!(d.all_fields(), ["Id", "BillingCity", "Score__c"]);
        let v = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            d.expand_compounds(&v(&["Id", "billingaddress", "BillingCity", "Account.Name"])),
            v(&["Id", "BillingCity", "Account.Name"])
        );
        assert_eq!(
            d.expand_compounds(&v(&["Spot__c"])),
            v(&["Spot__c"]),
            "no component described"
        );
    }
}

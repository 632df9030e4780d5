//! Record writes: create (POST, never resent once it may have reached Salesforce) and update
//! (PATCH, idempotent so retried like a read).

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::salesforce::rest::{Call, Rest};
use crate::salesforce::soql::{FieldPath, SObjectName};
use crate::token::record::ConnKey;

/// A Salesforce record id: 15 or 18 alphanumerics.
pub struct RecordId(String);

impl RecordId {
    pub fn parse(s: &str) -> Result<Self> {
        if (s.len() == 15 || s.len() == 18) && s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            Ok(Self(s.to_string()))
        } else {
            Err(Error::input(
                "id",
                "must be a 15- or 18-character Salesforce id",
            ))
        }
    }
}

fn check_fields(fields: &Map<String, Value>) -> Result<String> {
    if fields.is_empty() {
        return Err(Error::input("fields", "must name at least one field"));
    }
    for name in fields.keys() {
        if name.contains('.') || FieldPath::parse(name).is_err() {
            return Err(Error::input(
                "fields",
                format!("{name:?} is not a field API name"),
            ));
        }
    }
    serde_json::to_string(fields).map_err(|e| Error::input("fields", e.to_string()))
}

#[derive(Deserialize)]
struct Created {
    id: String,
}

pub async fn create(
    rest: &Rest<'_>,
    key: &ConnKey,
    object: &str,
    fields: &Map<String, Value>,
) -> Result<String> {
    let object = SObjectName::parse(object).map_err(|e| Error::input("object", e))?;
    let body = check_fields(fields)?;
    let path = format!("{}/sobjects/{}/", rest.cfg.data_path(), object.as_str());
    let call = Call {
        method: reqwest::Method::POST,
        path: &path,
        body: Some(body),
        headers: Vec::new(),
        idempotent: false,
    };
    let answer = rest.send(key, call).await?;
    let created: Created = serde_json::from_slice(&answer.body).map_err(|_| {
        Error::Unavailable("Salesforce answered the create with an unreadable body".into())
    })?;
    Ok(created.id)
}

pub async fn update(
    rest: &Rest<'_>,
    key: &ConnKey,
    object: &str,
    id: &str,
    fields: &Map<String, Value>,
) -> Result<()> {
    let object = SObjectName::parse(object).map_err(|e| Error::input("object", e))?;
    let id = RecordId::parse(id)?;
    let body = check_fields(fields)?;
    let path = format!(
        "{}/sobjects/{}/{}",
        rest.cfg.data_path(),
        object.as_str(),
        id.0
    );
    let call = Call {
        method: reqwest::Method::PATCH,
        path: &path,
        body: Some(body),
        headers: Vec::new(),
        idempotent: true,
    };
    rest.send(key, call).await.map(|_| ())
}

//! A host TokenStore seen from Rust. The JS layer hands us one function, `(op, args) =>
//! Promise<envelopeJson>`, that calls `store[op](...args)` and never rejects (it reports failures
//! in the envelope), so a throwing or odd store cannot take the process down. The arguments go as
//! JS values; what the store answers comes back as JSON text, serialized the host's way
//! (`JSON.stringify`, so a driver's own types such as a mongoose `ObjectId` arrive as its JSON).

use async_trait::async_trait;
use napi::bindgen_prelude::{FnArgs, Promise};
use napi::threadsafe_function::ThreadsafeFunction;
use napi::Status;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::token::record::{ConnKey, TokenRecord};
use crate::token::store::{LeaseGrant, LeaseToken, ListPage, ListQuery, TokenStore};

/// Weak: holding the store must not keep Node's event loop alive.
pub type StoreCall = ThreadsafeFunction<
    FnArgs<(String, Value)>,
    Promise<String>,
    FnArgs<(String, Value)>,
    Status,
    false,
    true,
>;

pub struct JsStore {
    call: StoreCall,
    /// The optional methods the host's store has, asked once.
    methods: tokio::sync::OnceCell<Vec<String>>,
}

#[derive(Deserialize)]
struct Envelope {
    ok: bool,
    #[serde(default)]
    value: Value,
    #[serde(default)]
    unsupported: bool,
    #[serde(default)]
    message: String,
}

impl JsStore {
    pub fn new(call: StoreCall) -> Self {
        Self {
            call,
            methods: tokio::sync::OnceCell::new(),
        }
    }

    /// Calls `store[op](...args)`; `Ok(None)` when the store lacks an optional method.
    async fn invoke(&self, op: &'static str, args: Value) -> Result<Option<Value>> {
        let promise = self
            .call
            .call_async_catch(FnArgs::from((op.to_string(), args)))
            .await
            .map_err(|e| Error::store(op, e.reason.clone()))?;
        let text = promise
            .await
            .map_err(|e| Error::store(op, e.reason.clone()))?;
        let env: Envelope = serde_json::from_str(&text)
            .map_err(|e| Error::store(op, crate::shape::serde_reason(&e.to_string())))?;
        if !env.ok {
            return Err(Error::store(op, env.message));
        }
        Ok(if env.unsupported {
            None
        } else {
            Some(env.value)
        })
    }

    fn required(op: &'static str, v: Option<Value>) -> Result<Value> {
        v.ok_or_else(|| Error::store(op, format!("the store has no {op} method")))
    }

    fn boolean(op: &'static str, v: Value) -> Result<bool> {
        match v {
            Value::Bool(b) => Ok(b),
            other => Err(Error::store(
                op,
                format!(
                    "{op} must return a boolean, not {}",
                    crate::shape::kind(&other)
                ),
            )),
        }
    }
}

/// Driver results a conditional save may answer instead of a boolean, checked in this order:
/// MongoDB `updateOne` (`matchedCount`, `modifiedCount`), `pg` (`rowCount`), mysql2
/// (`affectedRows`), better-sqlite3 (`changes`). Written when the count is above 0.
const SAVE_COUNTS: [&str; 5] = [
    "matchedCount",
    "modifiedCount",
    "rowCount",
    "affectedRows",
    "changes",
];

fn count_of(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| *f >= 0.0 && f.fract() == 0.0)
                .map(|f| f as u64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Whether a conditional save wrote. Anything but a boolean or a documented driver result is a
/// STORE_ERROR: read loosely it would turn fencing off (or drop a rotated token).
pub(crate) fn conditional_save_answer(v: Value) -> Result<bool> {
    let contract = "save with expectedVersion must resolve true (written) or false (the stored \
                    version differs), or a driver result with matchedCount, modifiedCount, \
                    rowCount, affectedRows or changes";
    match &v {
        Value::Bool(b) => return Ok(*b),
        Value::Object(o) => {
            for k in SAVE_COUNTS {
                if let Some(c) = o.get(k) {
                    return count_of(c).map(|n| n > 0).ok_or_else(|| {
                        Error::store("save", format!("{contract}; {k} is not a count"))
                    });
                }
            }
        }
        _ => {}
    }
    Err(Error::store(
        "save",
        format!("{contract}, got {}", crate::shape::kind(&v)),
    ))
}

#[async_trait]
impl TokenStore for JsStore {
    async fn find(&self, key: &ConnKey) -> Result<Option<TokenRecord>> {
        let v = Self::required(
            "find",
            self.invoke("find", json!([key.account_id(), key.owner()]))
                .await?,
        )?;
        match v {
            Value::Null => Ok(None),
            v @ Value::Object(_) => TokenRecord::from_store_json(v).map(Some),
            other => Err(Error::store(
                "find",
                format!(
                    "find must return a record or null, got {}",
                    crate::shape::kind(&other)
                ),
            )),
        }
    }

    async fn save(&self, record: &TokenRecord, expected_version: Option<u64>) -> Result<bool> {
        let rec = serde_json::to_value(record)
            .map_err(|_| Error::store("save", "the record could not be encoded"))?;
        let args = match expected_version {
            None => json!([rec]),
            Some(v) => json!([rec, { "expectedVersion": v }]),
        };
        let answer = Self::required("save", self.invoke("save", args).await?)?;
        match expected_version {
            // An unconditional upsert: what it answers is not needed.
            None => Ok(true),
            Some(_) => conditional_save_answer(answer),
        }
    }

    async fn delete(&self, key: &ConnKey) -> Result<bool> {
        let v = Self::required(
            "delete",
            self.invoke("delete", json!([key.account_id(), key.owner()]))
                .await?,
        )?;
        // Hosts often return a driver result ({ deletedCount }) rather than a boolean.
        Ok(match v {
            Value::Bool(b) => b,
            Value::Object(o) => o
                .get("deletedCount")
                .and_then(Value::as_u64)
                .map(|n| n > 0)
                .unwrap_or(true),
            Value::Null => true,
            _ => true,
        })
    }

    async fn acquire_lease(&self, key: &ConnKey, ttl_ms: u64) -> Result<LeaseGrant> {
        match self
            .invoke(
                "acquireLease",
                json!([key.account_id(), key.owner(), ttl_ms]),
            )
            .await?
        {
            None => Ok(LeaseGrant::Unsupported),
            Some(Value::String(t)) if !t.is_empty() => Ok(LeaseGrant::Held(LeaseToken::new(t))),
            Some(Value::Null) | Some(Value::Bool(false)) => Ok(LeaseGrant::Busy),
            // Contract v1 stores answered `true`: a lease without a token.
            Some(Value::Bool(true)) => Ok(LeaseGrant::Held(LeaseToken::new(""))),
            Some(other) => Err(Error::store(
                "acquireLease",
                format!(
                    "acquireLease must return a lease token (string) or null, got {}",
                    crate::shape::kind(&other)
                ),
            )),
        }
    }

    async fn can_renew_lease(&self) -> bool {
        let methods = self
            .methods
            .get_or_init(|| async {
                match self.invoke("__methods", json!([])).await {
                    Ok(Some(Value::Array(a))) => a
                        .into_iter()
                        .filter_map(|v| v.as_str().map(String::from))
                        .collect(),
                    _ => Vec::new(),
                }
            })
            .await;
        methods.iter().any(|m| m == "renewLease")
    }

    async fn renew_lease(
        &self,
        key: &ConnKey,
        lease: &LeaseToken,
        ttl_ms: u64,
    ) -> Result<Option<bool>> {
        match self
            .invoke(
                "renewLease",
                json!([key.account_id(), key.owner(), lease.as_str(), ttl_ms]),
            )
            .await?
        {
            None => Ok(None),
            Some(v) => Self::boolean("renewLease", v).map(Some),
        }
    }

    async fn release_lease(&self, key: &ConnKey, lease: &LeaseToken) -> Result<()> {
        self.invoke(
            "releaseLease",
            json!([key.account_id(), key.owner(), lease.as_str()]),
        )
        .await
        .map(|_| ())
    }

    async fn list_connections(&self, q: &ListQuery) -> Result<Option<ListPage>> {
        let mut arg = json!({ "refreshedBefore": q.refreshed_before, "limit": q.limit });
        if let Some(a) = &q.after {
            arg["after"] = a.clone();
        }
        match self.invoke("listConnections", json!([arg])).await? {
            None => Ok(None),
            Some(v) => list_page(v).map(Some),
        }
    }

    async fn consume_nonce(&self, nonce: &str, expires_at_ms: i64) -> Result<Option<bool>> {
        match self
            .invoke("consumeNonce", json!([nonce, expires_at_ms]))
            .await?
        {
            None => Ok(None),
            Some(v) => Self::boolean("consumeNonce", v).map(Some),
        }
    }
}

/// `{ connections: [{ accountId, ownerId }], next }` as the host's store answered it.
fn list_page(v: Value) -> Result<ListPage> {
    let bad = |what: String| {
        Error::store("listConnections", format!("listConnections must return {{ connections: [{{ accountId, ownerId }}], next }}: {what}"))
    };
    let Value::Object(mut o) = v else {
        return Err(bad(format!("got {}", crate::shape::kind(&v))));
    };
    let Some(Value::Array(items)) = o.remove("connections") else {
        return Err(bad("connections is not an array".into()));
    };
    let mut connections = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let field = |k: &str| item.get(k).and_then(Value::as_str).map(String::from);
        match (field("accountId"), field("ownerId")) {
            (Some(a), Some(u)) => connections.push((a, u)),
            _ => {
                return Err(bad(format!(
                    "connections[{i}] needs string accountId and ownerId"
                )))
            }
        }
    }
    let next = match o.remove("next") {
        None | Some(Value::Null) => None,
        Some(n) => Some(n),
    };
    Ok(ListPage { connections, next })
}

//! The Node binding: the only code that knows napi. It converts arguments (JSON text from the JS
//! layer), results (JSON text for `JSON.parse`, measured fastest for record batches) and errors.

mod bytes;
mod cursor;
mod error;
mod events;
mod probe;
mod store;
mod sync;
#[cfg(feature = "test-hooks")]
mod test_hooks;

use std::sync::Arc;

use napi::bindgen_prelude::{FnArgs, Function, Promise};
use napi_derive::napi;
use serde::Deserialize;

use crate::config::Config;
use crate::oauth::binding::Binding;
use crate::salesforce::paginate::{normalize_limit, normalize_page, paginate as core_paginate};
use crate::secret::AuthCode;
use crate::service::{CallbackParams, Forcelink};
use crate::token::record::ConnKey;
use crate::token::store::TokenStore;
use error::{args, IntoNapi};

pub use cursor::NativeExportCursor;
pub use sync::NativeSyncCursor;

/// A panic is contained and surfaces as an INTERNAL error (its message in the error, which the
/// host's logger sees): nothing is written to stderr behind the host's back.
#[napi_derive::module_init]
fn quiet_panics() {
    std::panic::set_hook(Box::new(|_| {}));
}

#[napi(object)]
pub struct PageText {
    pub body: String,
    pub api_calls: u32,
}

#[napi]
pub struct NativeForcelink {
    inner: Arc<Forcelink>,
}

/// Names a connection: a user's (`accountId` + `ownerId`) or a server flow's (`connectionId`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConnArgs {
    account_id: Option<String>,
    owner_id: Option<String>,
    connection_id: Option<String>,
}

impl ConnArgs {
    fn key(&self) -> napi::Result<ConnKey> {
        match (&self.connection_id, &self.account_id, &self.owner_id) {
            (Some(c), None, None) => ConnKey::server(c),
            (None, a, o) => ConnKey::new(a.as_deref().unwrap_or(""), o.as_deref().unwrap_or("")),
            _ => Err(crate::Error::input(
                "connectionId",
                "give either connectionId or accountId + ownerId, not both",
            )),
        }
        .napi()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LoginArgs {
    account_id: String,
    owner_id: String,
    forward_url: Option<String>,
    #[serde(default = "yes")]
    bind_browser: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CallbackArgs {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
    binding: Option<String>,
    /// The host's user on the callback request, when known.
    account_id: Option<String>,
    owner_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenArgs {
    #[serde(flatten)]
    conn: ConnArgs,
    #[serde(default)]
    force_refresh: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryArgs {
    #[serde(flatten)]
    conn: ConnArgs,
    soql: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryMoreArgs {
    #[serde(flatten)]
    conn: ConnArgs,
    next_records_url: String,
    /// Set by `query({ all: true })` for the URLs Salesforce returned.
    #[serde(default)]
    from_salesforce: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageArgs {
    #[serde(flatten)]
    conn: ConnArgs,
    #[serde(rename = "type")]
    type_name: String,
    page: Option<String>,
    limit: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExportAllArgs {
    #[serde(flatten)]
    conn: ConnArgs,
    #[serde(rename = "type")]
    type_name: String,
    batch_size: Option<f64>,
    since: Option<String>,
    engine: Option<String>,
    job_id: Option<String>,
    parallelism: Option<f64>,
    ordered: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SyncArgs {
    #[serde(flatten)]
    conn: ConnArgs,
    #[serde(rename = "type")]
    type_name: String,
    checkpoint: Option<String>,
    engine: Option<String>,
    batch_size: Option<f64>,
    lookback_ms: Option<f64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WriteArgs {
    #[serde(flatten)]
    conn: ConnArgs,
    object: String,
    id: Option<String>,
    fields: serde_json::Map<String, serde_json::Value>,
}

fn json<T: serde::Serialize>(v: &T) -> napi::Result<String> {
    serde_json::to_string(v).map_err(|e| napi::Error::from_reason(e.to_string()))
}

#[napi]
impl NativeForcelink {
    /// `storeCall(op, argsJson)` bridges a host TokenStore; without it the embedded store is used.
    #[napi(constructor, catch_unwind)]
    pub fn new(
        config_json: String,
        store_call: Option<Function<FnArgs<(String, String)>, Promise<String>>>,
        on_event: Option<Function<String, ()>>,
    ) -> napi::Result<Self> {
        let mut cfg = Config::from_json(&config_json).napi()?;
        if let Some(f) = on_event {
            let call: events::EventCall = f
                .build_threadsafe_function()
                .callee_handled::<false>()
                .weak::<true>()
                .build()?;
            cfg.events = crate::events::Events::new(Arc::new(events::JsEvents(call)));
        }
        let store: Option<Arc<dyn TokenStore>> = match store_call {
            Some(f) => Some(Arc::new(store::JsStore::new(
                f.build_threadsafe_function()
                    .callee_handled::<false>()
                    .weak::<true>()
                    .build()?,
            ))),
            None => None,
        };
        Ok(Self {
            inner: Arc::new(Forcelink::new(cfg, store).napi()?),
        })
    }

    #[napi]
    pub async fn begin_login(&self, args_json: String) -> napi::Result<String> {
        let a: LoginArgs = args(&args_json)?;
        let r = self
            .inner
            .begin_login(
                &a.account_id,
                &a.owner_id,
                a.forward_url.as_deref(),
                a.bind_browser,
            )
            .await
            .napi()?;
        json(&r)
    }

    #[napi]
    pub async fn handle_callback(&self, args_json: String) -> napi::Result<String> {
        let a: CallbackArgs = args(&args_json)?;
        let identity = match (a.account_id, a.owner_id) {
            (Some(aid), Some(uid)) => Some((aid, uid)),
            _ => None,
        };
        let params = CallbackParams {
            code: a.code.map(AuthCode::new),
            state: a.state,
            error: a.error,
            error_description: a.error_description,
            binding: a.binding.map(Binding::presented),
            identity,
        };
        let url = self.inner.handle_callback(params).await.napi()?;
        json(&serde_json::json!({ "redirectUrl": url }))
    }

    #[napi]
    pub async fn disconnect(&self, args_json: String) -> napi::Result<String> {
        let a: ConnArgs = args(&args_json)?;
        let revoked = self.inner.disconnect(&a.key()?).await.napi()?;
        json(&serde_json::json!({ "revoked": revoked }))
    }

    #[napi]
    pub async fn get_access_token(&self, args_json: String) -> napi::Result<String> {
        let a: TokenArgs = args(&args_json)?;
        let g = self
            .inner
            .get_access_token(&a.conn.key()?, a.force_refresh)
            .await
            .napi()?;
        json(&serde_json::json!({ "accessToken": g.access_token, "instanceUrl": g.instance_url }))
    }

    /// Returns Salesforce's response body unchanged.
    #[napi]
    pub async fn query(&self, args_json: String) -> napi::Result<String> {
        let a: QueryArgs = args(&args_json)?;
        let body = self.inner.query(&a.conn.key()?, &a.soql).await.napi()?;
        String::from_utf8(body.to_vec()).map_err(|e| napi::Error::from_reason(e.to_string()))
    }

    #[napi]
    pub async fn query_more(&self, args_json: String) -> napi::Result<String> {
        let a: QueryMoreArgs = args(&args_json)?;
        let body = self
            .inner
            .query_more(&a.conn.key()?, &a.next_records_url, a.from_salesforce)
            .await
            .napi()?;
        String::from_utf8(body.to_vec()).map_err(|e| napi::Error::from_reason(e.to_string()))
    }

    /// `body`: `{"data":[…],"pagination":{…}}` with the records spliced in as Salesforce sent them
    /// (ASCII-escaped), ready to send or parse; `apiCalls`: what the page cost.
    #[napi]
    pub async fn export_page(&self, args_json: String) -> napi::Result<PageText> {
        let a: PageArgs = args(&args_json)?;
        let r = self
            .inner
            .export_page(
                &a.conn.key()?,
                &a.type_name,
                a.page.as_deref(),
                a.limit.as_deref(),
            )
            .await
            .napi()?;
        let body = format!(
            r#"{{"data":{},"pagination":{}}}"#,
            crate::salesforce::format::ascii_json(r.data_json),
            json(&r.pagination)?
        );
        Ok(PageText {
            body,
            api_calls: r.api_calls,
        })
    }

    #[napi]
    pub async fn create_record(&self, args_json: String) -> napi::Result<String> {
        let a: WriteArgs = args(&args_json)?;
        let id = self
            .inner
            .create_record(&a.conn.key()?, &a.object, &a.fields)
            .await
            .napi()?;
        json(&serde_json::json!({ "id": id }))
    }

    #[napi]
    pub async fn update_record(&self, args_json: String) -> napi::Result<String> {
        let a: WriteArgs = args(&args_json)?;
        let id = a.id.clone().unwrap_or_default();
        self.inner
            .update_record(&a.conn.key()?, &a.object, &id, &a.fields)
            .await
            .napi()?;
        json(&serde_json::json!({ "id": id }))
    }

    #[napi(catch_unwind)]
    pub fn export_cursor(&self, args_json: String) -> napi::Result<NativeExportCursor> {
        let a: ExportAllArgs = args(&args_json)?;
        let c = self
            .inner
            .export_cursor(
                &a.conn.key()?,
                &a.type_name,
                a.batch_size,
                a.since.as_deref(),
                a.engine.as_deref(),
                a.job_id,
            )
            .napi()?;
        let k = crate::service::Forcelink::parallelism(a.parallelism).napi()?;
        let c = c.with_parallelism(k, a.ordered.unwrap_or(true));
        Ok(NativeExportCursor::new(self.inner.clone(), c))
    }

    /// A `sync` run; a bad, tampered or foreign checkpoint fails here, before any request.
    #[napi(catch_unwind)]
    pub fn sync_cursor(&self, args_json: String) -> napi::Result<NativeSyncCursor> {
        let a: SyncArgs = args(&args_json)?;
        let opts = crate::service::SyncArgs {
            checkpoint: a.checkpoint,
            engine: a.engine,
            batch_size: a.batch_size,
            lookback_ms: a.lookback_ms,
        };
        let run = self
            .inner
            .sync_run(&a.conn.key()?, &a.type_name, opts)
            .napi()?;
        Ok(NativeSyncCursor::new(self.inner.clone(), run))
    }

    /// `{"used":n,"max":n}` or `null`.
    #[napi(catch_unwind)]
    pub fn limit_info(&self) -> napi::Result<String> {
        json(&self.inner.limit_info())
    }

    /// Stops background work; the JS layer refuses later calls with CLOSED.
    #[napi(catch_unwind)]
    pub fn close(&self) -> napi::Result<()> {
        self.inner.shutdown();
        Ok(())
    }

    /// Closes the embedded store's SQLite connection; the JS layer calls it once the calls in
    /// flight have settled.
    #[napi]
    pub async fn close_store(&self) -> napi::Result<()> {
        self.inner.close_store().await;
        Ok(())
    }

    /// `{"orgId","used","max"}` for this connection's org, or `null` before any response.
    #[napi(catch_unwind)]
    pub fn limit_info_for(&self, args_json: String) -> napi::Result<String> {
        let a: ConnArgs = args(&args_json)?;
        let out = self
            .inner
            .limit_info_for(&a.key()?)
            .map(|(org, u)| serde_json::json!({ "orgId": org, "used": u.used, "max": u.max }));
        json(&out)
    }
}

/// The incumbent paginator; inputs are the raw query-string values.
#[napi(catch_unwind)]
pub fn paginate(
    total: f64,
    page: Option<String>,
    per_page: Option<String>,
) -> napi::Result<String> {
    let total = if total.is_finite() && total > 0.0 {
        total.floor() as u64
    } else {
        0
    };
    json(&core_paginate(
        total,
        normalize_page(page.as_deref()),
        normalize_limit(per_page.as_deref()),
    ))
}

//! The Node binding: the only code that knows napi. Arguments and small results are typed
//! `#[napi(object)]`s (documented here, so the generated `binding.d.ts` documents itself); record
//! batches and page bodies stay JSON text for `JSON.parse` (measured fastest); core errors cross as
//! data (`error.rs`).

mod bytes;
mod cursor;
mod error;
mod events;
mod probe;
mod store;
#[cfg(feature = "test-hooks")]
mod store_faults;
mod sync;
#[cfg(feature = "test-hooks")]
mod test_hooks;

use std::sync::Arc;

use napi::bindgen_prelude::{Either, FnArgs, Function, Null, Promise};
use napi::Env;
use napi_derive::napi;

use crate::config::Config;
use crate::oauth::binding::Binding;
use crate::salesforce::paginate::{normalize_limit, normalize_page, paginate as core_paginate};
use crate::secret::AuthCode;
use crate::service::{CallbackParams, Forcelink};
use crate::token::record::ConnKey;
use crate::token::store::TokenStore;
use error::{outcome, thrown, Outcome};

pub use cursor::NativeExportCursor;
pub use sync::NativeSyncCursor;

/// A panic is contained and surfaces as an INTERNAL error (its message in the error, which the
/// host's logger sees): nothing is written to stderr behind the host's back. With `RUST_BACKTRACE`
/// set (not empty, not `0`), the hook chains to the previous one (Rust's default: message and backtrace
/// on stderr), for debugging.
#[napi_derive::module_init]
fn quiet_panics() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::env::var_os("RUST_BACKTRACE").is_some_and(|v| !v.is_empty() && v != "0") {
            previous(info);
        }
    }));
}

/// One page of `exportPage`.
#[napi(object, object_from_js = false)]
pub struct PageText {
    /// `{"data":[…],"pagination":{…}}` with the records spliced in as Salesforce sent them
    /// (ASCII-escaped), ready to send or parse.
    pub body: String,
    /// How many Salesforce API calls the page cost.
    pub api_calls: u32,
}

/// The native side of `Forcelink`. Every method fails with a JS `Error` carrying `code` and
/// `status` (and `field`, `salesforceCode`, `fields` when they apply) as properties.
#[napi]
pub struct NativeForcelink {
    inner: Arc<Forcelink>,
}

/// Names a connection: a user's (`accountId` + `ownerId`) or a server flow's (`connectionId`).
#[napi(object, object_to_js = false)]
pub struct ConnArgs {
    /// The host's account (tenant) id.
    pub account_id: Option<String>,
    /// The host's user id within the account.
    pub owner_id: Option<String>,
    /// A server flow's connection (JWT bearer or client credentials).
    pub connection_id: Option<String>,
}

impl ConnArgs {
    fn key(&self) -> crate::Result<ConnKey> {
        ConnKey::from_parts(
            self.account_id.as_deref(),
            self.owner_id.as_deref(),
            self.connection_id.as_deref(),
        )
    }
}

/// `beginLogin` arguments: a user's connection only.
#[napi(object, object_to_js = false)]
pub struct LoginArgs {
    pub conn: ConnArgs,
    /// Where the browser goes when the flow ends (checked against `allowedForwardOrigins`).
    pub forward_url: Option<String>,
    /// Issue a browser binding (default true).
    pub bind_browser: Option<bool>,
}

/// What `beginLogin` answers.
#[napi(object, object_from_js = false)]
pub struct LoginStart {
    /// Salesforce's authorize URL, or `forwardUrl` when already connected.
    pub redirect_url: String,
    /// The user already has a working connection.
    pub already_connected: bool,
    /// For the browser that starts the flow; `handleCallback` needs it back.
    pub binding: Option<String>,
}

/// `handleCallback` arguments: the callback's query string, the browser binding and, when known,
/// the host's user on the callback request.
#[napi(object, object_to_js = false)]
pub struct CallbackArgs {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
    pub binding: Option<String>,
    /// The host's user on the callback request, used when both ids are given: the flow must be
    /// that user's.
    pub account_id: Option<String>,
    pub owner_id: Option<String>,
}

/// Where the browser goes after the callback.
#[napi(object, object_from_js = false)]
pub struct CallbackResult {
    pub redirect_url: String,
}

/// What `disconnect` answers.
#[napi(object, object_from_js = false)]
pub struct DisconnectResult {
    /// Salesforce confirmed the revocation.
    pub revoked: bool,
}

/// `getAccessToken` arguments.
#[napi(object, object_to_js = false)]
pub struct TokenArgs {
    pub conn: ConnArgs,
    /// Refresh even when the cached token looks valid.
    pub force_refresh: bool,
}

/// An access token for the host's own Salesforce calls.
#[napi(object, object_from_js = false)]
pub struct AccessToken {
    pub access_token: String,
    pub instance_url: String,
}

/// `query` arguments.
#[napi(object, object_to_js = false)]
pub struct QueryArgs {
    pub conn: ConnArgs,
    pub soql: String,
}

/// `queryMore` arguments.
#[napi(object, object_to_js = false)]
pub struct QueryMoreArgs {
    pub conn: ConnArgs,
    pub next_records_url: String,
    /// Set by `query({ all: true })` for the URLs Salesforce returned.
    pub from_salesforce: bool,
}

/// `exportPage` arguments; `page` and `limit` are the raw query-string values.
#[napi(object, object_to_js = false)]
pub struct PageArgs {
    pub conn: ConnArgs,
    #[napi(js_name = "type")]
    pub type_name: String,
    pub page: Option<String>,
    pub limit: Option<String>,
}

/// How an export reads Salesforce.
#[napi(string_enum = "lowercase")]
#[derive(Clone, Copy)]
pub enum ExportEngine {
    /// The REST query API, page by page.
    Rest,
    /// A Bulk API 2.0 query job.
    Bulk,
    /// Bulk for large exports, REST otherwise.
    Auto,
}

/// `exportAll` / `exportStream` arguments (checked by the core: each mistake names its field).
#[napi(object, object_to_js = false)]
pub struct ExportArgs {
    pub conn: ConnArgs,
    #[napi(js_name = "type")]
    pub type_name: String,
    pub batch_size: Option<f64>,
    /// Milliseconds since the epoch, or an ISO-8601 timestamp.
    pub since: Option<String>,
    #[napi(ts_type = "ExportEngine")]
    pub engine: Option<String>,
    /// A Bulk job to resume.
    pub job_id: Option<String>,
    pub parallelism: Option<f64>,
    pub ordered: Option<bool>,
    /// Records keep Salesforce's `attributes` objects (default: the export type's, itself true).
    pub attributes: Option<bool>,
    /// `'all'` or a list of fields, in place of the export type's.
    #[napi(ts_type = "'all' | string[]")]
    pub fields: Option<napi::Either<String, Vec<String>>>,
}

fn call_fields(
    f: Option<napi::Either<String, Vec<String>>>,
) -> crate::Result<Option<crate::service::CallFields>> {
    use crate::service::CallFields;
    match f {
        None => Ok(None),
        Some(napi::Either::A(s)) if s == "all" => Ok(Some(CallFields::All)),
        Some(napi::Either::A(_)) => Err(crate::Error::input(
            "fields",
            "must be 'all' or an array of field names",
        )),
        Some(napi::Either::B(list)) => Ok(Some(CallFields::List(list))),
    }
}

/// `describe` arguments.
#[napi(object, object_to_js = false)]
pub struct DescribeArgs {
    pub conn: ConnArgs,
    /// An export type's name, or an sObject's.
    #[napi(js_name = "type")]
    pub type_name: String,
}

/// One field as forcelink reads it (`describe`).
#[napi(object, object_from_js = false)]
pub struct DescribedField {
    pub name: String,
    #[napi(js_name = "type")]
    pub kind: String,
    pub label: String,
    /// The compound field this one is a component of (`BillingCity` → `BillingAddress`).
    pub compound_parent: Option<String>,
    pub filterable: bool,
    pub nillable: bool,
    pub updateable: bool,
    /// A formula: its value can change without `SystemModstamp` moving.
    pub calculated: bool,
    /// Read by `fields: 'all'` (compound, base64 and deprecated fields are not).
    pub exported: bool,
}

/// `sync` arguments.
#[napi(object, object_to_js = false)]
pub struct SyncArgs {
    pub conn: ConnArgs,
    #[napi(js_name = "type")]
    pub type_name: String,
    /// From an earlier step; none for a full initial sync.
    pub checkpoint: Option<String>,
    #[napi(ts_type = "ExportEngine")]
    pub engine: Option<String>,
    pub batch_size: Option<f64>,
    pub lookback_ms: Option<f64>,
    /// After each window, `SELECT COUNT()` over it must equal the records read (one re-read).
    pub verify: Option<bool>,
    /// Formula fields are re-read for every record at most once per this many ms (default off).
    pub formula_refresh: Option<f64>,
    /// `'all'` or a list of fields, in place of the export type's.
    #[napi(ts_type = "'all' | string[]")]
    pub fields: Option<napi::Either<String, Vec<String>>>,
    /// After the polling catch-up, follow the object's Change Data Capture channel.
    pub live: Option<bool>,
    /// Live: silence (ms) after which the stream is resubscribed (default 300,000).
    pub live_stall_ms: Option<f64>,
}

/// `createRecord` / `updateRecord` arguments. `fieldsJson` is the record body as JSON text.
#[napi(object, object_to_js = false)]
pub struct WriteArgs {
    pub conn: ConnArgs,
    pub object: String,
    pub id: Option<String>,
    pub fields_json: Option<String>,
}

impl WriteArgs {
    /// The record body; a mistake is reported as it was when all the arguments were JSON.
    fn fields(&self) -> crate::Result<serde_json::Map<String, serde_json::Value>> {
        let text = self
            .fields_json
            .as_deref()
            .ok_or_else(|| crate::Error::input("fields", "is missing field fields"))?;
        serde_json::from_str(text).map_err(|e| {
            crate::Error::input("arguments", crate::shape::serde_reason(&e.to_string()))
        })
    }
}

/// The id of the record written.
#[napi(object, object_from_js = false)]
pub struct RecordId {
    pub id: String,
}

/// The latest `Sforce-Limit-Info` seen.
#[napi(object, object_from_js = false)]
pub struct LimitInfo {
    pub used: f64,
    pub max: f64,
}

/// The latest `Sforce-Limit-Info` of a connection's org.
#[napi(object, object_from_js = false)]
pub struct OrgLimitInfo {
    pub org_id: String,
    pub used: f64,
    pub max: f64,
}

/// `keepAlive` options (checked by the core: each mistake names its field).
#[napi(object, object_to_js = false)]
pub struct KeepAliveArgs {
    /// Refresh connections whose last grant is older than this (default 20 days).
    pub older_than_ms: Option<f64>,
    /// Token requests at once (default 4).
    pub concurrency: Option<f64>,
    /// At most this many connections per sweep.
    pub limit: Option<f64>,
}

/// One keep-alive sweep.
#[napi]
pub struct NativeKeepAlive {
    svc: Arc<Forcelink>,
    opts: crate::token::keepalive::KeepAliveOptions,
    cancel: tokio::sync::watch::Sender<bool>,
}

#[napi]
impl NativeKeepAlive {
    /// Runs the sweep: `{ refreshed, skipped, failed: [{ connection, code, reason, message }] }`
    /// as JSON text.
    #[napi(ts_return_type = "Promise<string>")]
    pub async fn run(&self) -> Outcome<String> {
        Outcome(
            async {
                let r = self
                    .svc
                    .keep_alive(self.opts.clone(), self.cancel.subscribe())
                    .await?;
                serde_json::to_string(&r).map_err(|e| crate::Error::Internal(e.to_string()))
            }
            .await,
        )
    }

    /// Stops the sweep: no connection starts after this; the refreshes under way finish.
    #[napi]
    pub fn cancel(&self) {
        self.cancel.send_replace(true);
    }
}

#[napi]
impl NativeForcelink {
    /// `configJson`: the config as JSON text (so an unknown option is `CONFIG_INVALID` naming it).
    /// `storeCall(op, args)` bridges a host TokenStore: it calls `store[op](...args)` and answers
    /// an envelope as JSON text (the store's documents serialized the host's way); without it the
    /// embedded store is used. `onEvent` receives each event as an object (`event`: its name).
    // The callback's type is spelled out (not aliased) so the generated declaration shows it.
    #[allow(clippy::type_complexity)]
    #[napi(constructor, catch_unwind)]
    pub fn new(
        env: Env,
        config_json: String,
        #[napi(
            ts_arg_type = "((op: string, args: unknown[]) => Promise<string>) | undefined | null"
        )]
        store_call: Option<Function<FnArgs<(String, serde_json::Value)>, Promise<String>>>,
        #[napi(
            ts_arg_type = "((event: { event: string } & Record<string, unknown>) => void) | undefined | null"
        )]
        on_event: Option<Function<serde_json::Value, ()>>,
    ) -> napi::Result<Self> {
        let mut cfg = Config::from_json(&config_json).map_err(|e| thrown(&env, &e))?;
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
        #[cfg(feature = "test-hooks")]
        let store = match store_faults::from_env() {
            Some(f) => {
                let base: Arc<dyn TokenStore> = match store {
                    Some(s) => s,
                    None => Arc::new(
                        crate::token::sqlite::SqliteStore::open(
                            &cfg.store_path,
                            cfg.encryption_key.as_ref(),
                        )
                        .map_err(|e| thrown(&env, &e))?,
                    ),
                };
                Some(store_faults::wrap(base, f))
            }
            None => store,
        };
        let inner = Forcelink::new(cfg, store).map_err(|e| thrown(&env, &e))?;
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// Starts the connect flow for a user's connection.
    #[napi(ts_return_type = "Promise<LoginStart>")]
    pub async fn begin_login(&self, args: LoginArgs) -> Outcome<LoginStart> {
        Outcome(
            async {
                let c = &args.conn;
                let (account_id, owner_id) = ConnKey::login_parts(
                    c.account_id.as_deref(),
                    c.owner_id.as_deref(),
                    c.connection_id.as_deref(),
                )?;
                let r = self
                    .inner
                    .begin_login(
                        account_id,
                        owner_id,
                        args.forward_url.as_deref(),
                        args.bind_browser.unwrap_or(true),
                    )
                    .await?;
                Ok(LoginStart {
                    redirect_url: r.redirect_url,
                    already_connected: r.already_connected,
                    binding: r.binding.map(|b| b.expose().to_string()),
                })
            }
            .await,
        )
    }

    /// Finishes the connect flow: checks the state and binding, exchanges the code, stores the
    /// connection.
    #[napi(ts_return_type = "Promise<CallbackResult>")]
    pub async fn handle_callback(&self, args: CallbackArgs) -> Outcome<CallbackResult> {
        let identity = match (args.account_id, args.owner_id) {
            (Some(aid), Some(uid)) => Some((aid, uid)),
            _ => None,
        };
        let params = CallbackParams {
            code: args.code.map(AuthCode::new),
            state: args.state,
            error: args.error,
            error_description: args.error_description,
            binding: args.binding.map(Binding::presented),
            identity,
        };
        Outcome(
            self.inner
                .handle_callback(params)
                .await
                .map(|redirect_url| CallbackResult { redirect_url }),
        )
    }

    /// Revokes at Salesforce and deletes the stored connection.
    #[napi(ts_return_type = "Promise<DisconnectResult>")]
    pub async fn disconnect(&self, args: ConnArgs) -> Outcome<DisconnectResult> {
        Outcome(
            async {
                let revoked = self.inner.disconnect(&args.key()?).await?;
                Ok(DisconnectResult { revoked })
            }
            .await,
        )
    }

    /// A valid access token, refreshed when needed (or when `forceRefresh`).
    #[napi(ts_return_type = "Promise<AccessToken>")]
    pub async fn get_access_token(&self, args: TokenArgs) -> Outcome<AccessToken> {
        Outcome(
            async {
                let g = self
                    .inner
                    .get_access_token(&args.conn.key()?, args.force_refresh)
                    .await?;
                Ok(AccessToken {
                    access_token: g.access_token,
                    instance_url: g.instance_url,
                })
            }
            .await,
        )
    }

    /// The connected user's fields of a type, as forcelink reads them (cached per org).
    #[napi(ts_return_type = "Promise<Array<DescribedField>>")]
    pub async fn describe(&self, args: DescribeArgs) -> Outcome<Vec<DescribedField>> {
        Outcome(
            async {
                let list = self
                    .inner
                    .describe(&args.conn.key()?, &args.type_name)
                    .await?;
                Ok(list
                    .into_iter()
                    .map(|f| DescribedField {
                        name: f.name,
                        kind: f.kind,
                        label: f.label,
                        compound_parent: f.compound_parent,
                        filterable: f.filterable,
                        nillable: f.nillable,
                        updateable: f.updateable,
                        calculated: f.calculated,
                        exported: f.exported,
                    })
                    .collect())
            }
            .await,
        )
    }

    /// Returns Salesforce's response body (JSON text) unchanged.
    #[napi(ts_return_type = "Promise<string>")]
    pub async fn query(&self, args: QueryArgs) -> Outcome<String> {
        Outcome(
            async {
                let body = self.inner.query(&args.conn.key()?, &args.soql).await?;
                text(body.to_vec())
            }
            .await,
        )
    }

    /// Returns Salesforce's response body (JSON text) unchanged.
    #[napi(ts_return_type = "Promise<string>")]
    pub async fn query_more(&self, args: QueryMoreArgs) -> Outcome<String> {
        Outcome(
            async {
                let body = self
                    .inner
                    .query_more(
                        &args.conn.key()?,
                        &args.next_records_url,
                        args.from_salesforce,
                    )
                    .await?;
                text(body.to_vec())
            }
            .await,
        )
    }

    /// One page of the incumbent's export response.
    #[napi(ts_return_type = "Promise<PageText>")]
    pub async fn export_page(&self, args: PageArgs) -> Outcome<PageText> {
        Outcome(
            async {
                let r = self
                    .inner
                    .export_page(
                        &args.conn.key()?,
                        &args.type_name,
                        args.page.as_deref(),
                        args.limit.as_deref(),
                    )
                    .await?;
                let pagination = serde_json::to_string(&r.pagination)
                    .map_err(|e| crate::Error::Internal(e.to_string()))?;
                let body = format!(
                    r#"{{"data":{},"pagination":{pagination}}}"#,
                    crate::salesforce::format::ascii_json(r.data_json),
                );
                Ok(PageText {
                    body,
                    api_calls: r.api_calls,
                })
            }
            .await,
        )
    }

    /// Creates a record (not retried once the request may have reached Salesforce).
    #[napi(ts_return_type = "Promise<RecordId>")]
    pub async fn create_record(&self, args: WriteArgs) -> Outcome<RecordId> {
        Outcome(
            async {
                let fields = args.fields()?;
                let id = self
                    .inner
                    .create_record(&args.conn.key()?, &args.object, &fields)
                    .await?;
                Ok(RecordId { id })
            }
            .await,
        )
    }

    /// Updates a record's fields.
    #[napi(ts_return_type = "Promise<RecordId>")]
    pub async fn update_record(&self, args: WriteArgs) -> Outcome<RecordId> {
        Outcome(
            async {
                let fields = args.fields()?;
                let id = args.id.clone().unwrap_or_default();
                self.inner
                    .update_record(&args.conn.key()?, &args.object, &id, &fields)
                    .await?;
                Ok(RecordId { id })
            }
            .await,
        )
    }

    /// An `exportAll` run; bad options fail here, before any request.
    #[napi(catch_unwind, ts_return_type = "NativeExportCursor")]
    pub fn export_cursor(&self, args: ExportArgs) -> Outcome<NativeExportCursor> {
        outcome(|| {
            let c = self.inner.export_cursor(
                &args.conn.key()?,
                &args.type_name,
                args.batch_size,
                args.since.as_deref(),
                args.engine.as_deref(),
                args.job_id,
            )?;
            let k = crate::service::Forcelink::parallelism(args.parallelism)?;
            let mut c = c.with_parallelism(k, args.ordered.unwrap_or(true));
            if let Some(a) = args.attributes {
                c = c.with_attributes(a);
            }
            if let Some(f) = call_fields(args.fields)? {
                c = crate::service::Forcelink::with_call_fields(c, &f)?;
            }
            Ok(NativeExportCursor::new(self.inner.clone(), c))
        })
    }

    /// A `sync` run; a bad, tampered or foreign checkpoint fails here, before any request.
    #[napi(catch_unwind, ts_return_type = "NativeSyncCursor")]
    pub fn sync_cursor(&self, args: SyncArgs) -> Outcome<NativeSyncCursor> {
        outcome(|| {
            let opts = crate::service::SyncArgs {
                fields: call_fields(args.fields)?,
                verify: args.verify.unwrap_or(false),
                formula_refresh: args.formula_refresh,
                checkpoint: args.checkpoint,
                engine: args.engine,
                batch_size: args.batch_size,
                lookback_ms: args.lookback_ms,
            };
            let run = self.inner.sync_runner(
                &args.conn.key()?,
                &args.type_name,
                opts,
                args.live.unwrap_or(false),
                args.live_stall_ms,
            )?;
            Ok(NativeSyncCursor::new(self.inner.clone(), run))
        })
    }

    /// The last `Sforce-Limit-Info` this instance saw, or `null` before any response.
    #[napi(catch_unwind)]
    pub fn limit_info(&self) -> Option<LimitInfo> {
        self.inner.limit_info().map(|u| LimitInfo {
            used: u.used as f64,
            max: u.max as f64,
        })
    }

    /// Stops background work at once (retried saves); `drain` is the orderly way. The JS layer
    /// refuses later calls with CLOSED.
    #[napi(catch_unwind)]
    pub fn close(&self) {
        self.inner.shutdown();
    }

    /// Waits (bounded by `closeTimeoutMs`) for every refresh in flight and saves the rotated
    /// tokens not saved yet, then stops background work. Resolves the connections whose token
    /// could not be saved (each reported as a `storeError` event too).
    #[napi(
        ts_return_type = "Promise<Array<{ accountId?: string; ownerId?: string; connectionId?: string }>>"
    )]
    pub async fn drain(&self) -> Vec<serde_json::Value> {
        self.inner
            .drain()
            .await
            .iter()
            .filter_map(|k| serde_json::to_value(crate::events::Connection::from(k)).ok())
            .collect()
    }

    /// Whether a refresh or a rotated token not saved yet exists (the host keeps Node alive).
    #[napi(catch_unwind)]
    pub fn busy(&self) -> bool {
        self.inner.busy()
    }

    /// Closes the embedded store's SQLite connection; the JS layer calls it once the calls in
    /// flight have settled.
    #[napi]
    pub async fn close_store(&self) {
        self.inner.close_store().await;
    }

    /// A keep-alive sweep, ready to `run()` (and `cancel()`).
    #[napi(catch_unwind, ts_return_type = "NativeKeepAlive")]
    pub fn keep_alive(&self, args: KeepAliveArgs) -> Outcome<NativeKeepAlive> {
        outcome(|| {
            let opts = crate::token::keepalive::KeepAliveOptions::new(
                args.older_than_ms,
                args.concurrency,
                args.limit,
            )?;
            Ok(NativeKeepAlive {
                svc: self.inner.clone(),
                opts,
                cancel: tokio::sync::watch::channel(false).0,
            })
        })
    }

    /// This connection's org's last `Sforce-Limit-Info`, or `null` before any response.
    #[napi(catch_unwind, ts_return_type = "OrgLimitInfo | null")]
    pub fn limit_info_for(&self, args: ConnArgs) -> Outcome<Option<OrgLimitInfo>> {
        outcome(|| {
            Ok(self
                .inner
                .limit_info_for(&args.key()?)
                .map(|(org_id, u)| OrgLimitInfo {
                    org_id,
                    used: u.used as f64,
                    max: u.max as f64,
                }))
        })
    }
}

fn text(body: Vec<u8>) -> crate::Result<String> {
    String::from_utf8(body).map_err(|e| crate::Error::Internal(e.to_string()))
}

// napi-derive registers free functions only outside `cfg(test)`, so the unit-test build sees
// `paginate` (and what only it uses) as dead.

/// The incumbent's pagination block, with its snake_case keys.
#[cfg_attr(test, allow(dead_code))]
#[napi(object, object_from_js = false)]
pub struct Pagination {
    pub page: f64,
    #[napi(js_name = "per_page")]
    pub per_page: f64,
    pub total: f64,
    #[napi(js_name = "total_pages")]
    pub total_pages: f64,
    /// `null` on the last page.
    #[napi(js_name = "next_page")]
    pub next_page: Either<f64, Null>,
    /// `null` on the first page.
    #[napi(js_name = "prev_page")]
    pub prev_page: Either<f64, Null>,
    #[napi(js_name = "offsetValue")]
    pub offset_value: f64,
}

#[cfg_attr(test, allow(dead_code))]
fn number_or_null(v: Option<u64>) -> Either<f64, Null> {
    match v {
        Some(n) => Either::A(n as f64),
        None => Either::B(Null),
    }
}

/// The incumbent paginator; inputs are the raw query-string values.
#[cfg_attr(test, allow(dead_code))]
#[napi(catch_unwind)]
pub fn paginate(total: f64, page: Option<String>, per_page: Option<String>) -> Pagination {
    let total = if total.is_finite() && total > 0.0 {
        total.floor() as u64
    } else {
        0
    };
    let p = core_paginate(
        total,
        normalize_page(page.as_deref()),
        normalize_limit(per_page.as_deref()),
    );
    Pagination {
        page: p.page as f64,
        per_page: p.per_page as f64,
        total: p.total as f64,
        total_pages: p.total_pages as f64,
        next_page: number_or_null(p.next_page),
        prev_page: number_or_null(p.prev_page),
        offset_value: p.offset_value as f64,
    }
}

//! `Forcelink`: the connect flow, the token lifecycle and exports, over a TokenStore. This is the
//! whole core API; the Node binding only converts types at the edge.

use std::sync::Arc;

use serde::Serialize;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::net;
use crate::oauth::binding::Binding;
use crate::oauth::client::OAuthClient;
use crate::oauth::forward::{encode_component, ForwardUrl};
use crate::oauth::pkce::Verifier;
use crate::oauth::state::{now_millis, StateClaims, StateCodec, LEEWAY_SECS};
use crate::salesforce::describe::DescribeCache;
use crate::salesforce::export::{AnchorCache, Engine, ExportCursor, Exporter, PageResult};
use crate::salesforce::locator::NextRecordsUrl;
use crate::salesforce::paginate::{normalize_limit, normalize_page};
use crate::salesforce::rest::{query_path, ApiUsage, LimitTracker, Rest, SharedRest};
use crate::salesforce::soql::ExportType;
use crate::salesforce::soql::SoqlDateTime;
use crate::salesforce::sync::{Step, SyncOptions, SyncRun};
use crate::secret::AuthCode;
use crate::token::manager::{check_instance_url, TokenManager};
use crate::token::record::{next_version, ConnKey, TokenData, TokenRecord};
use crate::token::sqlite::SqliteStore;
use crate::token::store::{NonceGuard, TimedStore, TokenStore};

pub struct Forcelink {
    cfg: Arc<Config>,
    http: reqwest::Client,
    state: StateCodec,
    tokens: Arc<TokenManager>,
    nonces: NonceGuard,
    limits: Arc<LimitTracker>,
    anchors: AnchorCache,
    describes: DescribeCache,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginStart {
    pub redirect_url: String,
    pub already_connected: bool,
    /// For the browser that starts the flow; the callback must present it again.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "expose_binding"
    )]
    pub binding: Option<Binding>,
}

fn expose_binding<S: serde::Serializer>(
    b: &Option<Binding>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match b {
        Some(b) => s.serialize_str(b.expose()),
        None => s.serialize_none(),
    }
}

/// What the callback request carries. Debug shows neither the code nor the binding.
#[derive(Debug, Default)]
pub struct CallbackParams {
    pub code: Option<AuthCode>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
    /// The browser's binding (the Express cookie).
    pub binding: Option<Binding>,
    /// The host's signed-in user on the callback request, when it knows one: (accountId, ownerId).
    pub identity: Option<(String, String)>,
}

pub struct AccessGrant {
    pub access_token: String,
    pub instance_url: String,
}

/// `sync` options as the host gives them (validated by `Forcelink::sync_run`).
#[derive(Debug, Default)]
pub struct SyncArgs {
    /// The call's own fields (`'all'` or a list) in place of the export type's.
    pub fields: Option<CallFields>,
    /// Each window's `SELECT COUNT()` is checked against the records read for it.
    pub verify: bool,
    /// Formula fields are re-read for every record at most once per this many ms.
    pub formula_refresh: Option<f64>,
    pub checkpoint: Option<String>,
    pub engine: Option<String>,
    pub batch_size: Option<f64>,
    pub lookback_ms: Option<f64>,
}

/// One field of `describe`: what forcelink knows of it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribedField {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub label: String,
    /// The compound field this one is a component of (`BillingCity` → `BillingAddress`).
    pub compound_parent: Option<String>,
    pub filterable: bool,
    pub nillable: bool,
    pub updateable: bool,
    /// A formula (or roll-up): its value can change without `SystemModstamp` moving.
    pub calculated: bool,
    /// Read by `fields: 'all'` (compound, base64 and deprecated fields are not).
    pub exported: bool,
}

/// A call's `fields` option.
#[derive(Debug, Clone)]
pub enum CallFields {
    /// `'all'`: every field the connected user can read (from describe).
    All,
    List(Vec<String>),
}

impl CallFields {
    /// The export type with the call's fields; `true` when the list must be checked against
    /// describe before the first query.
    pub fn apply(&self, ty: &ExportType) -> Result<(ExportType, bool)> {
        let mut out = match self {
            CallFields::All => ExportType::all_of(ty.object.as_str()),
            CallFields::List(list) => {
                let names: Vec<&str> = list.iter().map(String::as_str).collect();
                ExportType::new(ty.object.as_str(), &names)
            }
        }
        .map_err(|e| Error::input("fields", e))?;
        out.attributes = ty.attributes;
        Ok((out, matches!(self, CallFields::List(_))))
    }
}

/// Extra nonce retention for clock differences between processes sharing one store.
const NONCE_MARGIN_SECS: u64 = 60;

fn non_empty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.trim().is_empty())
}

impl Forcelink {
    /// With `store: None` the embedded SQLite store at `cfg.store_path` is used.
    pub fn new(cfg: Config, store: Option<Arc<dyn TokenStore>>) -> Result<Self> {
        let store: Arc<dyn TokenStore> = match store {
            Some(s) => s,
            None => Arc::new(SqliteStore::open(
                &cfg.store_path,
                cfg.encryption_key.as_ref(),
            )?),
        };
        let store: Arc<dyn TokenStore> =
            Arc::new(TimedStore::new(store, cfg.store_timeout).with_events(cfg.events.clone()));
        let cfg = Arc::new(cfg);
        let http = net::client(cfg.http_timeout)?;
        Ok(Self {
            state: StateCodec::new(&cfg.state_secret, cfg.state_ttl),
            tokens: Arc::new(TokenManager::new(cfg.clone(), http.clone(), store)),
            http,
            nonces: NonceGuard::default(),
            limits: Arc::new(LimitTracker::default()),
            anchors: AnchorCache::default(),
            describes: DescribeCache::default(),
            cfg,
        })
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// One keep-alive sweep (`keepAlive`); `cancel` turning true stops it.
    pub async fn keep_alive(
        &self,
        opts: crate::token::keepalive::KeepAliveOptions,
        cancel: tokio::sync::watch::Receiver<bool>,
    ) -> Result<crate::token::keepalive::KeepAliveReport> {
        crate::token::keepalive::keep_alive(self.tokens.clone(), self.cfg.clone(), opts, cancel)
            .await
    }

    fn store(&self) -> &Arc<dyn TokenStore> {
        self.tokens.store()
    }

    fn oauth(&self) -> OAuthClient<'_> {
        OAuthClient::new(&self.cfg, &self.http)
    }

    fn rest(&self) -> Rest<'_> {
        Rest {
            cfg: &self.cfg,
            http: &self.http,
            tokens: &self.tokens,
            limits: &self.limits,
        }
    }

    fn shared_rest(&self) -> SharedRest {
        SharedRest {
            cfg: self.cfg.clone(),
            http: self.http.clone(),
            tokens: self.tokens.clone(),
            limits: self.limits.clone(),
        }
    }

    fn exporter(&self) -> Exporter<'_> {
        Exporter {
            rest: self.rest(),
            anchors: &self.anchors,
        }
    }

    /// Starts (or short-circuits) the connect flow. `bind_browser: false` issues a state without a
    /// browser binding (the caller then carries the login-CSRF risk itself).
    pub async fn begin_login(
        &self,
        account_id: &str,
        owner_id: &str,
        forward_url: Option<&str>,
        bind_browser: bool,
    ) -> Result<LoginStart> {
        let forward = ForwardUrl::check(forward_url, &self.cfg.allowed_forward_origins)?;
        let key = ConnKey::new(account_id, owner_id)?;
        match self.store().find(&key).await? {
            Some(rec) if !rec.token_invalidated => {
                return Ok(LoginStart {
                    redirect_url: forward.success(),
                    already_connected: true,
                    binding: None,
                });
            }
            Some(_) => {
                self.store().delete(&key).await?;
                self.tokens.forget(&key);
            }
            None => {}
        }
        let binding = bind_browser.then(Binding::generate);
        let bh = binding.as_ref().map(|b| b.hash(&self.cfg.state_secret));
        let (state, claims) =
            self.state
                .sign(key.account_id(), key.owner(), forward.as_str(), bh)?;
        let challenge = Verifier::derive(&self.cfg.state_secret, &claims.nonce).challenge();
        let params = [
            ("response_type", "code"),
            ("client_id", self.cfg.client_id.as_str()),
            ("redirect_uri", self.cfg.redirect_uri.as_str()),
            ("scope", &self.cfg.scopes.join(" ")),
            ("state", state.as_str()),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ];
        let query: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{k}={}", encode_component(v)))
            .collect();
        Ok(LoginStart {
            redirect_url: format!(
                "{}?{}",
                self.cfg.login_url.join("/services/oauth2/authorize"),
                query.join("&")
            ),
            already_connected: false,
            binding,
        })
    }

    /// The callback must come from the browser (and, when the host knows it, the user) that
    /// started the flow. Checked before the nonce is spent and before Salesforce is called.
    fn check_origin_of(&self, claims: &StateClaims, p: &CallbackParams) -> Result<()> {
        if claims.bh.is_none() && self.cfg.require_browser_binding {
            return Err(Error::InvalidState {
                reason: "issued without a browser binding (requireBrowserBinding)",
            });
        }
        if let Some(bh) = &claims.bh {
            let ok = p
                .binding
                .as_ref()
                .is_some_and(|b| b.matches(&self.cfg.state_secret, bh));
            if !ok {
                return Err(Error::InvalidState {
                    reason: "not the browser that started the flow",
                });
            }
        }
        if let Some((aid, uid)) = &p.identity {
            if *aid != claims.aid || *uid != claims.uid {
                return Err(Error::InvalidState {
                    reason: "started by another user",
                });
            }
        }
        Ok(())
    }

    /// Finishes the flow. Failures Salesforce reports go back to the forward URL as
    /// `status=error&reason=…`; a bad state is an error (there is nowhere trusted to send the user).
    pub async fn handle_callback(&self, mut p: CallbackParams) -> Result<String> {
        let code = p.code.take().filter(|c| !c.expose().trim().is_empty());
        let error = non_empty(p.error.take());
        let Some(state) = non_empty(p.state.take()) else {
            return Err(if code.is_none() && error.is_none() {
                Error::AuthNotInitiated
            } else {
                Error::InvalidState { reason: "missing" }
            });
        };
        let claims = self.state.verify(&state)?;
        self.check_origin_of(&claims, &p)?;
        // Remember the nonce for as long as the state can still verify anywhere: expiry plus the
        // verifier's clock-skew leeway, plus a margin for skew between the hosts sharing a store.
        let expires_ms =
            ((claims.exp + LEEWAY_SECS + NONCE_MARGIN_SECS) as i64).saturating_mul(1000);
        let fresh = match self
            .store()
            .consume_nonce(&claims.nonce, expires_ms)
            .await?
        {
            Some(f) => f && self.nonces.consume(&claims.nonce, expires_ms, now_millis()),
            None => self.nonces.consume(&claims.nonce, expires_ms, now_millis()),
        };
        if !fresh {
            return Err(Error::InvalidState {
                reason: "already used",
            });
        }
        let forward = ForwardUrl::trusted(claims.forward_url.clone());
        if let Some(err) = error {
            return Ok(forward.error(&non_empty(p.error_description).unwrap_or(err)));
        }
        let Some(code) = code else {
            return Ok(forward.error("Authentication not initiated"));
        };
        let key = ConnKey::new(&claims.aid, &claims.uid).map_err(|_| Error::InvalidState {
            reason: "malformed",
        })?;
        let verifier = Verifier::derive(&self.cfg.state_secret, &claims.nonce);
        let tr = match self
            .oauth()
            .for_conn(&key, None)
            .exchange_code(&code, &verifier)
            .await
        {
            Ok(tr) => tr,
            Err(Error::OAuth { error, description }) => {
                return Ok(forward.error(if description.is_empty() {
                    error.as_str()
                } else {
                    &description
                }))
            }
            Err(Error::Unavailable(msg)) => {
                return Ok(forward.error(&format!("Salesforce is unavailable: {msg}")))
            }
            Err(e) => return Err(e),
        };
        let instance_url = match tr
            .instance_url
            .as_deref()
            .map(check_instance_url)
            .transpose()
        {
            Ok(u) => u,
            Err(e) => return Ok(forward.error(&e.to_string())),
        };
        let record = TokenRecord {
            account_id: claims.aid.clone(),
            owner: claims.uid.clone(),
            token: TokenData {
                access_token: tr.access_token,
                refresh_token: tr.refresh_token,
                issued_at: tr.issued_at,
                instance_url,
                id: tr.id,
                scope: tr.scope,
                extra: Default::default(),
            },
            token_invalidated: false,
            invalidated_reason: None,
            refreshed_at: Some(crate::oauth::state::now_millis()),
            // A new connection outranks any record a stale refresher may still hold.
            version: Some(next_version(None)),
            extra: Default::default(),
        };
        // A refresh token this connect replaces must not stay valid at Salesforce (best effort).
        let replaced = match self.store().find(&key).await {
            Ok(Some(old)) => old
                .token
                .refresh_token
                .filter(|rt| Some(rt) != record.token.refresh_token.as_ref()),
            _ => None,
        };
        self.store().save(&record, None).await?;
        self.tokens.remember(&key, record);
        self.anchors.forget_connection(&key);
        if let Some(rt) = replaced {
            let _ = self.oauth().revoke(&rt).await;
        }
        Ok(forward.success())
    }

    /// Revokes at Salesforce, then deletes the record whatever the revoke said. Exclusive with
    /// refresh: the refresh in flight finishes first (so its token is the one revoked) and none
    /// starts or writes the record back afterwards.
    pub async fn disconnect(&self, key: &ConnKey) -> Result<bool> {
        let key = key.clone();
        // The lease is held (and renewed) for the whole revoke, so no other process rotates the
        // token meanwhile; the token revoked is the newest this process knows.
        let closing = self.tokens.close(&key).await;
        let stored = self.store().find(&key).await?;
        let rec = closing.newest(stored).ok_or(Error::TokenNotFound)?;
        let org = crate::events::org_of(rec.token.id.as_deref());
        let oauth = self.oauth().for_conn(&key, org.as_deref());
        let revoked = match &rec.token.refresh_token {
            Some(rt) => oauth.revoke(rt).await.unwrap_or(false),
            None => {
                let at = crate::secret::RefreshToken::new(rec.token.access_token.expose());
                oauth.revoke(&at).await.unwrap_or(false)
            }
        };
        self.tokens.forget(&key);
        self.anchors.forget_connection(&key);
        self.store().delete(&key).await?;
        Ok(revoked)
    }

    pub async fn get_access_token(
        &self,
        key: &ConnKey,
        force_refresh: bool,
    ) -> Result<AccessGrant> {
        let key = key.clone();
        let mut rec = self.tokens.usable(&key).await?;
        if force_refresh {
            rec = self
                .tokens
                .refresh(&key, rec.token.access_token.expose())
                .await?;
        }
        Ok(AccessGrant {
            access_token: rec.token.access_token.expose().to_string(),
            instance_url: rec.token.instance_url.clone().unwrap_or_default(),
        })
    }

    /// One page of a raw SOQL query (response body as Salesforce sent it).
    pub async fn query(&self, key: &ConnKey, soql: &str) -> Result<bytes::Bytes> {
        if soql.trim().is_empty() || soql.len() > 100_000 {
            return Err(Error::input(
                "soql",
                "must be a non-empty query of at most 100,000 characters",
            ));
        }
        self.rest()
            .get(key, &query_path(&self.cfg, soql), None)
            .await
    }

    /// `from_salesforce`: the URL comes from a page Salesforce returned (`query({ all: true })`),
    /// so a bad one is Salesforce's fault, not the caller's. Either way it is never followed.
    pub async fn query_more(
        &self,
        key: &ConnKey,
        next_records_url: &str,
        from_salesforce: bool,
    ) -> Result<bytes::Bytes> {
        let url = if from_salesforce {
            NextRecordsUrl::from_salesforce(next_records_url)?
        } else {
            NextRecordsUrl::from_caller(next_records_url)?
        };
        self.rest().get(key, url.as_str(), None).await
    }

    pub async fn export_page(
        &self,
        key: &ConnKey,
        type_name: &str,
        page: Option<&str>,
        limit: Option<&str>,
    ) -> Result<PageResult> {
        let ty = self.cfg.export_type(type_name)?.clone();
        self.rest().check_usage_ceiling(key).await?;
        let mut r = self
            .exporter()
            .page(
                key,
                type_name,
                &ty,
                normalize_page(page),
                normalize_limit(limit),
            )
            .await?;
        if !ty.attributes {
            r.data_json = crate::salesforce::attributes::strip(&r.data_json);
        }
        Ok(r)
    }

    /// A cursor for `exportAll`; no request is made until its first `next`.
    pub fn export_cursor(
        &self,
        key: &ConnKey,
        type_name: &str,
        batch_size: Option<f64>,
        since: Option<&str>,
        engine: Option<&str>,
        job_id: Option<String>,
    ) -> Result<ExportCursor> {
        let ty = self.cfg.export_type(type_name)?.clone();
        let key = key.clone();
        let batch = match batch_size {
            None => 2000,
            Some(b) if b.is_finite() && b.fract() == 0.0 && (200.0..=2000.0).contains(&b) => {
                b as u32
            }
            Some(_) => {
                return Err(Error::input(
                    "batchSize",
                    "must be a whole number from 200 to 2000",
                ))
            }
        };
        let since = since
            .map(|s| match s.parse::<i64>() {
                Ok(ms) => SoqlDateTime::from_millis(ms),
                Err(_) => SoqlDateTime::parse(s),
            })
            .transpose()
            .map_err(|e| Error::input("since", e))?;
        let engine = Engine::parse(engine)?;
        if let Some(id) = &job_id {
            if id.len() < 15 || id.len() > 18 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(Error::input("jobId", "must be a Bulk API job id"));
            }
        }
        let attributes = ty.attributes;
        Ok(ExportCursor::new(key, ty, since, batch, engine, job_id).with_attributes(attributes))
    }

    /// `parallelism` (whole number 1–10, default 4) for REST exports.
    pub fn parallelism(parallelism: Option<f64>) -> Result<u32> {
        use crate::salesforce::parallel::{DEFAULT_PARALLELISM, MAX_PARALLELISM, MIN_PARALLELISM};
        match parallelism {
            None => Ok(DEFAULT_PARALLELISM),
            Some(p)
                if p.is_finite()
                    && p.fract() == 0.0
                    && (MIN_PARALLELISM as f64..=MAX_PARALLELISM as f64).contains(&p) =>
            {
                Ok(p as u32)
            }
            Some(_) => Err(Error::input(
                "parallelism",
                "must be a whole number from 1 to 10",
            )),
        }
    }

    pub async fn export_next(
        &self,
        cursor: &mut ExportCursor,
    ) -> Result<Option<crate::salesforce::export::Batch>> {
        cursor
            .next_shared(&self.shared_rest(), &self.describes)
            .await
    }

    /// A `sync` run; the checkpoint is verified here, before any request.
    pub fn sync_run(&self, key: &ConnKey, type_name: &str, o: SyncArgs) -> Result<SyncRun> {
        SyncRun::new(
            key.clone(),
            self.sync_options(type_name, o)?,
            &self.cfg.state_secret,
        )
    }

    /// A `sync` run as the binding drives it: `live` joins the change stream after the catch-up
    /// (`live_stall_ms`: silence after which the stream is resubscribed).
    pub fn sync_runner(
        &self,
        key: &ConnKey,
        type_name: &str,
        o: SyncArgs,
        live: bool,
        live_stall_ms: Option<f64>,
    ) -> Result<crate::salesforce::sync::live::Runner> {
        use crate::salesforce::sync::live::{LiveRun, Runner};
        let stall = match live_stall_ms {
            None => None,
            Some(ms)
                if ms.is_finite() && ms.fract() == 0.0 && (100.0..=3_600_000.0).contains(&ms) =>
            {
                Some(ms as u64)
            }
            Some(_) => {
                return Err(Error::input(
                    "liveStallMs",
                    "must be a whole number of milliseconds from 100 to 3,600,000",
                ))
            }
        };
        let opts = self.sync_options(type_name, o)?;
        if !live {
            return Ok(Runner::Poll(Box::new(SyncRun::new(
                key.clone(),
                opts,
                &self.cfg.state_secret,
            )?)));
        }
        // A bad checkpoint fails here, before any request, as for a polling run.
        SyncRun::new(key.clone(), opts.clone(), &self.cfg.state_secret)?;
        Ok(Runner::Live(Box::new(LiveRun::new(
            key.clone(),
            opts,
            stall,
        ))))
    }

    pub async fn runner_next(
        &self,
        run: &mut crate::salesforce::sync::live::Runner,
    ) -> Result<Option<Step>> {
        run.next(&self.rest(), &self.describes, &self.cfg.state_secret)
            .await
    }

    fn sync_options(&self, type_name: &str, o: SyncArgs) -> Result<SyncOptions> {
        let mut ty = self.cfg.export_type(type_name)?.clone();
        if let Some(f) = &o.fields {
            ty = f.apply(&ty)?.0;
        }
        let batch = match o.batch_size {
            None => 2000,
            Some(b) if b.is_finite() && b.fract() == 0.0 && (1.0..=2000.0).contains(&b) => b as u32,
            Some(_) => {
                return Err(Error::input(
                    "batchSize",
                    "must be a whole number from 1 to 2000",
                ))
            }
        };
        let lookback_ms = match o.lookback_ms {
            None => crate::salesforce::sync::DEFAULT_LOOKBACK_MS,
            Some(l)
                if l.is_finite()
                    && l >= 0.0
                    && l <= crate::salesforce::sync::MAX_LOOKBACK_MS as f64 =>
            {
                l as i64
            }
            Some(_) => {
                return Err(Error::input(
                    "lookbackMs",
                    "must be from 0 to 86,400,000 (one day)",
                ))
            }
        };
        let engine = match o.engine.as_deref() {
            None => Engine::Auto,
            e => Engine::parse(e)?,
        };
        let formula_refresh = match o.formula_refresh {
            None => None,
            Some(ms)
                if ms.is_finite()
                    && ms.fract() == 0.0
                    && (0.0..=31_622_400_000.0).contains(&ms) =>
            {
                Some(ms as i64)
            }
            Some(_) => {
                return Err(Error::input(
                    "formulaRefresh",
                    "must be a duration in milliseconds, from 0 to a year",
                ))
            }
        };
        if o.checkpoint.as_deref().is_some_and(|c| c.trim().is_empty()) {
            return Err(Error::input(
                "checkpoint",
                "must be a checkpoint string from an earlier sync step",
            ));
        }
        let opts = SyncOptions {
            type_name: type_name.to_string(),
            ty,
            batch,
            lookback_ms,
            engine,
            checkpoint: o.checkpoint,
            verify: o.verify,
            formula_refresh,
        };
        Ok(opts)
    }

    /// A call's `fields` on an `exportAll` / `exportStream` cursor.
    pub fn with_call_fields(mut c: ExportCursor, f: &CallFields) -> Result<ExportCursor> {
        let (ty, check) = f.apply(&c.ty)?;
        c.ty = ty;
        Ok(if check { c.with_checked_fields() } else { c })
    }

    /// The connected user's fields of an export type's object (or of an object named directly),
    /// as forcelink reads them; cached per org like every describe.
    pub async fn describe(&self, key: &ConnKey, type_name: &str) -> Result<Vec<DescribedField>> {
        let object = match self.cfg.export_type(type_name) {
            Ok(t) => t.object.as_str().to_string(),
            Err(_) => type_name.to_string(),
        };
        if crate::salesforce::soql::SObjectName::parse(&object).is_err() {
            return Err(Error::input(
                "type",
                "must be an export type or an sObject name",
            ));
        }
        let d = self.describes.get(&self.rest(), key, &object).await?;
        Ok(d.fields
            .iter()
            .map(|f| DescribedField {
                name: f.name.clone(),
                kind: f.kind.clone(),
                label: f.label.clone(),
                compound_parent: f.compound_field_name.clone(),
                filterable: f.filterable,
                nillable: f.nillable,
                updateable: f.updateable,
                calculated: f.calculated,
                exported: f.skip().is_none(),
            })
            .collect())
    }

    pub async fn sync_next(&self, run: &mut SyncRun) -> Result<Option<Step>> {
        run.next(&self.rest(), &self.describes, &self.cfg.state_secret)
            .await
    }

    /// Aborts a Bulk job (cancel); best effort.
    pub async fn abort_bulk_job(&self, key: &ConnKey, job_id: &str) -> Result<()> {
        crate::salesforce::bulk::BulkState::abort(&self.rest(), key, job_id).await
    }

    /// Creates a record: its new id.
    pub async fn create_record(
        &self,
        key: &ConnKey,
        object: &str,
        fields: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<String> {
        crate::salesforce::write::create(&self.rest(), key, object, fields).await
    }

    pub async fn update_record(
        &self,
        key: &ConnKey,
        object: &str,
        id: &str,
        fields: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<()> {
        crate::salesforce::write::update(&self.rest(), key, object, id, fields).await
    }

    /// Stops background work (retried saves of rotated tokens). In-flight calls finish.
    pub fn shutdown(&self) {
        self.tokens.shutdown();
    }

    /// Waits (bounded by `closeTimeoutMs`) for refreshes in flight and saves what is unsaved;
    /// answers the connections whose rotated token could not be saved.
    pub async fn drain(&self) -> Vec<ConnKey> {
        self.tokens.drain(self.cfg.close_timeout).await
    }

    /// Whether a refresh or an unsaved token exists.
    pub fn busy(&self) -> bool {
        self.tokens.busy()
    }

    /// Closes the store's open resources (the embedded SQLite connection); called by `close()`
    /// once the calls in flight have settled.
    pub async fn close_store(&self) {
        self.tokens.store().close().await;
    }

    /// The latest `Sforce-Limit-Info` seen on any response (the last org seen).
    pub fn limit_info(&self) -> Option<ApiUsage> {
        self.limits.latest()
    }

    /// The latest `Sforce-Limit-Info` of this connection's org: (org id, usage).
    pub fn limit_info_for(&self, key: &ConnKey) -> Option<(String, ApiUsage)> {
        self.limits.for_conn(key)
    }
}

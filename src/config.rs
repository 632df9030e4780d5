//! Configuration as the host writes it (camelCase JSON), validated once at construction so every
//! later call can trust it. A bad field is `CONFIG_INVALID` naming that field.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use url::Url;

use crate::error::{Error, Result};
use crate::salesforce::soql::ExportType;
use crate::secret::{ClientSecret, StateSecret};

pub const DEFAULT_LOGIN_URL: &str = "https://login.salesforce.com";
/// Salesforce's Pub/Sub API endpoint (gRPC), for `sync({ live: true })`.
pub const DEFAULT_PUBSUB_URL: &str = "https://api.pubsub.salesforce.com:7443";
pub const DEFAULT_API_VERSION: &str = "62.0";
pub const DEFAULT_SCOPES: [&str; 4] = ["api", "id", "web", "refresh_token"];

/// The raw shape accepted from JS. Unknown fields are rejected so a typo is caught, not ignored.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawConfig {
    client_id: Option<String>,
    client_secret: Option<String>,
    redirect_uri: Option<String>,
    state_secret: Option<String>,
    login_url: Option<String>,
    pubsub_url: Option<String>,
    api_version: Option<String>,
    scopes: Option<Vec<String>>,
    state_ttl_seconds: Option<f64>,
    http_timeout_ms: Option<f64>,
    allowed_forward_origins: Option<Vec<String>>,
    store_path: Option<String>,
    encryption_key: Option<String>,
    export_types: Option<BTreeMap<String, RawExportType>>,
    max_retries: Option<f64>,
    lease_wait_ms: Option<f64>,
    store_timeout_ms: Option<f64>,
    close_timeout_ms: Option<f64>,
    require_browser_binding: Option<bool>,
    max_cached_connections: Option<f64>,
    token_cache_ttl_ms: Option<f64>,
    jwt_bearer: Option<RawJwtBearer>,
    client_credentials: Option<bool>,
    bulk_threshold: Option<f64>,
    describe_ttl_ms: Option<f64>,
    bulk_deadline_ms: Option<f64>,
    max_concurrent_requests_per_org: Option<f64>,
    api_usage_ceiling: Option<f64>,
    refresh_ahead_ms: Option<f64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawJwtBearer {
    username: String,
    private_key_pem: String,
    audience: Option<String>,
}

/// The server-to-server flow a config enables (at most one), used for `connectionId` connections.
pub enum ServerFlow {
    /// RS256-signed assertions for `username`; no refresh token exists, a new assertion is signed instead.
    JwtBearer {
        username: String,
        key: jsonwebtoken::EncodingKey,
        audience: String,
    },
    /// The connected app's run-as user; needs the My Domain host.
    ClientCredentials,
}

impl std::fmt::Debug for ServerFlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServerFlow::JwtBearer {
                username, audience, ..
            } => f
                .debug_struct("JwtBearer")
                .field("username", username)
                .field("audience", audience)
                .finish_non_exhaustive(),
            ServerFlow::ClientCredentials => f.write_str("ClientCredentials"),
        }
    }
}

/// Salesforce's generic login hosts, where the client credentials grant is refused.
pub fn is_generic_login_host(login: &LoginUrl) -> bool {
    matches!(
        login.as_str(),
        "https://login.salesforce.com" | "https://test.salesforce.com"
    )
}

/// The JWT `aud` Salesforce expects for a login host: production and sandbox login hosts stand for
/// themselves; a My Domain stands for its kind of org; anything else (the simulator) for itself.
fn default_audience(login: &LoginUrl) -> String {
    let s = login.as_str();
    let host = s.split("://").nth(1).unwrap_or(s);
    if host.ends_with(".sandbox.my.salesforce.com") || host == "test.salesforce.com" {
        "https://test.salesforce.com".into()
    } else if host.ends_with(".salesforce.com") {
        "https://login.salesforce.com".into()
    } else {
        s.to_string()
    }
}

/// An export type's `fields`: a list, or `'all'` (resolved from describe per connection).
#[derive(Deserialize)]
#[serde(untagged)]
enum RawFields {
    List(Vec<String>),
    All(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExportType {
    object: String,
    fields: RawFields,
    attributes: Option<bool>,
}

/// A login host: https anywhere, plain http only on loopback (tests, the simulator).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginUrl(String);

impl LoginUrl {
    pub fn parse(field: &str, s: &str) -> Result<Self> {
        let url = Url::parse(s).map_err(|e| Error::config(field, format!("not a URL ({e})")))?;
        let host = url
            .host_str()
            .ok_or_else(|| Error::config(field, "URL has no host"))?;
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(host) => {}
            "http" => {
                return Err(Error::config(
                    field,
                    "plain http is only allowed for loopback hosts",
                ))
            }
            other => return Err(Error::config(field, format!("unsupported scheme {other}"))),
        }
        if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
            return Err(Error::config(
                field,
                "must be a bare origin such as https://login.salesforce.com",
            ));
        }
        if url.path() != "/" && !url.path().is_empty() {
            return Err(Error::config(field, "must not have a path"));
        }
        Ok(Self(url.origin().ascii_serialization()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn join(&self, path: &str) -> String {
        format!("{}{}", self.0, path)
    }
}

pub fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

/// The connected app's callback URL: an absolute http(s) URL, sent as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectUri(String);

impl RedirectUri {
    pub fn parse(field: &str, s: String) -> Result<Self> {
        let url = Url::parse(&s).map_err(|e| Error::config(field, format!("not a URL ({e})")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(Error::config(field, "must be an absolute http(s) URL"));
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A Salesforce REST API version such as `62.0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiVersion(String);

impl ApiVersion {
    pub fn parse(field: &str, s: String) -> Result<Self> {
        let valid = s
            .split_once('.')
            .map(|(maj, min)| {
                !maj.is_empty()
                    && maj.len() <= 3
                    && maj.bytes().all(|b| b.is_ascii_digit())
                    && min == "0"
            })
            .unwrap_or(false);
        if !valid {
            return Err(Error::config(field, "must look like \"62.0\""));
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An origin (`scheme://host[:port]`) that forward URLs may point to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin(String);

impl Origin {
    pub fn parse(field: &str, s: &str) -> Result<Self> {
        let url =
            Url::parse(s).map_err(|e| Error::config(field, format!("not an origin ({e})")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(Error::config(field, "not an http(s) origin"));
        }
        if (url.path() != "/" && !url.path().is_empty())
            || url.query().is_some()
            || url.fragment().is_some()
        {
            return Err(Error::config(field, "must be an origin without a path"));
        }
        Ok(Self(url.origin().ascii_serialization()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub struct Config {
    pub client_id: String,
    pub client_secret: ClientSecret,
    pub redirect_uri: RedirectUri,
    pub state_secret: StateSecret,
    pub login_url: LoginUrl,
    /// The Pub/Sub API origin (https, or http on loopback).
    pub pubsub_url: LoginUrl,
    pub api_version: ApiVersion,
    pub scopes: Vec<String>,
    pub state_ttl: Duration,
    pub http_timeout: Duration,
    pub allowed_forward_origins: Vec<Origin>,
    pub store_path: String,
    pub encryption_key: Option<[u8; 32]>,
    pub export_types: BTreeMap<String, ExportType>,
    pub max_retries: u32,
    pub lease_wait: Duration,
    /// Every TokenStore call settles within this or fails with STORE_ERROR.
    pub store_timeout: Duration,
    /// How long `close()` waits for refreshes in flight and unsaved tokens.
    pub close_timeout: Duration,
    /// Refuse callbacks whose state was issued without a browser binding (`bindBrowser: false`).
    pub require_browser_binding: bool,
    /// The in-memory token cache holds at most this many connections (least recently used go).
    pub max_cached_connections: usize,
    /// A cached connection is re-read from the store at least this often.
    pub token_cache_ttl: Duration,
    pub server_flow: Option<ServerFlow>,
    /// `exportAll({ engine: 'auto' })` switches to Bulk API 2.0 above this many records.
    pub bulk_threshold: u64,
    /// How long an org user's describe is trusted before it is read again (schema drift shows
    /// after at most this long).
    pub describe_ttl: Duration,
    /// How long a Bulk query job may take before it is aborted.
    pub bulk_deadline: Duration,
    /// Requests in flight to one org at once, across every call of the process.
    pub max_concurrent_requests_per_org: u32,
    /// Refuse new exports when the org's last `api-usage` is at or above this share (None = off).
    pub api_usage_ceiling: Option<f64>,
    /// `refreshAheadMs`: a JWT access token is refreshed this long before its `exp`.
    pub refresh_ahead: Duration,
    /// Where events go (the binding sets it; none by default).
    pub events: crate::events::Events,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("redirect_uri", &self.redirect_uri)
            .field("state_secret", &self.state_secret)
            .field("login_url", &self.login_url)
            .field("pubsub_url", &self.pubsub_url)
            .field("api_version", &self.api_version)
            .field("scopes", &self.scopes)
            .field("encryption_key", &self.encryption_key.map(|_| "***"))
            .finish_non_exhaustive()
    }
}

/// The path inside a nested option (`jwtBearer.privateKeyPem`, `exportTypes.x.fields[2]`) that has
/// the wrong type, for a clearer error than the option's name alone.
fn nested_shape(field: &str, v: &serde_json::Value) -> Option<(String, String)> {
    use crate::shape::{check_fields, kind, Want};
    match field {
        "jwtBearer" => check_fields(
            field,
            v,
            &[
                ("username", Want::Str),
                ("privateKeyPem", Want::Str),
                ("audience", Want::OptStr),
            ],
        ),
        "exportTypes" => match v {
            serde_json::Value::Object(types) => types.iter().find_map(|(name, t)| {
                check_fields(
                    &format!("exportTypes.{name}"),
                    t,
                    &[
                        ("object", Want::Str),
                        ("fields", Want::StrArray),
                        ("attributes", Want::OptBool),
                    ],
                )
            }),
            other => Some((
                field.to_string(),
                format!("must be an object, not {}", kind(other)),
            )),
        },
        _ => None,
    }
}

fn required(field: &str, v: Option<String>) -> Result<String> {
    match v {
        Some(s) if !s.trim().is_empty() => Ok(s),
        _ => Err(Error::config(field, "is required")),
    }
}

fn bounded(field: &str, v: Option<f64>, default: f64, min: f64, max: f64) -> Result<f64> {
    match v {
        None => Ok(default),
        Some(n) if n.is_finite() && n.fract() == 0.0 && (min..=max).contains(&n) => Ok(n),
        Some(_) => Err(Error::config(
            field,
            format!("must be a whole number between {min} and {max}"),
        )),
    }
}

fn parse_key(s: &str) -> Result<[u8; 32]> {
    use base64::Engine;
    let bytes = if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        (0..32)
            .map(|i| u8::from_str_radix(&s[i * 2..i * 2 + 2], 16))
            .collect::<Result<Vec<u8>, _>>()
            .map_err(|_| Error::config("encryptionKey", "invalid hex"))?
    } else {
        base64::engine::general_purpose::STANDARD
            .decode(s.trim())
            .map_err(|_| {
                Error::config(
                    "encryptionKey",
                    "must be 32 bytes as 64 hex characters or base64",
                )
            })?
    };
    bytes
        .try_into()
        .map_err(|_| Error::config("encryptionKey", "must decode to exactly 32 bytes"))
}

fn default_export_types() -> BTreeMap<String, ExportType> {
    let def = |object: &str, fields: &[&str]| {
        // The defaults are fixed literals that satisfy the identifier grammar.
        ExportType::new(object, fields)
            .unwrap_or_else(|e| panic!("default export type {object} invalid: {e}"))
    };
    BTreeMap::from([
        (
            "contacts".to_string(),
            def(
                "Contact",
                &[
                    "Name",
                    "Account.Name",
                    "Title",
                    "Phone",
                    "Email",
                    "Owner.Alias",
                ],
            ),
        ),
        (
            "deals".to_string(),
            def(
                "Opportunity",
                &[
                    "Name",
                    "Account.Name",
                    "Amount",
                    "CloseDate",
                    "StageName",
                    "Owner.Alias",
                ],
            ),
        ),
        (
            "notes".to_string(),
            def(
                "Note",
                &[
                    "Body",
                    "IsDeleted",
                    "IsPrivate",
                    "OwnerId",
                    "ParentId",
                    "Title",
                    "Owner.Alias",
                ],
            ),
        ),
    ])
}

impl Config {
    /// Parses and validates the host's configuration JSON.
    pub fn from_json(json: &str) -> Result<Self> {
        let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(json)
            .map_err(|e| Error::config("config", crate::shape::serde_reason(&e.to_string())))?;
        // Decode field by field so a wrong type is reported against the field that has it, by
        // path and expected type only: the value may be a private key or a secret.
        let mut raw = serde_json::Map::new();
        for (k, v) in map {
            if v.is_null() {
                continue;
            }
            let mut one = serde_json::Map::new();
            one.insert(k.clone(), v);
            serde_json::from_value::<RawConfig>(serde_json::Value::Object(one.clone())).map_err(
                |e| {
                    let msg = e.to_string();
                    if msg.starts_with(&format!("unknown field `{k}`")) {
                        return Error::config(k.clone(), "is not a forcelink option");
                    }
                    match nested_shape(&k, &one[&k]) {
                        Some((path, reason)) => Error::config(path, reason),
                        None => Error::config(k.clone(), crate::shape::serde_reason(&msg)),
                    }
                },
            )?;
            raw.extend(one);
        }
        let raw: RawConfig = serde_json::from_value(serde_json::Value::Object(raw))
            .map_err(|e| Error::config("config", crate::shape::serde_reason(&e.to_string())))?;
        Self::from_raw(raw)
    }

    fn from_raw(raw: RawConfig) -> Result<Self> {
        let client_id = required("clientId", raw.client_id)?;
        let client_secret = ClientSecret::new(required("clientSecret", raw.client_secret)?);
        let redirect_uri =
            RedirectUri::parse("redirectUri", required("redirectUri", raw.redirect_uri)?)?;
        let state_secret = required("stateSecret", raw.state_secret)?;
        if state_secret.len() < 32 {
            return Err(Error::config("stateSecret", "must be at least 32 bytes"));
        }
        let login_url = LoginUrl::parse(
            "loginUrl",
            raw.login_url.as_deref().unwrap_or(DEFAULT_LOGIN_URL),
        )?;
        let pubsub_url = LoginUrl::parse(
            "pubsubUrl",
            raw.pubsub_url.as_deref().unwrap_or(DEFAULT_PUBSUB_URL),
        )?;
        let api_version = ApiVersion::parse(
            "apiVersion",
            raw.api_version
                .unwrap_or_else(|| DEFAULT_API_VERSION.to_string()),
        )?;
        let scopes = match raw.scopes {
            None => DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect(),
            Some(s) if s.is_empty() => return Err(Error::config("scopes", "must not be empty")),
            Some(s) => {
                for sc in &s {
                    if sc.is_empty() || !sc.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                    {
                        return Err(Error::config(
                            "scopes",
                            "scope names hold letters, digits and _ only",
                        ));
                    }
                }
                s
            }
        };
        let state_ttl = Duration::from_secs(bounded(
            "stateTtlSeconds",
            raw.state_ttl_seconds,
            3600.0,
            30.0,
            86_400.0,
        )? as u64);
        let http_timeout = Duration::from_millis(bounded(
            "httpTimeoutMs",
            raw.http_timeout_ms,
            30_000.0,
            100.0,
            600_000.0,
        )? as u64);
        let allowed_forward_origins = raw
            .allowed_forward_origins
            .unwrap_or_default()
            .iter()
            .map(|o| Origin::parse("allowedForwardOrigins", o))
            .collect::<Result<Vec<_>>>()?;
        let store_path = raw
            .store_path
            .unwrap_or_else(|| "./forcelink.db".to_string());
        if store_path.trim().is_empty() {
            return Err(Error::config("storePath", "must not be empty"));
        }
        let encryption_key = raw.encryption_key.as_deref().map(parse_key).transpose()?;
        let mut export_types = default_export_types();
        for (name, t) in raw.export_types.unwrap_or_default() {
            let field = format!("exportTypes.{name}");
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                return Err(Error::config(
                    field,
                    "type names may hold letters, digits, _ and - only",
                ));
            }
            let mut et = match &t.fields {
                RawFields::List(list) => {
                    let fields: Vec<&str> = list.iter().map(String::as_str).collect();
                    ExportType::new(&t.object, &fields)
                }
                RawFields::All(s) if s == "all" => ExportType::all_of(&t.object),
                RawFields::All(_) => Err("fields must be an array of strings or 'all'".into()),
            }
            .map_err(|e| Error::config(field, e))?;
            et.attributes = t.attributes.unwrap_or(true);
            export_types.insert(name, et);
        }
        let max_retries = bounded("maxRetries", raw.max_retries, 3.0, 0.0, 10.0)? as u32;
        let store_timeout = Duration::from_millis(bounded(
            "storeTimeoutMs",
            raw.store_timeout_ms,
            10_000.0,
            50.0,
            120_000.0,
        )? as u64);
        let close_timeout = Duration::from_millis(bounded(
            "closeTimeoutMs",
            raw.close_timeout_ms,
            10_000.0,
            0.0,
            600_000.0,
        )? as u64);
        // By default a waiter outlasts a live holder's token request and a crashed holder's lease.
        let default_wait = (crate::token::manager::RENEWED_LEASE_TTL + http_timeout + store_timeout)
            .as_millis()
            .min(120_000) as f64;
        let lease_wait = Duration::from_millis(bounded(
            "leaseWaitMs",
            raw.lease_wait_ms,
            default_wait,
            100.0,
            120_000.0,
        )? as u64);
        let max_cached_connections = bounded(
            "maxCachedConnections",
            raw.max_cached_connections,
            10_000.0,
            1.0,
            10_000_000.0,
        )? as usize;
        let token_cache_ttl = Duration::from_millis(bounded(
            "tokenCacheTtlMs",
            raw.token_cache_ttl_ms,
            60_000.0,
            0.0,
            86_400_000.0,
        )? as u64);
        let server_flow = match (raw.jwt_bearer, raw.client_credentials.unwrap_or(false)) {
            (Some(_), true) => {
                return Err(Error::config(
                    "clientCredentials",
                    "choose one server flow: jwtBearer or clientCredentials",
                ))
            }
            (Some(j), false) => {
                if j.username.trim().is_empty() {
                    return Err(Error::config("jwtBearer.username", "is required"));
                }
                let key = jsonwebtoken::EncodingKey::from_rsa_pem(j.private_key_pem.as_bytes())
                    .map_err(|_| {
                        Error::config(
                            "jwtBearer.privateKeyPem",
                            "must be an RSA private key in PEM form",
                        )
                    })?;
                // Checked here, not at the first grant: ring signs with 2048-8192-bit keys.
                crate::oauth::jwt_crypto::rsa_key_usable(&key).map_err(|why| {
                    Error::config(
                        "jwtBearer.privateKeyPem",
                        format!("is not an RSA key that can sign RS256 ({why}; 2048 to 8192 bits)"),
                    )
                })?;
                let audience = match j.audience {
                    Some(a) => {
                        Origin::parse("jwtBearer.audience", &a)?;
                        a.trim_end_matches('/').to_string()
                    }
                    None => default_audience(&login_url),
                };
                Some(ServerFlow::JwtBearer {
                    username: j.username,
                    key,
                    audience,
                })
            }
            (None, true) => {
                if is_generic_login_host(&login_url) {
                    return Err(Error::config(
                        "loginUrl",
                        "the client credentials flow must use your My Domain URL (https://<MyDomain>.my.salesforce.com); Salesforce refuses it on login.salesforce.com and test.salesforce.com",
                    ));
                }
                Some(ServerFlow::ClientCredentials)
            }
            (None, false) => None,
        };
        let bulk_threshold =
            bounded("bulkThreshold", raw.bulk_threshold, 50_000.0, 0.0, 1e12)? as u64;
        let describe_ttl = Duration::from_millis(bounded(
            "describeTtlMs",
            raw.describe_ttl_ms,
            600_000.0,
            0.0,
            86_400_000.0,
        )? as u64);
        let bulk_deadline = Duration::from_millis(bounded(
            "bulkDeadlineMs",
            raw.bulk_deadline_ms,
            3_600_000.0,
            1_000.0,
            86_400_000.0,
        )? as u64);
        let max_concurrent_requests_per_org = bounded(
            "maxConcurrentRequestsPerOrg",
            raw.max_concurrent_requests_per_org,
            crate::salesforce::governor::DEFAULT_MAX_CONCURRENT as f64,
            1.0,
            100.0,
        )? as u32;
        let api_usage_ceiling = match raw.api_usage_ceiling {
            None => None,
            Some(c) if c.is_finite() && c > 0.0 && c <= 1.0 => Some(c),
            Some(_) => {
                return Err(Error::config(
                    "apiUsageCeiling",
                    "must be a fraction above 0 and at most 1 (0.8 = 80%)",
                ))
            }
        };
        let refresh_ahead = Duration::from_millis(bounded(
            "refreshAheadMs",
            raw.refresh_ahead_ms,
            60_000.0,
            0.0,
            3_600_000.0,
        )? as u64);
        Ok(Self {
            client_id,
            client_secret,
            redirect_uri,
            state_secret: StateSecret::new(state_secret),
            login_url,
            pubsub_url,
            api_version,
            scopes,
            state_ttl,
            http_timeout,
            allowed_forward_origins,
            store_path,
            encryption_key,
            export_types,
            max_retries,
            lease_wait,
            store_timeout,
            close_timeout,
            require_browser_binding: raw.require_browser_binding.unwrap_or(false),
            max_cached_connections,
            token_cache_ttl,
            server_flow,
            bulk_threshold,
            describe_ttl,
            bulk_deadline,
            max_concurrent_requests_per_org,
            api_usage_ceiling,
            refresh_ahead,
            events: Default::default(),
        })
    }

    pub fn export_type(&self, name: &str) -> Result<&ExportType> {
        self.export_types.get(name).ok_or(Error::InvalidType)
    }

    /// `/services/data/vXX.X`
    pub fn data_path(&self) -> String {
        format!("/services/data/v{}", self.api_version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> serde_json::Value {
        serde_json::json!({
            "clientId": "cid", "clientSecret": "csecret", "redirectUri": "http://localhost:3000/cb",
            "stateSecret": "0123456789abcdef0123456789abcdef"
        })
    }

    fn with(k: &str, v: serde_json::Value) -> Result<Config> {
        let mut b = base();
        b[k] = v;
        Config::from_json(&b.to_string())
    }

    fn field_of(r: Result<Config>) -> String {
        match r {
            Err(Error::ConfigInvalid { field, .. }) => field,
            Err(e) => panic!("unexpected error {e}"),
            Ok(_) => panic!("expected CONFIG_INVALID"),
        }
    }

    #[test]
    fn defaults() {
        let c = Config::from_json(&base().to_string()).unwrap();
        assert_eq!(c.login_url.as_str(), "https://login.salesforce.com");
        assert_eq!(c.api_version.as_str(), "62.0");
        assert_eq!(c.scopes, vec!["api", "id", "web", "refresh_token"]);
        assert_eq!(c.state_ttl, Duration::from_secs(3600));
        assert!(c.export_types.contains_key("deals"));
        assert_eq!(c.store_timeout, Duration::from_secs(10));
        assert_eq!(c.max_cached_connections, 10_000);
        assert_eq!(c.token_cache_ttl, Duration::from_secs(60));
        assert_eq!(c.refresh_ahead, Duration::from_secs(60));
        assert!(c.lease_wait > crate::token::manager::RENEWED_LEASE_TTL);
    }

    #[test]
    fn rejects_bad_fields_by_name() {
        assert_eq!(field_of(with("stateSecret", "short".into())), "stateSecret");
        assert_eq!(
            field_of(with("loginUrl", "http://login.salesforce.com".into())),
            "loginUrl"
        );
        assert!(with("loginUrl", "http://127.0.0.1:9999".into()).is_ok());
        assert!(with("loginUrl", "https://acme.my.salesforce.com/".into()).is_ok());
        assert_eq!(field_of(with("apiVersion", "v62".into())), "apiVersion");
        assert_eq!(
            field_of(with("scopes", serde_json::json!(["api", "x y"]))),
            "scopes"
        );
        assert_eq!(
            field_of(with(
                "allowedForwardOrigins",
                serde_json::json!(["https://a.com/path"])
            )),
            "allowedForwardOrigins"
        );
        assert_eq!(
            field_of(with("encryptionKey", "abc".into())),
            "encryptionKey"
        );
        assert_eq!(field_of(with("clientSecrett", "x".into())), "clientSecrett");
        assert_eq!(
            field_of(with("httpTimeoutMs", serde_json::json!(-1))),
            "httpTimeoutMs"
        );
        assert_eq!(
            field_of(with("storeTimeoutMs", serde_json::json!(0))),
            "storeTimeoutMs"
        );
        assert_eq!(
            field_of(with("storeTimeoutMs", serde_json::json!("10"))),
            "storeTimeoutMs"
        );
        assert_eq!(
            field_of(with("maxCachedConnections", serde_json::json!(0))),
            "maxCachedConnections"
        );
        assert_eq!(
            field_of(with("tokenCacheTtlMs", serde_json::json!(1.5))),
            "tokenCacheTtlMs"
        );
        let mut b = base();
        b.as_object_mut().unwrap().remove("clientId");
        assert_eq!(field_of(Config::from_json(&b.to_string())), "clientId");
    }

    #[test]
    fn debug_hides_secrets() {
        let c = Config::from_json(&base().to_string()).unwrap();
        let d = format!("{c:?}");
        assert!(!d.contains("csecret") && !d.contains("0123456789abcdef"));
    }
}

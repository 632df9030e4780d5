//! forcelink-sim: a local fake Salesforce for forcelink's tests, demo and benchmarks.
//!
//! Three HTTP listeners on 127.0.0.1 share one state:
//! - the **login host** (`login_url`): OAuth authorize/token/revoke + `/__sim` control;
//! - the **My Domain host** (`my_domain_url`): the same OAuth endpoints, and the only host
//!   that accepts the client_credentials grant (as on Salesforce);
//! - the **instance host** (`instance_url`, returned as `instance_url` by the token
//!   endpoint): REST `/services/data/...` (query, sObject writes, describe, Bulk API 2.0
//!   query jobs) + `/__sim` control.
//!
//! Wire behaviour follows shared/research/salesforce-api.md. See sim/README.md.

// Handlers return ready-made error `Response`s as their `Err` values; they are cold paths.
#![allow(clippy::result_large_err)]

mod bulk;
mod consent;
mod control;
pub mod data;
mod describe;
mod faults;
mod grants;
mod gzip;
mod http;
mod limits;
mod mutate;
mod oauth;
pub mod overlay;
mod pace;
pub mod plan;
pub mod pubsub;
pub mod query;
mod render;
mod rest;
mod schema;
mod server;
pub mod soql;
mod state;
pub mod time;
mod tokens;
mod writes;

use std::sync::Arc;

use axum::routing::{any, get};
use axum::{Extension, Router};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use grants::Host;
use state::Sim;

#[derive(Clone, Debug)]
pub struct SimConfig {
    pub client_id: String,
    pub client_secret: String,
    /// Registered callback. None = accept any redirect_uri, but token must repeat the
    /// one used at authorize.
    pub redirect_uri: Option<String>,
    /// Refresh-token rotation (also switchable via `/__sim/config`).
    pub rotation: bool,
    /// false = show the HTML consent page.
    pub auto_approve: bool,
    pub contacts: u64,
    pub deals: u64,
    pub notes: u64,
    /// Login host port (0 = random).
    pub port: u16,
    /// Instance host port (0 = random).
    pub instance_port: u16,
    /// My Domain host port (0 = random).
    pub my_domain_port: u16,
    pub seed: u64,
    /// JWT bearer: the connected app's RSA public key or X.509 certificate (PEM).
    /// None = every assertion is rejected.
    pub jwt_public_key_pem: Option<String>,
    /// JWT bearer: usernames pre-authorised for the app (`sub` must be one of them).
    pub jwt_users: Vec<String>,
    /// Server time added to every OAuth and REST answer.
    pub latency_ms: u64,
    /// Extra server time per 1,000 records of a query or Bulk results page.
    pub latency_per_1000_ms: u64,
    /// Time a Bulk query job takes from creation to JobComplete.
    pub bulk_job_ms: u64,
    /// Requests the org serves at once (0 = no cap).
    pub concurrent_limit: u64,
    /// Daily API request allocation (`Sforce-Limit-Info` `api-usage=N/M`).
    pub api_limit: u64,
    /// The second org's `Object.Field`s whose describe says `string` (default `Opportunity.Amount`):
    /// connections made while `/__sim/config {"connectOrg": 2}` belong to that org.
    pub text_fields: Vec<String>,
    /// Pub/Sub API listener port (0 = random).
    pub pubsub_port: u16,
    /// Pub/Sub API over TLS under a throwaway CA (else plaintext HTTP/2).
    pub pubsub_tls: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            client_id: "sim-client-id".into(),
            client_secret: "sim-client-secret".into(),
            redirect_uri: None,
            rotation: false,
            auto_approve: true,
            contacts: 50,
            deals: 20,
            notes: 10,
            port: 0,
            instance_port: 0,
            my_domain_port: 0,
            seed: 42,
            jwt_public_key_pem: None,
            jwt_users: Vec::new(),
            latency_ms: 0,
            latency_per_1000_ms: 0,
            bulk_job_ms: state::DEFAULT_BULK_JOB_MS,
            concurrent_limit: 0,
            api_limit: state::DEFAULT_API_LIMIT,
            text_fields: vec!["Opportunity.Amount".into()],
            pubsub_port: 0,
            pubsub_tls: false,
        }
    }
}

/// A running simulator. Dropping it stops all listeners.
pub struct SimHandle {
    pub login_url: String,
    pub instance_url: String,
    /// The org's My Domain host (OAuth, incl. client_credentials).
    pub my_domain_url: String,
    /// `{login_url}/__sim` (also served on the instance host).
    pub control_url: String,
    /// The Pub/Sub API (gRPC): `http://127.0.0.1:N`, or `https://localhost:N` with TLS.
    pub pubsub_url: String,
    /// With TLS: the throwaway CA's PEM file.
    pub pubsub_ca_path: Option<String>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl SimHandle {
    /// Stops accepting, drops open connections, and waits for the accept loops to end.
    pub async fn shutdown(mut self) {
        self.stop.send_replace(true);
        for t in std::mem::take(&mut self.tasks) {
            let _ = t.await;
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

/// OAuth endpoints, served on both the login and the My Domain host.
fn login_router(sim: Arc<Sim>, host: Host) -> Router {
    Router::new()
        .route("/services/oauth2/authorize", get(oauth::authorize))
        .route(
            "/services/oauth2/authorize/decision",
            axum::routing::post(oauth::decision),
        )
        .route("/services/oauth2/token", axum::routing::post(oauth::token))
        .route("/id/keys", get(oauth::keys))
        .route(
            "/services/oauth2/revoke",
            get(oauth::revoke).post(oauth::revoke),
        )
        .merge(control::router())
        .fallback(|| async { http::not_found() })
        .layer(Extension(host))
        .with_state(sim)
}

fn instance_router(sim: Arc<Sim>) -> Router {
    Router::new()
        .route("/services/data", get(rest::versions))
        .route("/services/data/", get(rest::versions))
        .route("/services/data/{*rest}", any(rest::dispatch))
        .merge(control::router())
        .fallback(|| async { http::not_found() })
        .with_state(sim)
}

/// Binds the three listeners on 127.0.0.1 and starts serving on the current tokio
/// runtime. Fails on a busy port or an unparseable `jwt_public_key_pem`.
pub async fn start(cfg: SimConfig) -> std::io::Result<SimHandle> {
    let login = TcpListener::bind(("127.0.0.1", cfg.port)).await?;
    let instance = TcpListener::bind(("127.0.0.1", cfg.instance_port)).await?;
    let my_domain = TcpListener::bind(("127.0.0.1", cfg.my_domain_port)).await?;
    let pubsub = TcpListener::bind(("127.0.0.1", cfg.pubsub_port)).await?;
    let url = |l: &TcpListener| {
        l.local_addr()
            .map(|a| format!("http://127.0.0.1:{}", a.port()))
    };
    let (login_url, instance_url, my_domain_url) =
        (url(&login)?, url(&instance)?, url(&my_domain)?);
    let sim = Sim::new(
        &cfg,
        login_url.clone(),
        instance_url.clone(),
        my_domain_url.clone(),
    )
    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let sim = Arc::new(sim);
    let (stop, rx) = watch::channel(false);
    let ps = pubsub::serve(sim.clone(), pubsub, cfg.pubsub_tls, rx.clone())?;
    let tasks = vec![
        ps.task,
        server::serve(login, login_router(sim.clone(), Host::Login), rx.clone()),
        server::serve(
            my_domain,
            login_router(sim.clone(), Host::MyDomain),
            rx.clone(),
        ),
        server::serve(instance, instance_router(sim), rx),
    ];
    Ok(SimHandle {
        control_url: format!("{login_url}/__sim"),
        pubsub_url: ps.url,
        pubsub_ca_path: ps.ca_path,
        login_url,
        instance_url,
        my_domain_url,
        stop,
        tasks,
    })
}

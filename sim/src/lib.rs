//! forcelink-sim: a local fake Salesforce for forcelink's tests, demo and benchmarks.
//!
//! Two HTTP listeners on 127.0.0.1 share one state:
//! - the **login host** (`login_url`): OAuth authorize/token/revoke + `/__sim` control;
//! - the **instance host** (`instance_url`, returned as `instance_url` by the token
//!   endpoint): REST `/services/data/...` + `/__sim` control.
//!
//! Wire behaviour follows shared/research/salesforce-api.md.

// Handlers return ready-made error `Response`s as their `Err` values; they are cold paths.
#![allow(clippy::result_large_err)]

mod consent;
mod control;
pub mod data;
mod faults;
mod http;
mod oauth;
pub mod plan;
pub mod query;
mod render;
mod rest;
mod server;
pub mod soql;
mod state;
pub mod time;
mod tokens;

use std::sync::Arc;

use axum::routing::{any, get};
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

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
    pub seed: u64,
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
            seed: 42,
        }
    }
}

/// A running simulator. Dropping it stops both listeners.
pub struct SimHandle {
    pub login_url: String,
    pub instance_url: String,
    /// `{login_url}/__sim` (also served on the instance host).
    pub control_url: String,
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

fn login_router(sim: Arc<Sim>) -> Router {
    Router::new()
        .route("/services/oauth2/authorize", get(oauth::authorize))
        .route("/services/oauth2/authorize/decision", axum::routing::post(oauth::decision))
        .route("/services/oauth2/token", axum::routing::post(oauth::token))
        .route("/services/oauth2/revoke", get(oauth::revoke).post(oauth::revoke))
        .merge(control::router())
        .fallback(|| async { http::not_found() })
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

/// Binds both listeners on 127.0.0.1 and starts serving on the current tokio runtime.
pub async fn start(cfg: SimConfig) -> std::io::Result<SimHandle> {
    let login = TcpListener::bind(("127.0.0.1", cfg.port)).await?;
    let instance = TcpListener::bind(("127.0.0.1", cfg.instance_port)).await?;
    let login_url = format!("http://127.0.0.1:{}", login.local_addr()?.port());
    let instance_url = format!("http://127.0.0.1:{}", instance.local_addr()?.port());
    let sim = Arc::new(Sim::new(&cfg, login_url.clone(), instance_url.clone()));
    let (stop, rx) = watch::channel(false);
    let tasks = vec![
        server::serve(login, login_router(sim.clone()), rx.clone()),
        server::serve(instance, instance_router(sim), rx),
    ];
    Ok(SimHandle { control_url: format!("{login_url}/__sim"), login_url, instance_url, stop, tasks })
}

//! Salesforce's Pub/Sub API (gRPC over HTTP/2) on its own listener: Change Data Capture
//! events for every change the sim makes. Plaintext HTTP/2 on loopback, or TLS under a
//! throwaway CA (`SimConfig::pubsub_tls`) whose PEM path the handle reports.

pub mod avro;
pub mod bus;
mod control;
#[rustfmt::skip]
pub mod proto;
mod service;
mod tls;

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::TcpListenerStream;

pub use bus::Bus;
pub use control::router;

use crate::state::Sim;

/// The listener's URL and, with TLS, the CA certificate's PEM path.
pub struct Listener {
    pub url: String,
    pub ca_path: Option<String>,
    pub task: JoinHandle<()>,
}

/// Serves the Pub/Sub API on `listener` until `stop` turns true.
pub fn serve(
    sim: Arc<Sim>,
    listener: TcpListener,
    tls: bool,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<Listener> {
    let port = listener.local_addr()?.port();
    let mut builder = tonic::transport::Server::builder()
        .http2_keepalive_interval(None)
        .tcp_nodelay(true);
    let (url, ca_path) = if tls {
        let t = tls::throwaway(port)?;
        builder = builder
            .tls_config(
                tonic::transport::ServerTlsConfig::new()
                    .identity(tonic::transport::Identity::from_pem(t.cert_pem, t.key_pem)),
            )
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        (format!("https://localhost:{port}"), Some(t.ca_path))
    } else {
        (format!("http://127.0.0.1:{port}"), None)
    };
    let svc = proto::pub_sub_server::PubSubServer::new(service::Service { sim })
        .max_decoding_message_size(1 << 20);
    let incoming = TcpListenerStream::new(listener);
    let mut stop2 = stop.clone();
    let task = tokio::spawn(async move {
        let stopped = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        let serve = builder
            .add_service(svc)
            .serve_with_incoming_shutdown(incoming, stopped);
        // Open Subscribe streams never finish on their own: past a short grace period the
        // server is dropped with its connections.
        let grace = async move {
            let _ = stop2.wait_for(|s| *s).await;
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        };
        tokio::select! {
            _ = serve => {}
            _ = grace => {}
        }
    });
    Ok(Listener { url, ca_path, task })
}

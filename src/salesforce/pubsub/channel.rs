//! The gRPC connection to the Pub/Sub API: HTTP/2 over rustls with the bundled Mozilla roots,
//! the OS roots and `NODE_EXTRA_CA_CERTS` (plaintext only for `http://` loopback, checked by the
//! config), and the `accesstoken` / `instanceurl` / `tenantid` metadata Salesforce authenticates
//! each call by.

use std::time::Duration;

use tonic::metadata::MetadataValue;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

use super::proto::pub_sub_client::PubSubClient;
use super::proxy::Proxy;
use super::PubSubError;

/// Connecting (TCP + TLS + HTTP/2) takes at most this.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// A unary call (GetTopic, GetSchema) or the Subscribe call's response headers.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest message accepted (Salesforce caps a FetchResponse at about 3 MB).
const MAX_MESSAGE: usize = 8 << 20;

/// Who calls: never printed (the token is a secret).
#[derive(Clone)]
pub struct Credentials {
    pub access_token: String,
    pub instance_url: String,
    pub tenant_id: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_token", &"***")
            .field("instance_url", &self.instance_url)
            .field("tenant_id", &self.tenant_id)
            .finish()
    }
}

impl Credentials {
    /// A request carrying the auth metadata.
    pub fn request<T>(&self, msg: T) -> Result<tonic::Request<T>, PubSubError> {
        let mut req = tonic::Request::new(msg);
        let bad = |what: &str| PubSubError::Refused {
            code: "INVALID_METADATA".into(),
            message: format!("the connection's {what} cannot be sent as gRPC metadata"),
        };
        let m = req.metadata_mut();
        m.insert(
            "accesstoken",
            MetadataValue::try_from(self.access_token.as_str()).map_err(|_| bad("access token"))?,
        );
        m.insert(
            "instanceurl",
            MetadataValue::try_from(self.instance_url.as_str()).map_err(|_| bad("instance URL"))?,
        );
        m.insert(
            "tenantid",
            MetadataValue::try_from(self.tenant_id.as_str()).map_err(|_| bad("org id"))?,
        );
        Ok(req)
    }
}

fn extra_roots() -> Option<Certificate> {
    let path = std::env::var_os("NODE_EXTRA_CA_CERTS")?;
    std::fs::read(path).ok().map(Certificate::from_pem)
}

/// A lazily connected channel to `url` (connects on first use, reconnects after a failure).
pub fn connect(url: &str) -> Result<PubSubClient<Channel>, PubSubError> {
    let bad = |e: String| PubSubError::Refused {
        code: "CONFIG_INVALID".into(),
        message: format!("pubsubUrl: {e}"),
    };
    let mut ep = Endpoint::from_shared(url.to_string())
        .map_err(|e| bad(e.to_string()))?
        .connect_timeout(CONNECT_TIMEOUT)
        // No HTTP/2 keepalive pings: gRPC servers answer pings more frequent than every 5 min
        // with GOAWAY (too_many_pings); TCP keepalives and the stall window find dead ones.
        .tcp_nodelay(true)
        .tcp_keepalive(Some(Duration::from_secs(60)));
    if url.starts_with("https://") {
        // Like Node and the REST client: bundled Mozilla roots, the OS store, NODE_EXTRA_CA_CERTS.
        let mut tls = ClientTlsConfig::new()
            .trust_anchors(webpki_roots::TLS_SERVER_ROOTS.iter().cloned())
            .with_native_roots();
        if let Some(ca) = extra_roots() {
            tls = tls.ca_certificate(ca);
        }
        ep = ep.tls_config(tls).map_err(|e| bad(e.to_string()))?;
    }
    let uri = ep.uri().clone();
    let host = uri.host().unwrap_or("").to_string();
    let channel = match Proxy::for_target(&host, url.starts_with("https://")) {
        None => ep.connect_lazy(),
        Some(proxy) => {
            let connector = tower::service_fn(move |target: tonic::codegen::http::Uri| {
                let proxy = proxy.clone();
                async move {
                    let host = target.host().unwrap_or("").to_string();
                    let port = target.port_u16().unwrap_or(443);
                    let s = proxy.tunnel(&host, port, CONNECT_TIMEOUT).await?;
                    Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(s))
                }
            });
            ep.connect_with_connector_lazy(connector)
        }
    };
    Ok(PubSubClient::new(channel).max_decoding_message_size(MAX_MESSAGE))
}

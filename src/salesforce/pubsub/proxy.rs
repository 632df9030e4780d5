//! Proxies for the gRPC channel, as the REST client has them: `HTTPS_PROXY` / `ALL_PROXY`
//! (`HTTP_PROXY` for a plaintext endpoint), either case, skipped for hosts in `NO_PROXY`; an
//! `http://` proxy is asked for a CONNECT tunnel (Basic auth from its URL's userinfo), and TLS
//! then runs through the tunnel end to end.

use std::time::Duration;

use base64::Engine;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The proxy's answer to CONNECT is read up to this many bytes.
const MAX_REPLY: usize = 16 * 1024;

#[derive(Clone)]
pub struct Proxy {
    host: String,
    port: u16,
    /// `Basic …` credentials: never printed.
    auth: Option<String>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("auth", &self.auth.as_ref().map(|_| "***"))
            .finish()
    }
}

fn env(names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|n| std::env::var(n).ok().filter(|v| !v.trim().is_empty()))
}

/// Whether `NO_PROXY` (a comma list of hosts, `.suffix`es, or `*`) covers `host`.
pub fn bypassed(no_proxy: &str, host: &str) -> bool {
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    no_proxy.split(',').map(str::trim).any(|e| {
        let e = e.to_ascii_lowercase();
        let e = e.split(':').next().unwrap_or("").trim_start_matches("*.");
        e == "*"
            || (!e.is_empty()
                && (host == e.trim_start_matches('.')
                    || host.ends_with(&format!(".{}", e.trim_start_matches('.')))))
    })
}

impl Proxy {
    /// The proxy to reach `host` through, if any.
    pub fn for_target(host: &str, https: bool) -> Option<Proxy> {
        if env(&["NO_PROXY", "no_proxy"]).is_some_and(|n| bypassed(&n, host)) {
            return None;
        }
        let raw = if https {
            env(&["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"])
        } else {
            env(&["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"])
        }?;
        let with_scheme = if raw.contains("://") {
            raw
        } else {
            format!("http://{raw}")
        };
        let url = url::Url::parse(&with_scheme).ok()?;
        if url.scheme() != "http" {
            return None;
        }
        let auth = (!url.username().is_empty()).then(|| {
            let user = percent_decode(url.username());
            let pass = percent_decode(url.password().unwrap_or(""));
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
            )
        });
        Some(Proxy {
            host: url.host_str()?.to_string(),
            port: url.port().unwrap_or(80),
            auth,
        })
    }

    /// A TCP stream to `host:port` through the proxy's CONNECT tunnel.
    pub async fn tunnel(
        &self,
        host: &str,
        port: u16,
        timeout: Duration,
    ) -> std::io::Result<TcpStream> {
        tokio::time::timeout(timeout, self.open(host, port))
            .await
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::TimedOut, "proxy CONNECT timed out")
            })?
    }

    async fn open(&self, host: &str, port: u16) -> std::io::Result<TcpStream> {
        let mut s = TcpStream::connect((self.host.as_str(), self.port)).await?;
        s.set_nodelay(true)?;
        let mut req = format!("CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n");
        if let Some(a) = &self.auth {
            req.push_str(&format!("Proxy-Authorization: {a}\r\n"));
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes()).await?;
        let mut reply = Vec::with_capacity(256);
        let mut byte = [0u8; 1];
        // Byte by byte: nothing past the reply's blank line may be consumed (TLS follows).
        while !reply.ends_with(b"\r\n\r\n") {
            if reply.len() >= MAX_REPLY || s.read(&mut byte).await? == 0 {
                return Err(std::io::Error::other("the proxy closed the CONNECT tunnel"));
            }
            reply.push(byte[0]);
        }
        let status = String::from_utf8_lossy(&reply);
        let code = status.split_whitespace().nth(1).unwrap_or("");
        if code != "200" {
            return Err(std::io::Error::other(format!(
                "the proxy refused CONNECT (HTTP {code})"
            )));
        }
        Ok(s)
    }
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_proxy_matching() {
        assert!(bypassed("*", "api.pubsub.salesforce.com"));
        assert!(bypassed("salesforce.com", "api.pubsub.salesforce.com"));
        assert!(bypassed(".salesforce.com", "api.pubsub.salesforce.com"));
        assert!(bypassed(
            "a.example, api.pubsub.salesforce.com:7443",
            "api.pubsub.salesforce.com"
        ));
        assert!(!bypassed("force.com", "api.pubsub.salesforce.com"));
        assert!(!bypassed("", "api.pubsub.salesforce.com"));
    }

    #[test]
    fn credentials_are_not_printed() {
        let p = Proxy {
            host: "proxy".into(),
            port: 3128,
            auth: Some("Basic c2VjcmV0".into()),
        };
        assert!(!format!("{p:?}").contains("c2VjcmV0"));
    }
}

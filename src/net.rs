//! The shared HTTP client and the one retry policy every outside call uses: a bounded number of
//! attempts with jittered exponential backoff, and only for failures that are safe to repeat.

use std::time::Duration;

use rand::Rng;

use crate::error::Error;

/// The HTTP client. TLS trusts, like Node: the bundled Mozilla roots, the operating system's store
/// (corporate roots installed there), and the PEM file named by `NODE_EXTRA_CA_CERTS`.
/// `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY` and `NO_PROXY` (either case) are honoured by reqwest's
/// system proxy support, read when the client is built.
pub fn client(timeout: Duration) -> Result<reqwest::Client, Error> {
    let mut builder = reqwest::Client::builder();
    for cert in extra_ca_certs() {
        builder = builder.add_root_certificate(cert);
    }
    builder
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .pool_idle_timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(64)
        .tcp_nodelay(true)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("forcelink/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Error::Internal(format!("could not build HTTP client: {e}")))
}

/// The certificates in `NODE_EXTRA_CA_CERTS`. As in Node, a file that cannot be read or parsed is
/// reported once on stderr and otherwise ignored: the default roots still apply.
fn extra_ca_certs() -> Vec<reqwest::Certificate> {
    let Some(path) = std::env::var_os("NODE_EXTRA_CA_CERTS").filter(|p| !p.is_empty()) else {
        return Vec::new();
    };
    let loaded = std::fs::read(&path)
        .map_err(|e| e.to_string())
        .and_then(|pem| reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| e.to_string()))
        .and_then(|certs| {
            if certs.is_empty() {
                Err("no certificate found".into())
            } else {
                Ok(certs)
            }
        });
    match loaded {
        Ok(certs) => certs,
        Err(e) => {
            static WARNED: std::sync::Once = std::sync::Once::new();
            WARNED.call_once(|| {
                eprintln!(
                    "forcelink: ignoring extra certs from NODE_EXTRA_CA_CERTS ({}): {e}",
                    path.to_string_lossy()
                )
            });
            Vec::new()
        }
    }
}

/// Backoff before retry `attempt` (1-based): full jitter over 100 ms · 2^(attempt-1), capped at 2 s.
pub fn backoff(attempt: u32) -> Duration {
    let cap = (100u64 << attempt.saturating_sub(1).min(5)).min(2_000);
    Duration::from_millis(rand::rng().random_range(cap / 2..=cap))
}

/// Whether a transport error happened before the request could reach the server, so that even a
/// non-idempotent request (a code exchange, a rotating refresh) may be sent again.
pub fn never_sent(e: &reqwest::Error) -> bool {
    e.is_connect()
}

/// Describes a transport error without its URL (which may carry a query) or any body.
pub fn describe(e: reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "connection failed while reading the response"
    } else {
        "connection failed"
    };
    let detail = e.without_url().to_string();
    format!("{kind} ({detail})")
}

/// How long a request that outlived its deadline is still polled: long enough for an answer that
/// already arrived while the process was stalled (GC pause, event-loop stall, SIGSTOP) to be read.
const STALL_GRACE: std::time::Duration = std::time::Duration::from_millis(250);
/// The per-request reqwest timeout where `until` enforces the bound itself: only a backstop.
pub const BACKSTOP: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Runs `fut` until `deadline`. Past it the future gets a short grace before it is dropped: an
/// answer Salesforce already sent (a rotated token) is read rather than reported as a timeout just
/// because this process was stopped while it arrived. `None` when it did not complete.
pub async fn until<F: std::future::Future>(
    deadline: tokio::time::Instant,
    fut: F,
) -> Option<F::Output> {
    tokio::pin!(fut);
    match tokio::time::timeout_at(deadline, &mut fut).await {
        Ok(v) => Some(v),
        Err(_) => tokio::time::timeout(STALL_GRACE, &mut fut).await.ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_bounded() {
        for a in 1..20 {
            let d = backoff(a);
            assert!(d <= Duration::from_millis(2000) && d >= Duration::from_millis(50));
        }
    }
}

//! Salesforce's OAuth endpoints on the login host: code exchange, refresh and revoke.

use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use crate::config::Config;
use crate::error::{Error, OAuthErrorCode, Result};
use crate::net;
use crate::oauth::pkce::Verifier;
use crate::secret::{AccessToken, AuthCode, RefreshToken};
use crate::token::record::ConnKey;

/// The token endpoint's success body (fields per salesforce-api.md §1.2; no `expires_in` exists).
#[derive(Deserialize)]
pub struct TokenResponse {
    pub access_token: AccessToken,
    pub refresh_token: Option<RefreshToken>,
    pub instance_url: Option<String>,
    pub id: Option<String>,
    pub issued_at: Option<String>,
    pub scope: Option<String>,
    pub signature: Option<String>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("instance_url", &self.instance_url)
            .field("id", &self.id)
            .field("issued_at", &self.issued_at)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct OAuthErrorBody {
    error: OAuthErrorCode,
    #[serde(default)]
    error_description: String,
}

pub struct OAuthClient<'a> {
    pub cfg: &'a Config,
    pub http: &'a reqwest::Client,
    /// The connection (and its org, when known) the requests are for: named in `retry` events.
    pub who: Option<(&'a ConnKey, Option<&'a str>)>,
    /// Asked before every attempt; `false` stops the request unsent (a lease that could not be
    /// renewed: the token must not be presented).
    pub before_send: Option<&'a SendGuard>,
}

/// A check run before each attempt of a request (see `OAuthClient::guarded`).
pub type SendGuard =
    dyn Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send>> + Send + Sync;

impl<'a> OAuthClient<'a> {
    pub fn new(cfg: &'a Config, http: &'a reqwest::Client) -> Self {
        Self {
            cfg,
            http,
            who: None,
            before_send: None,
        }
    }

    /// Runs `guard` before each attempt; when it answers `false` nothing is sent.
    pub fn guarded(mut self, guard: &'a SendGuard) -> Self {
        self.before_send = Some(guard);
        self
    }

    /// Names the connection these requests are for, so their retries are reported.
    pub fn for_conn(mut self, key: &'a ConnKey, org: Option<&'a str>) -> Self {
        self.who = Some((key, org));
        self
    }

    pub async fn exchange_code(
        &self,
        code: &AuthCode,
        verifier: &Verifier,
    ) -> Result<TokenResponse> {
        let form = [
            ("grant_type", "authorization_code"),
            ("client_id", self.cfg.client_id.as_str()),
            ("client_secret", self.cfg.client_secret.expose()),
            ("redirect_uri", self.cfg.redirect_uri.as_str()),
            ("code", code.expose()),
            ("code_verifier", verifier.expose()),
        ];
        self.token_request(&form).await
    }

    pub async fn refresh(&self, refresh_token: &RefreshToken) -> Result<TokenResponse> {
        let tr = self.refresh_unverified(refresh_token).await?;
        self.verify(&tr)?;
        Ok(tr)
    }

    /// A refresh-token grant whose answer is not checked yet: with rotation the token sent is
    /// retired once Salesforce accepted it, so the caller saves the answer before `verify`.
    pub async fn refresh_unverified(&self, refresh_token: &RefreshToken) -> Result<TokenResponse> {
        let form = [
            ("grant_type", "refresh_token"),
            ("client_id", self.cfg.client_id.as_str()),
            ("client_secret", self.cfg.client_secret.expose()),
            ("refresh_token", refresh_token.expose()),
        ];
        self.token_request_unverified(&form).await
    }

    /// Checks a token response's signature (see `check_signature`).
    pub fn verify(&self, tr: &TokenResponse) -> Result<()> {
        self.check_signature(tr)
    }

    /// Mints a token with the configured server-to-server grant.
    pub async fn server_grant(&self) -> Result<TokenResponse> {
        let form = crate::oauth::server::grant_form(self.cfg)?;
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.token_request(&pairs)
            .await
            .map_err(crate::oauth::server::explain)
    }

    /// Revokes a refresh token (and with it its access tokens). `Ok(false)` when Salesforce says
    /// the token is already invalid.
    pub async fn revoke(&self, token: &RefreshToken) -> Result<bool> {
        let url = self.cfg.login_url.join("/services/oauth2/revoke");
        let resp = self.send(&url, &[("token", token.expose())]).await?;
        let status = resp.status().as_u16();
        if status == 200 {
            return Ok(true);
        }
        let body = resp.text().await.unwrap_or_default();
        match serde_json::from_str::<OAuthErrorBody>(&body) {
            Ok(e) if e.error == OAuthErrorCode::InvalidToken => Ok(false),
            Ok(e) => Err(Error::OAuth {
                error: e.error,
                description: e.error_description,
            }),
            Err(_) => Err(Error::Unavailable(format!("revoke answered HTTP {status}"))),
        }
    }

    async fn token_request(&self, form: &[(&str, &str)]) -> Result<TokenResponse> {
        let tr = self.token_request_unverified(form).await?;
        self.check_signature(&tr)?;
        Ok(tr)
    }

    async fn token_request_unverified(&self, form: &[(&str, &str)]) -> Result<TokenResponse> {
        let url = self.cfg.login_url.join("/services/oauth2/token");
        let resp = self.send(&url, form).await?;
        let status = resp.status().as_u16();
        let deadline = tokio::time::Instant::now() + self.cfg.http_timeout;
        let body = net::until(deadline, resp.bytes())
            .await
            .ok_or_else(|| self.timed_out())?
            .map_err(|e| Error::Unavailable(net::describe(e)))?;
        if status == 200 {
            let tr: TokenResponse = serde_json::from_slice(&body).map_err(|_| {
                Error::Unavailable("the token endpoint answered with an unreadable body".into())
            })?;
            return Ok(tr);
        }
        match serde_json::from_slice::<OAuthErrorBody>(&body) {
            Ok(e) => Err(Error::OAuth {
                error: e.error,
                description: e.error_description,
            }),
            Err(_) => Err(Error::Unavailable(format!(
                "the token endpoint answered HTTP {status}"
            ))),
        }
    }

    /// Salesforce signs `id + issued_at` with the client secret; a mismatch means the response was
    /// not issued for this connected app.
    fn check_signature(&self, tr: &TokenResponse) -> Result<()> {
        let (Some(sig), Some(id), Some(issued_at)) = (&tr.signature, &tr.id, &tr.issued_at) else {
            return Ok(());
        };
        use base64::Engine;
        let Ok(sig) = base64::engine::general_purpose::STANDARD.decode(sig) else {
            return Err(Error::OAuth {
                error: OAuthErrorCode::InvalidSignature,
                description: "token response signature is not base64".into(),
            });
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(self.cfg.client_secret.expose().as_bytes())
            .map_err(|_| Error::Internal("HMAC key".into()))?;
        mac.update(id.as_bytes());
        mac.update(issued_at.as_bytes());
        mac.verify_slice(&sig).map_err(|_| Error::OAuth {
            error: OAuthErrorCode::InvalidSignature,
            description: "token response signature does not match the client secret".into(),
        })
    }

    /// POSTs a form with the retry policy for non-idempotent calls: a retry only when the request
    /// never reached Salesforce, or Salesforce answered 503 (it did not process it).
    async fn send(&self, url: &str, form: &[(&str, &str)]) -> Result<reqwest::Response> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let last = attempt > self.cfg.max_retries;
            if let Some(guard) = self.before_send {
                if !guard().await {
                    return Err(Error::Unavailable(
                        "the refresh lease could not be renewed; the refresh token was not sent"
                            .into(),
                    ));
                }
            }
            // The bound is enforced by `until` (stall-tolerant), not by reqwest's own timeout.
            let request = self
                .http
                .post(url)
                .header("Accept", "application/json")
                .form(form)
                .timeout(net::BACKSTOP)
                .send();
            let deadline = tokio::time::Instant::now() + self.cfg.http_timeout;
            let Some(sent) = net::until(deadline, request).await else {
                return Err(self.timed_out());
            };
            match sent {
                Ok(r) if r.status().as_u16() == 503 && !last => {
                    self.pause(attempt, Some(503), "503 from the OAuth endpoint")
                        .await
                }
                Ok(r) if r.status().as_u16() == 503 => {
                    return Err(Error::Unavailable("the OAuth endpoint answered 503".into()))
                }
                Ok(r) => return Ok(r),
                Err(e) if net::never_sent(&e) && !last => {
                    self.pause(
                        attempt,
                        None,
                        "the request did not reach the OAuth endpoint",
                    )
                    .await
                }
                Err(e) => return Err(Error::Unavailable(net::describe(e))),
            }
        }
    }

    fn timed_out(&self) -> Error {
        Error::Unavailable(format!(
            "timed out: the OAuth endpoint did not answer within {} ms (httpTimeoutMs)",
            self.cfg.http_timeout.as_millis()
        ))
    }

    /// Sleeps the retry backoff, telling the host first (as REST retries do).
    async fn pause(&self, attempt: u32, status: Option<u16>, reason: &str) {
        self.cfg
            .events
            .retry_pause(self.who, attempt, status, reason)
            .await;
    }
}

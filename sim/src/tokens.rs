//! Authorization codes and token families ("connections").
//!
//! Each successful code exchange opens a connection: one user, one scope, zero or one
//! live refresh token, any number of access tokens. Refreshing adds access tokens to the
//! family; with rotation the refresh token is replaced and the old one is remembered as
//! rotated-out, so its reuse can revoke the whole family (Salesforce's documented
//! rotation behaviour).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use rand::Rng;

use crate::data::{self, Obj, ORG_ID15};

pub const CODE_TTL: Duration = Duration::from_secs(15 * 60);
/// Connection users get Ids past the User table so each connection is distinguishable.
pub const CONN_USER_BASE: u64 = 1000;

const TOKEN_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._";

/// `n` random token characters, guaranteed to contain both `.` and `_` (real Salesforce
/// codes and tokens do, and clients must URL-encode them correctly).
fn random_chars(n: usize) -> String {
    let mut rng = rand::rng();
    let mut v: Vec<u8> = (0..n)
        .map(|_| TOKEN_CHARS[rng.random_range(0..TOKEN_CHARS.len())])
        .collect();
    if n >= 4 {
        let a = rng.random_range(1..n / 2);
        let b = rng.random_range(n / 2..n - 1);
        v[a] = b'.';
        v[b] = b'_';
    }
    String::from_utf8(v).unwrap_or_default()
}

/// e.g. `aPrxshT49Bthl.zIhcGw5_DiH5uFl…==`
pub fn new_code() -> String {
    format!("aPrx{}==", random_chars(76))
}
/// e.g. `00D5g000004XYZa!AQ…`
pub fn new_access_token() -> String {
    format!("{ORG_ID15}!AQ{}", random_chars(100))
}
/// e.g. `5Aep861…==`
pub fn new_refresh_token() -> String {
    format!("5Aep861{}==", random_chars(80))
}

#[derive(Clone, Debug)]
pub struct Code {
    pub client_id: String,
    pub redirect_uri: String,
    pub challenge: Option<String>,
    pub scope: String,
    issued: Instant,
    used: bool,
}

pub enum CodeState {
    Unknown,
    /// Used before, or older than 15 minutes.
    Expired,
    Valid(Code),
}

/// The second org's id (connections made while `next_org` is 1 belong to it).
pub const ORG2_ID: &str = "00D5g00000ORG2BEAA";

pub fn org_id(org: usize) -> &'static str {
    if org == 1 {
        ORG2_ID
    } else {
        data::ORG_ID
    }
}

#[derive(Debug)]
struct Conn {
    /// 0: the main org; 1: the second org (different describe).
    org: usize,
    user_idx: u64,
    /// Grant that opened the family, e.g. "authorization_code", "jwt_bearer".
    grant: &'static str,
    /// JWT `sub` (the Salesforce username) for jwt_bearer families.
    subject: Option<String>,
    scope: String,
    /// Created without a client secret (PKCE public client): may refresh without one.
    public: bool,
    refresh: Option<String>,
    access: HashSet<String>,
    /// Virtual ms of the family's last grant (refresh-token idle lifetime).
    last_grant_ms: i64,
}

/// Why the org refuses every refresh grant for now (`/__sim/refuse-refresh`): each is answered
/// with the `error` / `error_description` Salesforce uses for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    UserInactive,
    OrgInactive,
    IpRestricted,
    LoginHours,
    AppBlocked,
}

impl Refusal {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "user_inactive" => Self::UserInactive,
            "org_inactive" => Self::OrgInactive,
            "ip_restricted" => Self::IpRestricted,
            "login_hours" => Self::LoginHours,
            "app_blocked" => Self::AppBlocked,
            _ => return None,
        })
    }

    /// `(error, error_description)`.
    pub fn answer(self) -> (&'static str, &'static str) {
        match self {
            Self::UserInactive => ("invalid_grant", "inactive user"),
            Self::OrgInactive => ("inactive_org", "inactive organization"),
            Self::IpRestricted => ("invalid_grant", "ip restricted"),
            Self::LoginHours => ("invalid_grant", "login hours restricted"),
            Self::AppBlocked => (
                "invalid_app_access",
                "user is not admin approved to access this app",
            ),
        }
    }
}

/// Signs JWT-based access tokens (RS256), published at `/id/keys`.
pub struct AccessSigner {
    pub key: jsonwebtoken::EncodingKey,
    pub kid: String,
    /// The public key as a JWK (`kty`, `n`, `e`), as the host handed it.
    pub jwk: serde_json::Value,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Refresh {
    Current(usize),
    RotatedOut(usize),
    Revoked,
}

/// Tokens handed out by a grant.
pub struct Issued {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub user_id: String,
    pub scope: String,
    pub org: usize,
}

pub enum RefreshError {
    Invalid,
    SecretRequired,
    Refused(Refusal),
}

#[derive(Default)]
pub struct Store {
    codes: HashMap<String, Code>,
    conns: Vec<Conn>,
    access: HashMap<String, usize>,
    refresh: HashMap<String, Refresh>,
    /// Access tokens older than this are refused (None: they live until expired by hand).
    pub access_ttl: Option<Duration>,
    /// The org new connections are opened in (0 or 1).
    pub next_org: usize,
    /// Virtual ms each access token was issued at.
    born: HashMap<String, i64>,
    reuse: ReuseLog,
    /// Added to the real clock for every token lifetime (`/__sim/clock`).
    pub clock_offset_ms: i64,
    /// A family's refresh token dies once unused this long (None: never).
    pub refresh_idle_ttl_ms: Option<i64>,
    pub refusal: Option<Refusal>,
    /// Some: access tokens are RS256 JWTs with `exp`.
    pub signer: Option<AccessSigner>,
    /// A signing key given while JWT access tokens are off (kept for when they are turned on).
    pub pending_signer: Option<AccessSigner>,
    /// Issuer of JWT access tokens (the login URL).
    pub issuer: String,
}

/// A JWT access token lives this long when no `accessTokenTtlMs` is set (Salesforce's default
/// session timeout is 2 hours).
const DEFAULT_JWT_TTL_MS: i64 = 2 * 3_600_000;

/// Evidence for telling an unavoidable loss from a bug when a rotated-out refresh token is
/// replayed: was its successor ever seen again (presented, or its access token used)? A successor
/// never seen means whoever received it never committed it (e.g. was killed first).
#[derive(Default)]
struct ReuseLog {
    /// rotated-out refresh token -> (its successor, when the successor was issued, ms since epoch)
    successor: HashMap<String, (String, u64)>,
    /// access token -> the refresh token issued with it
    generation: HashMap<String, String>,
    seen: HashSet<String>,
    events: Vec<serde_json::Value>,
}

fn epoch_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Store {
    pub fn with_issuer(issuer: String) -> Self {
        Self {
            issuer,
            ..Self::default()
        }
    }

    /// The simulated org's clock: real time plus the virtual offset.
    pub fn now_ms(&self) -> i64 {
        crate::time::now_ms() + self.clock_offset_ms
    }

    fn ttl_ms(&self) -> Option<i64> {
        self.access_ttl.map(|d| d.as_millis() as i64)
    }

    /// A new access token: opaque, or a signed JWT whose `exp` is its end of life.
    fn mint_access(&self, user_idx: u64, org: usize, scope: &str) -> String {
        let Some(signer) = &self.signer else {
            return new_access_token();
        };
        let now = self.now_ms();
        let exp = now + self.ttl_ms().unwrap_or(DEFAULT_JWT_TTL_MS);
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some(signer.kid.clone());
        let claims = serde_json::json!({
            "iss": self.issuer,
            "sub": data::id_string(Obj::User, user_idx),
            "aud": "https://login.salesforce.com",
            "scp": scope.split(' ').collect::<Vec<_>>(),
            "iat": now / 1000,
            "exp": exp / 1000,
            "jti": URL_SAFE_NO_PAD.encode(random_chars(24)),
            "org": org_id(org),
        });
        jsonwebtoken::encode(&header, &claims, &signer.key).unwrap_or_else(|_| new_access_token())
    }

    pub fn issue_code(
        &mut self,
        client_id: &str,
        redirect_uri: &str,
        challenge: Option<&str>,
        scope: &str,
    ) -> String {
        if self.codes.len() > 10_000 {
            self.codes
                .retain(|_, c| !c.used && c.issued.elapsed() < CODE_TTL);
        }
        let code = new_code();
        self.codes.insert(
            code.clone(),
            Code {
                client_id: client_id.into(),
                redirect_uri: redirect_uri.into(),
                challenge: challenge.map(Into::into),
                scope: scope.into(),
                issued: Instant::now(),
                used: false,
            },
        );
        code
    }

    pub fn code_state(&self, code: &str) -> CodeState {
        match self.codes.get(code) {
            None => CodeState::Unknown,
            Some(c) if c.used || c.issued.elapsed() >= CODE_TTL => CodeState::Expired,
            Some(c) => CodeState::Valid(c.clone()),
        }
    }

    pub fn consume_code(&mut self, code: &str) {
        if let Some(c) = self.codes.get_mut(code) {
            c.used = true;
        }
    }

    /// Opens a connection (token family) for a successful code exchange.
    pub fn open(&mut self, scope: &str, public: bool, with_refresh: bool) -> Issued {
        self.open_family("authorization_code", None, scope, public, with_refresh)
    }

    /// Opens a family for a server-to-server grant: never a refresh token.
    pub fn open_s2s(&mut self, grant: &'static str, scope: &str, subject: Option<&str>) -> Issued {
        self.open_family(grant, subject, scope, false, false)
    }

    fn open_family(
        &mut self,
        grant: &'static str,
        subject: Option<&str>,
        scope: &str,
        public: bool,
        with_refresh: bool,
    ) -> Issued {
        let id = self.conns.len();
        let user_idx = CONN_USER_BASE + id as u64;
        let access = self.mint_access(user_idx, self.next_org, scope);
        let refresh = with_refresh.then(new_refresh_token);
        self.access.insert(access.clone(), id);
        self.born.insert(access.clone(), self.now_ms());
        if let Some(rt) = &refresh {
            self.refresh.insert(rt.clone(), Refresh::Current(id));
        }
        self.conns.push(Conn {
            org: self.next_org,
            user_idx,
            grant,
            subject: subject.map(String::from),
            scope: scope.into(),
            public,
            refresh: refresh.clone(),
            access: HashSet::from([access.clone()]),
            last_grant_ms: self.now_ms(),
        });
        Issued {
            access_token: access,
            refresh_token: refresh,
            user_id: data::id_string(Obj::User, user_idx),
            scope: scope.into(),
            org: self.next_org,
        }
    }

    pub fn refresh(
        &mut self,
        token: &str,
        rotate: bool,
        secret_given: bool,
    ) -> Result<Issued, RefreshError> {
        let id = match self.refresh.get(token).copied() {
            Some(Refresh::Current(id)) => id,
            Some(Refresh::RotatedOut(id)) => {
                // Replay of a rotated-out token: assume theft, kill the family.
                let (successor, issued) =
                    self.reuse.successor.get(token).cloned().unwrap_or_default();
                let successor_seen = self.reuse.seen.contains(&successor);
                let user = self
                    .conns
                    .get(id)
                    .map(|c| data::id_string(Obj::User, c.user_idx))
                    .unwrap_or_default();
                self.reuse.events.push(serde_json::json!({
                    "atMs": epoch_ms(), "userId": user, "successorIssuedAtMs": issued, "successorSeen": successor_seen,
                }));
                self.revoke_family(id);
                return Err(RefreshError::Invalid);
            }
            _ => return Err(RefreshError::Invalid),
        };
        let now = self.now_ms();
        let Some(conn) = self.conns.get(id) else {
            return Err(RefreshError::Invalid);
        };
        if !secret_given && !conn.public {
            return Err(RefreshError::SecretRequired);
        }
        if let Some(r) = self.refusal {
            return Err(RefreshError::Refused(r));
        }
        // Refresh-token idle lifetime: unused too long, the grant is gone for good.
        if self
            .refresh_idle_ttl_ms
            .is_some_and(|ttl| now - conn.last_grant_ms >= ttl)
        {
            self.revoke_family(id);
            return Err(RefreshError::Invalid);
        }
        let (user_idx, org, scope) = (conn.user_idx, conn.org, conn.scope.clone());
        let access = self.mint_access(user_idx, org, &scope);
        let Some(conn) = self.conns.get_mut(id) else {
            return Err(RefreshError::Invalid);
        };
        conn.last_grant_ms = now;
        self.reuse.seen.insert(token.to_string());
        conn.access.insert(access.clone());
        self.access.insert(access.clone(), id);
        self.born.insert(access.clone(), now);
        let new_rt = if rotate {
            let rt = new_refresh_token();
            conn.refresh = Some(rt.clone());
            self.refresh
                .insert(token.to_string(), Refresh::RotatedOut(id));
            self.refresh.insert(rt.clone(), Refresh::Current(id));
            self.reuse
                .successor
                .insert(token.to_string(), (rt.clone(), epoch_ms()));
            self.reuse.generation.insert(access.clone(), rt.clone());
            Some(rt)
        } else {
            None
        };
        Ok(Issued {
            access_token: access,
            refresh_token: new_rt,
            user_id: data::id_string(Obj::User, conn.user_idx),
            scope: conn.scope.clone(),
            org: conn.org,
        })
    }

    fn revoke_family(&mut self, id: usize) {
        let Some(conn) = self.conns.get_mut(id) else {
            return;
        };
        for t in conn.access.drain() {
            self.access.remove(&t);
            self.born.remove(&t);
        }
        if let Some(rt) = conn.refresh.take() {
            self.refresh.insert(rt, Refresh::Revoked);
        }
    }

    /// `/services/oauth2/revoke`: an access token alone, or a refresh token with its family.
    pub fn revoke(&mut self, token: &str) -> bool {
        if let Some(id) = self.access.remove(token) {
            if let Some(c) = self.conns.get_mut(id) {
                c.access.remove(token);
            }
            return true;
        }
        if let Some(Refresh::Current(id)) = self.refresh.get(token).copied() {
            self.revoke_family(id);
            return true;
        }
        false
    }

    /// User index of the connection owning a live access token.
    pub fn session_user(&mut self, token: &str) -> Option<u64> {
        let id = *self.access.get(token)?;
        let ttl = match (self.ttl_ms(), self.signer.is_some()) {
            (Some(t), _) => Some(t),
            (None, true) => Some(DEFAULT_JWT_TTL_MS),
            (None, false) => None,
        };
        if let (Some(ttl), Some(born)) = (ttl, self.born.get(token)) {
            if self.now_ms() - born >= ttl {
                self.revoke_access_only(token);
                return None;
            }
        }
        if let Some(rt) = self.reuse.generation.get(token) {
            self.reuse.seen.insert(rt.clone());
        }
        self.conns.get(id).map(|c| c.user_idx)
    }

    /// The org (0 or 1) of the connection owning a live access token.
    pub fn session_org(&self, token: &str) -> usize {
        self.access
            .get(token)
            .and_then(|id| self.conns.get(*id))
            .map(|c| c.org)
            .unwrap_or(0)
    }

    /// Rotated-out refresh tokens presented again, with whether each one's successor was ever seen.
    pub fn reuses(&self) -> serde_json::Value {
        serde_json::json!({ "count": self.reuse.events.len(), "events": self.reuse.events })
    }

    /// Expires one access token or all of them; returns how many.
    pub fn expire_access(&mut self, one: Option<&str>) -> usize {
        match one {
            Some(t) => self.revoke_access_only(t) as usize,
            None => {
                let n = self.access.len();
                self.access.clear();
                self.born.clear();
                for c in &mut self.conns {
                    c.access.clear();
                }
                n
            }
        }
    }

    fn revoke_access_only(&mut self, t: &str) -> bool {
        self.born.remove(t);
        match self.access.remove(t) {
            Some(id) => {
                if let Some(c) = self.conns.get_mut(id) {
                    c.access.remove(t);
                }
                true
            }
            None => false,
        }
    }

    /// Revokes every live refresh token together with its family.
    pub fn revoke_all_refresh(&mut self) -> usize {
        let ids: Vec<usize> = (0..self.conns.len())
            .filter(|&i| self.conns[i].refresh.is_some())
            .collect();
        for &id in &ids {
            self.revoke_family(id);
        }
        ids.len()
    }

    pub fn connections(&self) -> serde_json::Value {
        self.conns
            .iter()
            .map(|c| {
                serde_json::json!({
                    "grant": c.grant,
                    "subject": c.subject,
                    "userId": data::id_string(Obj::User, c.user_idx),
                    "accessTokens": c.access.len(),
                    "refreshTokenActive": c.refresh.is_some(),
                    "lastGrantMs": c.last_grant_ms,
                    "scope": c.scope,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_shapes() {
        let c = new_code();
        assert!(c.ends_with("==") && c.contains('.') && c.contains('_') && c.len() == 82);
        let a = new_access_token();
        assert!(a.starts_with("00D5g000004XYZa!AQ") && a.len() > 100);
        assert!(new_refresh_token().starts_with("5Aep861"));
    }

    #[test]
    fn rotation_reuse_revokes_family() {
        let mut s = Store::default();
        let first = s.open("api refresh_token", false, true);
        assert_eq!(s.reuses()["count"], 0);
        let rt0 = first.refresh_token.clone().unwrap();
        let second = s.refresh(&rt0, true, true).ok().unwrap();
        let rt1 = second.refresh_token.clone().unwrap();
        assert!(s.session_user(&second.access_token).is_some());
        // Replaying the rotated-out token kills the current refresh token and access tokens.
        assert!(s.refresh(&rt0, true, true).is_err());
        assert_eq!(s.reuses()["count"], 1);
        assert_eq!(s.reuses()["events"][0]["successorSeen"], true);
        assert!(s.refresh(&rt1, true, true).is_err());
        assert!(s.session_user(&first.access_token).is_none());
        assert!(s.session_user(&second.access_token).is_none());
    }

    #[test]
    fn idle_refresh_tokens_die_on_the_virtual_clock() {
        let mut s = Store {
            refresh_idle_ttl_ms: Some(1_000),
            ..Store::default()
        };
        let i = s.open("api refresh_token", false, true);
        let rt = i.refresh_token.unwrap();
        s.clock_offset_ms += 900;
        assert!(s.refresh(&rt, false, true).is_ok());
        s.clock_offset_ms += 900;
        assert!(
            s.refresh(&rt, false, true).is_ok(),
            "a refresh restarts the idle clock"
        );
        s.clock_offset_ms += 1_000;
        assert!(s.refresh(&rt, false, true).is_err());
        assert!(s.refresh(&rt, false, true).is_err(), "gone for good");
    }

    #[test]
    fn access_tokens_expire_after_ttl() {
        let mut s = Store {
            access_ttl: Some(Duration::from_millis(30)),
            ..Store::default()
        };
        let i = s.open("api refresh_token", false, true);
        assert!(s.session_user(&i.access_token).is_some());
        std::thread::sleep(Duration::from_millis(40));
        assert!(s.session_user(&i.access_token).is_none());
    }

    #[test]
    fn revoke_refresh_kills_access_tokens() {
        let mut s = Store::default();
        let i = s.open("api refresh_token", false, true);
        let rt = i.refresh_token.unwrap();
        let extra = s.refresh(&rt, false, true).ok().unwrap();
        assert!(extra.refresh_token.is_none());
        assert!(s.revoke(&rt));
        assert!(
            s.session_user(&i.access_token).is_none()
                && s.session_user(&extra.access_token).is_none()
        );
        assert!(!s.revoke(&rt));
    }
}

//! Why a connection needs its user to connect again, read from the `error` / `error_description`
//! Salesforce's token endpoint answered with. Salesforce mostly answers `invalid_grant` "expired
//! access/refresh token" whether the grant was revoked (by the user or an admin) or its idle
//! lifetime ran out, so those stay one reason: the host tells them apart with `idleMs`.

use serde::Serialize;

use crate::error::OAuthErrorCode;

/// Kept descriptions are at most this many characters.
const MAX_DESCRIPTION: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReconnectReason {
    /// The refresh token expired (idle lifetime) or was revoked by the user or an admin.
    ExpiredOrRevoked,
    /// The Salesforce user was deactivated or frozen.
    UserInactive,
    /// The org is locked, suspended or closed.
    OrgInactive,
    /// A session policy refused the grant: IP ranges, login hours.
    PolicyBlocked,
    /// The app was uninstalled or blocked in the org, or the user may no longer use it.
    AppBlocked,
    /// The connection holds no refresh token (it was granted without `refresh_token` scope).
    NoRefreshToken,
    Other,
}

impl ReconnectReason {
    pub const ALL: [ReconnectReason; 7] = [
        Self::ExpiredOrRevoked,
        Self::UserInactive,
        Self::OrgInactive,
        Self::PolicyBlocked,
        Self::AppBlocked,
        Self::NoRefreshToken,
        Self::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ExpiredOrRevoked => "expired_or_revoked",
            Self::UserInactive => "user_inactive",
            Self::OrgInactive => "org_inactive",
            Self::PolicyBlocked => "policy_blocked",
            Self::AppBlocked => "app_blocked",
            Self::NoRefreshToken => "no_refresh_token",
            Self::Other => "other",
        }
    }

    /// A stored `invalidated_reason`; anything unknown (a newer version's value) is `other`.
    pub fn parse(s: &str) -> Self {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .unwrap_or(Self::Other)
    }

    /// Whether a token-endpoint answer means the user must connect again (rather than a
    /// misconfigured client or a transient failure), and why.
    pub fn from_oauth(error: &OAuthErrorCode, description: &str) -> Option<Self> {
        let d = description.to_ascii_lowercase();
        let has = |words: &[&str]| words.iter().any(|w| d.contains(w));
        match error {
            OAuthErrorCode::Other(code) => match code.as_str() {
                "inactive_user" => Some(Self::UserInactive),
                "inactive_org" => Some(Self::OrgInactive),
                _ => None,
            },
            OAuthErrorCode::InvalidAppAccess => Some(Self::AppBlocked),
            OAuthErrorCode::InvalidGrant => Some(
                if has(&[
                    "inactive user",
                    "user is inactive",
                    "user inactive",
                    "inactive_user",
                    "user is deactivated",
                    "user deactivated",
                    "frozen",
                ]) {
                    Self::UserInactive
                } else if has(&[
                    "inactive org",
                    "org is inactive",
                    "organization is inactive",
                    "org inactive",
                    "organization is locked",
                    "org is locked",
                    "organization locked",
                    "org locked",
                    "administratively locked",
                    "inactive_org",
                    "suspended",
                    "closed org",
                    "organization is closed",
                ]) {
                    Self::OrgInactive
                } else if has(&[
                    "ip restricted",
                    "ip range",
                    "restricted ip",
                    "login hours",
                    "outside of login",
                    "not allowed to login at this time",
                    "not allowed to log in at this time",
                    "login restricted",
                    "ip address",
                ]) {
                    Self::PolicyBlocked
                } else if has(&[
                    "app blocked",
                    "app is blocked",
                    "application is blocked",
                    "app not installed",
                    "not installed",
                    "uninstalled",
                    "hasn't approved",
                    "has not approved",
                    "not approved",
                    "admin approved",
                    "app access",
                    "access this app",
                    "app_blocked",
                    "blocked",
                ]) {
                    Self::AppBlocked
                } else if has(&[
                    "expired access/refresh token",
                    "expired",
                    "revoked",
                    "invalid refresh token",
                    "token invalid",
                ]) {
                    Self::ExpiredOrRevoked
                } else {
                    Self::Other
                },
            ),
            _ => None,
        }
    }
}

impl std::fmt::Display for ReconnectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Salesforce's description as kept in errors: one line, at most [`MAX_DESCRIPTION`] characters,
/// and any long token-like run (a token or code echoed back) replaced by `***`.
pub fn safe_description(s: &str) -> String {
    let mut out = String::new();
    for word in s.split_whitespace() {
        let tokenish = word.chars().count() >= 20
            && word
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._!=+/-~*".contains(c));
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(if tokenish { "***" } else { word });
    }
    let out: String = out.chars().filter(|c| !c.is_control()).collect();
    if out.chars().count() > MAX_DESCRIPTION {
        let cut: String = out.chars().take(MAX_DESCRIPTION - 1).collect();
        format!("{cut}…")
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(d: &str) -> Option<ReconnectReason> {
        ReconnectReason::from_oauth(&OAuthErrorCode::InvalidGrant, d)
    }

    #[test]
    fn documented_answers_map_to_reasons() {
        use ReconnectReason::*;
        assert_eq!(
            grant("expired access/refresh token"),
            Some(ExpiredOrRevoked)
        );
        assert_eq!(grant("inactive user"), Some(UserInactive));
        assert_eq!(grant("inactive organization"), Some(OrgInactive));
        assert_eq!(grant("organization is locked"), Some(OrgInactive));
        assert_eq!(grant("ip restricted"), Some(PolicyBlocked));
        assert_eq!(grant("login hours restricted"), Some(PolicyBlocked));
        assert_eq!(
            grant("user hasn't approved this consumer"),
            Some(AppBlocked)
        );
        assert_eq!(grant("something new"), Some(Other));
        assert_eq!(grant("authentication failure"), Some(Other));
        assert_eq!(
            grant("user is not admin approved to access this app"),
            Some(AppBlocked)
        );
        assert_eq!(grant("OAUTH_APP_BLOCKED"), Some(AppBlocked));
        assert_eq!(
            grant("organization administratively locked"),
            Some(OrgInactive)
        );
        assert_eq!(
            grant("IP restricted or invalid login hours"),
            Some(PolicyBlocked)
        );
        let other = |c: &str| OAuthErrorCode::parse(c);
        assert_eq!(
            ReconnectReason::from_oauth(&other("inactive_user"), ""),
            Some(UserInactive)
        );
        assert_eq!(
            ReconnectReason::from_oauth(&other("inactive_org"), ""),
            Some(OrgInactive)
        );
        assert_eq!(
            ReconnectReason::from_oauth(&other("invalid_app_access"), ""),
            Some(AppBlocked)
        );
        assert_eq!(
            ReconnectReason::from_oauth(&other("invalid_client"), "x"),
            None
        );
        for r in ReconnectReason::ALL {
            assert_eq!(ReconnectReason::parse(r.as_str()), r);
        }
        assert_eq!(ReconnectReason::parse("future_reason"), Other);
    }

    #[test]
    fn descriptions_are_bounded_and_never_echo_tokens() {
        let d = safe_description("bad token 5Aep861abcdefghijklmnopqrstuvwxyz.0123== here");
        assert_eq!(d, "bad token *** here");
        assert!(safe_description(&"x ".repeat(500)).chars().count() <= MAX_DESCRIPTION);
        assert_eq!(
            safe_description("expired access/refresh token"),
            "expired access/refresh token"
        );
    }
}

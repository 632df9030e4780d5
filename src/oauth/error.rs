//! The error codes Salesforce's OAuth endpoints answer with (RFC 6749 §5.2 and Salesforce's own),
//! as a type: code that reacts to one matches a variant instead of comparing strings. A code this
//! list lacks is kept as [`OAuthErrorCode::Other`] and reaches the host unchanged.

use serde::{Deserialize, Deserializer};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OAuthErrorCode {
    /// The request is malformed (a missing parameter, an unsupported value).
    InvalidRequest,
    /// The client id or secret is wrong.
    InvalidClient,
    /// Salesforce's spelling of an unknown client id.
    InvalidClientId,
    /// The authorization code or refresh token is invalid, expired or revoked: the user must
    /// connect again.
    InvalidGrant,
    /// The connected app may not use this grant.
    UnauthorizedClient,
    UnsupportedGrantType,
    UnsupportedResponseType,
    InvalidScope,
    /// The `redirect_uri` is not the connected app's callback URL.
    RedirectUriMismatch,
    /// The user denied access.
    AccessDenied,
    /// The user may not use the connected app.
    InvalidAppAccess,
    /// Revocation: the token is already invalid.
    InvalidToken,
    /// forcelink's own: the token response's signature does not match the client secret.
    InvalidSignature,
    /// Any other code, as Salesforce sent it.
    Other(String),
}

impl OAuthErrorCode {
    pub fn parse(code: &str) -> Self {
        match code {
            "invalid_request" => Self::InvalidRequest,
            "invalid_client" => Self::InvalidClient,
            "invalid_client_id" => Self::InvalidClientId,
            "invalid_grant" => Self::InvalidGrant,
            "unauthorized_client" => Self::UnauthorizedClient,
            "unsupported_grant_type" => Self::UnsupportedGrantType,
            "unsupported_response_type" => Self::UnsupportedResponseType,
            "invalid_scope" => Self::InvalidScope,
            "redirect_uri_mismatch" => Self::RedirectUriMismatch,
            "access_denied" => Self::AccessDenied,
            "invalid_app_access" => Self::InvalidAppAccess,
            "invalid_token" => Self::InvalidToken,
            "invalid_signature" => Self::InvalidSignature,
            other => Self::Other(other.to_string()),
        }
    }

    /// The code as Salesforce spells it (the error's `salesforceCode`).
    pub fn as_str(&self) -> &str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidClientId => "invalid_client_id",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidScope => "invalid_scope",
            Self::RedirectUriMismatch => "redirect_uri_mismatch",
            Self::AccessDenied => "access_denied",
            Self::InvalidAppAccess => "invalid_app_access",
            Self::InvalidToken => "invalid_token",
            Self::InvalidSignature => "invalid_signature",
            Self::Other(s) => s,
        }
    }
}

impl std::fmt::Display for OAuthErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for OAuthErrorCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self::parse(&String::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::OAuthErrorCode;

    #[test]
    fn codes_round_trip_and_unknown_ones_are_kept() {
        for code in [
            "invalid_request",
            "invalid_client",
            "invalid_client_id",
            "invalid_grant",
            "unauthorized_client",
            "unsupported_grant_type",
            "unsupported_response_type",
            "invalid_scope",
            "redirect_uri_mismatch",
            "access_denied",
            "invalid_app_access",
            "invalid_token",
            "invalid_signature",
            "inactive_org",
        ] {
            assert_eq!(OAuthErrorCode::parse(code).as_str(), code);
        }
        assert_eq!(
            OAuthErrorCode::parse("invalid_grant"),
            OAuthErrorCode::InvalidGrant
        );
        assert_eq!(
            OAuthErrorCode::parse("inactive_org"),
            OAuthErrorCode::Other("inactive_org".into())
        );
        let body: OAuthErrorCode = serde_json::from_str(r#""redirect_uri_mismatch""#).unwrap();
        assert_eq!(body, OAuthErrorCode::RedirectUriMismatch);
    }
}

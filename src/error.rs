//! The one error type of the core. Every variant has a stable `code()` and the HTTP `status()` a
//! handler should answer with; the binding turns it into a JS `Error` exactly once, at the edge.
//! Messages never carry tokens, secrets or authorization codes.

use serde::Serialize;

pub use crate::oauth::error::OAuthErrorCode;
pub use crate::token::reason::ReconnectReason;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    #[error("invalid configuration: {field}: {reason}")]
    ConfigInvalid { field: String, reason: String },

    #[error("invalid input: {field}: {reason}")]
    InvalidInput { field: String, reason: String },

    #[error("Please provide forward_url")]
    ForwardUrlRequired,

    #[error("forward_url points to an origin that is not allowed: {origin}")]
    ForwardUrlNotAllowed { origin: String },

    #[error("Authentication not initiated")]
    AuthNotInitiated,

    #[error("Invalid State ({reason})")]
    InvalidState { reason: &'static str },

    #[error("Access Token Not Found")]
    TokenNotFound,

    #[error(
        "Salesforce no longer accepts this connection's refresh token; the user must connect again ({reason}{})",
        description.as_deref().map(|d| format!(": {d}")).unwrap_or_default()
    )]
    ReconnectRequired {
        reason: ReconnectReason,
        /// Time since the connection's last token grant; None when unknown.
        idle_ms: Option<u64>,
        /// Salesforce's `error_description`, bounded and scrubbed (`safe_description`).
        description: Option<String>,
    },

    #[error("the token store does not implement {method}, which {operation} needs")]
    Unsupported {
        method: &'static str,
        operation: &'static str,
    },

    #[error("token store {op} failed: {message}")]
    Store { op: &'static str, message: String },

    #[error("Please provide valid type. Example contacts and deals")]
    InvalidType,

    #[error("Salesforce OAuth error {error}: {description}")]
    OAuth {
        error: OAuthErrorCode,
        description: String,
    },

    #[error("Salesforce error {salesforce_code}: {message}")]
    Salesforce {
        http_status: u16,
        salesforce_code: String,
        message: String,
        fields: Vec<String>,
    },

    #[error("Salesforce API request limit exceeded: {message}")]
    RateLimited { message: String },

    #[error("Salesforce is unavailable: {0}")]
    Unavailable(String),

    #[error("the operation was cancelled")]
    Cancelled,

    #[error("a full resync is required: {reason}")]
    FullResyncRequired { reason: String },

    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn config(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::ConfigInvalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub fn input(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidInput {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub fn store(op: &'static str, message: impl Into<String>) -> Self {
        Error::Store {
            op,
            message: message.into(),
        }
    }

    /// RECONNECT_REQUIRED for a connection whose store record (or refresh) says why.
    pub fn reconnect(reason: ReconnectReason, idle_ms: Option<u64>) -> Self {
        Error::ReconnectRequired {
            reason,
            idle_ms,
            description: None,
        }
    }

    /// Stable machine-readable code, documented in README.
    pub fn code(&self) -> &'static str {
        match self {
            Error::ConfigInvalid { .. } => "CONFIG_INVALID",
            Error::InvalidInput { .. } => "INVALID_INPUT",
            Error::ForwardUrlRequired => "FORWARD_URL_REQUIRED",
            Error::ForwardUrlNotAllowed { .. } => "FORWARD_URL_NOT_ALLOWED",
            Error::AuthNotInitiated => "AUTH_NOT_INITIATED",
            Error::InvalidState { .. } => "INVALID_STATE",
            Error::TokenNotFound => "TOKEN_NOT_FOUND",
            Error::ReconnectRequired { .. } => "RECONNECT_REQUIRED",
            Error::Unsupported { .. } => "UNSUPPORTED",
            Error::Store { .. } => "STORE_ERROR",
            Error::InvalidType => "INVALID_TYPE",
            Error::OAuth { .. } => "OAUTH_ERROR",
            Error::Salesforce { .. } => "SALESFORCE_ERROR",
            Error::RateLimited { .. } => "RATE_LIMITED",
            Error::Unavailable(_) => "SALESFORCE_UNAVAILABLE",
            Error::Cancelled => "CANCELLED",
            Error::FullResyncRequired { .. } => "FULL_RESYNC_REQUIRED",
            Error::Internal(_) => "INTERNAL",
        }
    }

    /// The HTTP status an Express handler should answer with.
    pub fn status(&self) -> u16 {
        match self {
            Error::ConfigInvalid { .. } => 500,
            Error::InvalidInput { .. }
            | Error::ForwardUrlRequired
            | Error::ForwardUrlNotAllowed { .. }
            | Error::AuthNotInitiated
            | Error::InvalidState { .. }
            | Error::InvalidType => 400,
            Error::TokenNotFound => 404,
            Error::ReconnectRequired { .. } => 401,
            Error::Unsupported { .. } => 501,
            Error::Store { .. } => 500,
            Error::OAuth { .. } => 502,
            // A query Salesforce rejects as malformed is the caller's mistake; anything else from
            // Salesforce is an upstream failure.
            Error::Salesforce { http_status, .. } => match http_status {
                400 | 404 => *http_status,
                _ => 502,
            },
            Error::RateLimited { .. } => 429,
            Error::Unavailable(_) => 503,
            Error::Cancelled => 499,
            Error::FullResyncRequired { .. } => 409,
            Error::Internal(_) => 500,
        }
    }

    pub fn salesforce_code(&self) -> Option<&str> {
        match self {
            Error::Salesforce {
                salesforce_code, ..
            } => Some(salesforce_code),
            Error::OAuth { error, .. } => Some(error.as_str()),
            Error::RateLimited { .. } => Some("REQUEST_LIMIT_EXCEEDED"),
            _ => None,
        }
    }

    /// The error as plain data for the binding.
    pub fn to_wire(&self) -> WireError<'_> {
        WireError {
            code: self.code(),
            status: self.status(),
            message: self.to_string(),
            salesforce_code: self.salesforce_code(),
            fields: match self {
                Error::Salesforce { fields, .. } if !fields.is_empty() => Some(fields),
                _ => None,
            },
            reason: match self {
                Error::ReconnectRequired { reason, .. } => Some(reason.as_str()),
                _ => None,
            },
            idle_ms: match self {
                Error::ReconnectRequired { idle_ms, .. } => Some(*idle_ms),
                _ => None,
            },
            method: match self {
                Error::Unsupported { method, .. } => Some(method),
                _ => None,
            },
            field: match self {
                Error::ConfigInvalid { field, .. } | Error::InvalidInput { field, .. } => {
                    Some(field)
                }
                _ => None,
            },
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WireError<'a> {
    pub code: &'static str,
    pub status: u16,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub salesforce_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<&'a Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'a String>,
    /// RECONNECT_REQUIRED: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    /// RECONNECT_REQUIRED: ms since the last grant (`Some(None)`: unknown, sent as null).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_ms: Option<Option<u64>>,
    /// UNSUPPORTED: the store method that is missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<&'static str>,
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::store("sqlite", e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses_are_stable() {
        assert_eq!(Error::TokenNotFound.code(), "TOKEN_NOT_FOUND");
        assert_eq!(Error::TokenNotFound.status(), 404);
        let rr = Error::reconnect(ReconnectReason::ExpiredOrRevoked, Some(5));
        assert_eq!(rr.status(), 401);
        let w = serde_json::to_value(rr.to_wire()).unwrap();
        assert_eq!(w["reason"], "expired_or_revoked");
        assert_eq!(w["idleMs"], 5);
        let unknown =
            serde_json::to_value(Error::reconnect(ReconnectReason::Other, None).to_wire()).unwrap();
        assert!(unknown["idleMs"].is_null() && unknown.get("idleMs").is_some());
        assert_eq!(
            Error::InvalidType.to_string(),
            "Please provide valid type. Example contacts and deals"
        );
        let sf = Error::Salesforce {
            http_status: 400,
            salesforce_code: "MALFORMED_QUERY".into(),
            message: "unexpected token: q".into(),
            fields: vec![],
        };
        assert_eq!(sf.status(), 400);
        assert_eq!(sf.salesforce_code(), Some("MALFORMED_QUERY"));
    }
}

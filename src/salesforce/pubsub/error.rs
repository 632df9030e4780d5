//! What can go wrong on a Pub/Sub stream, classified by what the live sync does about it.

use crate::error::Error;

#[derive(Debug, thiserror::Error)]
pub enum PubSubError {
    /// The access token was refused (expired or revoked): refresh, then resubscribe.
    #[error("Pub/Sub refused the access token")]
    Auth,
    /// The replay id is past the retention window or unknown (`replayid.corrupted`).
    #[error("the replay id is no longer retained")]
    ReplayExpired,
    /// UNAVAILABLE, a dropped connection, a stream reset: back off and resubscribe.
    #[error("Pub/Sub is unavailable: {0}")]
    Unavailable(String),
    /// INTERNAL: back off and resubscribe.
    #[error("Pub/Sub internal error: {0}")]
    Internal(String),
    /// Nothing arrived within the keepalive window plus a margin.
    #[error("the Pub/Sub stream stalled")]
    Stall,
    /// The call itself is wrong (no such topic: Change Data Capture not enabled, no access).
    #[error("Pub/Sub refused the call ({code}): {message}")]
    Refused { code: String, message: String },
    #[error("undecodable change event: {0}")]
    Decode(String),
}

impl PubSubError {
    /// From a gRPC status: Salesforce's `error-code` trailer says which failure it is.
    pub fn from_status(s: &tonic::Status) -> Self {
        let code = s
            .metadata()
            .get("error-code")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        // The message is Salesforce's, bounded; it never holds the token.
        let message: String = s.message().chars().take(300).collect();
        if code.contains("replayid") || code.contains("replay.id") {
            return Self::ReplayExpired;
        }
        match s.code() {
            tonic::Code::Unauthenticated => Self::Auth,
            tonic::Code::Internal => Self::Internal(message),
            tonic::Code::Unavailable
            | tonic::Code::Unknown
            | tonic::Code::Cancelled
            | tonic::Code::Aborted
            | tonic::Code::DeadlineExceeded
            | tonic::Code::ResourceExhausted => Self::Unavailable(message),
            c if code.contains("auth") => {
                let _ = c;
                Self::Auth
            }
            c => Self::Refused {
                code: if code.is_empty() {
                    format!("{c:?}")
                } else {
                    code
                },
                message,
            },
        }
    }

    /// The `resubscribed` reason of a failure the stream recovers from; None for the others.
    pub fn reason(&self) -> Option<&'static str> {
        match self {
            Self::Auth => Some("auth"),
            Self::Unavailable(m) if m.contains("reset") => Some("reset"),
            Self::Unavailable(_) => Some("unavailable"),
            Self::Internal(_) => Some("internal"),
            Self::Stall => Some("stall"),
            _ => None,
        }
    }
}

impl From<PubSubError> for Error {
    fn from(e: PubSubError) -> Self {
        match e {
            PubSubError::Refused { code, message } => Error::Salesforce {
                http_status: 400,
                message: if code.contains("topic") {
                    format!("{message} (select the object for Change Data Capture in Setup)")
                } else {
                    message
                },
                salesforce_code: code,
                fields: Vec::new(),
            },
            PubSubError::Decode(m) => Error::Unavailable(format!("undecodable change event: {m}")),
            other => Error::Unavailable(other.to_string()),
        }
    }
}

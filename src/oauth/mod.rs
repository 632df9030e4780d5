//! The OAuth 2.0 web-server flow: state, PKCE, forward URLs and the login host's endpoints.

pub mod binding;
pub mod client;
pub mod error;
pub mod forward;
pub mod jwt_crypto;
pub mod pkce;
pub mod server;
pub mod state;

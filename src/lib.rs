//! forcelink: Salesforce connect (OAuth 2.0 web-server flow with PKCE and signed state, the token
//! lifecycle) and CRM export, as a Rust core with a thin Node binding (`node` feature).

pub mod config;
pub mod error;
pub mod events;
pub mod lru;
pub mod net;
pub mod oauth;
pub mod salesforce;
pub mod secret;
pub mod service;
pub mod shape;
pub mod token;

#[cfg(feature = "node")]
mod node;

pub use config::Config;
pub use error::{Error, Result};
pub use service::Forcelink;

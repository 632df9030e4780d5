//! Stored connections and their lifecycle.

pub mod file_mode;
pub mod jwt_exp;
pub mod keepalive;
pub mod manager;
pub mod reason;
pub mod record;
pub mod seal;
pub mod sqlite;
pub mod store;

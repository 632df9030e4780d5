//! Stored connections and their lifecycle.

pub mod file_mode;
pub mod manager;
pub mod record;
pub mod seal;
pub mod sqlite;
pub mod store;

//! Salesforce's REST API: the HTTP client, SOQL, the paginator and exports.

pub mod attributes;
pub mod bulk;
pub mod bulk_pages;
pub mod bulk_rows;
pub mod csv;
pub mod describe;
pub mod export;
pub mod format;
pub mod governor;
pub mod id_key;
pub mod locator;
pub mod paginate;
pub mod parallel;
pub mod pubsub;
pub mod rest;
pub mod soql;
pub mod sync;
pub mod write;

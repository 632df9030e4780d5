//! Salesforce's Pub/Sub API (gRPC over HTTP/2): Change Data Capture events for `sync({ live })`.
//! `channel` connects (through `proxy` when the environment names one) and authenticates,
//! `stream` holds one Subscribe stream with its flow control, `avro` decodes events with schemas
//! fetched by id, `bitmap` turns the header's field bitmaps into names.

pub mod avro;
pub mod bitmap;
pub mod channel;
pub mod error;
#[rustfmt::skip]
pub mod proto;
pub mod proxy;
pub mod stream;

pub use error::PubSubError;

/// The CDC channel of an object: `/data/ContactChangeEvent`, `/data/Thing__ChangeEvent`.
pub fn topic_of(object: &str) -> String {
    match object.strip_suffix("__c") {
        Some(base) => format!("/data/{base}__ChangeEvent"),
        None => format!("/data/{object}ChangeEvent"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn topics() {
        assert_eq!(super::topic_of("Contact"), "/data/ContactChangeEvent");
        assert_eq!(super::topic_of("Thing__c"), "/data/Thing__ChangeEvent");
    }
}

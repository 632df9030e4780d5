//! Core errors cross to JS once, here: as a napi error whose message is a marked JSON record that
//! the JS layer turns into an `Error` with `.code`, `.status` and (for Salesforce) `.salesforceCode`.

use crate::error::Error;

/// Prefix that tells the JS layer the message is a structured error.
const MARK: &str = "\u{1}forcelink:";

pub fn to_napi(e: Error) -> napi::Error {
    let body = serde_json::to_string(&e.to_wire()).unwrap_or_else(|_| {
        r#"{"code":"INTERNAL","status":500,"message":"internal error"}"#.to_string()
    });
    napi::Error::new(napi::Status::GenericFailure, format!("{MARK}{body}"))
}

pub trait IntoNapi<T> {
    fn napi(self) -> napi::Result<T>;
}

impl<T> IntoNapi<T> for Result<T, Error> {
    fn napi(self) -> napi::Result<T> {
        self.map_err(to_napi)
    }
}

/// Parses the JSON arguments the JS layer sends.
pub fn args<T: serde::de::DeserializeOwned>(json: &str) -> napi::Result<T> {
    serde_json::from_str(json).map_err(|e| {
        let msg = e.to_string();
        // Only a field name serde quotes from our own types; never the value it echoes.
        let field = msg
            .strip_prefix("missing field `")
            .and_then(|r| r.split('`').next())
            .unwrap_or("arguments")
            .to_string();
        to_napi(Error::input(field, crate::shape::serde_reason(&msg)))
    })
}

//! Measures the JS boundary for record batches (used by `benchmark/`, not by the API): the same batch
//! handed over as JSON text, as a Buffer, or built as JS objects through napi.

use napi::bindgen_prelude::Buffer;
use napi::Env;
use napi_derive::napi;

#[napi]
pub struct BoundaryProbe {
    text: String,
}

#[napi]
impl BoundaryProbe {
    #[napi(constructor)]
    pub fn new(records_json: String) -> Self {
        Self { text: records_json }
    }

    /// The text, for `JSON.parse` (what forcelink does).
    #[napi]
    pub fn as_string(&self) -> String {
        self.text.clone()
    }

    /// The bytes, for `JSON.parse(buf.toString())`.
    #[napi]
    pub fn as_buffer(&self) -> Buffer {
        Buffer::from(self.text.as_bytes().to_vec())
    }

    /// Parsed in Rust, then every value created through napi calls.
    #[napi(ts_return_type = "unknown[]")]
    pub fn as_objects(&self, env: Env) -> napi::Result<napi::bindgen_prelude::Unknown<'_>> {
        let v: serde_json::Value = serde_json::from_str(&self.text)
            .map_err(|e| napi::Error::from_reason(e.to_string()))?;
        env.to_js_value(&v)
    }
}

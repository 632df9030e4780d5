//! Download bytes handed to JS as a Buffer that V8 accounts for. napi-rs's `Buffer` from a `Vec`
//! is an external buffer V8 does not count, so a streaming export's garbage Buffers never pressed
//! the GC and RSS grew with the export (BENCHMARKS.md); a copy into a Node-allocated Buffer (one
//! memcpy per batch) is counted and collected like any other.

use std::ptr;

use napi::bindgen_prelude::{ToNapiValue, TypeName};
use napi::{check_status, sys, ValueType};

pub struct CountedBuffer(pub Vec<u8>);

impl TypeName for CountedBuffer {
    fn type_name() -> &'static str {
        "Buffer"
    }

    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl ToNapiValue for CountedBuffer {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        let mut out = ptr::null_mut();
        let mut data = ptr::null_mut();
        // SAFETY: `val.0` outlives the call, which copies `len` bytes out of it.
        check_status!(
            unsafe {
                sys::napi_create_buffer_copy(
                    env,
                    val.0.len(),
                    val.0.as_ptr().cast(),
                    &mut data,
                    &mut out,
                )
            },
            "could not create a Buffer"
        )?;
        Ok(out)
    }
}

//! Entry points only test builds carry (cargo feature `test-hooks`, enabled by `build:debug`): the
//! published binary is built without them, so they are not part of the shipped API.

use napi_derive::napi;

/// Proves a Rust panic becomes a thrown error, not an abort of Node.
#[napi(catch_unwind)]
pub fn panic_for_test(message: String) -> napi::Result<()> {
    panic!("{message}");
}

/// The same for an async call: the promise rejects.
#[napi]
pub async fn panic_for_test_async(message: String) -> napi::Result<()> {
    panic!("{message}");
}

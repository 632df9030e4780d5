//! Core errors cross to JS once, here, as data: a JS `Error` whose `code`, `status` and, when they
//! apply, `field`, `salesforceCode` and `fields` are properties (the JS layer wraps it in a
//! `ForcelinkError`). The object is built on the JS thread when the result is converted: a method
//! returns an [`Outcome`], whose conversion either hands back the value or throws (rejects with)
//! that error.

use napi::bindgen_prelude::{JsObjectValue, ToNapiValue, TypeName, ValueType};
use napi::{sys, Env, JsValue, Status};

use crate::error::Error;

/// The result of a binding call: the value, or a core error that reaches JS as a typed `Error`.
pub struct Outcome<T>(pub Result<T, Error>);

impl<T> From<Result<T, Error>> for Outcome<T> {
    fn from(r: Result<T, Error>) -> Self {
        Outcome(r)
    }
}

impl<T: TypeName> TypeName for Outcome<T> {
    fn type_name() -> &'static str {
        T::type_name()
    }

    fn value_type() -> ValueType {
        T::value_type()
    }
}

impl<T: ToNapiValue> ToNapiValue for Outcome<T> {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        match val.0 {
            // SAFETY: the same env napi handed to this conversion.
            Ok(v) => unsafe { T::to_napi_value(env, v) },
            Err(e) => Err(thrown(&Env::from_raw(env), &e)),
        }
    }
}

/// A napi error that holds the JS error object, so napi throws (or rejects with) that very object.
pub fn thrown(env: &Env, e: &Error) -> napi::Error {
    match error_object(env, e) {
        Ok(obj) => napi::Error::from(obj.to_unknown()),
        Err(failed) => failed,
    }
}

fn error_object<'e>(env: &'e Env, e: &Error) -> napi::Result<napi::bindgen_prelude::Object<'e>> {
    let wire = e.to_wire();
    let mut obj = env.create_error(napi::Error::new(Status::GenericFailure, wire.message))?;
    obj.set_named_property("code", wire.code)?;
    obj.set_named_property("status", u32::from(wire.status))?;
    if let Some(field) = wire.field {
        obj.set_named_property("field", field.as_str())?;
    }
    if let Some(sc) = wire.salesforce_code {
        obj.set_named_property("salesforceCode", sc)?;
    }
    if let Some(reason) = wire.reason {
        obj.set_named_property("reason", reason)?;
    }
    if let Some(idle) = wire.idle_ms {
        match idle {
            Some(ms) => obj.set_named_property("idleMs", ms as f64)?,
            None => obj.set_named_property("idleMs", napi::bindgen_prelude::Null)?,
        }
    }
    if let Some(method) = wire.method {
        obj.set_named_property("method", method)?;
    }
    if let Some(fields) = wire.fields {
        obj.set_named_property("fields", fields.clone())?;
    }
    Ok(obj)
}

/// Runs a fallible binding body and hands its result to JS as an [`Outcome`].
pub fn outcome<T>(f: impl FnOnce() -> Result<T, Error>) -> Outcome<T> {
    Outcome(f())
}

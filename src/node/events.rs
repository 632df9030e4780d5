//! Forwards core events to JS: one object per event (`event`: its name) through a weak,
//! non-blocking threadsafe function (an event never waits for JS and never keeps Node's event
//! loop alive).

use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::Status;

use crate::events::{Event, EventSink};

pub type EventCall =
    ThreadsafeFunction<serde_json::Value, (), serde_json::Value, Status, false, true>;

pub struct JsEvents(pub EventCall);

impl EventSink for JsEvents {
    fn emit(&self, event: &Event) {
        if let Ok(value) = serde_json::to_value(event) {
            let _ = self.0.call(value, ThreadsafeFunctionCallMode::NonBlocking);
        }
    }
}

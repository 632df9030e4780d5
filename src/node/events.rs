//! Forwards core events to JS: one JSON line per event through a weak, non-blocking threadsafe
//! function (an event never waits for JS and never keeps Node's event loop alive).

use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::Status;

use crate::events::{Event, EventSink};

pub type EventCall = ThreadsafeFunction<String, (), String, Status, false, true>;

pub struct JsEvents(pub EventCall);

impl EventSink for JsEvents {
    fn emit(&self, event: &Event) {
        if let Ok(text) = serde_json::to_string(event) {
            let _ = self.0.call(text, ThreadsafeFunctionCallMode::NonBlocking);
        }
    }
}

//! `sync` from the native side: one step per `nextJson()`, nothing fetched ahead (the host must
//! have stored a step's checkpoint before the next one is read). `close()` stops the run: a
//! request in flight is dropped and an unfinished Bulk job is aborted.

use std::sync::Arc;

use napi_derive::napi;
use tokio::sync::watch;

use super::error::Outcome;
use crate::error::Error;
use crate::salesforce::format;
use crate::salesforce::sync::live::Runner;
use crate::salesforce::sync::Step;
use crate::service::Forcelink;

#[napi]
pub struct NativeSyncCursor {
    svc: Arc<Forcelink>,
    run: Arc<tokio::sync::Mutex<Runner>>,
    cancel: watch::Sender<bool>,
}

fn step_json(s: Step) -> String {
    let deletes: Vec<serde_json::Value> = s
        .deletes
        .into_iter()
        .map(|d| serde_json::json!({ "Id": d.id, "deletedAt": d.deleted_at }))
        .collect();
    let deletes = serde_json::to_string(&deletes).unwrap_or_else(|_| "[]".into());
    let checkpoint = serde_json::to_string(&s.checkpoint).unwrap_or_else(|_| "null".into());
    let meta = if s.meta.is_empty() {
        String::new()
    } else {
        let m = serde_json::to_string(&s.meta).unwrap_or_else(|_| "{}".into());
        format!(r#","meta":{}"#, format::ascii_json(m))
    };
    format!(
        r#"{{"upserts":{},"deletes":{},"checkpoint":{checkpoint}{meta}}}"#,
        format::ascii_json(s.upserts_json),
        format::ascii_json(deletes)
    )
}

impl NativeSyncCursor {
    pub fn new(svc: Arc<Forcelink>, run: Runner) -> Self {
        let (cancel, _) = watch::channel(false);
        Self {
            svc,
            run: Arc::new(tokio::sync::Mutex::new(run)),
            cancel,
        }
    }

    async fn step(&self) -> Result<Option<String>, Error> {
        if *self.cancel.borrow() {
            return Err(Error::Cancelled);
        }
        let mut cancelled = self.cancel.subscribe();
        let mut run = self.run.lock().await;
        let got = tokio::select! {
            r = self.svc.runner_next(&mut run) => Some(r),
            _ = cancelled.wait_for(|v| *v) => None,
        };
        match got {
            Some(r) => r.map(|s| s.map(step_json)),
            None => {
                run.stop();
                if let Some(job) = run.abortable_job() {
                    let _ = self.svc.abort_bulk_job(run.key(), &job).await;
                }
                Err(Error::Cancelled)
            }
        }
    }
}

#[napi]
impl NativeSyncCursor {
    /// `{"upserts":[…],"deletes":[{"Id","deletedAt"}],"checkpoint":"…"}`, or `null` at the end.
    #[napi(ts_return_type = "Promise<string | null>")]
    pub async fn next_json(&self) -> Outcome<Option<String>> {
        Outcome(self.step().await)
    }

    /// Stops the run; a step in flight ends with CANCELLED.
    #[napi(catch_unwind)]
    pub fn close(&self) {
        if self.cancel.send_replace(true) {
            return;
        }
        let (svc, run) = (self.svc.clone(), self.run.clone());
        napi::bindgen_prelude::spawn(async move {
            // Free only when no step is in flight (that one aborts its own job).
            if let Ok(mut r) = run.try_lock() {
                r.stop();
                if let Some(job) = r.abortable_job() {
                    let _ = svc.abort_bulk_job(r.key(), &job).await;
                }
            }
        });
    }
}

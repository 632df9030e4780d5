//! `exportAll` from the native side: one batch per call, fetched only when asked for, so a
//! consumer that stops reading stops the requests and memory stays at about one batch. `close()`
//! cancels a call in flight (a Bulk job being polled) and aborts an unfinished Bulk job.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use napi::bindgen_prelude::Buffer;
use napi_derive::napi;
use tokio::sync::watch;

use super::error::{to_napi, IntoNapi};
use crate::error::Error;
use crate::salesforce::export::{Batch, ExportCursor};
use crate::salesforce::format;
use crate::salesforce::soql::ExportType;
use crate::service::Forcelink;

/// A batch for `JSON.parse`: handing JS text beat building objects through napi (BENCHMARKS.md).
#[napi(object)]
pub struct BatchText {
    pub records: String,
    pub progress: String,
}

#[napi]
pub struct NativeExportCursor {
    svc: Arc<Forcelink>,
    cursor: Arc<tokio::sync::Mutex<ExportCursor>>,
    cancel: watch::Sender<bool>,
    header_sent: Arc<AtomicBool>,
}

struct Fetched {
    batch: Option<Batch>,
    ty: ExportType,
    progress: String,
}

fn progress_json(c: &ExportCursor) -> String {
    let total = c.total.map(|t| t.to_string()).unwrap_or_else(|| "null".into());
    let job = c.job_id().map(|j| format!(r#","jobId":"{j}""#)).unwrap_or_default();
    format!(r#"{{"fetched":{},"total":{total},"engine":"{}"{job}}}"#, c.fetched, c.engine_name())
}

impl NativeExportCursor {
    pub fn new(svc: Arc<Forcelink>, cursor: ExportCursor) -> Self {
        let (cancel, _) = watch::channel(false);
        Self { svc, cursor: Arc::new(tokio::sync::Mutex::new(cursor)), cancel, header_sent: Arc::new(AtomicBool::new(false)) }
    }

    async fn fetch(&self) -> Result<Fetched, Error> {
        let mut cancelled = self.cancel.subscribe();
        if *cancelled.borrow() {
            return Err(Error::Cancelled);
        }
        let mut c = self.cursor.lock().await;
        let batch = tokio::select! {
            b = self.svc.export_next(&mut c) => b?,
            _ = cancelled.wait_for(|v| *v) => return Err(Error::Cancelled),
        };
        Ok(Fetched { batch, ty: c.ty.clone(), progress: progress_json(&c) })
    }
}

#[napi]
impl NativeExportCursor {
    /// The next batch as JSON texts (`records`: the array, `progress`), or `null` at the end.
    #[napi]
    pub async fn next_json(&self) -> napi::Result<Option<BatchText>> {
        let f = self.fetch().await.napi()?;
        Ok(f.batch.map(|b| BatchText { records: b.json, progress: f.progress }))
    }

    /// The next batch as download bytes: `"csv"` (the header first, even for an empty export) or
    /// `"ndjson"`. Returns `null` at the end.
    #[napi]
    pub async fn next_bytes(&self, format_name: String) -> napi::Result<Option<Buffer>> {
        if format_name != "csv" && format_name != "ndjson" {
            return Err(to_napi(Error::input("format", "must be \"csv\" or \"ndjson\"")));
        }
        let f = self.fetch().await.napi()?;
        let csv = format_name == "csv";
        let header = || if csv && !self.header_sent.swap(true, Ordering::AcqRel) { format::csv_header(&f.ty) } else { String::new() };
        let Some(b) = f.batch else {
            let h = header();
            return Ok(if h.is_empty() { None } else { Some(Buffer::from(h.into_bytes())) });
        };
        let rows = b.rows().napi()?;
        let text = if csv {
            let body = format::csv_rows(&f.ty, &rows).map_err(|e| to_napi(Error::Unavailable(e.to_string())))?;
            header() + &body
        } else {
            format::ndjson_rows(&rows)
        };
        Ok(Some(Buffer::from(text.into_bytes())))
    }

    /// `{"fetched":n,"total":n|null,"engine":"rest"|"bulk","jobId"?:"…"}`
    #[napi]
    pub async fn progress(&self) -> napi::Result<String> {
        Ok(progress_json(&*self.cursor.lock().await))
    }

    /// Stops the export: no further requests, a call in flight ends with CANCELLED, and an
    /// unfinished Bulk job is aborted at Salesforce.
    #[napi(catch_unwind)]
    pub fn close(&self) {
        if self.cancel.send_replace(true) {
            return;
        }
        let (svc, cursor) = (self.svc.clone(), self.cursor.clone());
        napi::bindgen_prelude::spawn(async move {
            let mut c = cursor.lock().await;
            if let Some(job) = c.abortable_job() {
                let _ = svc.abort_bulk_job(&c.key, &job).await;
            }
            c.finish();
        });
    }
}

//! `exportAll` from the native side. While JS works on one batch, the next is already being
//! fetched (one batch ahead, no more), so the network and Rust work overlap the JS thread's instead
//! of adding to it; memory stays at about two batches whatever the total. `close()` stops the
//! read-ahead, cancels a call in flight and aborts an unfinished Bulk job.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use napi_derive::napi;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::bytes::CountedBuffer;
use super::error::{to_napi, IntoNapi};
use crate::error::Error;
use crate::salesforce::export::{Batch, ExportCursor};
use crate::salesforce::format;
use crate::salesforce::soql::ExportType;
use crate::service::Forcelink;

type Fetch = JoinHandle<(ExportCursor, Result<Option<Batch>, Error>)>;

/// Where the cursor is: at rest between calls, or owned by a fetch task.
enum Slot {
    Idle(ExportCursor),
    Busy(Fetch),
    Gone,
}

/// A batch for `JSON.parse`: handing JS text beat building objects through napi (BENCHMARKS.md).
#[napi(object)]
pub struct BatchText {
    pub records: String,
    pub progress: String,
}

#[napi]
pub struct NativeExportCursor {
    svc: Arc<Forcelink>,
    slot: Arc<tokio::sync::Mutex<Slot>>,
    cancel: watch::Sender<bool>,
    ty: ExportType,
    /// CSV: the header is out; `"json"`: the array is open.
    header_sent: AtomicBool,
    /// `"json"`: the array is closed (the next call answers `null`).
    json_closed: AtomicBool,
    /// Progress as of the last batch handed out (the cursor itself may be busy reading ahead).
    last_progress: std::sync::Mutex<String>,
}

struct Fetched {
    batch: Option<Batch>,
    progress: String,
}

fn progress_json(c: &ExportCursor) -> String {
    let total = c
        .total
        .map(|t| t.to_string())
        .unwrap_or_else(|| "null".into());
    let job = c
        .job_id()
        .map(|j| format!(r#","jobId":"{j}""#))
        .unwrap_or_default();
    format!(
        r#"{{"fetched":{},"total":{total},"engine":"{}"{job}}}"#,
        c.fetched,
        c.engine_name()
    )
}

/// Fetches one batch on the runtime (called from async methods, inside it). On cancel the task
/// itself aborts an unfinished Bulk job: it owns the cursor, so it is the one that knows the job.
fn spawn_fetch(
    svc: Arc<Forcelink>,
    mut c: ExportCursor,
    mut cancelled: watch::Receiver<bool>,
) -> Fetch {
    tokio::spawn(async move {
        let got = {
            let fetch = svc.export_next(&mut c);
            tokio::select! {
                r = fetch => Some(r),
                _ = cancelled.wait_for(|v| *v) => None,
            }
        };
        match got {
            Some(r) => (c, r),
            None => {
                if let Some(job) = c.abortable_job() {
                    let _ = svc.abort_bulk_job(&c.key, &job).await;
                }
                c.finish();
                (c, Err(Error::Cancelled))
            }
        }
    })
}

impl NativeExportCursor {
    /// `"json"`: the next piece of one JSON array. Bytes, not a JS string, so a page streamed
    /// through a socket leaves no large strings for V8's next full collection.
    async fn next_array_bytes(&self) -> napi::Result<Option<CountedBuffer>> {
        loop {
            let f = self.fetch().await.napi()?;
            let Some(b) = f.batch else {
                if self.json_closed.swap(true, Ordering::AcqRel) {
                    return Ok(None);
                }
                let opened = self.header_sent.swap(true, Ordering::AcqRel);
                let end: &[u8] = if opened { b"]" } else { b"[]" };
                return Ok(Some(CountedBuffer(end.to_vec())));
            };
            let text = format::ascii_json(b.json);
            let inner = match (text.find('['), text.rfind(']')) {
                (Some(o), Some(c)) if o < c => text[o + 1..c].trim(),
                _ => "",
            };
            if inner.is_empty() {
                continue;
            }
            let opened = self.header_sent.swap(true, Ordering::AcqRel);
            let mut out = Vec::with_capacity(inner.len() + 1);
            out.push(if opened { b',' } else { b'[' });
            out.extend_from_slice(inner.as_bytes());
            return Ok(Some(CountedBuffer(out)));
        }
    }

    pub fn new(svc: Arc<Forcelink>, cursor: ExportCursor) -> Self {
        let (cancel, _) = watch::channel(false);
        let ty = cursor.ty.clone();
        let last_progress = std::sync::Mutex::new(progress_json(&cursor));
        Self {
            svc,
            slot: Arc::new(tokio::sync::Mutex::new(Slot::Idle(cursor))),
            cancel,
            ty,
            header_sent: AtomicBool::new(false),
            json_closed: AtomicBool::new(false),
            last_progress,
        }
    }

    async fn fetch(&self) -> Result<Fetched, Error> {
        if *self.cancel.borrow() {
            return Err(Error::Cancelled);
        }
        let mut slot = self.slot.lock().await;
        let task = match std::mem::replace(&mut *slot, Slot::Gone) {
            Slot::Idle(c) => spawn_fetch(self.svc.clone(), c, self.cancel.subscribe()),
            Slot::Busy(t) => t,
            Slot::Gone => return Err(Error::Cancelled),
        };
        let (c, res) = task
            .await
            .map_err(|e| Error::Internal(format!("export task failed: {e}")))?;
        let progress = progress_json(&c);
        if let Ok(mut p) = self.last_progress.lock() {
            p.clone_from(&progress);
        }
        let ahead = matches!(res, Ok(Some(_))) && !c.is_finished() && !*self.cancel.borrow();
        *slot = if ahead {
            Slot::Busy(spawn_fetch(self.svc.clone(), c, self.cancel.subscribe()))
        } else {
            Slot::Idle(c)
        };
        res.map(|batch| Fetched { batch, progress })
    }
}

#[napi]
impl NativeExportCursor {
    /// The next batch as JSON texts (`records`: the array, ASCII-escaped; `progress`), or `null`.
    #[napi]
    pub async fn next_json(&self) -> napi::Result<Option<BatchText>> {
        let f = self.fetch().await.napi()?;
        Ok(f.batch.map(|b| BatchText {
            records: format::ascii_json(b.json),
            progress: f.progress,
        }))
    }

    /// The next batch as download bytes: `"csv"` (the header first, even for an empty export),
    /// `"ndjson"`, or `"json"` (one JSON array over the whole export, ASCII-escaped as `nextJson`'s:
    /// `[` + the first batch's records, then `,` + each next batch's, then `]`; `[]` when empty).
    /// Returns `null` at the end. `csvFormulaGuard` (default true): see `format`.
    #[napi(ts_return_type = "Promise<Buffer | null>")]
    pub async fn next_bytes(
        &self,
        format_name: String,
        csv_formula_guard: Option<bool>,
    ) -> napi::Result<Option<CountedBuffer>> {
        if format_name == "json" {
            return self.next_array_bytes().await;
        }
        if format_name != "csv" && format_name != "ndjson" {
            return Err(to_napi(Error::input(
                "format",
                "must be \"csv\", \"ndjson\" or \"json\"",
            )));
        }
        let f = self.fetch().await.napi()?;
        let csv = format_name == "csv";
        let header = || {
            if csv && !self.header_sent.swap(true, Ordering::AcqRel) {
                format::csv_header(&self.ty)
            } else {
                String::new()
            }
        };
        let Some(b) = f.batch else {
            let h = header();
            return Ok(if h.is_empty() {
                None
            } else {
                Some(CountedBuffer(h.into_bytes()))
            });
        };
        let rows = b.rows().napi()?;
        let text = if csv {
            let body = format::csv_rows_with(&self.ty, &rows, csv_formula_guard.unwrap_or(true))
                .map_err(|e| to_napi(Error::Unavailable(e.to_string())))?;
            header() + &body
        } else {
            format::ndjson_rows(&rows)
        };
        Ok(Some(CountedBuffer(text.into_bytes())))
    }

    /// `{"fetched":n,"total":n|null,"engine":"rest"|"bulk"|"auto","jobId"?:"…"}` as of the last
    /// batch handed out.
    #[napi(catch_unwind)]
    pub fn progress(&self) -> String {
        self.last_progress
            .lock()
            .map(|p| p.clone())
            .unwrap_or_default()
    }

    /// Stops the export: no further requests, a call in flight ends with CANCELLED, and an
    /// unfinished Bulk job is aborted at Salesforce.
    #[napi(catch_unwind)]
    pub fn close(&self) {
        if self.cancel.send_replace(true) {
            return;
        }
        // A fetch task in flight handles the abort itself; a cursor at rest is aborted here.
        let (svc, slot) = (self.svc.clone(), self.slot.clone());
        napi::bindgen_prelude::spawn(async move {
            let mut s = slot.lock().await;
            if let Slot::Idle(c) = &mut *s {
                if let Some(job) = c.abortable_job() {
                    let _ = svc.abort_bulk_job(&c.key, &job).await;
                }
                c.finish();
            }
        });
    }
}

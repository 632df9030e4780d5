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
use super::error::Outcome;
use super::ExportEngine;
use crate::error::Error;
use crate::salesforce::export::{Batch, BatchForm, ExportCursor};
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

/// A batch: the records as JSON text for `JSON.parse` (handing JS text beat building objects
/// through napi, BENCHMARKS.md), and the progress after it.
#[napi(object, object_from_js = false)]
pub struct BatchText {
    /// The records' JSON array, ASCII-escaped.
    pub records: String,
    pub progress: ExportProgress,
}

/// How far an export is.
#[napi(object, object_from_js = false)]
#[derive(Clone)]
pub struct ExportProgress {
    /// Records handed out so far.
    pub fetched: f64,
    /// The total Salesforce reported, once known.
    pub total: Option<f64>,
    /// The engine in use: `auto` until it has decided.
    pub engine: ExportEngine,
    /// The Bulk job, for a Bulk export (pass it back as `jobId` to resume).
    pub job_id: Option<String>,
    /// `fields: 'all'`: the fields read, in column order (resolved before the first record).
    pub fields: Option<Vec<String>>,
}

/// What `exportStream` writes.
#[napi(string_enum = "lowercase")]
pub enum ExportFormat {
    Csv,
    Ndjson,
    /// One JSON array over the whole export (the no-limit page's records).
    Json,
}

#[napi]
pub struct NativeExportCursor {
    svc: Arc<Forcelink>,
    slot: Arc<tokio::sync::Mutex<Slot>>,
    cancel: watch::Sender<bool>,
    /// The export type, as resolved (`fields: 'all'` settles on the first batch).
    ty: std::sync::Mutex<ExportType>,
    /// CSV: the header is out; `"json"`: the array is open.
    header_sent: AtomicBool,
    /// `"json"`: the array is closed (the next call answers `null`).
    json_closed: AtomicBool,
    /// Progress as of the last batch handed out (the cursor itself may be busy reading ahead).
    last_progress: std::sync::Mutex<ExportProgress>,
}

struct Fetched {
    batch: Option<Batch>,
    progress: ExportProgress,
}

fn progress_of(c: &ExportCursor) -> ExportProgress {
    ExportProgress {
        fetched: c.fetched as f64,
        total: c.total.map(|t| t as f64),
        engine: match c.engine_name() {
            "bulk" => ExportEngine::Bulk,
            "rest" => ExportEngine::Rest,
            _ => ExportEngine::Auto,
        },
        job_id: c.job_id().map(str::to_string),
        fields: c.fields(),
    }
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

fn form_mismatch() -> Error {
    Error::Internal("an export cursor is read in one format throughout".into())
}

/// A batch's records as a JSON array.
fn json_array(b: Batch) -> Result<String, Error> {
    match b.form {
        BatchForm::JsonArray => Ok(b.json),
        _ => Err(form_mismatch()),
    }
}

impl NativeExportCursor {
    pub fn new(svc: Arc<Forcelink>, cursor: ExportCursor) -> Self {
        let (cancel, _) = watch::channel(false);
        let ty = cursor.ty.clone();
        let last_progress = std::sync::Mutex::new(progress_of(&cursor));
        Self {
            svc,
            slot: Arc::new(tokio::sync::Mutex::new(Slot::Idle(cursor))),
            cancel,
            ty: std::sync::Mutex::new(ty),
            header_sent: AtomicBool::new(false),
            json_closed: AtomicBool::new(false),
            last_progress,
        }
    }

    /// The next batch; a Bulk export writes it as `form` (a cursor is read one way throughout, so
    /// the batch read ahead is in the same form).
    async fn fetch(&self, form: BatchForm) -> Result<Fetched, Error> {
        if *self.cancel.borrow() {
            return Err(Error::Cancelled);
        }
        let mut slot = self.slot.lock().await;
        let task = match std::mem::replace(&mut *slot, Slot::Gone) {
            Slot::Idle(mut c) => {
                c.set_bulk_form(form);
                spawn_fetch(self.svc.clone(), c, self.cancel.subscribe())
            }
            Slot::Busy(t) => t,
            Slot::Gone => return Err(Error::Cancelled),
        };
        let (c, res) = task
            .await
            .map_err(|e| Error::Internal(format!("export task failed: {e}")))?;
        let progress = progress_of(&c);
        // `fields: 'all'` resolved, or a compound expanded into its components: the CSV header
        // follows the list the records were read with.
        if let Ok(mut t) = self.ty.lock() {
            t.clone_from(&c.ty);
        }
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

    /// `"json"`: the next piece of one JSON array, ASCII-escaped as `nextJson`'s records: `[` + the
    /// first batch's records, then `,` + each next batch's, then `]` (`[]` when empty). Bytes, not
    /// a JS string, so a page streamed through a socket leaves no large strings for V8's next full
    /// collection.
    async fn array_bytes(&self) -> Result<Option<CountedBuffer>, Error> {
        loop {
            let f = self.fetch(BatchForm::JsonArray).await?;
            let Some(b) = f.batch else {
                if self.json_closed.swap(true, Ordering::AcqRel) {
                    return Ok(None);
                }
                let opened = self.header_sent.swap(true, Ordering::AcqRel);
                let end: &[u8] = if opened { b"]" } else { b"[]" };
                return Ok(Some(CountedBuffer(end.to_vec())));
            };
            let text = format::ascii_json(json_array(b)?);
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

    async fn bytes(
        &self,
        format_name: &str,
        csv_formula_guard: Option<bool>,
    ) -> Result<Option<CountedBuffer>, Error> {
        if format_name == "json" {
            return self.array_bytes().await;
        }
        if format_name != "csv" && format_name != "ndjson" {
            return Err(Error::input(
                "format",
                "must be \"csv\", \"ndjson\" or \"json\"",
            ));
        }
        let csv = format_name == "csv";
        let guard = csv_formula_guard.unwrap_or(true);
        let form = if csv {
            BatchForm::CsvRows { guard }
        } else {
            BatchForm::Ndjson
        };
        let f = self.fetch(form).await?;
        let ty = self
            .ty
            .lock()
            .map(|t| t.clone())
            .map_err(|_| Error::Internal("export type lock poisoned".into()))?;
        let header = || {
            if csv && !self.header_sent.swap(true, Ordering::AcqRel) {
                format::csv_header(&ty)
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
        // A Bulk batch arrives already in the stream's form (rows written straight from Bulk's
        // CSV); a REST batch is a JSON array split into records here.
        let text = match b.form {
            f if f == form && csv => header() + &b.json,
            f if f == form => b.json,
            BatchForm::JsonArray => {
                let rows = b.rows()?;
                if csv {
                    let body = format::csv_rows_with(&ty, &rows, guard)
                        .map_err(|e| Error::Unavailable(e.to_string()))?;
                    header() + &body
                } else {
                    format::ndjson_rows(&rows)
                }
            }
            _ => return Err(form_mismatch()),
        };
        Ok(Some(CountedBuffer(text.into_bytes())))
    }
}

#[napi]
impl NativeExportCursor {
    /// The next batch, or `null` at the end.
    #[napi(ts_return_type = "Promise<BatchText | null>")]
    pub async fn next_json(&self) -> Outcome<Option<BatchText>> {
        Outcome(self.fetch(BatchForm::JsonArray).await.and_then(|f| {
            f.batch
                .map(|b| {
                    Ok(BatchText {
                        records: format::ascii_json(json_array(b)?),
                        progress: f.progress,
                    })
                })
                .transpose()
        }))
    }

    /// The next batch as download bytes: `"csv"` (the header first, even for an empty export),
    /// `"ndjson"`, or `"json"` (one JSON array over the whole export). Returns `null` at the end.
    /// `csvFormulaGuard` (default true): see `format`.
    #[napi(ts_return_type = "Promise<Buffer | null>")]
    pub async fn next_bytes(
        &self,
        #[napi(ts_arg_type = "ExportFormat")] format_name: String,
        csv_formula_guard: Option<bool>,
    ) -> Outcome<Option<CountedBuffer>> {
        Outcome(self.bytes(&format_name, csv_formula_guard).await)
    }

    /// The progress as of the last batch handed out.
    #[napi(catch_unwind)]
    pub fn progress(&self) -> ExportProgress {
        match self.last_progress.lock() {
            Ok(p) => p.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
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

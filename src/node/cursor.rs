//! `exportAll` from the native side: one batch per call, fetched only when asked for, so a
//! consumer that stops reading stops the requests and memory stays at about one batch.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use napi::bindgen_prelude::Buffer;
use napi_derive::napi;

use super::error::{to_napi, IntoNapi};
use crate::error::Error;
use crate::salesforce::export::{Batch, ExportCursor};
use crate::salesforce::format;
use crate::service::Forcelink;

#[napi]
pub struct NativeExportCursor {
    svc: Arc<Forcelink>,
    cursor: Arc<tokio::sync::Mutex<ExportCursor>>,
    closed: Arc<AtomicBool>,
    header_sent: Arc<AtomicBool>,
}

impl NativeExportCursor {
    pub fn new(svc: Arc<Forcelink>, cursor: ExportCursor) -> Self {
        Self {
            svc,
            cursor: Arc::new(tokio::sync::Mutex::new(cursor)),
            closed: Arc::new(AtomicBool::new(false)),
            header_sent: Arc::new(AtomicBool::new(false)),
        }
    }

    async fn fetch(&self) -> Result<Option<(Batch, u64, Option<u64>, crate::salesforce::soql::ExportType)>, Error> {
        if self.closed.load(Ordering::Acquire) {
            return Ok(None);
        }
        let mut c = self.cursor.lock().await;
        let batch = self.svc.export_next(&mut c).await?;
        Ok(batch.map(|b| (b, c.fetched, c.total, c.ty.clone())))
    }
}

#[napi]
impl NativeExportCursor {
    /// `{"records":[…],"fetched":n,"total":n}` or `null` at the end.
    #[napi]
    pub async fn next_json(&self) -> napi::Result<Option<String>> {
        let Some((b, fetched, total, _)) = self.fetch().await.napi()? else { return Ok(None) };
        let total = total.map(|t| t.to_string()).unwrap_or_else(|| "null".into());
        Ok(Some(format!(r#"{{"records":{},"fetched":{fetched},"total":{total}}}"#, format::json_array(&b.records))))
    }

    /// The next batch as download bytes: `"csv"` (header before the first rows) or `"ndjson"`.
    /// Returns `null` at the end. Progress is in `progress()`.
    #[napi]
    pub async fn next_bytes(&self, format_name: String) -> napi::Result<Option<Buffer>> {
        if format_name != "csv" && format_name != "ndjson" {
            return Err(to_napi(Error::input("format", "must be \"csv\" or \"ndjson\"")));
        }
        let Some((b, _, _, ty)) = self.fetch().await.napi()? else { return Ok(None) };
        let text = if format_name == "csv" {
            let rows = format::csv_rows(&ty, &b.records).map_err(|e| to_napi(Error::Unavailable(e.to_string())))?;
            if self.header_sent.swap(true, Ordering::AcqRel) {
                rows
            } else {
                format::csv_header(&ty) + &rows
            }
        } else {
            format::ndjson_rows(&b.records)
        };
        Ok(Some(Buffer::from(text.into_bytes())))
    }

    /// `{"fetched":n,"total":n|null}`
    #[napi]
    pub async fn progress(&self) -> napi::Result<String> {
        let c = self.cursor.lock().await;
        let total = c.total.map(|t| t.to_string()).unwrap_or_else(|| "null".into());
        Ok(format!(r#"{{"fetched":{},"total":{total}}}"#, c.fetched))
    }

    /// Stops the export: no further requests are made.
    #[napi(catch_unwind)]
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        if let Ok(mut c) = self.cursor.try_lock() {
            c.finish();
        }
    }
}

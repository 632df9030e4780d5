//! Bulk API 2.0 query jobs on the instance host (research §8):
//! `POST|GET /jobs/query`, `GET|PATCH|DELETE /jobs/query/<id>`,
//! `GET /jobs/query/<id>/results?maxRecords=N&locator=L`, and (v58.0+)
//! `GET /jobs/query/<id>/resultPages` (up to five parallel result URLs per answer).
//!
//! A job snapshots the org data when it is created (like a REST cursor) and its state
//! is a function of time: UploadComplete for the first half of `bulkJobMs`, InProgress
//! for the second, then JobComplete (or Failed when `bulkFailNext` was armed). Results
//! are generated row by row into a chunked body, so a page of any size costs one 64 KB
//! buffer. Locators are base64 of the next row offset, as in Salesforce's examples
//! (`MTAwMDA` = "10000").
//!
//! Error shape: `[{"errorCode","message"}]` (the §8 NOT_FOUND example's key order).

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use rand::Rng;
use serde_json::{json, Map, Value as Json};

use crate::data::{self, Data, Obj, Value};
use crate::http::{self, param, Params};
use crate::plan::{self, FPath};
use crate::query::{Exec, MAX_SORT_ROWS};
use crate::render;
use crate::state::{lock, Sim};

/// Rows per results page when the client sends no `maxRecords` (Salesforce's own
/// default is undocumented).
pub const DEFAULT_MAX_RECORDS: u64 = 50_000;
/// Target size of one body chunk.
const CHUNK: usize = 64 * 1024;
const MAX_JOBS: usize = 10_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobState {
    UploadComplete,
    InProgress,
    JobComplete,
    Failed,
    Aborted,
}

impl JobState {
    fn name(self) -> &'static str {
        match self {
            JobState::UploadComplete => "UploadComplete",
            JobState::InProgress => "InProgress",
            JobState::JobComplete => "JobComplete",
            JobState::Failed => "Failed",
            JobState::Aborted => "Aborted",
        }
    }
}

struct Job {
    id: String,
    seq: u64,
    operation: &'static str,
    object: Obj,
    created_by: String,
    created_ms: i64,
    started: Instant,
    duration_ms: u64,
    /// "62.0": results must be fetched with the same API version.
    version: String,
    delimiter: (&'static str, u8),
    crlf: bool,
    /// errorMessage once the job has failed.
    failure: Option<String>,
    aborted_ms: Option<i64>,
    deleted: bool,
    exec: Arc<Exec>,
    /// numberRecordsProcessed.
    total: u64,
    results_requested: u64,
    /// (row, executor position) just after the last page served: the next page
    /// continues from there without rescanning a filtered result.
    resume: Arc<Mutex<(u64, u64)>>,
}

impl Job {
    fn state(&self) -> JobState {
        if self.aborted_ms.is_some() {
            return JobState::Aborted;
        }
        let e = self.started.elapsed().as_millis() as u64;
        if e >= self.duration_ms {
            if self.failure.is_some() {
                JobState::Failed
            } else {
                JobState::JobComplete
            }
        } else if e.saturating_mul(2) >= self.duration_ms {
            JobState::InProgress
        } else {
            JobState::UploadComplete
        }
    }

    /// When the state last changed.
    fn modstamp(&self, st: JobState) -> i64 {
        let d = self.duration_ms as i64;
        match st {
            JobState::Aborted => self.aborted_ms.unwrap_or(self.created_ms),
            JobState::JobComplete | JobState::Failed => self.created_ms + d,
            JobState::InProgress => self.created_ms + d / 2,
            JobState::UploadComplete => self.created_ms,
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Shape {
    /// Create and abort responses.
    Created,
    /// Get job info.
    Full,
    /// An entry of the job list.
    Listed,
}

fn info(job: &Job, shape: Shape) -> Json {
    let st = if shape == Shape::Created && job.aborted_ms.is_none() {
        JobState::UploadComplete
    } else {
        job.state()
    };
    let mut m = Map::new();
    let mut put = |k: &str, v: Json| {
        m.insert(k.into(), v);
    };
    put("id", job.id.clone().into());
    put("operation", job.operation.into());
    put("object", job.object.name().into());
    put("createdById", job.created_by.clone().into());
    put(
        "createdDate",
        crate::time::format_datetime(job.created_ms).into(),
    );
    put(
        "systemModstamp",
        crate::time::format_datetime(job.modstamp(st)).into(),
    );
    put("state", st.name().into());
    put("concurrencyMode", "Parallel".into());
    put("contentType", "CSV".into());
    put(
        "apiVersion",
        json!(job.version.parse::<f64>().unwrap_or(0.0)),
    );
    if shape != Shape::Created {
        put("jobType", "V2Query".into());
    }
    put("lineEnding", if job.crlf { "CRLF" } else { "LF" }.into());
    put("columnDelimiter", job.delimiter.0.into());
    if shape == Shape::Full {
        let done = st == JobState::JobComplete;
        put(
            "numberRecordsProcessed",
            json!(if done { job.total } else { 0 }),
        );
        put("retries", json!(0));
        put(
            "totalProcessingTime",
            json!(if done { job.duration_ms } else { 0 }),
        );
        put("isPkChunkingSupported", json!(true));
        if st == JobState::Failed {
            put(
                "errorMessage",
                job.failure.clone().unwrap_or_default().into(),
            );
        }
    }
    Json::Object(m)
}

/// Bulk error body `[{"errorCode","message"}]`.
fn err(status: StatusCode, code: &str, message: &str) -> Response {
    http::json_value(status, &json!([{"errorCode": code, "message": message}]))
}

fn not_found() -> Response {
    err(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "The requested resource does not exist",
    )
}

fn bad(code: &str, message: &str) -> Response {
    err(StatusCode::BAD_REQUEST, code, message)
}

pub struct Jobs {
    map: Mutex<HashMap<String, Job>>,
    seq: AtomicU64,
}

impl Default for Jobs {
    fn default() -> Self {
        // A random start keeps job ids of different sim runs apart.
        Jobs {
            map: Mutex::default(),
            seq: AtomicU64::new(rand::rng().random_range(0..1u64 << 30)),
        }
    }
}

/// `750` + 15 base62 characters, e.g. `7505g0000001xYzIAA`.
fn job_id(seq: u64) -> String {
    const B62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut digits = [b'0'; 8];
    let mut v = seq;
    for d in digits.iter_mut().rev() {
        *d = B62[(v % 62) as usize];
        v /= 62;
    }
    format!("7505g00{}IAA", String::from_utf8_lossy(&digits))
}

fn delimiter(name: Option<&str>) -> Option<(&'static str, u8)> {
    Some(match name.unwrap_or("COMMA") {
        "COMMA" => ("COMMA", b','),
        "TAB" => ("TAB", b'\t'),
        "PIPE" => ("PIPE", b'|'),
        "SEMICOLON" => ("SEMICOLON", b';'),
        "CARET" => ("CARET", b'^'),
        "BACKQUOTE" => ("BACKQUOTE", b'`'),
        _ => return None,
    })
}

/// `POST /jobs/query`.
pub async fn create(sim: &Arc<Sim>, body: &[u8], version: &str, user: u64) -> Response {
    let req = match serde_json::from_slice::<Json>(body) {
        Ok(Json::Object(m)) => m,
        _ => {
            return bad(
                "JSON_PARSER_ERROR",
                "The request body must be a JSON object describing the job",
            )
        }
    };
    let s = |k: &str| req.get(k).and_then(Json::as_str);
    let operation = match s("operation") {
        Some("query") => "query",
        Some("queryAll") => "queryAll",
        other => {
            return bad(
                "INVALIDJOB",
                &format!("Invalid operation: {}", other.unwrap_or("null")),
            )
        }
    };
    if !matches!(s("contentType"), None | Some("CSV")) {
        return bad("INVALIDJOB", "Query jobs support contentType CSV only");
    }
    let Some(delim) = delimiter(s("columnDelimiter")) else {
        return bad(
            "INVALIDJOB",
            "Invalid columnDelimiter: use BACKQUOTE, CARET, COMMA, PIPE, SEMICOLON or TAB",
        );
    };
    let crlf = match s("lineEnding") {
        None | Some("LF") => false,
        Some("CRLF") => true,
        Some(_) => return bad("INVALIDJOB", "Invalid lineEnding: use LF or CRLF"),
    };
    let Some(q) = s("query").filter(|q| !q.trim().is_empty()) else {
        return bad("INVALIDJOB", "The query field is required");
    };
    // Bulk API cannot serialize compound (address, geolocation) fields as CSV.
    if crate::schema::selects_compound(q) {
        return bad(
            "FUNCTIONALITY_NOT_ENABLED",
            "Selecting compound data not supported in Bulk Query",
        );
    }
    let plan = match plan::compile(q) {
        Ok(p) => p,
        Err((code, msg)) => return bad(code, &msg),
    };
    // Research §8: Bulk query supports neither aggregates nor OFFSET.
    if plan.count_only {
        return bad(
            "FUNCTIONALITY_NOT_ENABLED",
            "Aggregate queries are not supported in Bulk Query",
        );
    }
    if plan.offset.is_some() {
        return bad(
            "FUNCTIONALITY_NOT_ENABLED",
            "OFFSET is not supported in Bulk Query",
        );
    }
    let (object, limit, order_label) = (plan.obj, plan.limit, plan.order_label.clone());
    let data: Data = sim.data();
    let counted = tokio::task::spawn_blocking(move || {
        let exec = Exec::with_deleted(Arc::new(plan), data, operation == "queryAll");
        let total = exec.count(limit.unwrap_or(u64::MAX));
        (exec, total)
    })
    .await;
    let Ok((exec, total)) = counted else {
        return err(
            StatusCode::INTERNAL_SERVER_ERROR,
            "UNKNOWN_EXCEPTION",
            "An unexpected error occurred.",
        );
    };
    let failure = if sim.settings.bulk_fail_next.swap(false, Relaxed) {
        Some("InvalidBatch : Failed to process query: UNKNOWN_EXCEPTION: job failed on purpose (bulkFailNext)".to_string())
    } else if exec.is_sorted() && total > MAX_SORT_ROWS as u64 {
        Some(format!("InvalidBatch : Failed to process query: sim: ORDER BY {order_label} unsupported on result sets over {MAX_SORT_ROWS} rows"))
    } else {
        None
    };
    let seq = sim.jobs.seq.fetch_add(1, Relaxed);
    let job = Job {
        id: job_id(seq),
        seq,
        operation,
        object,
        created_by: data::id_string(Obj::User, user),
        created_ms: crate::time::now_ms(),
        started: Instant::now(),
        // Capped at a day so timestamp arithmetic cannot overflow.
        duration_ms: sim.settings.bulk_job_ms.load(Relaxed).min(86_400_000),
        version: version.to_string(),
        delimiter: delim,
        crlf,
        failure,
        aborted_ms: None,
        deleted: false,
        exec: Arc::new(exec),
        total,
        results_requested: 0,
        resume: Arc::new(Mutex::new((0, 0))),
    };
    let body = info(&job, Shape::Created);
    let mut map = lock(&sim.jobs.map);
    if map.len() >= MAX_JOBS {
        if let Some(oldest) = map.values().min_by_key(|j| j.seq).map(|j| j.id.clone()) {
            map.remove(&oldest);
        }
    }
    map.insert(job.id.clone(), job);
    http::json_value(StatusCode::OK, &body)
}

/// `GET /jobs/query/<id>`.
pub fn get(sim: &Sim, id: &str) -> Response {
    match lock(&sim.jobs.map).get(id).filter(|j| !j.deleted) {
        Some(j) => http::json_value(StatusCode::OK, &info(j, Shape::Full)),
        None => not_found(),
    }
}

/// `GET /jobs/query`.
pub fn list(sim: &Sim) -> Response {
    let map = lock(&sim.jobs.map);
    let mut jobs: Vec<&Job> = map.values().filter(|j| !j.deleted).collect();
    jobs.sort_by_key(|j| j.seq);
    let records: Vec<Json> = jobs.iter().map(|j| info(j, Shape::Listed)).collect();
    http::json_value(
        StatusCode::OK,
        &json!({"done": true, "records": records, "nextRecordsUrl": null}),
    )
}

/// `PATCH /jobs/query/<id>` with `{"state":"Aborted"}`.
pub fn patch(sim: &Sim, id: &str, body: &[u8]) -> Response {
    let wanted = match serde_json::from_slice::<Json>(body) {
        Ok(Json::Object(m)) => m.get("state").and_then(Json::as_str).map(String::from),
        _ => {
            return bad(
                "JSON_PARSER_ERROR",
                "The request body must be a JSON object",
            )
        }
    };
    let mut map = lock(&sim.jobs.map);
    let Some(job) = map.get_mut(id).filter(|j| !j.deleted) else {
        return not_found();
    };
    if wanted.as_deref() != Some("Aborted") {
        return bad(
            "INVALIDJOBSTATE",
            &format!(
                "Invalid state for a query job: {}",
                wanted.as_deref().unwrap_or("null")
            ),
        );
    }
    match job.state() {
        JobState::UploadComplete | JobState::InProgress => {
            job.aborted_ms = Some(crate::time::now_ms());
            http::json_value(StatusCode::OK, &info(job, Shape::Created))
        }
        // Real message: [OBS] restforce#905.
        JobState::JobComplete => bad(
            "INVALIDJOBSTATE",
            "Aborting already Completed Job not allowed",
        ),
        JobState::Failed => bad("INVALIDJOBSTATE", "Aborting already Failed Job not allowed"),
        JobState::Aborted => bad(
            "INVALIDJOBSTATE",
            "Aborting already Aborted Job not allowed",
        ),
    }
}

/// `DELETE /jobs/query/<id>`: allowed unless the job is InProgress.
pub fn delete(sim: &Sim, id: &str) -> Response {
    let mut map = lock(&sim.jobs.map);
    let Some(job) = map.get_mut(id).filter(|j| !j.deleted) else {
        return not_found();
    };
    if job.state() == JobState::InProgress {
        return bad(
            "INVALIDJOBSTATE",
            "Deleting a job in state InProgress is not allowed",
        );
    }
    job.deleted = true;
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::NO_CONTENT;
    r
}

/// `/__sim/jobs`: every job ever created (deleted ones too), oldest first.
pub fn sim_jobs(sim: &Sim) -> Json {
    let map = lock(&sim.jobs.map);
    let mut jobs: Vec<&Job> = map.values().collect();
    jobs.sort_by_key(|j| j.seq);
    jobs.iter()
        .map(|j| {
            json!({
                "id": j.id,
                "state": j.state().name(),
                "object": j.object.name(),
                "operation": j.operation,
                "numberRecordsProcessed": j.total,
                "resultsRequested": j.results_requested,
                "deleted": j.deleted,
            })
        })
        .collect()
}

fn encode_locator(row: u64) -> String {
    STANDARD_NO_PAD.encode(row.to_string())
}

fn decode_locator(s: &str) -> Option<u64> {
    let raw = STANDARD_NO_PAD.decode(s.trim_end_matches('=')).ok()?;
    std::str::from_utf8(&raw).ok()?.parse().ok()
}

/// `GET /jobs/query/<id>/results`.
pub async fn results(sim: &Arc<Sim>, id: &str, version: &str, params: &Params) -> Response {
    let max = match param(params, "maxRecords").filter(|s| !s.is_empty()) {
        None => DEFAULT_MAX_RECORDS,
        Some(s) => match s.parse::<u64>() {
            Ok(n) if n > 0 => n,
            _ => {
                return bad(
                    "INVALIDREQUEST",
                    &format!("maxRecords must be a positive integer: {s}"),
                )
            }
        },
    };
    let (exec, total, delim, crlf, resume) = {
        let mut map = lock(&sim.jobs.map);
        let Some(job) = map.get_mut(id).filter(|j| !j.deleted) else {
            return not_found();
        };
        job.results_requested += 1;
        if job.version != version {
            let msg = format!(
                "Job {id} was created with API version {}; get its results with the same version",
                job.version
            );
            return err(StatusCode::CONFLICT, "INVALIDJOB", &msg);
        }
        let st = job.state();
        if st != JobState::JobComplete {
            return bad(
                "INVALIDJOBSTATE",
                &format!(
                    "Results are only available for jobs in state JobComplete; job {id} is {}",
                    st.name()
                ),
            );
        }
        (
            job.exec.clone(),
            job.total,
            job.delimiter.1,
            job.crlf,
            job.resume.clone(),
        )
    };
    let start = match param(params, "locator").filter(|s| !s.is_empty()) {
        None => 0,
        Some(l) => match decode_locator(l).filter(|&r| r <= total) {
            Some(r) => r,
            None => return bad("INVALID_QUERY_LOCATOR", "invalid query locator"),
        },
    };
    let n = max.min(total - start);
    let next = start + n;
    let mode = if exec.is_sorted() {
        let e = exec.clone();
        let Ok(Ok(mut rows)) = tokio::task::spawn_blocking(move || e.sorted()).await else {
            return err(
                StatusCode::INTERNAL_SERVER_ERROR,
                "UNKNOWN_EXCEPTION",
                "An unexpected error occurred.",
            );
        };
        rows.truncate(next as usize);
        rows.drain(..(start as usize).min(rows.len()));
        Mode::List(rows.into_iter())
    } else {
        let cached = *lock(&resume);
        let pos = if cached.0 == start {
            cached.1
        } else {
            let e = exec.clone();
            match tokio::task::spawn_blocking(move || e.seek(start)).await {
                Ok(p) => p,
                Err(_) => {
                    return err(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "UNKNOWN_EXCEPTION",
                        "An unexpected error occurred.",
                    )
                }
            }
        };
        Mode::Scan(pos)
    };
    let page = CsvPage {
        exec,
        delim,
        eol: if crlf { b"\r\n" } else { b"\n" },
        header: true,
        mode,
        left: n,
        end_row: next,
        resume,
        rows: Vec::new(),
        finished: false,
        // `bulkCutPages`: this page dies after its first chunk.
        cut_after: sim
            .settings
            .bulk_cut_pages
            .fetch_update(Relaxed, Relaxed, |n| n.checked_sub(1))
            .ok()
            .map(|_| 1),
        sent: 0,
    };
    let mut r = Response::new(Body::from_stream(page));
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv"));
    let locator = if next < total {
        encode_locator(next)
    } else {
        "null".to_string()
    };
    if let Ok(v) = HeaderValue::from_str(&locator) {
        h.insert("sforce-locator", v);
    }
    h.insert("sforce-numberofrecords", HeaderValue::from(n));
    r.extensions_mut().insert(crate::pace::Records(n));
    r
}

/// `resultUrl`s per `resultPages` answer (Salesforce: "up to five").
const RESULT_PAGES_PER_ANSWER: u64 = 5;
/// First API version that serves `resultPages`.
pub const RESULT_PAGES_MIN_VERSION: f64 = 58.0;

/// `GET /jobs/query/<id>/resultPages?locator=L` (API 58.0+): up to five `resultUrl`s
/// (each a `results` URL with its own locator and `maxRecords`), `nextRecordUrl` for the
/// next five, and `done`. `maxRecords` sets the rows per result page.
pub fn result_pages(sim: &Sim, id: &str, version: &str, params: &Params) -> Response {
    let max = match param(params, "maxRecords").filter(|s| !s.is_empty()) {
        None => DEFAULT_MAX_RECORDS,
        Some(s) => match s.parse::<u64>() {
            Ok(n) if n > 0 => n,
            _ => {
                return bad(
                    "INVALIDREQUEST",
                    &format!("maxRecords must be a positive integer: {s}"),
                )
            }
        },
    };
    let total = {
        let map = lock(&sim.jobs.map);
        let Some(job) = map.get(id).filter(|j| !j.deleted) else {
            return not_found();
        };
        if job.version != version {
            let msg = format!(
                "Job {id} was created with API version {}; get its results with the same version",
                job.version
            );
            return err(StatusCode::CONFLICT, "INVALIDJOB", &msg);
        }
        let st = job.state();
        if st != JobState::JobComplete {
            return bad(
                "INVALIDJOBSTATE",
                &format!(
                    "Results are only available for jobs in state JobComplete; job {id} is {}",
                    st.name()
                ),
            );
        }
        job.total
    };
    let start = match param(params, "locator").filter(|s| !s.is_empty()) {
        None => 0,
        Some(l) => match decode_locator(l).filter(|&r| r <= total) {
            Some(r) => r,
            None => return bad("INVALID_QUERY_LOCATOR", "invalid query locator"),
        },
    };
    let base = format!("/services/data/v{version}/jobs/query/{id}");
    let mut pages = Vec::new();
    let mut row = start;
    // An empty job still has one (empty) page: its CSV header.
    while (row < total || (total == 0 && pages.is_empty()))
        && (pages.len() as u64) < RESULT_PAGES_PER_ANSWER
    {
        let url = if row == 0 {
            format!("{base}/results?maxRecords={max}")
        } else {
            format!(
                "{base}/results?locator={}&maxRecords={max}",
                encode_locator(row)
            )
        };
        pages.push(json!({ "resultUrl": url }));
        row += max;
    }
    let done = row >= total;
    let next = if done {
        Json::Null
    } else {
        Json::String(format!(
            "{base}/resultPages?locator={}&maxRecords={max}",
            encode_locator(row)
        ))
    };
    http::json_value(
        StatusCode::OK,
        &json!({ "resultPages": pages, "nextRecordUrl": next, "done": done }),
    )
}

enum Mode {
    /// Unsorted orders: the executor position of the next row.
    Scan(u64),
    /// ORDER BY on a non-index field: this page's rows, already sorted.
    List(std::vec::IntoIter<u64>),
}

/// One results page as a stream of ~64 KB CSV chunks.
struct CsvPage {
    exec: Arc<Exec>,
    delim: u8,
    eol: &'static [u8],
    header: bool,
    mode: Mode,
    left: u64,
    end_row: u64,
    resume: Arc<Mutex<(u64, u64)>>,
    rows: Vec<u64>,
    finished: bool,
    /// Fault: after this many chunks the body fails (the connection drops mid-page).
    cut_after: Option<u32>,
    sent: u32,
}

/// Every value double-quoted (quotes doubled); null is an empty, unquoted field.
fn push_csv(out: &mut Vec<u8>, v: &Value) {
    fn quoted(out: &mut Vec<u8>, b: &[u8]) {
        out.push(b'"');
        for part in b.split(|&c| c == b'"').enumerate() {
            if part.0 > 0 {
                out.extend_from_slice(b"\"\"");
            }
            out.extend_from_slice(part.1);
        }
        out.push(b'"');
    }
    match v {
        Value::Null => {}
        Value::Str(s) => quoted(out, s.as_bytes()),
        Value::Bool(b) => quoted(out, if *b { b"true" } else { b"false" }),
        Value::Id(o, i) => quoted(out, &data::id_bytes(*o, *i)),
        Value::Num(n) => {
            out.push(b'"');
            render::push_num(out, *n);
            out.push(b'"');
        }
        Value::Date(d) => {
            out.push(b'"');
            crate::time::write_date(out, *d);
            out.push(b'"');
        }
        Value::DateTime(ms) => {
            // Bulk CSV writes UTC dateTimes with `Z` (REST JSON uses `+0000`).
            out.push(b'"');
            crate::time::write_datetime(out, *ms);
            out.truncate(out.len() - "+0000".len());
            out.extend_from_slice(b"Z\"");
        }
    }
}

impl CsvPage {
    fn next_chunk(&mut self) -> Option<Bytes> {
        let exec = self.exec.clone();
        let (plan, d) = (exec.plan(), exec.data());
        let cols: &[FPath] = &plan.columns;
        let mut out = Vec::with_capacity(CHUNK + 4096);
        if self.header {
            self.header = false;
            for (i, c) in cols.iter().enumerate() {
                if i > 0 {
                    out.push(self.delim);
                }
                push_csv(&mut out, &Value::Str(c.header().into()));
            }
            out.extend_from_slice(self.eol);
        }
        while out.len() < CHUNK && self.left > 0 {
            self.rows.clear();
            let want = self.left.min(512);
            match &mut self.mode {
                Mode::Scan(pos) => exec.fill(pos, want, &mut self.rows),
                Mode::List(it) => self.rows.extend(it.by_ref().take(want as usize)),
            }
            if self.rows.is_empty() {
                self.left = 0;
                break;
            }
            self.left = self.left.saturating_sub(self.rows.len() as u64);
            if crate::schema::take_drop(self.rows.len()) {
                self.rows.remove(0);
            }
            for &idx in &self.rows {
                for (i, c) in cols.iter().enumerate() {
                    if i > 0 {
                        out.push(self.delim);
                    }
                    push_csv(&mut out, &plan::eval_path(d, plan.obj, idx, c));
                }
                out.extend_from_slice(self.eol);
            }
        }
        if self.left == 0 && !self.finished {
            self.finished = true;
            if let Mode::Scan(pos) = self.mode {
                *lock(&self.resume) = (self.end_row, pos);
            }
        }
        (!out.is_empty()).then(|| Bytes::from(out))
    }
}

impl futures_core::Stream for CsvPage {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let me = self.get_mut();
        if me.cut_after.is_some_and(|n| me.sent >= n) {
            me.cut_after = None;
            me.left = 0;
            return Poll::Ready(Some(Err(std::io::Error::other(
                "page cut by fault injection",
            ))));
        }
        me.sent += 1;
        Poll::Ready(me.next_chunk().map(Ok))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locators_look_like_salesforce() {
        assert_eq!(encode_locator(10_000), "MTAwMDA");
        assert_eq!(encode_locator(200_000), "MjAwMDAw");
        assert_eq!(decode_locator("MTAwMDA"), Some(10_000));
        assert_eq!(decode_locator("MTAwMDA="), Some(10_000));
        assert_eq!(decode_locator("null"), None);
        assert_eq!(decode_locator("!!"), None);
    }

    #[test]
    fn csv_quoting() {
        let mut out = Vec::new();
        push_csv(&mut out, &Value::Str("say \"hi\"\nbye".into()));
        out.push(b',');
        push_csv(&mut out, &Value::Null);
        out.push(b',');
        push_csv(&mut out, &Value::Num(250.0));
        out.push(b',');
        push_csv(&mut out, &Value::DateTime(1_704_067_200_000));
        out.push(b',');
        push_csv(&mut out, &Value::Bool(false));
        assert_eq!(
            String::from_utf8_lossy(&out),
            "\"say \"\"hi\"\"\nbye\",,\"250.0\",\"2024-01-01T00:00:00.000Z\",\"false\""
        );
        assert_eq!(job_id(0).len(), 18);
        assert!(job_id(12345).starts_with("7505g00"));
    }
}

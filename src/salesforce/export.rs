//! Exports. A page is read in `ORDER BY Id` order so pages tile the records exactly; pages past
//! Salesforce's 2,000-row OFFSET ceiling are reached by keyset (`WHERE Id > last`), with the Id
//! that starts a deep page found by cheap one-row hops of OFFSET ≤ 2,000 and remembered. Streams
//! follow `nextRecordsUrl` one batch at a time, so memory is bounded by a batch.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::{Error, Result};
use crate::lru::Lru;
use crate::salesforce::bulk::BulkState;
use crate::salesforce::describe::DescribeCache;
use crate::salesforce::locator::NextRecordsUrl;
use crate::salesforce::paginate::{paginate, Pagination};
use crate::salesforce::parallel::ParallelRest;
use crate::salesforce::rest::{query_path, Rest, SharedRest};
use crate::salesforce::soql::{ExportType, Select, SoqlDateTime};
use crate::token::record::ConnKey;

/// Salesforce's ceiling for OFFSET.
pub const MAX_OFFSET: u64 = 2000;
/// Salesforce's largest query batch.
pub const MAX_BATCH: u64 = 2000;
const ANCHOR_TTL: Duration = Duration::from_secs(600);
const MAX_ANCHORS: usize = 4096;

/// One query response, records kept as raw JSON text (they cross to JS as text, never re-encoded).
#[derive(Deserialize)]
pub struct QueryPage<'a> {
    #[serde(rename = "totalSize")]
    pub total_size: u64,
    pub done: bool,
    #[serde(rename = "nextRecordsUrl", default)]
    pub next_records_url: Option<String>,
    #[serde(borrow)]
    pub records: Option<&'a RawValue>,
}

impl<'a> QueryPage<'a> {
    pub fn parse(body: &'a [u8]) -> Result<Self> {
        serde_json::from_slice(body)
            .map_err(|e| Error::Unavailable(format!("unreadable query response: {e}")))
    }

    /// The records as individual raw values.
    pub fn rows(&self) -> Result<Vec<&'a RawValue>> {
        match self.records {
            None => Ok(Vec::new()),
            Some(r) => serde_json::from_str(r.get())
                .map_err(|e| Error::Unavailable(format!("unreadable records: {e}"))),
        }
    }
}

/// The Id of a record, read from `attributes.url` (so exports need not add `Id` to the fields and
/// records keep the incumbent's shape).
pub fn record_id(raw: &RawValue) -> Option<String> {
    #[derive(Deserialize)]
    struct Attrs<'a> {
        #[serde(borrow)]
        url: &'a str,
    }
    #[derive(Deserialize)]
    struct Rec<'a> {
        #[serde(borrow)]
        attributes: Option<Attrs<'a>>,
        #[serde(rename = "Id")]
        id: Option<String>,
    }
    let r: Rec = serde_json::from_str(raw.get()).ok()?;
    r.id.or_else(|| {
        r.attributes
            .and_then(|a| a.url.rsplit('/').next().map(str::to_string))
    })
}

/// Appends raw records to a JSON array under construction.
pub struct ArrayBuilder {
    out: String,
    n: usize,
}

impl ArrayBuilder {
    pub fn new() -> Self {
        Self {
            out: String::from("["),
            n: 0,
        }
    }
    pub fn push(&mut self, raw: &RawValue) {
        if self.n > 0 {
            self.out.push(',');
        }
        self.out.push_str(raw.get());
        self.n += 1;
    }
    pub fn len(&self) -> usize {
        self.n
    }
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }
    pub fn finish(mut self) -> String {
        self.out.push(']');
        self.out
    }
}

impl Default for ArrayBuilder {
    fn default() -> Self {
        Self::new()
    }
}

/// Remembered (position → Id) keys per connection and type, so walking pages in order costs one
/// query each, and a deep page pays its hops once. Bounded: at most `MAX_ANCHOR_CONNECTIONS`
/// connections (least recently used go) × `MAX_ANCHORS` keys per type, O(log n) per operation.
pub struct AnchorCache {
    inner: Mutex<Lru<ConnKey, HashMap<String, Anchors>>>,
}

const MAX_ANCHOR_CONNECTIONS: usize = 1024;

impl Default for AnchorCache {
    fn default() -> Self {
        Self {
            inner: Mutex::new(Lru::new(MAX_ANCHOR_CONNECTIONS)),
        }
    }
}

struct Anchors {
    total: Option<u64>,
    at: Instant,
    ids: BTreeMap<u64, String>,
}

impl AnchorCache {
    fn nearest(&self, key: &ConnKey, ty: &str, pos: u64) -> Option<(u64, String)> {
        let mut g = self.inner.lock().ok()?;
        let a = g.get(key)?.get(ty)?;
        if a.at.elapsed() > ANCHOR_TTL {
            return None;
        }
        a.ids
            .range(..=pos)
            .next_back()
            .map(|(p, id)| (*p, id.clone()))
    }

    fn put(&self, key: &ConnKey, ty: &str, pos: u64, id: String) {
        let Ok(mut g) = self.inner.lock() else { return };
        if g.get(key).is_none() {
            g.put(key.clone(), HashMap::new());
        }
        let Some(types) = g.get_mut(key) else { return };
        let a = types.entry(ty.to_string()).or_insert_with(|| Anchors {
            total: None,
            at: Instant::now(),
            ids: BTreeMap::new(),
        });
        if a.at.elapsed() > ANCHOR_TTL || a.ids.len() >= MAX_ANCHORS {
            *a = Anchors {
                total: a.total,
                at: Instant::now(),
                ids: BTreeMap::new(),
            };
        }
        a.ids.insert(pos, id);
    }

    /// Positions shift when records are added or removed: a changed count drops the anchors.
    fn observe_total(&self, key: &ConnKey, ty: &str, total: u64) {
        let Ok(mut g) = self.inner.lock() else { return };
        if let Some(a) = g.get_mut(key).and_then(|types| types.get_mut(ty)) {
            if a.total.is_some_and(|t| t != total) {
                a.ids.clear();
                a.at = Instant::now();
            }
            a.total = Some(total);
        }
    }

    pub fn forget_connection(&self, key: &ConnKey) {
        if let Ok(mut g) = self.inner.lock() {
            g.remove(key);
        }
    }
}

/// A page of records as raw JSON text plus the incumbent's pagination object.
pub struct PageResult {
    pub data_json: String,
    pub pagination: Pagination,
    /// REST calls this page cost (for the docs' deep-page cost and tests).
    pub api_calls: u32,
}

pub struct Exporter<'a> {
    pub rest: Rest<'a>,
    pub anchors: &'a AnchorCache,
}

impl Exporter<'_> {
    async fn run(&self, key: &ConnKey, soql: &str, batch: Option<u32>) -> Result<bytes::Bytes> {
        self.rest
            .get(key, &query_path(self.rest.cfg, soql), batch)
            .await
    }

    pub async fn count(&self, key: &ConnKey, ty: &ExportType) -> Result<u64> {
        let body = self.run(key, &Select::new(ty).count(), None).await?;
        Ok(QueryPage::parse(&body)?.total_size)
    }

    /// `exportPage`: the count and the data run concurrently.
    pub async fn page(
        &self,
        key: &ConnKey,
        type_name: &str,
        ty: &ExportType,
        page: u64,
        limit: Option<u64>,
    ) -> Result<PageResult> {
        let offset = match limit {
            Some(l) => (page - 1).saturating_mul(l),
            None => 0,
        };
        // With no limit, only page 1 has data; other pages need the count alone.
        let wants_data = limit.is_some() || page == 1;
        // The count gates deep hops as soon as it is known: a page far past the end must not cost
        // a hop per 2,001 records of the org.
        let known_total = tokio::sync::OnceCell::new();
        let count = async {
            let t = self.count(key, ty).await?;
            let _ = known_total.set(t);
            Ok::<u64, Error>(t)
        };
        let data = async {
            if wants_data {
                self.data(key, type_name, ty, offset, limit, &known_total)
                    .await
                    .map(Some)
            } else {
                Ok(None)
            }
        };
        let (total, data) = tokio::try_join!(count, data)?;
        self.anchors.observe_total(key, type_name, total);
        let pagination = paginate(total, page, limit);
        let (data_json, calls) = match data {
            Some((json, n, calls)) if pagination.in_range() && n > 0 => (json, calls),
            Some((_, _, calls)) => ("[]".to_string(), calls),
            None => ("[]".to_string(), 0),
        };
        Ok(PageResult {
            data_json,
            pagination,
            api_calls: calls + 1,
        })
    }

    /// Records [offset, offset+limit) in Id order; returns (json, count, calls).
    async fn data(
        &self,
        key: &ConnKey,
        type_name: &str,
        ty: &ExportType,
        offset: u64,
        limit: Option<u64>,
        known_total: &tokio::sync::OnceCell<u64>,
    ) -> Result<(String, usize, u32)> {
        let mut calls = 0u32;
        let want = limit.unwrap_or(u64::MAX);
        // Shallow pages: one OFFSET query answers them outright.
        if offset <= MAX_OFFSET && want <= MAX_BATCH {
            let body = self
                .run(
                    key,
                    &Select::new(ty).limit(want).offset(offset).build(),
                    None,
                )
                .await?;
            calls += 1;
            let page = QueryPage::parse(&body)?;
            let rows = page.rows()?;
            self.remember_last(key, type_name, offset, &rows);
            let mut b = ArrayBuilder::new();
            rows.iter().for_each(|r| b.push(r));
            let n = b.len();
            return Ok((b.finish(), n, calls));
        }
        let after = if offset == 0 {
            None
        } else {
            let (id, hops) = self
                .id_at(key, type_name, ty, offset - 1, known_total)
                .await?;
            calls += hops;
            match id {
                Some(id) => Some(id),
                None => return Ok(("[]".to_string(), 0, calls)),
            }
        };
        let mut sel = Select::new(ty);
        if let Some(a) = &after {
            sel = sel.after_id(a);
        }
        if let Some(l) = limit {
            sel = sel.limit(l);
        }
        let mut b = ArrayBuilder::new();
        let mut body = self.run(key, &sel.build(), Some(MAX_BATCH as u32)).await?;
        calls += 1;
        loop {
            let page = QueryPage::parse(&body)?;
            let rows = page.rows()?;
            let room = (want - b.len() as u64).min(rows.len() as u64) as usize;
            self.remember_last(key, type_name, offset + b.len() as u64, &rows[..room]);
            rows[..room].iter().for_each(|r| b.push(r));
            match page.next_records_url {
                Some(next) if !page.done && (b.len() as u64) < want => {
                    let next = NextRecordsUrl::from_salesforce(&next)?;
                    body = self
                        .rest
                        .get(key, next.as_str(), Some(MAX_BATCH as u32))
                        .await?;
                    calls += 1;
                }
                _ => break,
            }
        }
        let n = b.len();
        Ok((b.finish(), n, calls))
    }

    /// Remembers the Id that ends a run of rows starting at `offset`, so the next page starts
    /// from it with `WHERE Id >` instead of hopping.
    fn remember_last(&self, key: &ConnKey, type_name: &str, offset: u64, rows: &[&RawValue]) {
        if let Some(id) = rows.last().and_then(|r| record_id(r)) {
            self.anchors
                .put(key, type_name, offset + rows.len() as u64 - 1, id);
        }
    }

    /// The Id at 0-based position `pos` in Id order, hopping ≤ 2,000 rows per one-row query from
    /// the nearest remembered anchor. Returns (id, queries made); `None` past the end.
    async fn id_at(
        &self,
        key: &ConnKey,
        type_name: &str,
        ty: &ExportType,
        pos: u64,
        known_total: &tokio::sync::OnceCell<u64>,
    ) -> Result<(Option<String>, u32)> {
        let mut calls = 0;
        let (mut at, mut id): (Option<u64>, Option<String>) =
            match self.anchors.nearest(key, type_name, pos) {
                Some((p, i)) => (Some(p), Some(i)),
                None => (None, None),
            };
        loop {
            if at == Some(pos) {
                return Ok((id, calls));
            }
            if known_total.get().is_some_and(|t| pos >= *t) {
                return Ok((None, calls));
            }
            // Rows after the anchor start at OFFSET 0.
            let next_index = at.map(|p| p + 1).unwrap_or(0);
            let skip = (pos - next_index).min(MAX_OFFSET);
            let mut sel = Select::new(ty).id_only().limit(1).offset(skip);
            if let Some(i) = &id {
                sel = sel.after_id(i);
            }
            let body = self.run(key, &sel.build(), None).await?;
            calls += 1;
            let page = QueryPage::parse(&body)?;
            let rows = page.rows()?;
            let Some(found) = rows.first().and_then(|r| record_id(r)) else {
                return Ok((None, calls));
            };
            let p = next_index + skip;
            self.anchors.put(key, type_name, p, found.clone());
            at = Some(p);
            id = Some(found);
        }
    }
}

/// Which engine an `exportAll` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// REST query + queryMore.
    Rest,
    /// Bulk API 2.0 query jobs.
    Bulk,
    /// Bulk above `bulkThreshold` records (from a COUNT()), else REST.
    Auto,
}

impl Engine {
    pub fn parse(s: Option<&str>) -> Result<Self> {
        match s {
            None | Some("rest") => Ok(Engine::Rest),
            Some("bulk") => Ok(Engine::Bulk),
            Some("auto") => Ok(Engine::Auto),
            Some(_) => Err(Error::input(
                "engine",
                "must be \"rest\", \"bulk\" or \"auto\"",
            )),
        }
    }
}

enum EngineState {
    Undecided,
    Rest {
        next_url: Option<String>,
        started: bool,
    },
    /// REST over K Id ranges at once (`parallelism` > 1).
    Parallel(Box<ParallelRest>),
    Bulk(Box<BulkState>),
}

/// A streaming export: one batch per `next()`, fetched only when asked for.
pub struct ExportCursor {
    pub key: ConnKey,
    pub ty: ExportType,
    pub since: Option<SoqlDateTime>,
    pub batch_size: u32,
    state: EngineState,
    finished: bool,
    pub fetched: u64,
    pub total: Option<u64>,
    /// REST: Id ranges read at once (1 = one `nextRecordsUrl` chain) and whether batches keep Id order.
    parallelism: u32,
    ordered: bool,
    /// `apiUsageCeiling` is checked once, before the first request.
    ceiling_checked: bool,
    /// Salesforce's `attributes` objects stay in the records (dropped here, before JS, when false).
    attributes: bool,
    /// The form Bulk batches are written in (REST batches are always JSON arrays).
    bulk_form: BatchForm,
    /// The field list is settled: `fields: 'all'` resolved, a call's own list checked.
    fields_settled: bool,
    /// A call's own field list, checked against describe before the first query.
    check_fields: bool,
}

/// One batch of records: the JSON array text as Salesforce sent it (REST) or as rebuilt (Bulk),
/// so the hot path never allocates per record. A Bulk export read for a byte stream writes its
/// rows straight in the stream's form instead (`form`), never as JSON first.
pub struct Batch {
    /// The batch's text, in `form`.
    pub json: String,
    pub count: usize,
    pub form: BatchForm,
}

/// What a batch's text holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchForm {
    /// A JSON array of records.
    JsonArray,
    /// One JSON record per line.
    Ndjson,
    /// The export's CSV rows (no header), formula guard on or off.
    CsvRows { guard: bool },
}

impl Batch {
    pub fn array(json: String, count: usize) -> Self {
        Self {
            json,
            count,
            form: BatchForm::JsonArray,
        }
    }
}

impl Batch {
    /// The records as borrowed raw values (for CSV/NDJSON writing).
    pub fn rows(&self) -> Result<Vec<&RawValue>> {
        serde_json::from_str(&self.json)
            .map_err(|e| Error::Unavailable(format!("unreadable records: {e}")))
    }
}

/// A query response read in one pass: every record borrowed from the body, so the batch is the
/// records array's own text (one slice, one copy) and its length comes for free.
#[derive(Deserialize)]
pub(crate) struct RowsPage<'a> {
    #[serde(rename = "totalSize")]
    pub total_size: u64,
    pub done: bool,
    #[serde(rename = "nextRecordsUrl", default)]
    pub next_records_url: Option<String>,
    #[serde(borrow, default, deserialize_with = "rows_or_null")]
    pub records: Vec<&'a RawValue>,
}

fn rows_or_null<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Vec<&'de RawValue>, D::Error> {
    Ok(Option::<Vec<&'de RawValue>>::deserialize(d)?.unwrap_or_default())
}

impl<'a> RowsPage<'a> {
    pub fn parse(body: &'a [u8]) -> Result<Self> {
        serde_json::from_slice(body)
            .map_err(|e| Error::Unavailable(format!("unreadable query response: {e}")))
    }

    /// (count, the records array's text), sliced out of `body` between the first record's `[` and
    /// the last record's `]`.
    pub fn array_text(&self, body: &[u8]) -> (usize, String) {
        let (Some(first), Some(last)) = (self.records.first(), self.records.last()) else {
            return (0, "[]".into());
        };
        let base = body.as_ptr() as usize;
        let start = first.get().as_ptr() as usize - base;
        let end = last.get().as_ptr() as usize - base + last.get().len();
        let open = body[..start].iter().rposition(|b| *b == b'[');
        let close = body[end..].iter().position(|b| *b == b']').map(|p| end + p);
        match (open, close, std::str::from_utf8(body)) {
            (Some(o), Some(c), Ok(text)) => (self.records.len(), text[o..=c].to_string()),
            _ => (
                self.records.len(),
                crate::salesforce::format::json_array(&self.records),
            ),
        }
    }
}

impl ExportCursor {
    pub fn new(
        key: ConnKey,
        ty: ExportType,
        since: Option<SoqlDateTime>,
        batch_size: u32,
        engine: Engine,
        job_id: Option<String>,
    ) -> Self {
        let state = match (engine, job_id) {
            (_, Some(id)) => EngineState::Bulk(Box::new(BulkState::new(Some(id)))),
            (Engine::Rest, None) => EngineState::Rest {
                next_url: None,
                started: false,
            },
            (Engine::Bulk, None) => EngineState::Bulk(Box::new(BulkState::new(None))),
            (Engine::Auto, None) => EngineState::Undecided,
        };
        Self {
            key,
            ty,
            since,
            batch_size,
            state,
            finished: false,
            fetched: 0,
            total: None,
            parallelism: 1,
            ordered: true,
            ceiling_checked: false,
            attributes: true,
            bulk_form: BatchForm::JsonArray,
            fields_settled: false,
            check_fields: false,
        }
    }

    /// The call's own field list (checked against describe before the first query).
    pub fn with_checked_fields(mut self) -> Self {
        self.check_fields = true;
        self
    }

    /// The fields this export reads, once settled (`fields: 'all'` resolves on the first `next`).
    pub fn fields(&self) -> Option<Vec<String>> {
        (!self.ty.all || self.fields_settled).then(|| self.ty.field_names())
    }

    /// Whether records keep Salesforce's `attributes` objects (default true).
    pub fn with_attributes(mut self, attributes: bool) -> Self {
        self.attributes = attributes;
        self
    }

    /// The form Bulk batches are written in: a byte stream asks for its own (NDJSON lines or CSV
    /// rows) so Bulk's CSV goes to output bytes in one pass. Set before the first batch.
    pub fn set_bulk_form(&mut self, form: BatchForm) {
        self.bulk_form = form;
    }

    /// Reads a REST export over `parallelism` Id ranges at once (1 = today's single chain).
    pub fn with_parallelism(mut self, parallelism: u32, ordered: bool) -> Self {
        self.parallelism = parallelism;
        self.ordered = ordered;
        if parallelism > 1 && matches!(self.state, EngineState::Rest { started: false, .. }) {
            self.state = EngineState::Parallel(Box::new(ParallelRest::new(parallelism, ordered)));
        }
        self
    }

    /// REST calls made by a parallel export so far (None for other engines).
    pub fn parallel_calls(&self) -> Option<u64> {
        match &self.state {
            EngineState::Parallel(p) => Some(p.calls),
            _ => None,
        }
    }

    pub fn is_finished(&self) -> bool {
        self.finished
    }

    pub fn finish(&mut self) {
        self.finished = true;
        if let EngineState::Parallel(p) = &mut self.state {
            p.stop();
        }
    }

    /// The Bulk job id once one exists (pass it back as `jobId` to resume).
    pub fn job_id(&self) -> Option<&str> {
        match &self.state {
            EngineState::Bulk(b) => b.job_id(),
            _ => None,
        }
    }

    /// The job to abort on cancel: a Bulk job that has not completed yet.
    pub fn abortable_job(&self) -> Option<String> {
        match &self.state {
            EngineState::Bulk(b) if !b.is_complete() => b.job_id().map(str::to_string),
            _ => None,
        }
    }

    pub fn engine_name(&self) -> &'static str {
        match self.state {
            EngineState::Undecided => "auto",
            EngineState::Rest { .. } | EngineState::Parallel(_) => "rest",
            EngineState::Bulk(_) => "bulk",
        }
    }

    /// The next batch, or `None` when the export is complete. A parallel REST export needs
    /// [`ExportCursor::next_shared`] (its requests run as their own tasks).
    pub async fn next(
        &mut self,
        rest: &Rest<'_>,
        describes: &DescribeCache,
    ) -> Result<Option<Batch>> {
        self.next_inner(rest, None, describes).await
    }

    /// The next batch, for every engine: the parallel one keeps its window of requests in flight
    /// between calls.
    pub async fn next_shared(
        &mut self,
        shared: &SharedRest,
        describes: &DescribeCache,
    ) -> Result<Option<Batch>> {
        self.next_inner(&shared.rest(), Some(shared), describes)
            .await
    }

    async fn next_inner(
        &mut self,
        rest: &Rest<'_>,
        shared: Option<&SharedRest>,
        describes: &DescribeCache,
    ) -> Result<Option<Batch>> {
        if self.finished {
            return Ok(None);
        }
        if !self.ceiling_checked {
            rest.check_usage_ceiling(&self.key).await?;
            self.ceiling_checked = true;
        }
        if !self.fields_settled {
            crate::salesforce::describe::resolve_fields(
                describes,
                rest,
                &self.key,
                &mut self.ty,
                self.check_fields,
            )
            .await?;
            self.fields_settled = true;
        }
        if let EngineState::Undecided = self.state {
            let count = Select::new(&self.ty).since(self.since.as_ref()).count();
            let body = rest
                .get(&self.key, &query_path(rest.cfg, &count), None)
                .await?;
            let n = QueryPage::parse(&body)?.total_size;
            self.state = if n > rest.cfg.bulk_threshold {
                EngineState::Bulk(Box::new(BulkState::new(None)))
            } else if self.parallelism > 1 {
                EngineState::Parallel(Box::new(ParallelRest::new(self.parallelism, self.ordered)))
            } else {
                EngineState::Rest {
                    next_url: None,
                    started: false,
                }
            };
        }
        let is_bulk = matches!(self.state, EngineState::Bulk(_));
        let batch = match &mut self.state {
            EngineState::Bulk(b) => {
                let got = b
                    .next(
                        rest,
                        describes,
                        &self.key,
                        &self.ty,
                        self.since.as_ref(),
                        self.batch_size as usize,
                        self.bulk_form,
                        self.attributes,
                    )
                    .await;
                self.total = b.total;
                match got? {
                    Some((json, count)) => Batch {
                        json,
                        count,
                        form: self.bulk_form,
                    },
                    None => {
                        self.finished = true;
                        return Ok(None);
                    }
                }
            }
            EngineState::Parallel(p) => {
                let Some(shared) = shared else {
                    return Err(Error::Internal(
                        "a parallel export is read with next_shared".into(),
                    ));
                };
                let got = p
                    .next(
                        shared,
                        &self.key,
                        &self.ty,
                        self.since.as_ref(),
                        self.batch_size,
                    )
                    .await;
                self.total = p.total;
                match got? {
                    Some(b) => b,
                    None => {
                        self.finished = true;
                        return Ok(None);
                    }
                }
            }
            EngineState::Rest { next_url, started } => {
                let body = if !*started {
                    *started = true;
                    let soql = Select::new(&self.ty).since(self.since.as_ref()).build();
                    rest.get(
                        &self.key,
                        &query_path(rest.cfg, &soql),
                        Some(self.batch_size),
                    )
                    .await?
                } else {
                    match next_url.take() {
                        Some(u) => rest.get(&self.key, &u, Some(self.batch_size)).await?,
                        None => {
                            self.finished = true;
                            return Ok(None);
                        }
                    }
                };
                let page = RowsPage::parse(&body)?;
                self.total = Some(page.total_size);
                let (count, json) = page.array_text(&body);
                match page.next_records_url {
                    // Checked before it is kept, so a hostile one is never followed.
                    Some(u) if !page.done => {
                        *next_url = Some(NextRecordsUrl::from_salesforce(&u)?.as_str().to_string())
                    }
                    _ => self.finished = true,
                }
                if count == 0 && self.finished {
                    return Ok(None);
                }
                Batch::array(json, count)
            }
            EngineState::Undecided => {
                return Err(Error::Internal("export engine undecided".into()))
            }
        };
        let mut batch = batch;
        if !self.attributes && batch.form == BatchForm::JsonArray && !is_bulk {
            batch.json = crate::salesforce::attributes::strip(&batch.json);
        }
        self.fetched += batch.count as u64;
        Ok(Some(batch))
    }
}

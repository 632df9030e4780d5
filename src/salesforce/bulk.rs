//! Bulk API 2.0 query jobs for big exports: create a job, poll it with backoff until it completes
//! (or a deadline aborts it), then stream its CSV results page by page through `Sforce-Locator`,
//! parsing incrementally so the first batch reaches the caller before the last page is read.
//! Rows are rebuilt into the REST record shape (typed values, nested parents, `attributes`), so
//! callers cannot tell the engines apart.

use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

use crate::error::{Error, Result};
use crate::salesforce::bulk_pages::{Listing, ResultPages};
use std::sync::Arc;

use crate::salesforce::bulk_rows::{
    add_output, csv_row, CsvCol, CsvScratch, JsonWriter, Node, Step,
};
use crate::salesforce::csv::{CsvReader, Row};
use crate::salesforce::describe::{Describe, DescribeCache, ValueKind};
use crate::salesforce::export::BatchForm;
use crate::salesforce::rest::{Call, Rest};
use crate::salesforce::soql::{ExportType, SoqlDateTime};
use crate::token::record::ConnKey;

/// Rows per results page requested with `maxRecords` (memory does not depend on it: pages are
/// read as a stream).
const MAX_RECORDS: u64 = 50_000;

struct RelStep {
    name: String,
    object: String,
    id_col: usize,
}

struct Output {
    rels: Vec<RelStep>,
    leaf: String,
    kind: ValueKind,
    col: usize,
}

/// Which CSV column feeds which part of a record. The SELECT adds `Id` and every parent's `Id`
/// (needed for `attributes.url` and to tell an absent parent, `null`, from empty fields).
pub struct RowPlan {
    object: String,
    columns: Vec<String>,
    outputs: Vec<Output>,
    /// The record's members in order (for JSON), resolved once per job.
    nodes: Vec<Node>,
    /// The export's CSV columns.
    csv_cols: Vec<CsvCol>,
}

/// A batch under construction: its text in the requested form and its record count.
pub struct RowSink {
    pub form: BatchForm,
    pub attributes: bool,
    pub text: String,
    pub count: usize,
    scratch: CsvScratch,
}

impl RowSink {
    pub fn new(form: BatchForm, attributes: bool, capacity: usize) -> Self {
        Self {
            form,
            attributes,
            text: String::with_capacity(capacity),
            count: 0,
            scratch: CsvScratch::default(),
        }
    }

    /// The finished text (a JSON array is closed here; an empty one is `[]`).
    pub fn finish(mut self) -> (String, usize) {
        if self.form == BatchForm::JsonArray {
            self.text.push_str(if self.count == 0 { "[]" } else { "]" });
        }
        (self.text, self.count)
    }
}

fn invalid_field(what: &str, object: &str) -> Error {
    Error::Salesforce {
        http_status: 400,
        salesforce_code: "INVALID_FIELD".into(),
        message: format!("No such column '{what}' on entity '{object}'"),
        fields: vec![],
    }
}

/// A describe the plan needs and does not have yet (fetched, then the plan is built again).
enum Need {
    Describe(String),
    Fail(Error),
}

impl RowPlan {
    pub async fn new(
        rest: &Rest<'_>,
        describes: &DescribeCache,
        key: &ConnKey,
        ty: &ExportType,
    ) -> Result<Self> {
        let mut known: Vec<Arc<Describe>> = Vec::new();
        // Each round adds one describe, so the loop ends after at most one round per object.
        loop {
            match Self::build(ty, &known) {
                Ok(plan) => return Ok(plan),
                Err(Need::Fail(e)) => return Err(e),
                Err(Need::Describe(object)) => {
                    let d = describes.get(rest, key, &object).await?;
                    if known.iter().any(|k| k.name.eq_ignore_ascii_case(&d.name)) {
                        return Err(invalid_field(&object, &object));
                    }
                    known.push(d);
                }
            }
        }
    }

    /// The plan from describes already at hand (benchmarks and tests build it without an org).
    pub fn from_describes(ty: &ExportType, describes: &[Arc<Describe>]) -> Result<Self> {
        Self::build(ty, describes).map_err(|n| match n {
            Need::Fail(e) => e,
            Need::Describe(o) => invalid_field(&o, &o),
        })
    }

    fn build(ty: &ExportType, known: &[Arc<Describe>]) -> std::result::Result<Self, Need> {
        let describe = |object: &str| -> std::result::Result<&Describe, Need> {
            known
                .iter()
                .find(|d| d.name.eq_ignore_ascii_case(object))
                .map(|d| &**d)
                .ok_or_else(|| Need::Describe(object.to_string()))
        };
        let base = describe(ty.object.as_str())?;
        let fail = |what: &str, object: &str| Need::Fail(invalid_field(what, object));
        let mut columns: Vec<String> = vec!["Id".into()];
        let col = |columns: &mut Vec<String>, c: String| -> usize {
            match columns.iter().position(|x| x.eq_ignore_ascii_case(&c)) {
                Some(i) => i,
                None => {
                    columns.push(c);
                    columns.len() - 1
                }
            }
        };
        let mut outputs = Vec::new();
        for path in &ty.fields {
            let segs: Vec<&str> = path.as_str().split('.').collect();
            let (leaf, rel_segs) = segs
                .split_last()
                .ok_or_else(|| fail(path.as_str(), &base.name))?;
            let mut object = base.name.clone();
            let mut rels = Vec::new();
            let mut prefix = String::new();
            for seg in rel_segs {
                let d = describe(&object)?;
                let f = d.relationship(seg).ok_or_else(|| fail(seg, &object))?;
                let target = f
                    .reference_to
                    .first()
                    .cloned()
                    .ok_or_else(|| fail(seg, &object))?;
                let name = f
                    .relationship_name
                    .clone()
                    .unwrap_or_else(|| seg.to_string());
                prefix = if prefix.is_empty() {
                    name.clone()
                } else {
                    format!("{prefix}.{name}")
                };
                let id_col = col(&mut columns, format!("{prefix}.Id"));
                rels.push(RelStep {
                    name,
                    object: target.clone(),
                    id_col,
                });
                object = target;
            }
            let d = describe(&object)?;
            let f = d.field(leaf).ok_or_else(|| fail(leaf, &object))?;
            let full = if prefix.is_empty() {
                f.name.clone()
            } else {
                format!("{prefix}.{}", f.name)
            };
            let c = col(&mut columns, full);
            outputs.push(Output {
                rels,
                leaf: f.name.clone(),
                kind: f.value_kind(),
                col: c,
            });
        }
        let mut nodes = Vec::new();
        for o in &outputs {
            let steps: Vec<Step<'_>> = o
                .rels
                .iter()
                .map(|r| Step {
                    name: &r.name,
                    object: &r.object,
                    id_col: r.id_col,
                })
                .collect();
            add_output(&mut nodes, &steps, &o.leaf, o.col, o.kind);
        }
        let csv_cols = outputs
            .iter()
            .map(|o| CsvCol {
                col: o.col,
                kind: o.kind,
                parents: o.rels.iter().map(|r| r.id_col).collect(),
            })
            .collect();
        Ok(Self {
            object: base.name.clone(),
            columns,
            outputs,
            nodes,
            csv_cols,
        })
    }

    fn check_width(&self, width: usize) -> Result<()> {
        if width != self.columns.len() {
            return Err(Error::Unavailable(format!(
                "bulk results row has {width} columns, expected {}",
                self.columns.len()
            )));
        }
        Ok(())
    }

    /// Appends one row in the requested form (`out` holds the batch being built).
    pub fn write(&self, out: &mut RowSink, data_path: &str, row: &Row) -> Result<()> {
        self.check_width(row.len())?;
        match out.form {
            BatchForm::JsonArray | BatchForm::Ndjson => {
                if out.form == BatchForm::JsonArray {
                    out.text.push(if out.count == 0 { '[' } else { ',' });
                }
                JsonWriter {
                    nodes: &self.nodes,
                    object: &self.object,
                    data_path,
                    attributes: out.attributes,
                }
                .record(&mut out.text, row);
                if out.form == BatchForm::Ndjson {
                    out.text.push('\n');
                }
            }
            BatchForm::CsvRows { guard } => {
                csv_row(&mut out.text, &self.csv_cols, row, guard, &mut out.scratch)
            }
        }
        out.count += 1;
        Ok(())
    }

    pub fn soql(&self, since: Option<&SoqlDateTime>) -> String {
        let mut q = format!("SELECT {} FROM {}", self.columns.join(", "), self.object);
        if let Some(s) = since {
            q.push_str(&format!(" WHERE SystemModstamp >= {}", s.as_str()));
        }
        q
    }

    fn url(data_path: &str, object: &str, id: &str) -> String {
        format!("{data_path}/sobjects/{object}/{id}")
    }

    /// One CSV row as the record REST would have returned, built as a `serde_json::Value` tree
    /// and serialised: the conversion before `write` (about 4 µs a record), kept as the reference
    /// `write`'s bytes are tested against and the micro-benchmark's "before".
    pub fn record(&self, data_path: &str, row: &[String]) -> Result<Box<RawValue>> {
        self.check_width(row.len())?;
        let mut m = Map::new();
        m.insert(
            "attributes".into(),
            json!({ "type": self.object, "url": Self::url(data_path, &self.object, &row[0]) }),
        );
        for o in &self.outputs {
            insert(
                &mut m,
                &o.rels,
                data_path,
                row,
                &o.leaf,
                typed(&row[o.col], o.kind),
            );
        }
        serde_json::value::to_raw_value(&Value::Object(m))
            .map_err(|e| Error::Internal(e.to_string()))
    }
}

fn insert(
    m: &mut Map<String, Value>,
    rels: &[RelStep],
    data_path: &str,
    row: &[String],
    leaf: &str,
    v: Value,
) {
    let Some((r, rest)) = rels.split_first() else {
        m.insert(leaf.to_string(), v);
        return;
    };
    let id = &row[r.id_col];
    if id.is_empty() {
        m.entry(r.name.clone()).or_insert(Value::Null);
        return;
    }
    let parent = m
        .entry(r.name.clone())
        .or_insert_with(|| json!({ "attributes": { "type": r.object, "url": RowPlan::url(data_path, &r.object, id) } }));
    if let Value::Object(inner) = parent {
        insert(inner, rest, data_path, row, leaf, v);
    }
}

fn typed(s: &str, kind: ValueKind) -> Value {
    if s.is_empty() {
        return Value::Null;
    }
    match kind {
        ValueKind::Number => s
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(s.to_string())),
        ValueKind::Boolean => Value::Bool(s.eq_ignore_ascii_case("true")),
        ValueKind::DateTime => Value::String(match s.strip_suffix('Z') {
            Some(t) => format!("{t}+0000"),
            None => s.to_string(),
        }),
        ValueKind::Text => Value::String(s.to_string()),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JobInfo {
    id: String,
    state: String,
    #[serde(default)]
    number_records_processed: Option<u64>,
    #[serde(default)]
    error_message: Option<String>,
}

enum Phase {
    Plan,
    Poll,
    Results,
    Done,
}

/// The state of one Bulk export between `next` calls.
pub struct BulkState {
    job_id: Option<String>,
    plan: Option<RowPlan>,
    phase: Phase,
    /// `None` before the first page; `Some("null")` after the last.
    locator: Option<String>,
    resp: Option<reqwest::Response>,
    reader: CsvReader,
    header_seen: bool,
    started: Option<Instant>,
    polls: u32,
    pub total: Option<u64>,
    /// The last job state reported (a `bulkJob` event fires on each change).
    last_state: Option<String>,
    /// The connection's org, named in `bulkJob` events (read once from its token record).
    org: Option<String>,
    /// How results are read: through `resultPages` in parallel (API 58.0+) or by locator.
    pages: PagesMode,
}

enum PagesMode {
    Unknown,
    Parallel(Box<ResultPages>),
    Sequential,
}

impl BulkState {
    /// A new job, or (with `job_id`) one created earlier, to resume after a crash.
    pub fn new(job_id: Option<String>) -> Self {
        Self {
            job_id,
            plan: None,
            phase: Phase::Plan,
            locator: None,
            resp: None,
            reader: CsvReader::default(),
            header_seen: false,
            started: None,
            polls: 0,
            total: None,
            pages: PagesMode::Unknown,
            last_state: None,
            org: None,
        }
    }

    pub fn job_id(&self) -> Option<&str> {
        self.job_id.as_deref()
    }

    pub fn is_complete(&self) -> bool {
        matches!(self.phase, Phase::Results | Phase::Done)
    }

    fn job_path(rest: &Rest<'_>, id: &str) -> String {
        format!("{}/jobs/query/{id}", rest.cfg.data_path())
    }

    /// Asks Salesforce to abort the job (cancel or deadline). Errors are the caller's to ignore.
    pub async fn abort(rest: &Rest<'_>, key: &ConnKey, job_id: &str) -> Result<()> {
        let path = Self::job_path(rest, job_id);
        let call = Call {
            method: reqwest::Method::PATCH,
            path: &path,
            body: Some(r#"{"state":"Aborted"}"#.into()),
            headers: Vec::new(),
            idempotent: true,
        };
        rest.send(key, call).await.map(|_| ())
    }

    async fn note_state(&mut self, rest: &Rest<'_>, key: &ConnKey, job_id: &str, state: &str) {
        if self.last_state.as_deref() == Some(state) {
            return;
        }
        self.last_state = Some(state.to_string());
        if self.org.is_none() {
            if let Ok(rec) = rest.tokens.current(key).await {
                self.org = crate::events::org_of(rec.token.id.as_deref());
            }
        }
        let org = self.org.clone();
        rest.cfg.events.emit(|| crate::events::Event::BulkJob {
            connection: key.into(),
            org_id: org,
            job_id: job_id.to_string(),
            state: state.to_string(),
        });
    }

    async fn create(&mut self, rest: &Rest<'_>, key: &ConnKey, soql: &str) -> Result<()> {
        let path = format!("{}/jobs/query", rest.cfg.data_path());
        let body = json!({ "operation": "query", "query": soql, "contentType": "CSV", "columnDelimiter": "COMMA", "lineEnding": "LF" });
        let call = Call {
            method: reqwest::Method::POST,
            path: &path,
            body: Some(body.to_string()),
            headers: Vec::new(),
            idempotent: false,
        };
        let info: JobInfo = serde_json::from_slice(&rest.send(key, call).await?.body)
            .map_err(|e| Error::Unavailable(format!("unreadable bulk job: {e}")))?;
        self.note_state(rest, key, &info.id, &info.state).await;
        self.job_id = Some(info.id);
        Ok(())
    }

    /// Polls until the job completes: backoff from 250 ms growing to 5 s, no fixed give-up, only
    /// the configured deadline (which aborts the job).
    async fn wait(&mut self, rest: &Rest<'_>, key: &ConnKey) -> Result<()> {
        let id = self
            .job_id
            .clone()
            .ok_or_else(|| Error::Internal("bulk job without id".into()))?;
        let started = *self.started.get_or_insert_with(Instant::now);
        loop {
            let info: JobInfo = serde_json::from_slice(
                &rest
                    .send(key, Call::get(&Self::job_path(rest, &id)))
                    .await?
                    .body,
            )
            .map_err(|e| Error::Unavailable(format!("unreadable bulk job: {e}")))?;
            self.note_state(rest, key, &id, &info.state).await;
            match info.state.as_str() {
                "JobComplete" => {
                    self.total = info.number_records_processed;
                    return Ok(());
                }
                "Failed" => {
                    return Err(Error::Salesforce {
                        http_status: 502,
                        salesforce_code: "BULK_JOB_FAILED".into(),
                        message: info
                            .error_message
                            .unwrap_or_else(|| format!("bulk job {id} failed")),
                        fields: vec![],
                    })
                }
                "Aborted" => return Err(Error::Cancelled),
                _ => {}
            }
            if started.elapsed() >= rest.cfg.bulk_deadline {
                let _ = Self::abort(rest, key, &id).await;
                return Err(Error::Unavailable(format!(
                    "bulk job {id} did not finish within {} s and was aborted",
                    rest.cfg.bulk_deadline.as_secs()
                )));
            }
            self.polls += 1;
            let wait = (250.0 * 1.5f64.powi(self.polls.min(10) as i32)).min(5_000.0);
            let remaining = rest.cfg.bulk_deadline.saturating_sub(started.elapsed());
            tokio::time::sleep(
                Duration::from_millis(wait as u64).min(remaining.max(Duration::from_millis(10))),
            )
            .await;
        }
    }

    /// Up to `batch` records written as `form`; `None` when the export is complete.
    #[allow(clippy::too_many_arguments)]
    pub async fn next(
        &mut self,
        rest: &Rest<'_>,
        describes: &DescribeCache,
        key: &ConnKey,
        ty: &ExportType,
        since: Option<&SoqlDateTime>,
        batch: usize,
        form: BatchForm,
        attributes: bool,
    ) -> Result<Option<(String, usize)>> {
        if let Phase::Plan = self.phase {
            let plan = RowPlan::new(rest, describes, key, ty).await?;
            if self.job_id.is_none() {
                self.create(rest, key, &plan.soql(since)).await?;
            }
            self.plan = Some(plan);
            self.phase = Phase::Poll;
        }
        if let Phase::Poll = self.phase {
            self.wait(rest, key).await?;
            self.phase = Phase::Results;
        }
        if let (Phase::Results, PagesMode::Unknown) = (&self.phase, &self.pages) {
            let id = self.job_id.clone().unwrap_or_default();
            self.pages = if ResultPages::available(rest) {
                match ResultPages::new(Self::job_path(rest, &id), MAX_RECORDS)
                    .start(rest, key)
                    .await?
                {
                    Listing::Pages(p) => PagesMode::Parallel(p),
                    Listing::Sequential => PagesMode::Sequential,
                }
            } else {
                PagesMode::Sequential
            };
        }
        if let (Phase::Results, PagesMode::Parallel(pages)) = (&self.phase, &mut self.pages) {
            let plan = self
                .plan
                .as_ref()
                .ok_or_else(|| Error::Internal("bulk plan missing".into()))?;
            let got = pages
                .next(
                    rest,
                    key,
                    plan,
                    batch,
                    RowSink::new(form, attributes, batch * 200),
                )
                .await?;
            if got.is_none() {
                self.phase = Phase::Done;
            }
            return Ok(got);
        }
        let data_path = rest.cfg.data_path();
        let mut out = RowSink::new(form, attributes, batch * 200);
        let mut row = Row::default();
        while let Phase::Results = self.phase {
            let plan = self
                .plan
                .as_ref()
                .ok_or_else(|| Error::Internal("bulk plan missing".into()))?;
            while self.reader.next_into(&mut row) {
                if !self.header_seen {
                    self.header_seen = true;
                    continue;
                }
                plan.write(&mut out, &data_path, &row)?;
                if out.count >= batch {
                    return Ok(Some(out.finish()));
                }
            }
            match self.resp.as_mut() {
                Some(resp) => match resp.chunk().await {
                    Ok(Some(bytes)) => self.reader.push(&bytes),
                    Ok(None) => {
                        if self.reader.finish_into(&mut row) && self.header_seen && !row.all_empty()
                        {
                            plan.write(&mut out, &data_path, &row)?;
                        }
                        self.resp = None;
                        if self.locator.as_deref() == Some("null") {
                            self.phase = Phase::Done;
                        }
                    }
                    Err(e) => return Err(Error::Unavailable(crate::net::describe(e))),
                },
                None => {
                    let id = self.job_id.clone().unwrap_or_default();
                    let mut path = format!(
                        "{}/results?maxRecords={MAX_RECORDS}",
                        Self::job_path(rest, &id)
                    );
                    if let Some(l) = &self.locator {
                        let enc: String =
                            url::form_urlencoded::byte_serialize(l.as_bytes()).collect();
                        path.push_str(&format!("&locator={enc}"));
                    }
                    let resp = rest
                        .open(key, &Call::get(&path).header("Accept", "text/csv".into()))
                        .await?;
                    let next = resp
                        .headers()
                        .get("sforce-locator")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string)
                        .unwrap_or_else(|| "null".into());
                    self.locator = Some(if next.is_empty() { "null".into() } else { next });
                    self.reader = CsvReader::default();
                    self.header_seen = false;
                    self.resp = Some(resp);
                }
            }
        }
        Ok((out.count > 0).then(|| out.finish()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::salesforce::format;
    use proptest::prelude::*;

    fn describes() -> Vec<Arc<Describe>> {
        let d = |v: Value| Arc::new(serde_json::from_value::<Describe>(v).unwrap());
        vec![
            d(json!({"name": "Contact", "fields": [
                {"name": "Id", "type": "id"},
                {"name": "Name", "type": "string"},
                {"name": "Title", "type": "string"},
                {"name": "Amount__c", "type": "currency"},
                {"name": "Active__c", "type": "boolean"},
                {"name": "SystemModstamp", "type": "datetime"},
                {"name": "AccountId", "type": "reference", "relationshipName": "Account", "referenceTo": ["Account"]},
            ]})),
            d(json!({"name": "Account", "fields": [
                {"name": "Id", "type": "id"},
                {"name": "Name", "type": "string"},
                {"name": "OwnerId", "type": "reference", "relationshipName": "Owner", "referenceTo": ["User"]},
            ]})),
            d(json!({"name": "User", "fields": [
                {"name": "Id", "type": "id"},
                {"name": "Alias", "type": "string"},
            ]})),
        ]
    }

    fn plan() -> (ExportType, RowPlan) {
        let ty = ExportType::new(
            "Contact",
            &[
                "Name",
                "account.name",
                "Amount__c",
                "Active__c",
                "Account.Owner.Alias",
                "SystemModstamp",
                "Title",
            ],
        )
        .unwrap();
        let plan = RowPlan::from_describes(&ty, &describes()).unwrap();
        (ty, plan)
    }

    fn row_of(fields: &[String]) -> Row {
        let line = fields
            .iter()
            .map(|f| format!("\"{}\"", f.replace('"', "\"\"")))
            .collect::<Vec<_>>()
            .join(",")
            + "\n";
        let mut r = CsvReader::default();
        r.push(line.as_bytes());
        let mut row = Row::default();
        assert!(r.next_into(&mut row));
        row
    }

    fn cell_text() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            Just("-5".to_string()),
            Just("1.50".to_string()),
            Just("1e400".to_string()),
            Just("NaN".to_string()),
            Just("TRUE".to_string()),
            Just("2024-01-02T03:04:05.000Z".to_string()),
            "(?s)[=+@\t\r\n a-zé\"',\\\\\u{1}-]{0,10}",
        ]
    }

    #[test]
    fn plan_selects_parent_ids() {
        let (_, plan) = plan();
        assert_eq!(
            plan.soql(None),
            "SELECT Id, Name, Account.Id, Account.Name, Amount__c, Active__c, Account.Owner.Id, Account.Owner.Alias, SystemModstamp, Title FROM Contact"
        );
    }

    proptest! {
        /// The one-pass writers give the bytes of the old path (a `Value` per record, serialised;
        /// CSV through `csv_rows_with`), with and without `attributes`.
        #[test]
        fn writers_match_the_value_path(
            rows in prop::collection::vec(prop::collection::vec(cell_text(), 10), 1..6),
            ids in prop::collection::vec((any::<bool>(), any::<bool>()), 6),
            guard in any::<bool>(),
        ) {
            let (ty, plan) = plan();
            let dp = "/services/data/v62.0";
            let mut old = Vec::new();
            let mut rows_in = Vec::new();
            for (i, mut r) in rows.into_iter().enumerate() {
                r[0] = format!("003{i:015}");
                let (acct, owner) = ids[i];
                r[2] = if acct { format!("001{i:015}") } else { String::new() };
                r[6] = if acct && owner { "005000000000000AAA".into() } else { String::new() };
                old.push(plan.record(dp, &r).unwrap());
                rows_in.push(row_of(&r));
            }
            let write = |form: BatchForm, attributes: bool| {
                let mut sink = RowSink::new(form, attributes, 0);
                for r in &rows_in {
                    plan.write(&mut sink, dp, r).unwrap();
                }
                sink.finish().0
            };
            let array = format::json_array(&old);
            prop_assert_eq!(write(BatchForm::JsonArray, true), array.clone());
            prop_assert_eq!(write(BatchForm::Ndjson, true), format::ndjson_rows(&old));
            prop_assert_eq!(
                write(BatchForm::JsonArray, false),
                crate::salesforce::attributes::strip(&array)
            );
            prop_assert_eq!(
                write(BatchForm::CsvRows { guard }, true),
                format::csv_rows_with(&ty, &old, guard).unwrap()
            );
        }
    }

    #[test]
    fn short_rows_are_an_error() {
        let (_, plan) = plan();
        let mut sink = RowSink::new(BatchForm::JsonArray, true, 0);
        let row = row_of(&["1".to_string(), "x".to_string()]);
        assert!(plan.write(&mut sink, "/d", &row).is_err());
        assert_eq!(sink.finish(), ("[]".to_string(), 0));
    }
}

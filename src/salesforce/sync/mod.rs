//! Incremental sync: upserts and deletes since a checkpoint, in steps the host applies and
//! checkpoints one by one.
//!
//! Changes are read from `queryAll` in (SystemModstamp, Id) order by keyset, one page per step,
//! inside a time window that halves on `QUERY_TIMEOUT` and grows back while pages stay small.
//! Live rows are upserts; rows in the recycle bin (`IsDeleted = true`) are deletes, so a record
//! deleted and restored shows up once, in its current state. Each run re-reads a lookback
//! window before the checkpoint (a transaction that commits late carries an earlier
//! SystemModstamp) and skips rows the checkpoint says were delivered. The `deleted` resource
//! guards the run: when Salesforce no longer has every delete since the checkpoint the run
//! fails with FULL_RESYNC_REQUIRED before delivering anything; the ids it lists that no longer
//! exist (emptied recycle bin, hard deletes) are delivered as deletes at the end.

mod bulk_verify;
pub mod checkpoint;
mod formula;
pub mod live;

use std::collections::{HashMap, HashSet, VecDeque};

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::salesforce::describe::DescribeCache;
use crate::salesforce::export::{Engine, ExportCursor, QueryPage};
use crate::salesforce::rest::{query_path, Call, Rest};
use crate::salesforce::soql::{ExportType, Literal, SoqlDateTime};
use crate::secret::StateSecret;
use crate::token::record::ConnKey;
use checkpoint::{id_hash, pack_seen, unpack_seen, version_hash, Phase, Pos, Sealer, Seen, State};

/// Salesforce answers `deleted` for no more than 15 days back.
pub const DELETE_WINDOW_MS: i64 = 15 * 86_400_000;
pub const DEFAULT_LOOKBACK_MS: i64 = 5 * 60_000;
pub const MAX_LOOKBACK_MS: i64 = 86_400_000;
/// The smallest time window tried before a `QUERY_TIMEOUT` is handed to the caller.
const MIN_WINDOW_MS: i64 = 1000;
const MAX_WINDOW_MS: i64 = 366 * 86_400_000;
/// Rows remembered for de-duplication; past this the oldest go (and may be delivered twice).
const MAX_SEEN: usize = 12_000;
/// Ids checked per existence query (keeps the SOQL well under its length limit).
const ALIVE_CHUNK: usize = 200;
/// Ids from the `deleted` resource held per run (Salesforce itself stops at 600,000).
const MAX_LOGGED_DELETES: usize = 600_000;

/// One step: upserts (a JSON array of records), deletes and the checkpoint after them.
pub struct Step {
    pub upserts_json: String,
    pub upserts: usize,
    pub deletes: Vec<Deleted>,
    pub checkpoint: String,
    /// What the host should know about this step (`schemaChange`, `fields`); empty mostly.
    pub meta: Map<String, Value>,
}

#[derive(Debug, Clone)]
pub struct Deleted {
    pub id: String,
    pub deleted_at: String,
}

/// Options of one run, already validated.
#[derive(Clone)]
pub struct SyncOptions {
    pub type_name: String,
    pub ty: ExportType,
    pub batch: u32,
    pub lookback_ms: i64,
    pub engine: Engine,
    pub checkpoint: Option<String>,
    /// After each window, `SELECT COUNT()` over it must equal the records read for it.
    pub verify: bool,
    /// `formulaRefresh` (ms): every record is re-read once per period when the fields include
    /// formulas, whose values change without `SystemModstamp` moving.
    pub formula_refresh: Option<i64>,
}

impl SyncOptions {
    /// What seals and opens this sync's checkpoints for the connection `key`.
    pub(crate) fn sealer<'a>(&'a self, secret: &'a StateSecret, key: &'a ConnKey) -> Sealer<'a> {
        Sealer {
            secret,
            key,
            type_name: &self.type_name,
            ty: &self.ty,
        }
    }
}

/// A `fields: 'all'` list's change since the checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaChange {
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

/// The API budget is spent: the org refused a request (`REQUEST_LIMIT_EXCEEDED`), or its usage
/// is at `apiUsageCeiling`. A concurrency refusal is not (it is retried by the governor).
fn is_budget(e: &Error) -> bool {
    matches!(e, Error::RateLimited { .. })
        && !crate::salesforce::governor::is_concurrency_refusal(e)
}

fn budget_meta(meta: &mut Map<String, Value>) {
    meta.insert("done".into(), Value::Bool(false));
    meta.insert("reason".into(), Value::String("api_budget".into()));
}

/// Fields in `now` and not in `before`, and the other way round (case-insensitive).
pub fn schema_change(before: &[String], now: &[String]) -> Option<SchemaChange> {
    let has = |list: &[String], f: &String| list.iter().any(|x| x.eq_ignore_ascii_case(f));
    let added: Vec<String> = now.iter().filter(|f| !has(before, f)).cloned().collect();
    let removed: Vec<String> = before.iter().filter(|f| !has(now, f)).cloned().collect();
    (!added.is_empty() || !removed.is_empty()).then_some(SchemaChange { added, removed })
}

enum Stage {
    Start,
    Bulk(Box<ExportCursor>),
    Walk,
    /// `formulaRefresh`: every live record again, in Id order.
    Formula,
    Deletes,
    Done,
}

/// A sync run: a state machine advanced one step per `next`.
pub struct SyncRun {
    pub key: ConnKey,
    opts: SyncOptions,
    /// The type's fields plus `Id` and `SystemModstamp`: the records' shape.
    shape: ExportType,
    /// Whether the host's fields include `IsDeleted` (it is read anyway, then dropped).
    keeps_is_deleted: bool,
    stage: Stage,
    from: Option<State>,
    /// Where the walk is; the checkpoint's position never goes back.
    pos: Pos,
    /// The checkpoint's position: rows up to it were delivered before this run.
    floor: Pos,
    /// Salesforce's time when the run began: the walk stops there.
    end: i64,
    /// The time window a query covers (halved on QUERY_TIMEOUT).
    window: i64,
    /// Deletes are delivered up to this time; `earliest` is the delete log's start as last seen.
    deletes_at: i64,
    earliest: i64,
    deletes_latest: Option<i64>,
    /// (job id, rows of its results read, Salesforce time it started).
    bulk: Option<(String, u64, i64)>,
    bulk_skip: u64,
    bulk_done: u64,
    resumed_bulk: bool,
    /// The version of each record the checkpoint says was delivered last (by Id hash): a row at
    /// or before `floor` with that very version is not delivered again.
    delivered: HashMap<u64, u64>,
    /// Rows delivered within the lookback (carried into the next checkpoint), and the latest
    /// version per Id among them.
    seen: VecDeque<Seen>,
    latest: HashMap<u64, u64>,
    logged: Vec<Deleted>,
    emitted_deletes: HashSet<String>,
    /// Records this run's walk read (alive or in the recycle bin): for those the walk's answer
    /// is current, so their delete-log entries need no existence check.
    walked: HashSet<String>,
    /// `fields: 'all'`: the list this run reads (recorded in each checkpoint).
    fields: Option<Vec<String>>,
    /// Meta for the next step (a schema change is told once, on the run's first step).
    pending_meta: Map<String, Value>,
    /// A step has been delivered in this run.
    stepped: bool,
    /// `verify`: where the window being read began, the rows read in it, and whether this is
    /// its one re-read.
    win_start: Option<Pos>,
    win_rows: u64,
    rereading: bool,
    /// `formulaRefresh`: the fields include formulas; the last complete re-read; a re-read's
    /// position.
    has_formulas: bool,
    formula_at: Option<i64>,
    formula_after: Option<String>,
    /// `formulaRefresh`: digests of what was delivered, and a re-read under way.
    formulas: formula::Formulas,
    /// `verify` over an initial load through Bulk.
    bulk_check: bulk_verify::BulkCheck,
}

#[derive(Deserialize)]
struct DeletedPage {
    #[serde(rename = "deletedRecords", default)]
    deleted_records: Vec<DeletedRow>,
    #[serde(rename = "earliestDateAvailable")]
    earliest: Option<String>,
    #[serde(rename = "latestDateCovered")]
    latest: Option<String>,
}

#[derive(Deserialize)]
struct DeletedRow {
    id: String,
    #[serde(rename = "deletedDate")]
    deleted_date: String,
}

fn millis(s: &str) -> Option<i64> {
    SoqlDateTime::parse(s).ok().map(|d| d.millis())
}

fn literal(ms: i64) -> Result<String> {
    SoqlDateTime::from_millis(ms)
        .map(|d| d.as_str().to_string())
        .map_err(|e| Error::Internal(format!("timestamp: {e}")))
}

/// Salesforce's clock from a response's `Date` header (IMF-fixdate), else this machine's.
fn server_ms(h: &reqwest::header::HeaderMap) -> i64 {
    let parsed = h.get("date").and_then(|v| v.to_str().ok()).and_then(|d| {
        // "Sun, 06 Nov 1994 08:49:37 GMT"
        let p: Vec<&str> = d.split_whitespace().collect();
        let months = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let m = months.iter().position(|x| Some(x) == p.get(2))? + 1;
        let iso = format!("{}-{m:02}-{:0>2}T{}Z", p.get(3)?, p.get(1)?, p.get(4)?);
        millis(&iso)
    });
    parsed.unwrap_or_else(crate::oauth::state::now_millis)
}

fn is_query_timeout(e: &Error) -> bool {
    matches!(e, Error::Salesforce { salesforce_code, .. } if salesforce_code == "QUERY_TIMEOUT")
}

impl SyncRun {
    pub fn new(key: ConnKey, opts: SyncOptions, secret: &StateSecret) -> Result<Self> {
        let from = match &opts.checkpoint {
            Some(text) => Some(
                Sealer {
                    secret,
                    key: &key,
                    type_name: &opts.type_name,
                    ty: &opts.ty,
                }
                .open(text)?,
            ),
            None => None,
        };
        let mut names: Vec<&str> = opts.ty.fields.iter().map(|f| f.as_str()).collect();
        for extra in ["Id", "SystemModstamp"] {
            if !names.iter().any(|n| n.eq_ignore_ascii_case(extra)) {
                names.push(extra);
            }
        }
        let shape = ExportType::new(opts.ty.object.as_str(), &names)
            .map_err(|e| Error::input("type", e))?;
        let keeps_is_deleted = names.iter().any(|n| n.eq_ignore_ascii_case("IsDeleted"));
        let start = Pos { ts: 0, id: None };
        Ok(Self {
            key,
            shape,
            keeps_is_deleted,
            stage: Stage::Start,
            from,
            pos: start.clone(),
            floor: start,
            end: 0,
            window: MAX_WINDOW_MS,
            deletes_at: 0,
            earliest: 0,
            deletes_latest: None,
            bulk: None,
            bulk_skip: 0,
            bulk_done: 0,
            resumed_bulk: false,
            delivered: HashMap::new(),
            seen: VecDeque::new(),
            latest: HashMap::new(),
            logged: Vec::new(),
            emitted_deletes: HashSet::new(),
            walked: HashSet::new(),
            fields: None,
            pending_meta: Map::new(),
            stepped: false,
            win_start: None,
            win_rows: 0,
            rereading: false,
            has_formulas: false,
            formula_at: None,
            formula_after: None,
            formulas: formula::Formulas::default(),
            bulk_check: bulk_verify::BulkCheck::default(),
            opts,
        })
    }

    fn sealer<'a>(&'a self, secret: &'a StateSecret) -> Sealer<'a> {
        self.opts.sealer(secret, &self.key)
    }

    fn checkpoint(&self, secret: &StateSecret) -> Result<String> {
        let phase = match &self.bulk {
            Some((job, skip, start)) => Phase::Bulk {
                job: job.clone(),
                skip: *skip,
                start: *start,
            },
            None => Phase::Walk {
                pos: if self.floor.le(&self.pos) {
                    self.pos.clone()
                } else {
                    self.floor.clone()
                },
            },
        };
        let seen = pack_seen(self.seen.iter().copied());
        self.sealer(secret).seal(&State {
            phase,
            deletes_at: self.deletes_at,
            earliest: self.earliest,
            seen,
            fields: self.fields.clone(),
            formula_at: self.formula_at,
            formula_after: self.formula_after.clone(),
            formula: self.formulas.state(),
        })
    }

    /// `fields: 'all'`: the list from the user's describe now, compared with the checkpoint's.
    /// A resumed initial Bulk job keeps the list it was created with (its CSV has those columns);
    /// the change is picked up by the next run's walk. A change never fails the run: new fields
    /// are read from here on, gone ones are no longer asked for.
    async fn settle_fields(&mut self, rest: &Rest<'_>, describes: &DescribeCache) -> Result<()> {
        if let Some(from) = &self.from {
            self.formula_at = from.formula_at;
            self.formula_after = from.formula_after.clone();
        }
        if !self.opts.ty.all {
            // A compound in a fixed list is read as its components (Bulk refuses compounds).
            let mut shape = self.shape.clone();
            crate::salesforce::describe::resolve_fields(
                describes, rest, &self.key, &mut shape, false,
            )
            .await?;
            self.shape = shape;
        }
        self.settle_list(rest, describes).await?;
        if self.opts.formula_refresh.is_some() {
            let d = describes
                .get(rest, &self.key, self.shape.object.as_str())
                .await?;
            let names: Vec<String> = self
                .shape
                .fields
                .iter()
                .filter(|f| d.field(f.as_str()).is_some_and(|i| i.calculated))
                .map(|f| f.as_str().to_string())
                .collect();
            self.has_formulas = !names.is_empty();
            let from = self.from.as_ref().and_then(|s| s.formula.as_ref());
            self.formulas.load(names, self.from.is_none(), from);
        }
        Ok(())
    }

    /// Whether this run re-reads formula values (one is under way, or the period is over).
    fn formula_due(&self) -> bool {
        match self.opts.formula_refresh {
            Some(period) if self.has_formulas => {
                self.formula_after.is_some()
                    || self.formulas.resuming()
                    || self
                        .formula_at
                        .is_none_or(|t| self.end.saturating_sub(t) >= period)
            }
            _ => false,
        }
    }

    async fn settle_list(&mut self, rest: &Rest<'_>, describes: &DescribeCache) -> Result<()> {
        if !self.opts.ty.all || self.fields.is_some() {
            return Ok(());
        }
        let before = self.from.as_ref().and_then(|s| s.fields.clone());
        let in_bulk = matches!(
            self.from.as_ref().map(|s| &s.phase),
            Some(Phase::Bulk { .. })
        );
        let now = match (&before, in_bulk) {
            (Some(b), true) => b.clone(),
            _ => {
                let mut ty = self.opts.ty.clone();
                crate::salesforce::describe::resolve_fields(
                    describes, rest, &self.key, &mut ty, false,
                )
                .await?;
                ty.field_names()
            }
        };
        if let Some(change) = before.as_deref().and_then(|b| schema_change(b, &now)) {
            let rec = rest.tokens.current(&self.key).await?;
            let org = crate::events::org_of(rec.token.id.as_deref());
            rest.cfg.events.emit(|| crate::events::Event::SchemaChange {
                connection: (&self.key).into(),
                org_id: org.clone(),
                type_name: self.opts.type_name.clone(),
                added: change.added.clone(),
                removed: change.removed.clone(),
            });
            self.pending_meta.insert(
                "schemaChange".into(),
                serde_json::json!({ "type": self.opts.type_name, "orgId": org, "added": change.added, "removed": change.removed }),
            );
        }
        let mut names: Vec<&str> = now.iter().map(String::as_str).collect();
        if !names
            .iter()
            .any(|n| n.eq_ignore_ascii_case("SystemModstamp"))
        {
            names.push("SystemModstamp");
        }
        self.shape = ExportType::new(self.opts.ty.object.as_str(), &names)
            .map_err(|e| Error::Unavailable(format!("unusable describe: {e}")))?;
        self.keeps_is_deleted = names.iter().any(|n| n.eq_ignore_ascii_case("IsDeleted"));
        self.fields = Some(now);
        Ok(())
    }

    fn remember(&mut self, ts: i64, id: u64, version: u64) {
        if self.latest.insert(id, version) != Some(version) {
            self.seen.push_back((ts, id, version));
        }
        // Two minutes of slack: the next run re-reads the delete log from a whole minute.
        let cutoff = self.pos.ts.max(self.floor.ts) - self.opts.lookback_ms - 120_000;
        while self.seen.front().is_some_and(|(t, _, _)| *t < cutoff) || self.seen.len() > MAX_SEEN {
            if let Some((_, id, v)) = self.seen.pop_front() {
                if self.latest.get(&id) == Some(&v) {
                    self.latest.remove(&id);
                }
            }
        }
    }

    /// Whether this version of the record is the one last delivered before the checkpoint.
    fn was_delivered(&self, row: &Pos, id: u64, version: u64) -> bool {
        row.le(&self.floor) && self.delivered.get(&id) == Some(&version)
    }

    async fn get_dated(&self, rest: &Rest<'_>, path: &str) -> Result<(bytes::Bytes, i64)> {
        let a = rest.send(&self.key, Call::get(path)).await?;
        Ok((a.body, server_ms(&a.headers)))
    }

    fn query_all_path(&self, rest: &Rest<'_>, soql: &str) -> String {
        query_path(rest.cfg, soql).replacen("/query?", "/queryAll?", 1)
    }

    /// The next step, or `None` once the run has caught up.
    ///
    /// The API budget (`apiUsageCeiling`, or the org's own limit answering
    /// `REQUEST_LIMIT_EXCEEDED`) ends the run as a success: the step just delivered (or an empty
    /// one) carries `meta: { done: false, reason: 'api_budget' }` and a checkpoint to resume from.
    pub async fn next(
        &mut self,
        rest: &Rest<'_>,
        describes: &DescribeCache,
        secret: &StateSecret,
    ) -> Result<Option<Step>> {
        let got = self.next_step(rest, describes, secret).await;
        match got {
            Ok(Some(mut step)) => {
                self.stepped = true;
                if !matches!(self.stage, Stage::Done)
                    && rest.check_usage_ceiling(&self.key).await.is_err()
                {
                    budget_meta(&mut step.meta);
                    self.stage = Stage::Done;
                }
                Ok(Some(step))
            }
            Err(e) if is_budget(&e) && (self.stepped || self.opts.checkpoint.is_some()) => {
                // Nothing of the failed step was delivered: the position is the last step's.
                let checkpoint = if self.from.is_some()
                    || (!self.stepped && matches!(self.stage, Stage::Start))
                {
                    self.opts.checkpoint.clone().unwrap_or_default()
                } else {
                    self.checkpoint(secret)?
                };
                self.stage = Stage::Done;
                self.stepped = true;
                let mut meta = std::mem::take(&mut self.pending_meta);
                budget_meta(&mut meta);
                Ok(Some(Step {
                    upserts_json: "[]".into(),
                    upserts: 0,
                    deletes: Vec::new(),
                    checkpoint,
                    meta,
                }))
            }
            other => other,
        }
    }

    async fn next_step(
        &mut self,
        rest: &Rest<'_>,
        describes: &DescribeCache,
        secret: &StateSecret,
    ) -> Result<Option<Step>> {
        if matches!(self.stage, Stage::Done) {
            return Ok(None);
        }
        if !self.stepped {
            rest.check_usage_ceiling(&self.key).await?;
        }
        loop {
            match &mut self.stage {
                Stage::Done => return Ok(None),
                Stage::Start => {
                    self.settle_fields(rest, describes).await?;
                    let initial = self.from.is_none();
                    self.start(rest).await?;
                    if initial && self.opts.formula_refresh.is_some() {
                        // The initial sync reads every formula's value as of its start
                        // (Salesforce's clock, as the walk's).
                        self.formula_at = Some(if self.end > 0 {
                            self.end
                        } else {
                            crate::oauth::state::now_millis()
                        });
                    }
                }
                Stage::Bulk(cursor) => {
                    let got = match cursor.next(rest, describes).await {
                        // The interrupted initial sync's job is gone (Salesforce deletes them after
                        // a week): only starting over can deliver what it had not.
                        Err(Error::Salesforce {
                            http_status: 404, ..
                        }) if self.resumed_bulk => {
                            return Err(Error::FullResyncRequired {
                                reason: "the initial sync's Bulk job no longer exists".into(),
                            });
                        }
                        other => other?,
                    };
                    let job = cursor.job_id().map(str::to_string);
                    let Some((old_job, _, start)) = self.bulk.clone() else {
                        return Err(Error::Internal("bulk sync without a job".into()));
                    };
                    let Some(batch) = got else {
                        if self.bulk_verified(rest, start).await? {
                            // Run the job again: rows not delivered yet come out.
                            self.start_bulk(None, 0, start);
                            continue;
                        }
                        // Everything the job saw is delivered; changes from its start on (and
                        // within the lookback before it) come from the walk of the next run.
                        self.bulk = None;
                        self.pos = Pos {
                            ts: start,
                            id: None,
                        };
                        self.floor = self.pos.clone();
                        self.deletes_at = start;
                        self.stage = Stage::Done;
                        return self
                            .step(String::from("[]"), 0, Vec::new(), secret)
                            .map(Some);
                    };
                    let rows = batch.rows()?;
                    self.bulk_seen(&rows, start);
                    // On resume, the rows an earlier run delivered are read again and passed over.
                    let skip = self.bulk_skip.min(rows.len() as u64) as usize;
                    self.bulk_skip -= skip as u64;
                    self.bulk_done += rows.len() as u64;
                    self.bulk = Some((job.unwrap_or(old_job), self.bulk_done, start));
                    let kept: Vec<&RawValue> = rows[skip..]
                        .iter()
                        .copied()
                        .filter(|r| !self.bulk_delivered(r))
                        .collect();
                    for r in &kept {
                        self.formulas.delivered_raw(r.get())?;
                    }
                    if kept.is_empty() {
                        continue;
                    }
                    let json = crate::salesforce::format::json_array(&kept);
                    let n = kept.len();
                    return self.step(json, n, Vec::new(), secret).map(Some);
                }
                Stage::Walk => {
                    if let Some(step) = self.walk_page(rest, secret).await? {
                        return Ok(Some(step));
                    }
                }
                Stage::Formula => {
                    if let Some(step) = self.formula_page(rest, describes, secret).await? {
                        return Ok(Some(step));
                    }
                }
                Stage::Deletes => return self.deletes_step(rest, secret).await.map(Some),
            }
        }
    }

    fn step(
        &mut self,
        upserts_json: String,
        upserts: usize,
        deletes: Vec<Deleted>,
        secret: &StateSecret,
    ) -> Result<Step> {
        let mut meta = std::mem::take(&mut self.pending_meta);
        if let Some(f) = &self.fields {
            meta.insert("fields".into(), serde_json::json!(f));
        }
        Ok(Step {
            upserts_json,
            upserts,
            deletes,
            checkpoint: self.checkpoint(secret)?,
            meta,
        })
    }

    async fn start(&mut self, rest: &Rest<'_>) -> Result<()> {
        match self.from.take() {
            None => self.start_full(rest).await,
            Some(State {
                phase: Phase::Bulk { job, skip, start },
                deletes_at,
                earliest,
                ..
            }) => {
                self.deletes_at = deletes_at;
                self.earliest = earliest;
                self.resumed_bulk = true;
                self.start_bulk(Some(job).filter(|j| !j.is_empty()), skip, start);
                Ok(())
            }
            Some(State {
                phase: Phase::Walk { pos },
                deletes_at,
                earliest,
                seen,
                ..
            }) => {
                self.deletes_at = deletes_at;
                for (ts, id, v) in unpack_seen(&seen) {
                    self.delivered.insert(id, v);
                    self.latest.insert(id, v);
                    self.seen.push_back((ts, id, v));
                }
                self.floor = pos.clone();
                self.pos = Pos {
                    ts: pos.ts.saturating_sub(self.opts.lookback_ms).max(0),
                    id: None,
                };
                // "Every row before ts": start just before the lookback's first instant.
                self.pos.ts = self.pos.ts.saturating_sub(1);
                self.guard_deletes(rest, earliest).await?;
                self.stage = Stage::Walk;
                Ok(())
            }
        }
    }

    fn start_bulk(&mut self, job: Option<String>, skip: u64, start: i64) {
        let cursor = ExportCursor::new(
            self.key.clone(),
            self.shape.clone(),
            None,
            self.opts.batch.max(200),
            Engine::Bulk,
            job.clone(),
        );
        self.bulk = Some((job.unwrap_or_default(), skip, start));
        self.bulk_skip = skip;
        self.bulk_done = 0;
        self.stage = Stage::Bulk(Box::new(cursor));
    }

    /// No checkpoint: everything. Salesforce's clock and the oldest stamp come first, so the
    /// next run knows where this one began.
    async fn start_full(&mut self, rest: &Rest<'_>) -> Result<()> {
        let first = format!(
            "SELECT SystemModstamp FROM {} ORDER BY SystemModstamp ASC LIMIT 1",
            self.shape.object.as_str()
        );
        let (body, now) = self
            .get_dated(rest, &self.query_all_path(rest, &first))
            .await?;
        let page = QueryPage::parse(&body)?;
        let oldest = page.rows()?.first().and_then(|r| stamp_of(r));
        let bulk = match self.opts.engine {
            Engine::Rest => false,
            Engine::Bulk => true,
            Engine::Auto => {
                let count = format!("SELECT COUNT() FROM {}", self.shape.object.as_str());
                let body = rest
                    .get(&self.key, &query_path(rest.cfg, &count), None)
                    .await?;
                QueryPage::parse(&body)?.total_size > rest.cfg.bulk_threshold
            }
        };
        self.deletes_at = now;
        // Where the delete log starts today: a later purge moves it, and the next run sees that.
        let log = self.delete_log(rest, now, now).await?;
        self.earliest = log.earliest.as_deref().and_then(millis).unwrap_or(0);
        if bulk {
            self.start_bulk(None, 0, now);
            return Ok(());
        }
        self.end = now;
        match oldest {
            Some(ts) => {
                self.pos = Pos {
                    ts: ts - 1,
                    id: None,
                };
                self.floor = self.pos.clone();
                self.stage = Stage::Walk;
            }
            None => {
                self.pos = Pos { ts: now, id: None };
                self.floor = self.pos.clone();
                self.deletes_latest = Some(now);
                self.stage = Stage::Deletes;
            }
        }
        Ok(())
    }

    /// The delete log for [`start`, `end`] (a minute at least: Salesforce ignores seconds).
    async fn delete_log(&self, rest: &Rest<'_>, start: i64, end: i64) -> Result<DeletedPage> {
        let start = start - start.rem_euclid(60_000);
        let end = end.max(start + 60_000);
        let enc = |ms| {
            literal(ms)
                .map(|s| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>())
        };
        let path = format!(
            "{}/sobjects/{}/deleted/?start={}&end={}",
            rest.cfg.data_path(),
            self.shape.object.as_str(),
            enc(start)?,
            enc(end)?
        );
        let body = rest.get(&self.key, &path, None).await?;
        serde_json::from_slice(&body)
            .map_err(|e| Error::Unavailable(format!("unreadable deleted records: {e}")))
    }

    /// Fails before anything is delivered when Salesforce may have forgotten deletes since the
    /// checkpoint; otherwise keeps the delete log's ids for the end of the run.
    ///
    /// The log's `earliestDateAvailable` moves when the recycle bin is emptied (and as the 15 days
    /// pass). Deletes are lost for this replica when it moved since the checkpoint and now lies
    /// at or after the checkpoint's delete mark; Salesforce reports it in whole minutes, so a
    /// purge in the checkpoint's own minute counts as after it.
    async fn guard_deletes(&mut self, rest: &Rest<'_>, earliest_seen: i64) -> Result<()> {
        let resync = |why: &str| Error::FullResyncRequired {
            reason: why.to_string(),
        };
        let lost = "Salesforce no longer keeps every delete since the checkpoint (the recycle bin was emptied)";
        // The clock first (a cheap call), so the window check uses Salesforce's time.
        let probe = format!("SELECT Id FROM {} LIMIT 1", self.shape.object.as_str());
        let (_, now) = self.get_dated(rest, &query_path(rest.cfg, &probe)).await?;
        self.end = now;
        if now - self.deletes_at > DELETE_WINDOW_MS {
            return Err(resync(
                "the checkpoint is older than the 15 days Salesforce keeps deletes",
            ));
        }
        let is_replication_date = |r: &Result<DeletedPage>| matches!(r, Err(Error::Salesforce { salesforce_code, .. }) if salesforce_code == "INVALID_REPLICATION_DATE");
        let mut answer = self
            .delete_log(rest, self.deletes_at - self.opts.lookback_ms, now)
            .await;
        if is_replication_date(&answer) {
            // The lookback reaches past what is kept; what matters is the checkpoint itself.
            answer = self.delete_log(rest, self.deletes_at, now).await;
        }
        if is_replication_date(&answer) {
            return Err(resync(lost));
        }
        let page = answer?;
        let earliest = page.earliest.as_deref().and_then(millis).unwrap_or(0);
        if earliest > earliest_seen && earliest + 60_000 > self.deletes_at {
            return Err(resync(lost));
        }
        self.earliest = earliest;
        self.deletes_latest = page.latest.as_deref().and_then(millis);
        self.logged = page
            .deleted_records
            .into_iter()
            .take(MAX_LOGGED_DELETES)
            .map(|r| Deleted {
                id: r.id,
                deleted_at: r.deleted_date,
            })
            .collect();
        Ok(())
    }

    fn page_soql(&self, hi: i64) -> Result<String> {
        let mut fields: Vec<&str> = self.shape.fields.iter().map(|f| f.as_str()).collect();
        if !self.keeps_is_deleted {
            fields.push("IsDeleted");
        }
        let object = self.shape.object.as_str();
        let ts = literal(self.pos.ts)?;
        let keyset = match &self.pos.id {
            None => format!("SystemModstamp > {ts}"),
            Some(id) => format!(
                "SystemModstamp >= {ts} AND (SystemModstamp > {ts} OR Id > {})",
                Literal::Str(id.clone())
            ),
        };
        Ok(format!(
            "SELECT {} FROM {object} WHERE {keyset} AND SystemModstamp <= {} ORDER BY SystemModstamp ASC, Id ASC LIMIT {}",
            fields.join(", "),
            literal(hi)?,
            self.opts.batch
        ))
    }

    /// `SELECT COUNT()` over a window, with the walk's own filter (recycle bin included).
    async fn count_window(&self, rest: &Rest<'_>, start: &Pos, hi: i64) -> Result<u64> {
        let ts = literal(start.ts)?;
        let keyset = match &start.id {
            None => format!("SystemModstamp > {ts}"),
            Some(id) => format!(
                "SystemModstamp >= {ts} AND (SystemModstamp > {ts} OR Id > {})",
                Literal::Str(id.clone())
            ),
        };
        let soql = format!(
            "SELECT COUNT() FROM {} WHERE {keyset} AND SystemModstamp <= {}",
            self.shape.object.as_str(),
            literal(hi)?
        );
        let body = rest
            .get(&self.key, &self.query_all_path(rest, &soql), None)
            .await?;
        Ok(QueryPage::parse(&body)?.total_size)
    }

    /// `verify`: a window read through is counted. A mismatch re-reads it once (rows this run
    /// delivered are not delivered again); a second mismatch is reported, never an error.
    /// Returns true when the window is to be read again.
    async fn verify_window(&mut self, rest: &Rest<'_>, hi: i64) -> Result<bool> {
        let Some(start) = self.win_start.take() else {
            return Ok(false);
        };
        let received = std::mem::take(&mut self.win_rows);
        let expected = self.count_window(rest, &start, hi).await?;
        let window = serde_json::json!({
            "from": literal(start.ts)?, "to": literal(hi)?, "expected": expected, "received": received,
        });
        if expected == received {
            self.rereading = false;
            return Ok(false);
        }
        if !self.rereading {
            self.rereading = true;
            self.pending_meta.insert("reread".into(), window);
            self.pos = start;
            return Ok(true);
        }
        self.rereading = false;
        self.report_mismatch(rest, start.ts, hi, expected, received)
            .await?;
        self.pending_meta.insert("verifyMismatch".into(), window);
        Ok(false)
    }

    /// The `verifyMismatch` event for a window still short after its re-read.
    async fn report_mismatch(
        &self,
        rest: &Rest<'_>,
        from: i64,
        to: i64,
        expected: u64,
        received: u64,
    ) -> Result<()> {
        let rec = rest.tokens.current(&self.key).await?;
        let org = crate::events::org_of(rec.token.id.as_deref());
        let (from, to) = (literal(from)?, literal(to)?);
        rest.cfg
            .events
            .emit(|| crate::events::Event::VerifyMismatch {
                connection: (&self.key).into(),
                org_id: org.clone(),
                type_name: self.opts.type_name.clone(),
                from: from.clone(),
                to: to.clone(),
                expected,
                received,
            });
        Ok(())
    }

    /// One page of the walk; `None` when it read nothing new (the caller keeps going).
    async fn walk_page(&mut self, rest: &Rest<'_>, secret: &StateSecret) -> Result<Option<Step>> {
        if self.opts.verify && self.win_start.is_none() {
            self.win_start = Some(self.pos.clone());
            self.win_rows = 0;
        }
        let hi = self.end.min(self.pos.ts.saturating_add(self.window));
        let soql = self.page_soql(hi)?;
        let body = match rest
            .get(&self.key, &self.query_all_path(rest, &soql), None)
            .await
        {
            Ok(b) => b,
            Err(e) if is_query_timeout(&e) && self.window > MIN_WINDOW_MS => {
                // Split the window: never the same size again.
                self.window = ((hi - self.pos.ts) / 2).max(MIN_WINDOW_MS);
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let page = QueryPage::parse(&body)?;
        let rows = page.rows()?;
        self.win_rows += rows.len() as u64;
        let full = rows.len() as u32 >= self.opts.batch;
        let mut upserts = Vec::new();
        let mut deletes = Vec::new();
        for raw in &rows {
            let mut rec: Map<String, Value> = serde_json::from_str(raw.get())
                .map_err(|e| Error::Unavailable(format!("unreadable record: {e}")))?;
            let id = rec.get("Id").and_then(Value::as_str).map(str::to_string);
            let stamp_text = rec
                .get("SystemModstamp")
                .and_then(Value::as_str)
                .map(str::to_string);
            let (Some(id), Some(stamp_text)) = (id, stamp_text) else {
                return Err(Error::Unavailable(
                    "a changed record came back without Id or SystemModstamp".into(),
                ));
            };
            let ts = millis(&stamp_text).ok_or_else(|| {
                Error::Unavailable(format!("unreadable SystemModstamp {stamp_text:?}"))
            })?;
            let is_deleted = rec
                .get("IsDeleted")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            if !self.keeps_is_deleted {
                rec.remove("IsDeleted");
            }
            let row_pos = Pos {
                ts,
                id: Some(id.clone()),
            };
            let (idh, vh) = (id_hash("record", &id), version_hash(ts, raw.get()));
            self.pos = row_pos.clone();
            let already = self.was_delivered(&row_pos, idh, vh)
                || (self.rereading && self.latest.get(&idh) == Some(&vh));
            if self.walked.len() < MAX_LOGGED_DELETES {
                self.walked.insert(id.clone());
            }
            self.remember(ts, idh, vh);
            if already {
                continue;
            }
            if is_deleted {
                self.formulas.deleted(&id);
                self.emitted_deletes.insert(id.clone());
                deletes.push(Deleted {
                    id,
                    deleted_at: stamp_text,
                });
            } else {
                self.formulas.delivered(&id, &rec);
                upserts.push(Value::Object(rec));
            }
        }
        if !full && self.opts.verify && self.verify_window(rest, hi).await? {
            // Read the window again (the position went back to its start).
        } else if !full {
            // The window is read through: everything up to `hi` is in.
            self.pos = Pos { ts: hi, id: None };
            if (rows.len() as u32) < self.opts.batch / 4 {
                self.window = self.window.saturating_mul(2).min(MAX_WINDOW_MS);
            }
            if hi >= self.end {
                self.stage = if self.formula_due() {
                    Stage::Formula
                } else {
                    Stage::Deletes
                };
            }
        }
        if upserts.is_empty() && deletes.is_empty() && self.pending_meta.is_empty() {
            return Ok(None);
        }
        let n = upserts.len();
        let json = serde_json::to_string(&upserts).map_err(|e| Error::Internal(e.to_string()))?;
        self.step(json, n, deletes, secret).map(Some)
    }

    /// Ids from the delete log not yet delivered and no longer alive, a chunk per step; the
    /// last step moves the checkpoint's delete mark forward.
    async fn deletes_step(&mut self, rest: &Rest<'_>, secret: &StateSecret) -> Result<Step> {
        let mut out = Vec::new();
        while out.is_empty() && !self.logged.is_empty() {
            let take = self.logged.len().min(ALIVE_CHUNK);
            let mut chunk: Vec<Deleted> = self.logged.drain(..take).collect();
            // A log entry handled by an earlier run (delivered, or found alive) is passed over.
            let mut fresh = Vec::with_capacity(chunk.len());
            for d in chunk.drain(..) {
                let ts = millis(&d.deleted_at).unwrap_or(0);
                // One entry per deletion: a record deleted, restored and deleted again has two.
                let (idh, vh) = (
                    id_hash("deleted-log", &format!("{}@{ts}", d.id)),
                    version_hash(ts, ""),
                );
                let handled = self.delivered.get(&idh) == Some(&vh)
                    || self.emitted_deletes.contains(&d.id)
                    || self.walked.contains(&d.id);
                self.remember(ts, idh, vh);
                if valid_id(&d.id) && !handled {
                    fresh.push(d);
                }
            }
            let chunk = fresh;
            if chunk.is_empty() {
                continue;
            }
            let ids: Vec<String> = chunk
                .iter()
                .map(|d| Literal::Str(d.id.clone()).to_string())
                .collect();
            let soql = format!(
                "SELECT Id FROM {} WHERE Id IN ({})",
                self.shape.object.as_str(),
                ids.join(", ")
            );
            let body = rest
                .get(&self.key, &query_path(rest.cfg, &soql), None)
                .await?;
            let page = QueryPage::parse(&body)?;
            let alive: HashSet<String> = page
                .rows()?
                .iter()
                .filter_map(|r| crate::salesforce::export::record_id(r))
                .collect();
            for d in chunk {
                if !alive.iter().any(|a| same_id(a, &d.id))
                    && self.emitted_deletes.insert(d.id.clone())
                {
                    self.formulas.deleted(&d.id);
                    out.push(d);
                }
            }
        }
        if self.logged.is_empty() {
            if let Some(latest) = self.deletes_latest {
                self.deletes_at = self.deletes_at.max(latest);
            }
            self.stage = Stage::Done;
        }
        self.step(String::from("[]"), 0, out, secret)
    }

    pub fn is_done(&self) -> bool {
        matches!(self.stage, Stage::Done)
    }

    /// A Bulk job to abort if the run is abandoned.
    pub fn abortable_job(&self) -> Option<String> {
        match &self.stage {
            Stage::Bulk(c) => c.abortable_job(),
            Stage::Formula => self.formula_job(),
            _ => None,
        }
    }
}

fn stamp_of(raw: &RawValue) -> Option<i64> {
    #[derive(Deserialize)]
    struct R {
        #[serde(rename = "SystemModstamp")]
        ts: Option<String>,
    }
    serde_json::from_str::<R>(raw.get())
        .ok()?
        .ts
        .as_deref()
        .and_then(millis)
}

fn valid_id(id: &str) -> bool {
    (id.len() == 15 || id.len() == 18) && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// 15- and 18-character forms of one Id are the same record.
fn same_id(a: &str, b: &str) -> bool {
    a.get(..15).is_some_and(|x| Some(x) == b.get(..15))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_change_is_case_insensitive_and_two_sided() {
        let v = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            schema_change(&v(&["Id", "Name"]), &v(&["id", "NAME"])),
            None
        );
        assert_eq!(
            schema_change(&v(&["Id", "Industry"]), &v(&["Id", "Tier__c"])),
            Some(SchemaChange {
                added: v(&["Tier__c"]),
                removed: v(&["Industry"])
            })
        );
    }

    fn run(fields: &[&str]) -> SyncRun {
        let opts = SyncOptions {
            type_name: "contacts".into(),
            ty: ExportType::new("Contact", fields).unwrap(),
            batch: 500,
            lookback_ms: DEFAULT_LOOKBACK_MS,
            engine: Engine::Rest,
            checkpoint: None,
            verify: false,
            formula_refresh: None,
        };
        SyncRun::new(
            ConnKey::new("a", "u").unwrap(),
            opts,
            &StateSecret::new("k".repeat(32)),
        )
        .unwrap()
    }

    #[test]
    fn pages_walk_the_compound_key() {
        let mut r = run(&["Name", "Account.Name"]);
        r.pos = Pos {
            ts: 1_704_067_200_000,
            id: None,
        };
        assert_eq!(
            r.page_soql(1_704_067_260_000).unwrap(),
            "SELECT Name, Account.Name, Id, SystemModstamp, IsDeleted FROM Contact WHERE SystemModstamp > 2024-01-01T00:00:00.000Z \
             AND SystemModstamp <= 2024-01-01T00:01:00.000Z ORDER BY SystemModstamp ASC, Id ASC LIMIT 500"
        );
        r.pos = Pos {
            ts: 1_704_067_200_000,
            id: Some("003x'1".into()),
        };
        assert_eq!(
            r.page_soql(1_704_067_260_000).unwrap(),
            "SELECT Name, Account.Name, Id, SystemModstamp, IsDeleted FROM Contact WHERE SystemModstamp >= 2024-01-01T00:00:00.000Z \
             AND (SystemModstamp > 2024-01-01T00:00:00.000Z OR Id > '003x\\'1') AND SystemModstamp <= 2024-01-01T00:01:00.000Z \
             ORDER BY SystemModstamp ASC, Id ASC LIMIT 500"
        );
        // A type that lists Id, SystemModstamp or IsDeleted itself gets each once.
        let r = run(&["id", "IsDeleted", "systemmodstamp"]);
        assert!(r
            .page_soql(0)
            .unwrap()
            .starts_with("SELECT id, IsDeleted, systemmodstamp FROM Contact"));
    }

    #[test]
    fn server_clock_from_the_date_header() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("date", "Sun, 06 Nov 1994 08:49:37 GMT".parse().unwrap());
        assert_eq!(server_ms(&h), 784_111_777_000);
        assert!(same_id("0035g000000005PAAK", "0035g000000005P"));
        assert!(!valid_id("003' OR Id != '"));
    }
}

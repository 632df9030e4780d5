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

pub mod checkpoint;

use std::collections::{HashSet, VecDeque};

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
use checkpoint::{pack_seen, row_hash, unpack_seen, Phase, Pos, Sealer, State};

/// Salesforce answers `deleted` for no more than 15 days back.
pub const DELETE_WINDOW_MS: i64 = 15 * 86_400_000;
pub const DEFAULT_LOOKBACK_MS: i64 = 5 * 60_000;
pub const MAX_LOOKBACK_MS: i64 = 86_400_000;
/// The smallest time window tried before a `QUERY_TIMEOUT` is handed to the caller.
const MIN_WINDOW_MS: i64 = 1000;
const MAX_WINDOW_MS: i64 = 366 * 86_400_000;
/// Row hashes kept for de-duplication; past this the oldest go (and may be delivered twice).
const MAX_SEEN: usize = 20_000;
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
}

#[derive(Debug, Clone)]
pub struct Deleted {
    pub id: String,
    pub deleted_at: String,
}

/// Options of one run, already validated.
pub struct SyncOptions {
    pub type_name: String,
    pub ty: ExportType,
    pub batch: u32,
    pub lookback_ms: i64,
    pub engine: Engine,
    pub checkpoint: Option<String>,
}

enum Stage {
    Start,
    Bulk(Box<ExportCursor>),
    Walk,
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
    floor: Pos,
    end: i64,
    window: i64,
    deletes_at: i64,
    deletes_latest: Option<i64>,
    /// (job id, rows of its results read, Salesforce time it started).
    bulk: Option<(String, u64, i64)>,
    bulk_skip: u64,
    bulk_done: u64,
    /// The checkpoint's row hashes (rows at or before `floor` found here were delivered).
    delivered: HashSet<u64>,
    seen: VecDeque<(i64, u64)>,
    seen_set: HashSet<u64>,
    logged: Vec<Deleted>,
    emitted_deletes: HashSet<String>,
    pub steps: u64,
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
    SoqlDateTime::from_millis(ms).map(|d| d.as_str().to_string()).map_err(|e| Error::Internal(format!("timestamp: {e}")))
}

/// Salesforce's clock from a response's `Date` header (IMF-fixdate), else this machine's.
fn server_ms(h: &reqwest::header::HeaderMap) -> i64 {
    let parsed = h.get("date").and_then(|v| v.to_str().ok()).and_then(|d| {
        // "Sun, 06 Nov 1994 08:49:37 GMT"
        let p: Vec<&str> = d.split_whitespace().collect();
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
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
            Some(text) => Some(Sealer { secret, key: &key, type_name: &opts.type_name, ty: &opts.ty }.open(text)?),
            None => None,
        };
        let mut names: Vec<&str> = opts.ty.fields.iter().map(|f| f.as_str()).collect();
        for extra in ["Id", "SystemModstamp"] {
            if !names.iter().any(|n| n.eq_ignore_ascii_case(extra)) {
                names.push(extra);
            }
        }
        let shape = ExportType::new(opts.ty.object.as_str(), &names).map_err(|e| Error::input("type", e))?;
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
            deletes_latest: None,
            bulk: None,
            bulk_skip: 0,
            bulk_done: 0,
            delivered: HashSet::new(),
            seen: VecDeque::new(),
            seen_set: HashSet::new(),
            logged: Vec::new(),
            emitted_deletes: HashSet::new(),
            steps: 0,
            opts,
        })
    }

    fn sealer<'a>(&'a self, secret: &'a StateSecret) -> Sealer<'a> {
        Sealer { secret, key: &self.key, type_name: &self.opts.type_name, ty: &self.opts.ty }
    }

    fn checkpoint(&self, secret: &StateSecret) -> Result<String> {
        let phase = match &self.bulk {
            Some((job, skip, start)) => Phase::Bulk { job: job.clone(), skip: *skip, start: *start },
            None => Phase::Walk { pos: if self.floor.le(&self.pos) { self.pos.clone() } else { self.floor.clone() } },
        };
        let seen = pack_seen(self.seen.iter().copied());
        self.sealer(secret).seal(&State { phase, deletes_at: self.deletes_at, seen })
    }

    fn remember(&mut self, ts: i64, h: u64) {
        if self.seen_set.insert(h) {
            self.seen.push_back((ts, h));
        }
        let cutoff = self.pos.ts.max(self.floor.ts) - self.opts.lookback_ms;
        while self.seen.front().is_some_and(|(t, _)| *t < cutoff) || self.seen.len() > MAX_SEEN {
            if let Some((_, old)) = self.seen.pop_front() {
                self.seen_set.remove(&old);
            }
        }
    }

    async fn get_dated(&self, rest: &Rest<'_>, path: &str) -> Result<(bytes::Bytes, i64)> {
        let a = rest.send(&self.key, Call::get(path)).await?;
        Ok((a.body, server_ms(&a.headers)))
    }

    fn query_all_path(&self, rest: &Rest<'_>, soql: &str) -> String {
        query_path(rest.cfg, soql).replacen("/query?", "/queryAll?", 1)
    }

    /// The next step, or `None` once the run has caught up.
    pub async fn next(&mut self, rest: &Rest<'_>, describes: &DescribeCache, secret: &StateSecret) -> Result<Option<Step>> {
        loop {
            match &mut self.stage {
                Stage::Done => return Ok(None),
                Stage::Start => self.start(rest).await?,
                Stage::Bulk(cursor) => {
                    let got = cursor.next(rest, describes).await?;
                    let job = cursor.job_id().map(str::to_string);
                    let Some((old_job, _, start)) = self.bulk.clone() else {
                        return Err(Error::Internal("bulk sync without a job".into()));
                    };
                    let Some(batch) = got else {
                        // Everything the job saw is delivered; changes from its start on (and
                        // within the lookback before it) come from the walk of the next run.
                        self.bulk = None;
                        self.pos = Pos { ts: start, id: None };
                        self.floor = self.pos.clone();
                        self.deletes_at = start;
                        self.stage = Stage::Done;
                        return self.step(String::from("[]"), 0, Vec::new(), secret).map(Some);
                    };
                    let rows = batch.rows()?;
                    // On resume, the rows an earlier run delivered are read again and passed over.
                    let skip = self.bulk_skip.min(rows.len() as u64) as usize;
                    self.bulk_skip -= skip as u64;
                    self.bulk_done += rows.len() as u64;
                    self.bulk = Some((job.unwrap_or(old_job), self.bulk_done, start));
                    let kept = &rows[skip..];
                    if kept.is_empty() {
                        continue;
                    }
                    let json = crate::salesforce::format::json_array(kept);
                    let n = kept.len();
                    return self.step(json, n, Vec::new(), secret).map(Some);
                }
                Stage::Walk => {
                    if let Some(step) = self.walk_page(rest, secret).await? {
                        return Ok(Some(step));
                    }
                }
                Stage::Deletes => return self.deletes_step(rest, secret).await.map(Some),
            }
        }
    }

    fn step(&mut self, upserts_json: String, upserts: usize, deletes: Vec<Deleted>, secret: &StateSecret) -> Result<Step> {
        self.steps += 1;
        Ok(Step { upserts_json, upserts, deletes, checkpoint: self.checkpoint(secret)? })
    }

    async fn start(&mut self, rest: &Rest<'_>) -> Result<()> {
        match self.from.take() {
            None => self.start_full(rest).await,
            Some(State { phase: Phase::Bulk { job, skip, start }, deletes_at, .. }) => {
                self.deletes_at = deletes_at;
                self.start_bulk(Some(job), skip, start);
                Ok(())
            }
            Some(State { phase: Phase::Walk { pos }, deletes_at, seen }) => {
                self.deletes_at = deletes_at;
                let entries = unpack_seen(&seen);
                self.delivered = entries.iter().map(|(_, h)| *h).collect();
                for (ts, h) in entries {
                    if self.seen_set.insert(h) {
                        self.seen.push_back((ts, h));
                    }
                }
                self.floor = pos.clone();
                self.pos = Pos { ts: pos.ts.saturating_sub(self.opts.lookback_ms).max(0), id: None };
                // "Every row before ts": start just before the lookback's first instant.
                self.pos.ts = self.pos.ts.saturating_sub(1);
                self.guard_deletes(rest).await?;
                self.stage = Stage::Walk;
                Ok(())
            }
        }
    }

    fn start_bulk(&mut self, job: Option<String>, skip: u64, start: i64) {
        let cursor = ExportCursor::new(self.key.clone(), self.shape.clone(), None, self.opts.batch.max(200), Engine::Bulk, job.clone());
        self.bulk = Some((job.unwrap_or_default(), skip, start));
        self.bulk_skip = skip;
        self.bulk_done = 0;
        self.stage = Stage::Bulk(Box::new(cursor));
    }

    /// No checkpoint: everything. Salesforce's clock and the oldest stamp come first, so the
    /// next run knows where this one began.
    async fn start_full(&mut self, rest: &Rest<'_>) -> Result<()> {
        let first = format!("SELECT SystemModstamp FROM {} ORDER BY SystemModstamp ASC LIMIT 1", self.shape.object.as_str());
        let (body, now) = self.get_dated(rest, &self.query_all_path(rest, &first)).await?;
        let page = QueryPage::parse(&body)?;
        let oldest = page.rows()?.first().and_then(|r| stamp_of(r));
        let bulk = match self.opts.engine {
            Engine::Rest => false,
            Engine::Bulk => true,
            Engine::Auto => {
                let count = format!("SELECT COUNT() FROM {}", self.shape.object.as_str());
                let body = rest.get(&self.key, &query_path(rest.cfg, &count), None).await?;
                QueryPage::parse(&body)?.total_size > rest.cfg.bulk_threshold
            }
        };
        self.deletes_at = now;
        if bulk {
            self.start_bulk(None, 0, now);
            return Ok(());
        }
        self.end = now;
        match oldest {
            Some(ts) => {
                self.pos = Pos { ts: ts - 1, id: None };
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

    /// Fails before anything is delivered when Salesforce may have forgotten deletes since the
    /// checkpoint; otherwise keeps the delete log's ids for the end of the run.
    async fn guard_deletes(&mut self, rest: &Rest<'_>) -> Result<()> {
        let resync = |why: String| Error::FullResyncRequired { reason: why };
        let object = self.shape.object.as_str().to_string();
        let path = |start: i64, end: i64| -> Result<String> {
            let enc = |ms| literal(ms).map(|s| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>());
            Ok(format!("{}/sobjects/{object}/deleted/?start={}&end={}", rest.cfg.data_path(), enc(start)?, enc(end)?))
        };
        // The clock first (a cheap call), so the window check uses Salesforce's time.
        let probe = format!("SELECT Id FROM {} LIMIT 1", object);
        let (_, now) = self.get_dated(rest, &query_path(rest.cfg, &probe)).await?;
        self.end = now;
        if now - self.deletes_at > DELETE_WINDOW_MS {
            return Err(resync("the checkpoint is older than the 15 days Salesforce keeps deletes".into()));
        }
        let wanted = (self.deletes_at - self.opts.lookback_ms).min(now - 120_000);
        let mut answer = rest.get(&self.key, &path(wanted, now)?, None).await;
        if matches!(&answer, Err(Error::Salesforce { salesforce_code, .. }) if salesforce_code == "INVALID_REPLICATION_DATE") {
            // The lookback reaches past what is kept; what matters is the checkpoint itself.
            answer = rest.get(&self.key, &path(self.deletes_at.min(now - 60_000), now)?, None).await;
        }
        let body = match answer {
            Err(Error::Salesforce { salesforce_code, .. }) if salesforce_code == "INVALID_REPLICATION_DATE" => {
                return Err(resync("Salesforce no longer keeps every delete since the checkpoint (the recycle bin was emptied)".into()));
            }
            other => other?,
        };
        let page: DeletedPage =
            serde_json::from_slice(&body).map_err(|e| Error::Unavailable(format!("unreadable deleted records: {e}")))?;
        if page.earliest.as_deref().and_then(millis).is_some_and(|e| e > self.deletes_at) {
            return Err(resync("Salesforce no longer keeps every delete since the checkpoint (the recycle bin was emptied)".into()));
        }
        self.deletes_latest = page.latest.as_deref().and_then(millis);
        self.logged = page
            .deleted_records
            .into_iter()
            .take(MAX_LOGGED_DELETES)
            .map(|r| Deleted { id: r.id, deleted_at: r.deleted_date })
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

    /// One page of the walk; `None` when it read nothing new (the caller keeps going).
    async fn walk_page(&mut self, rest: &Rest<'_>, secret: &StateSecret) -> Result<Option<Step>> {
        let hi = self.end.min(self.pos.ts.saturating_add(self.window));
        let soql = self.page_soql(hi)?;
        let body = match rest.get(&self.key, &self.query_all_path(rest, &soql), None).await {
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
        let full = rows.len() as u32 >= self.opts.batch;
        let mut upserts = Vec::new();
        let mut deletes = Vec::new();
        for raw in &rows {
            let mut rec: Map<String, Value> =
                serde_json::from_str(raw.get()).map_err(|e| Error::Unavailable(format!("unreadable record: {e}")))?;
            let id = rec.get("Id").and_then(Value::as_str).map(str::to_string);
            let stamp_text = rec.get("SystemModstamp").and_then(Value::as_str).map(str::to_string);
            let (Some(id), Some(stamp_text)) = (id, stamp_text) else {
                return Err(Error::Unavailable("a changed record came back without Id or SystemModstamp".into()));
            };
            let ts = millis(&stamp_text).ok_or_else(|| Error::Unavailable(format!("unreadable SystemModstamp {stamp_text:?}")))?;
            let is_deleted = rec.get("IsDeleted").and_then(Value::as_bool).unwrap_or(false);
            if !self.keeps_is_deleted {
                rec.remove("IsDeleted");
            }
            let row_pos = Pos { ts, id: Some(id.clone()) };
            let h = row_hash(&id, ts);
            self.pos = row_pos.clone();
            let already = row_pos.le(&self.floor) && self.delivered.contains(&h);
            self.remember(ts, h);
            if already {
                continue;
            }
            if is_deleted {
                self.emitted_deletes.insert(id.clone());
                deletes.push(Deleted { id, deleted_at: stamp_text });
            } else {
                upserts.push(Value::Object(rec));
            }
        }
        if !full {
            // The window is read through: everything up to `hi` is in.
            self.pos = Pos { ts: hi, id: None };
            if (rows.len() as u32) < self.opts.batch / 4 {
                self.window = self.window.saturating_mul(2).min(MAX_WINDOW_MS);
            }
            if hi >= self.end {
                self.stage = Stage::Deletes;
            }
        }
        if upserts.is_empty() && deletes.is_empty() {
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
            chunk.retain(|d| valid_id(&d.id) && !self.emitted_deletes.contains(&d.id));
            if chunk.is_empty() {
                continue;
            }
            let ids: Vec<String> = chunk.iter().map(|d| Literal::Str(d.id.clone()).to_string()).collect();
            let soql = format!("SELECT Id FROM {} WHERE Id IN ({})", self.shape.object.as_str(), ids.join(", "));
            let body = rest.get(&self.key, &query_path(rest.cfg, &soql), None).await?;
            let page = QueryPage::parse(&body)?;
            let alive: HashSet<String> = page.rows()?.iter().filter_map(|r| crate::salesforce::export::record_id(r)).collect();
            for d in chunk {
                if !alive.iter().any(|a| same_id(a, &d.id)) && self.emitted_deletes.insert(d.id.clone()) {
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
    serde_json::from_str::<R>(raw.get()).ok()?.ts.as_deref().and_then(millis)
}

fn valid_id(id: &str) -> bool {
    (id.len() == 15 || id.len() == 18) && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// 15- and 18-character forms of one Id are the same record.
fn same_id(a: &str, b: &str) -> bool {
    a.get(..15).is_some_and(|x| Some(x) == b.get(..15))
}

//! `formulaRefresh`: a formula's value changes without `SystemModstamp` moving, so once per
//! period every live record is read again and those whose formula values differ from what was
//! last delivered come out as upserts.
//!
//! What was delivered is remembered in the checkpoint as one digest per record: 8 bytes of the
//! Id's hash and 4 of the formula values' hash (16 base64 characters a record), kept current by
//! every row the sync delivers (initial load, walk, refresh) and dropped with every delete. Past
//! [`MAX_DIGESTS`] records none are kept, and a refresh emits every record, saying so in
//! `meta.formulaRefresh`; so does the first refresh of a checkpoint made without the option.
//! The re-read goes through Bulk when the sync's initial load would (engine `'bulk'`, or
//! `'auto'` above `bulkThreshold`), else REST pages in Id order.

use std::collections::{HashMap, HashSet};

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::checkpoint::id_hash;
use super::{Stage, Step, SyncRun};
use crate::error::{Error, Result};
use crate::salesforce::describe::DescribeCache;
use crate::salesforce::export::{Engine, ExportCursor, QueryPage};
use crate::salesforce::rest::{query_path, Rest};
use crate::salesforce::soql::Literal;
use crate::secret::StateSecret;

/// Records whose digests a checkpoint carries (800 KB of base64 at most).
pub const MAX_DIGESTS: usize = 50_000;
const ENTRY: usize = 12;

/// The checkpoint's part: digests, and a Bulk re-read under way.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormulaState {
    /// Packed digests, sorted by Id hash; absent: none kept (the next refresh emits all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digests: Option<String>,
    /// The digests were dropped for passing [`MAX_DIGESTS`].
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub over: bool,
    /// A Bulk re-read's job and the rows of its results already read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    #[serde(default)]
    pub skip: u64,
}

/// The run's formula bookkeeping.
#[derive(Default)]
pub struct Formulas {
    /// The shape's formula fields (empty: the option is off or there are none).
    pub fields: Vec<String>,
    digests: Option<HashMap<u64, u32>>,
    over: bool,
    /// A refresh begun in this run: the Ids it read (the rest are gone once it completes).
    touched: Option<HashSet<u64>>,
    /// This refresh emits every record (no digests when it began).
    all: bool,
    cursor: Option<Box<ExportCursor>>,
    job: Option<String>,
    skip: u64,
    read: u64,
    resumed_job: bool,
    begun: bool,
}

fn pack(map: &HashMap<u64, u32>) -> String {
    let mut v: Vec<(u64, u32)> = map.iter().map(|(k, v)| (*k, *v)).collect();
    v.sort_unstable();
    let mut out = Vec::with_capacity(v.len() * ENTRY);
    for (k, d) in v {
        out.extend_from_slice(&k.to_le_bytes());
        out.extend_from_slice(&d.to_le_bytes());
    }
    B64.encode(out)
}

fn unpack(s: &str) -> Option<HashMap<u64, u32>> {
    let bytes = B64.decode(s).ok()?;
    if bytes.len() % ENTRY != 0 || bytes.len() / ENTRY > MAX_DIGESTS {
        return None;
    }
    let mut map = HashMap::with_capacity(bytes.len() / ENTRY);
    for c in bytes.chunks_exact(ENTRY) {
        let mut k = [0u8; 8];
        let mut d = [0u8; 4];
        k.copy_from_slice(&c[..8]);
        d.copy_from_slice(&c[8..]);
        map.insert(u64::from_le_bytes(k), u32::from_le_bytes(d));
    }
    Some(map)
}

/// A value's hash input, the same for REST's and Bulk's rendering of one value (numbers as f64).
fn feed(out: &mut Vec<u8>, v: Option<&Value>) {
    match v {
        None | Some(Value::Null) => out.push(0),
        Some(Value::Bool(b)) => out.extend_from_slice(&[1, u8::from(*b)]),
        Some(Value::Number(n)) => {
            out.push(2);
            out.extend_from_slice(&n.as_f64().unwrap_or(f64::NAN).to_bits().to_le_bytes());
        }
        Some(Value::String(s)) => {
            out.push(3);
            out.extend_from_slice(&(s.len() as u64).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        Some(other) => {
            let s = other.to_string();
            out.push(4);
            out.extend_from_slice(&(s.len() as u64).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
    }
}

impl Formulas {
    /// Tracking starts with the initial load, or carries on from the checkpoint's digests.
    pub fn load(&mut self, fields: Vec<String>, initial: bool, from: Option<&FormulaState>) {
        self.fields = fields;
        if self.fields.is_empty() {
            return;
        }
        self.digests = if initial {
            Some(HashMap::new())
        } else {
            from.and_then(|s| s.digests.as_deref()).and_then(unpack)
        };
        self.over = from.is_some_and(|s| s.over);
        if let Some(s) = from {
            self.job = s.job.clone();
            self.skip = s.skip;
            self.resumed_job = s.job.is_some();
        }
    }

    /// A Bulk re-read was under way when the checkpoint was made.
    pub fn resuming(&self) -> bool {
        self.job.is_some()
    }

    /// What the checkpoint records (nothing when the option is off).
    pub fn state(&self) -> Option<FormulaState> {
        if self.fields.is_empty() {
            return None;
        }
        Some(FormulaState {
            digests: self.digests.as_ref().map(pack),
            over: self.over,
            job: self.job.clone(),
            skip: self.read,
        })
    }

    /// (Id hash, formula values hash) of a record.
    fn digest(&self, id: &str, rec: &Map<String, Value>) -> (u64, u32) {
        let mut buf = Vec::new();
        for f in &self.fields {
            let v = rec
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(f))
                .map(|(_, v)| v);
            feed(&mut buf, v);
        }
        let idh = id_hash("formula", id.get(..15).unwrap_or(id));
        let vh = id_hash("formula-values", &B64.encode(&buf));
        (idh, vh as u32)
    }

    fn bounded(&mut self) {
        if self.digests.as_ref().is_some_and(|m| m.len() > MAX_DIGESTS) {
            self.digests = None;
            self.over = true;
            // Nothing left to prune: the Ids read need not be held either.
            self.touched = None;
        }
    }

    /// A record delivered (live): its formula values are now the host's.
    pub fn delivered(&mut self, id: &str, rec: &Map<String, Value>) {
        if self.fields.is_empty() || self.digests.is_none() {
            return;
        }
        let (k, d) = self.digest(id, rec);
        if let Some(m) = self.digests.as_mut() {
            m.insert(k, d);
        }
        self.bounded();
    }

    /// Same, for a raw JSON row (Bulk's initial load).
    pub fn delivered_raw(&mut self, raw: &str) -> Result<()> {
        if self.fields.is_empty() || self.digests.is_none() {
            return Ok(());
        }
        let rec: Map<String, Value> = serde_json::from_str(raw)
            .map_err(|e| Error::Unavailable(format!("unreadable record: {e}")))?;
        if let Some(id) = rec.get("Id").and_then(Value::as_str).map(str::to_string) {
            self.delivered(&id, &rec);
        }
        Ok(())
    }

    /// A record deleted: nothing to compare against any more.
    pub fn deleted(&mut self, id: &str) {
        if let Some(m) = self.digests.as_mut() {
            m.remove(&id_hash("formula", id.get(..15).unwrap_or(id)));
        }
    }

    /// Whether a re-read record is to be delivered (its formula values changed); remembers them.
    fn changed(&mut self, id: &str, rec: &Map<String, Value>) -> bool {
        let (k, d) = self.digest(id, rec);
        if let Some(t) = self.touched.as_mut() {
            t.insert(k);
        }
        let before = self.digests.as_mut().and_then(|m| m.insert(k, d));
        self.bounded();
        self.all || self.digests.is_none() || before != Some(d)
    }

    /// The refresh begins (or resumes): without digests it emits every record.
    fn begin(&mut self, fresh: bool, meta: &mut Map<String, Value>) {
        if self.begun {
            return;
        }
        self.begun = true;
        if fresh {
            self.touched = Some(HashSet::new());
        }
        if self.digests.is_none() {
            self.all = true;
            let reason = if self.over {
                "over_limit"
            } else {
                "no_digests"
            };
            self.over = false;
            self.digests = Some(HashMap::new());
            meta.insert(
                "formulaRefresh".into(),
                serde_json::json!({ "emitted": "all", "reason": reason, "limit": MAX_DIGESTS }),
            );
        }
    }

    /// The refresh is complete: records it did not read (deleted meanwhile) are forgotten.
    fn end(&mut self) {
        if let (Some(t), Some(m)) = (self.touched.take(), self.digests.as_mut()) {
            m.retain(|k, _| t.contains(k));
        }
        self.all = false;
        self.begun = false;
        self.cursor = None;
        self.job = None;
        self.read = 0;
        self.skip = 0;
    }
}

impl SyncRun {
    /// One step of the formula re-read; `None` when it delivered nothing (the caller goes on).
    pub(super) async fn formula_page(
        &mut self,
        rest: &Rest<'_>,
        describes: &DescribeCache,
        secret: &StateSecret,
    ) -> Result<Option<Step>> {
        let fresh = self.formula_after.is_none() && self.formulas.job.is_none();
        self.formulas.begin(fresh, &mut self.pending_meta);
        if self.formulas.cursor.is_none() && self.formula_after.is_none() {
            let bulk = match (&self.formulas.job, self.opts.engine) {
                (Some(_), _) | (None, Engine::Bulk) => true,
                (None, Engine::Rest) => false,
                (None, Engine::Auto) => {
                    let count = format!("SELECT COUNT() FROM {}", self.shape.object.as_str());
                    let body = rest
                        .get(&self.key, &query_path(rest.cfg, &count), None)
                        .await?;
                    QueryPage::parse(&body)?.total_size > rest.cfg.bulk_threshold
                }
            };
            if bulk {
                self.formulas.cursor = Some(Box::new(ExportCursor::new(
                    self.key.clone(),
                    self.shape.clone(),
                    None,
                    self.opts.batch.max(200),
                    Engine::Bulk,
                    self.formulas.job.clone(),
                )));
                self.formulas.read = 0;
            }
        }
        let rows_json = if self.formulas.cursor.is_some() {
            self.formula_bulk(rest, describes).await?
        } else {
            self.formula_rest(rest).await?
        };
        let Some(rows) = rows_json else {
            return Ok(None);
        };
        let mut upserts = Vec::new();
        for raw in rows {
            let rec: Map<String, Value> = serde_json::from_str(&raw)
                .map_err(|e| Error::Unavailable(format!("unreadable record: {e}")))?;
            let Some(id) = rec.get("Id").and_then(Value::as_str).map(str::to_string) else {
                continue;
            };
            if self.formulas.changed(&id, &rec) {
                upserts.push(Value::Object(rec));
            }
        }
        if matches!(self.stage, Stage::Deletes) {
            self.formulas.end();
        }
        if upserts.is_empty() && self.pending_meta.is_empty() {
            return Ok(None);
        }
        let n = upserts.len();
        let json = serde_json::to_string(&upserts).map_err(|e| Error::Internal(e.to_string()))?;
        self.step(json, n, Vec::new(), secret).map(Some)
    }

    fn formula_finished(&mut self) {
        self.formula_after = None;
        self.formula_at = Some(self.end);
        self.stage = Stage::Deletes;
    }

    /// A REST page of live records after the last Id; `None` at the end with nothing read.
    async fn formula_rest(&mut self, rest: &Rest<'_>) -> Result<Option<Vec<String>>> {
        let after = match &self.formula_after {
            Some(id) => format!(" WHERE Id > {}", Literal::Str(id.clone())),
            None => String::new(),
        };
        let soql = format!(
            "SELECT {} FROM {}{after} ORDER BY Id ASC LIMIT {}",
            self.shape.select_list(),
            self.shape.object.as_str(),
            self.opts.batch
        );
        let body = rest
            .get(&self.key, &query_path(rest.cfg, &soql), None)
            .await?;
        let page = QueryPage::parse(&body)?;
        let rows = page.rows()?;
        let last = rows
            .last()
            .and_then(|r| crate::salesforce::export::record_id(r));
        if (rows.len() as u32) < self.opts.batch || last.is_none() {
            self.formula_finished();
        } else {
            self.formula_after = last;
        }
        Ok(Some(rows.iter().map(|r| r.get().to_string()).collect()))
    }

    /// A batch of the Bulk re-read's results (rows an earlier run read are passed over).
    async fn formula_bulk(
        &mut self,
        rest: &Rest<'_>,
        describes: &DescribeCache,
    ) -> Result<Option<Vec<String>>> {
        let Some(cursor) = self.formulas.cursor.as_mut() else {
            return Ok(None);
        };
        let got = match cursor.next(rest, describes).await {
            // The interrupted re-read's job is gone (or was aborted when that run was
            // abandoned): start it over.
            Err(
                Error::Salesforce {
                    http_status: 404, ..
                }
                | Error::Cancelled,
            ) if self.formulas.resumed_job => {
                self.formulas.resumed_job = false;
                self.formulas.cursor = None;
                self.formulas.job = None;
                self.formulas.skip = 0;
                self.formulas.touched = Some(HashSet::new());
                return Ok(None);
            }
            other => other?,
        };
        self.formulas.job = cursor.job_id().map(str::to_string);
        let Some(batch) = got else {
            self.formula_finished();
            return Ok(Some(Vec::new()));
        };
        let rows = batch.rows()?;
        let skip = self.formulas.skip.min(rows.len() as u64) as usize;
        self.formulas.skip -= skip as u64;
        self.formulas.read += rows.len() as u64;
        Ok(Some(
            rows[skip..].iter().map(|r| r.get().to_string()).collect(),
        ))
    }

    /// A Bulk re-read's job to abort if the run is abandoned.
    pub(super) fn formula_job(&self) -> Option<String> {
        self.formulas
            .cursor
            .as_ref()
            .and_then(|c| c.abortable_job())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_pack_sorted_and_bounded() {
        let mut m = HashMap::new();
        m.insert(5u64, 7u32);
        m.insert(1u64, 9u32);
        let packed = pack(&m);
        assert_eq!(unpack(&packed), Some(m));
        // 16 base64 characters a record.
        assert_eq!(packed.len(), 32);
        assert_eq!(unpack("!"), None);
    }

    #[test]
    fn only_formula_values_count_and_numbers_compare_as_numbers() {
        let mut f = Formulas::default();
        f.load(vec!["Score__c".into()], true, None);
        let rec = |v: Value, name: &str| {
            let mut m = Map::new();
            m.insert("Score__c".into(), v);
            m.insert("Name".into(), Value::String(name.into()));
            m
        };
        f.delivered("003000000000001AAA", &rec(serde_json::json!(1.0), "a"));
        // Another name, the same formula value (1 from Bulk, 1.0 from REST): unchanged.
        assert!(!f.changed("003000000000001", &rec(serde_json::json!(1), "b")));
        assert!(f.changed("003000000000001AAA", &rec(serde_json::json!(2), "b")));
        assert!(!f.changed("003000000000001AAA", &rec(serde_json::json!(2), "b")));
        f.deleted("003000000000001AAA");
        assert!(f.changed("003000000000001AAA", &rec(serde_json::json!(2), "b")));
    }

    #[test]
    fn past_the_bound_no_digests_and_the_next_refresh_says_all() {
        let mut f = Formulas::default();
        f.load(vec!["Score__c".into()], true, None);
        let mut rec = Map::new();
        rec.insert("Score__c".into(), serde_json::json!(1));
        for i in 0..=MAX_DIGESTS {
            f.delivered(&format!("{i:015}"), &rec);
        }
        let st = f.state().unwrap();
        assert_eq!((st.digests, st.over), (None, true));
        // Resumed from that checkpoint: the refresh emits every record and says why.
        let mut g = Formulas::default();
        g.load(vec!["Score__c".into()], false, Some(&f.state().unwrap()));
        let mut meta = Map::new();
        g.begin(true, &mut meta);
        assert_eq!(meta["formulaRefresh"]["reason"], "over_limit");
        assert!(g.changed("003000000000000001", &rec));
        assert!(g.changed("003000000000000001", &rec), "all, even unchanged");
        // A checkpoint made without the option: no digests.
        let mut h = Formulas::default();
        h.load(vec!["Score__c".into()], false, None);
        let mut meta = Map::new();
        h.begin(true, &mut meta);
        assert_eq!(meta["formulaRefresh"]["reason"], "no_digests");
    }
}

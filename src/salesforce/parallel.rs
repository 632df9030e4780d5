//! Parallel REST export by Id ranges (PK-chunking style). Salesforce answers each query page in
//! hundreds of milliseconds, so one `nextRecordsUrl` chain is a chain of waits; Salesforce's own
//! advice for large extracts is to split by Id and read the ranges at once.
//!
//! Plan: the first page of the plain `ORDER BY Id` query and a one-row `ORDER BY Id DESC` query run
//! together: they give the total, the first batch, the Id it ends at and the largest Id. The key
//! space between those two Ids is then carved, as reading proceeds, into ranges of about one batch
//! each (`WHERE Id > :last` / `Id >= :lo AND Id < :hi ORDER BY Id`), sized from the density seen so
//! far. Reading goes in rounds of up to K requests (the first K unfinished ranges in Id order), so
//! batches can be handed out in Id order while at most about K of them wait in memory. A range
//! whose first page shows it dense is split again; the last range is open-ended, so records
//! created during the export past the largest Id are not lost, and every record is in exactly one
//! range.
//!
//! API calls: every range costs `ceil(records / batch)` pages, plus at most one page that is not
//! full (its "waste"). Ranges are only carved while the waste known so far, plus one per range
//! whose first page is not back yet, plus one kept for the open-ended last range, stays within
//! `2K - 1`; so the export costs at most the serial walk's calls + 2K (the extra one is the `DESC`
//! query). When the budget runs low the rest is read as one range, serially.

use std::collections::VecDeque;

use crate::error::{Error, Result};
use crate::salesforce::export::{record_id, Batch, RowsPage};
use crate::salesforce::id_key::KeySpace;
use crate::salesforce::locator::NextRecordsUrl;
use crate::salesforce::rest::{query_path, Rest};
use crate::salesforce::soql::{ExportType, Select, SoqlDateTime};
use crate::token::record::ConnKey;

/// `parallelism` bounds.
pub const MIN_PARALLELISM: u32 = 1;
pub const MAX_PARALLELISM: u32 = 10;
pub const DEFAULT_PARALLELISM: u32 = 4;

#[derive(Debug, Clone)]
enum Lower {
    /// `Id > id`: the range right after the first page.
    After(String),
    /// `Id >= id`.
    From(String),
}

#[derive(Debug)]
enum Reading {
    NotStarted,
    /// Following the range's own `nextRecordsUrl` chain; `None` = read to the end.
    Chain(Option<String>),
}

struct Range {
    lower: Lower,
    /// Exclusive upper Id; `None` = open-ended (the last range).
    upper: Option<String>,
    /// Key-space ends, for density and re-splitting (`hi_v` is nominal for the open range).
    lo_v: u128,
    hi_v: u128,
    reading: Reading,
    /// At most one batch waits per range.
    ready: Option<Batch>,
}

impl Range {
    fn finished(&self) -> bool {
        matches!(self.reading, Reading::Chain(None))
    }
    fn wants_fetch(&self) -> bool {
        self.ready.is_none() && !self.finished()
    }
}

/// The parallel REST engine's state, owned by an `ExportCursor`.
pub struct ParallelRest {
    k: usize,
    ordered: bool,
    started: bool,
    /// Ranges in Id order; the front one is the oldest unfinished.
    ranges: VecDeque<Range>,
    space: Option<KeySpace>,
    /// Start of the key space not yet given to a range; `None` once the open range exists.
    next_lo: Option<u128>,
    /// The first carved range starts strictly after this Id (the first page's last).
    pending_after: Option<String>,
    /// The largest Id's point at the start (ranges past it are open-ended).
    max_v: u128,
    /// Estimated records per key point, and the recent relative miss of that estimate.
    density: f64,
    miss: f64,
    /// Known waste (pages beyond records / batch) and the budget `2K - 1`.
    waste: f64,
    budget: f64,
    /// Records announced by the first page (the export's total).
    pub total: Option<u64>,
    /// REST calls made (tests and bench).
    pub calls: u64,
}

impl ParallelRest {
    pub fn new(parallelism: u32, ordered: bool) -> Self {
        let k = parallelism.clamp(MIN_PARALLELISM, MAX_PARALLELISM) as usize;
        Self {
            k,
            ordered,
            started: false,
            ranges: VecDeque::new(),
            space: None,
            next_lo: None,
            pending_after: None,
            max_v: 0,
            density: 0.0,
            miss: 0.05,
            waste: 0.0,
            budget: (2 * k) as f64 - 1.0,
            total: None,
            calls: 0,
        }
    }

    /// The next batch, or `None` when every range is read.
    pub async fn next(
        &mut self,
        rest: &Rest<'_>,
        key: &ConnKey,
        ty: &ExportType,
        since: Option<&SoqlDateTime>,
        batch: u32,
    ) -> Result<Option<Batch>> {
        if !self.started {
            self.started = true;
            if let Some(b) = self.start(rest, key, ty, since, batch).await? {
                return Ok(Some(b));
            }
        }
        loop {
            while self
                .ranges
                .front()
                .is_some_and(|r| r.finished() && r.ready.is_none())
            {
                self.ranges.pop_front();
            }
            let ready = if self.ordered {
                self.ranges.front_mut().and_then(|r| r.ready.take())
            } else {
                self.ranges.iter_mut().find_map(|r| r.ready.take())
            };
            if let Some(b) = ready {
                if b.count == 0 {
                    continue;
                }
                return Ok(Some(b));
            }
            if self.ranges.is_empty() && self.next_lo.is_none() {
                return Ok(None);
            }
            self.round(rest, key, ty, since, batch).await?;
        }
    }

    /// First page and largest Id, together. Returns the first batch.
    async fn start(
        &mut self,
        rest: &Rest<'_>,
        key: &ConnKey,
        ty: &ExportType,
        since: Option<&SoqlDateTime>,
        batch: u32,
    ) -> Result<Option<Batch>> {
        let first_q = query_path(rest.cfg, &Select::new(ty).since(since).build());
        let last_q = query_path(
            rest.cfg,
            &Select::new(ty)
                .since(since)
                .id_only()
                .descending()
                .limit(1)
                .build(),
        );
        let (first, last) = tokio::join!(
            rest.get(key, &first_q, Some(batch)),
            rest.get(key, &last_q, None)
        );
        self.calls += 2;
        let first = first?;
        let page = RowsPage::parse(&first)?;
        self.total = Some(page.total_size);
        let (count, json) = page.array_text(&first);
        let last_id = page.records.last().and_then(|r| record_id(r));
        let next = match page.next_records_url.as_deref() {
            Some(u) if !page.done => Some(NextRecordsUrl::from_salesforce(u)?.as_str().to_string()),
            _ => None,
        };
        let Some(next) = next else {
            // Everything fit one page.
            return Ok((count > 0).then_some(Batch { json, count }));
        };
        // A failed DESC query only costs the parallelism, never the export.
        let max_id = last.ok().and_then(|body| {
            let p = RowsPage::parse(&body).ok()?;
            p.records.first().and_then(|r| record_id(r))
        });
        let split = match (&last_id, &max_id) {
            (Some(a), Some(b)) => KeySpace::between(a, b).filter(|(_, a, b)| b > a),
            _ => None,
        };
        match (split, last_id) {
            (Some((space, a, b)), Some(after)) => {
                let remaining = page.total_size.saturating_sub(count as u64) as f64;
                self.density = remaining / (b - a) as f64;
                self.space = Some(space);
                self.max_v = b;
                self.next_lo = Some(a + 1);
                self.pending_after = Some(after);
            }
            // Not Id-shaped, or nothing to split: the first page's own chain, as today.
            _ => self.ranges.push_back(Range {
                lower: Lower::From(String::new()),
                upper: None,
                lo_v: 0,
                hi_v: 0,
                reading: Reading::Chain(Some(next)),
                ready: None,
            }),
        }
        Ok(Some(Batch { json, count }))
    }

    fn unknown(&self) -> f64 {
        self.ranges
            .iter()
            .filter(|r| matches!(r.reading, Reading::NotStarted))
            .count() as f64
    }

    fn fill(&self) -> f64 {
        (1.0 - 2.0 * self.miss).clamp(0.5, 0.98)
    }

    /// Carves the next range off the uncut key space, if the call budget allows one.
    fn carve(&mut self, batch: u32) -> Option<Range> {
        let lo = self.next_lo?;
        let space = self.space.clone()?;
        let committed = self.waste + self.unknown();
        let span = self.max_v.saturating_sub(lo).saturating_add(1);
        let width = if self.density > 0.0 {
            (self.fill() * batch as f64 / self.density).floor().max(1.0)
        } else {
            span as f64
        };
        let width = if width >= span as f64 {
            span
        } else {
            width as u128
        };
        let hi = lo.saturating_add(width);
        // One unit of budget stays reserved for the open-ended last range.
        if hi <= self.max_v && committed + 2.0 <= self.budget {
            let lower = lower_of(self.pending_after.take(), &space, lo);
            self.next_lo = Some(hi);
            return Some(Range {
                lower,
                upper: Some(space.id_at(hi)),
                lo_v: lo,
                hi_v: hi,
                reading: Reading::NotStarted,
                ready: None,
            });
        }
        // Budget low: wait for this round's first pages (usually little waste) before giving the
        // rest to one open range.
        if hi <= self.max_v && self.unknown() > 0.0 {
            return None;
        }
        let lower = lower_of(self.pending_after.take(), &space, lo);
        self.next_lo = None;
        Some(Range {
            lower,
            upper: None,
            lo_v: lo,
            hi_v: self.max_v.saturating_add(1),
            reading: Reading::NotStarted,
            ready: None,
        })
    }

    /// One round: up to K requests for the first K unfinished ranges in Id order, all awaited.
    async fn round(
        &mut self,
        rest: &Rest<'_>,
        key: &ConnKey,
        ty: &ExportType,
        since: Option<&SoqlDateTime>,
        batch: u32,
    ) -> Result<()> {
        let mut window = 0;
        let mut fetch = Vec::new();
        for (i, r) in self.ranges.iter().enumerate() {
            if window == self.k {
                break;
            }
            if r.finished() && r.ready.is_none() {
                continue;
            }
            window += 1;
            if r.wants_fetch() {
                fetch.push(i);
            }
        }
        while window < self.k {
            let Some(r) = self.carve(batch) else { break };
            self.ranges.push_back(r);
            fetch.push(self.ranges.len() - 1);
            window += 1;
        }
        if fetch.is_empty() {
            return Err(Error::Internal(
                "parallel export has nothing to read".into(),
            ));
        }
        let paths: Vec<String> = fetch
            .iter()
            .map(|&i| {
                let r = &self.ranges[i];
                match &r.reading {
                    Reading::Chain(Some(u)) => u.clone(),
                    _ => {
                        let mut sel = Select::new(ty).since(since);
                        sel = match &r.lower {
                            Lower::After(id) => sel.after_id(id),
                            Lower::From(id) => sel.from_id(id),
                        };
                        if let Some(u) = &r.upper {
                            sel = sel.before_id(u);
                        }
                        query_path(rest.cfg, &sel.build())
                    }
                }
            })
            .collect();
        let answers =
            futures_util::future::join_all(paths.iter().map(|p| rest.get(key, p, Some(batch))))
                .await;
        self.calls += answers.len() as u64;
        let mut first_err = None;
        // Highest index first, so ranges inserted by a re-split do not shift the ones still to apply.
        for (&i, answer) in fetch.iter().zip(answers).rev() {
            match answer.and_then(|body| self.apply(i, &body, batch)) {
                Ok(()) => {}
                Err(e) => first_err = Some(e),
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Takes one page into range `i`: its batch waits there; a first page also updates the density
    /// estimate and may split the range again.
    fn apply(&mut self, i: usize, body: &[u8], batch: u32) -> Result<()> {
        let page = RowsPage::parse(body)?;
        let (count, json) = page.array_text(body);
        let next = match page.next_records_url.as_deref() {
            Some(u) if !page.done => Some(NextRecordsUrl::from_salesforce(u)?.as_str().to_string()),
            _ => None,
        };
        let last_id = page.records.last().and_then(|r| record_id(r));
        let total = page.total_size;
        let b = batch as f64;
        let first = matches!(self.ranges[i].reading, Reading::NotStarted);
        let r = &mut self.ranges[i];
        r.ready = Some(Batch { json, count });
        r.reading = Reading::Chain(next.clone());
        if !first {
            return Ok(());
        }
        // Density seen in this range steers the width of the next ones.
        let (lo_v, hi_v, bounded) = (r.lo_v, r.hi_v, r.upper.is_some());
        if bounded && hi_v > lo_v {
            let width = (hi_v - lo_v) as f64;
            let predicted = self.density * width;
            self.miss = 0.7 * self.miss
                + 0.3 * ((total as f64 - predicted).abs() / predicted.max(1.0)).min(1.0);
            self.density = if total > 0 {
                total as f64 / width
            } else {
                self.density / 2.0
            };
        }
        if next.is_none() {
            self.waste += 1.0 - (count as f64 / b).min(1.0);
            return Ok(());
        }
        // Dense: split the rest of the range if the budget allows at least two parts.
        let remaining = total.saturating_sub(count as u64) as f64;
        let reserve = if self.next_lo.is_some() { 1.0 } else { 0.0 };
        let room = (self.budget - self.waste - self.unknown() - reserve - 1.0).floor();
        let want = (remaining / (self.fill() * b)).ceil();
        let parts = want.min(room).max(0.0) as u128;
        let split = match (&self.space, &last_id) {
            (Some(space), Some(last)) if parts >= 2 => space
                .point(last)
                .filter(|&v| v >= lo_v && hi_v > v + parts)
                .map(|v| (space.clone(), v)),
            _ => None,
        };
        let Some((space, last_v)) = split else {
            // Read on along the range's own chain: its pages are known now.
            self.waste += (total as f64 / b).ceil().max(1.0) - total as f64 / b;
            return Ok(());
        };
        self.waste += 1.0 - (count as f64 / b).min(1.0);
        let upper = self.ranges[i].upper.clone();
        self.ranges[i].reading = Reading::Chain(None);
        let start = last_v + 1;
        let step = (hi_v - start) / parts;
        let mut subs = Vec::with_capacity(parts as usize);
        for p in 0..parts {
            let lo = start + p * step;
            let last = p + 1 == parts;
            let hi = if last { hi_v } else { lo + step };
            let lower = if p == 0 {
                Lower::After(last_id.clone().unwrap_or_default())
            } else {
                Lower::From(space.id_at(lo))
            };
            let upper = if last {
                upper.clone()
            } else {
                Some(space.id_at(hi))
            };
            subs.push(Range {
                lower,
                upper,
                lo_v: lo,
                hi_v: hi,
                reading: Reading::NotStarted,
                ready: None,
            });
        }
        for (n, s) in subs.into_iter().enumerate() {
            self.ranges.insert(i + 1 + n, s);
        }
        Ok(())
    }
}

fn lower_of(after: Option<String>, space: &KeySpace, lo: u128) -> Lower {
    match after {
        Some(a) => Lower::After(a),
        None => Lower::From(space.id_at(lo)),
    }
}

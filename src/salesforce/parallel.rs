//! Parallel REST export by Id ranges (PK-chunking style). Salesforce answers each query page in
//! hundreds of milliseconds, so one `nextRecordsUrl` chain is a chain of waits; Salesforce's own
//! advice for large extracts is to split by Id and read the ranges at once.
//!
//! Plan: the first page of the plain `ORDER BY Id` query and a one-row `ORDER BY Id DESC` query run
//! together: they give the total, the first batch, the Id it ends at and the largest Id. The key
//! space between those two Ids is then carved, as reading proceeds, into ranges of about one batch
//! each (`WHERE Id > :last` / `Id >= :lo AND Id < :hi ORDER BY Id`), sized from the density seen so
//! far. Reading is a sliding window: up to K requests are in flight at every moment, each one a
//! task of its own, so a request that ends while the caller is busy with a batch is replaced as
//! soon as the caller is back, and the window never waits for its slowest member. Requests go to
//! the earliest ranges in Id order, so batches can be handed out in Id order while at most about
//! K of them wait in memory (K in flight, and at most K read but not yet taken). A range whose
//! first page shows it dense is split again; the last range is open-ended, so records created
//! during the export past the largest Id are not lost, and every record is in exactly one range.
//! Dropping the engine aborts the requests still in flight.
//!
//! API calls: every range costs `ceil(records / batch)` pages, plus at most one page that is not
//! full (its "waste"). Ranges are only carved while the waste known so far, plus one per range
//! whose first page is not back yet, plus one kept for the open-ended last range, stays within
//! `2K - 1`; so the export costs at most the serial walk's calls + 2K (the extra one is the `DESC`
//! query). When the budget runs low the rest is read as one range, serially.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};
use tokio::task::JoinHandle;

use crate::error::{Error, Result};
use crate::salesforce::export::{record_id, Batch, RowsPage};
use crate::salesforce::id_key::KeySpace;
use crate::salesforce::locator::NextRecordsUrl;
use crate::salesforce::rest::{query_path, SharedRest};
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

/// One request of the window, running as its own task; dropping it aborts the task.
struct Inflight {
    range: u64,
    task: JoinHandle<Result<Bytes>>,
}

impl Future for Inflight {
    type Output = (u64, Result<Bytes>);
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let range = self.range;
        match Pin::new(&mut self.task).poll(cx) {
            Poll::Ready(Ok(r)) => Poll::Ready((range, r)),
            Poll::Ready(Err(e)) => Poll::Ready((
                range,
                Err(Error::Internal(format!("export request task failed: {e}"))),
            )),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for Inflight {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Range {
    /// Stable name (positions shift when a range is split).
    id: u64,
    /// A request for this range is in flight.
    busy: bool,
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
        self.ready.is_none() && !self.finished() && !self.busy
    }
    fn spent(&self) -> bool {
        self.finished() && self.ready.is_none() && !self.busy
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
    /// The window: requests in flight, at most `target` (itself at most K).
    inflight: FuturesUnordered<Inflight>,
    /// How many requests the reader can use: grows (up to K) when the reader had to wait for a
    /// batch, shrinks (down to 1) when K read batches wait for a reader that is the slower side,
    /// so with no latency to hide the window holds what the old single read-ahead held.
    target: usize,
    next_id: u64,
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
            inflight: FuturesUnordered::new(),
            target: k,
            next_id: 0,
            total: None,
            calls: 0,
        }
    }

    /// The next batch, or `None` when every range is read.
    pub async fn next(
        &mut self,
        shared: &SharedRest,
        key: &ConnKey,
        ty: &ExportType,
        since: Option<&SoqlDateTime>,
        batch: u32,
    ) -> Result<Option<Batch>> {
        if !self.started {
            self.started = true;
            if let Some(b) = self.start(shared, key, ty, since, batch).await? {
                self.top_up(shared, key, ty, since, batch);
                return Ok(Some(b));
            }
        }
        let mut waited = false;
        loop {
            // Answers that came in while the caller was away.
            while let Some(Some((id, answer))) = self.inflight.next().now_or_never() {
                self.take_answer(id, answer, batch)?;
            }
            self.ranges.retain(|r| !r.spent());
            let ready = if self.ordered {
                self.ranges.front_mut().and_then(|r| r.ready.take())
            } else {
                self.ranges.iter_mut().find_map(|r| r.ready.take())
            };
            if ready.as_ref().is_some_and(|b| b.count > 0) {
                let waiting = self.ranges.iter().filter(|r| r.ready.is_some()).count();
                if waited {
                    self.target = (self.target + 1).min(self.k);
                } else if waiting >= self.target {
                    self.target = self.target.saturating_sub(1).max(1);
                }
            }
            // The window refills before the batch goes out, so it is never short while the caller
            // works on it.
            self.top_up(shared, key, ty, since, batch);
            if let Some(b) = ready {
                if b.count == 0 {
                    continue;
                }
                return Ok(Some(b));
            }
            if self.ranges.is_empty() && self.next_lo.is_none() && self.inflight.is_empty() {
                return Ok(None);
            }
            let Some((id, answer)) = self.inflight.next().await else {
                return Err(Error::Internal(
                    "parallel export has nothing to read".into(),
                ));
            };
            waited = true;
            self.take_answer(id, answer, batch)?;
        }
    }

    /// Aborts the requests in flight (the export was closed or failed).
    pub fn stop(&mut self) {
        self.inflight.clear();
    }

    fn take_answer(&mut self, id: u64, answer: Result<Bytes>, batch: u32) -> Result<()> {
        self.calls += 1;
        let Some(i) = self.ranges.iter().position(|r| r.id == id) else {
            return Ok(());
        };
        self.ranges[i].busy = false;
        let body = answer?;
        self.apply(i, &body, batch)
    }

    fn new_range(
        &mut self,
        lower: Lower,
        upper: Option<String>,
        lo_v: u128,
        hi_v: u128,
        reading: Reading,
    ) -> Range {
        self.next_id += 1;
        Range {
            id: self.next_id,
            busy: false,
            lower,
            upper,
            lo_v,
            hi_v,
            reading,
            ready: None,
        }
    }

    /// Starts requests until K are in flight or K batches wait unread (the front range in Id
    /// order may always be read, so the reader is never stuck behind the window): first for the
    /// earliest ranges that want their next page, then for newly carved ranges.
    fn top_up(
        &mut self,
        shared: &SharedRest,
        key: &ConnKey,
        ty: &ExportType,
        since: Option<&SoqlDateTime>,
        batch: u32,
    ) {
        let k = self.target;
        let waiting = self.ranges.iter().filter(|r| r.ready.is_some()).count();
        let mut i = 0;
        while self.inflight.len() < k && i < self.ranges.len() {
            let front = i == 0;
            if self.ranges[i].wants_fetch() && (front || waiting + self.inflight.len() < 2 * k) {
                self.spawn(i, shared, key, ty, since, batch);
            }
            i += 1;
        }
        while self.inflight.len() < k && waiting + self.inflight.len() < 2 * k {
            let Some(r) = self.carve(batch) else { break };
            self.ranges.push_back(r);
            let last = self.ranges.len() - 1;
            self.spawn(last, shared, key, ty, since, batch);
        }
    }

    fn spawn(
        &mut self,
        i: usize,
        shared: &SharedRest,
        key: &ConnKey,
        ty: &ExportType,
        since: Option<&SoqlDateTime>,
        batch: u32,
    ) {
        let r = &mut self.ranges[i];
        let path = match &r.reading {
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
                query_path(&shared.cfg, &sel.build())
            }
        };
        r.busy = true;
        let (shared, key) = (shared.clone(), key.clone());
        let task = tokio::spawn(async move { shared.rest().get(&key, &path, Some(batch)).await });
        self.inflight.push(Inflight { range: r.id, task });
    }

    /// First page and largest Id, together. Returns the first batch.
    async fn start(
        &mut self,
        shared: &SharedRest,
        key: &ConnKey,
        ty: &ExportType,
        since: Option<&SoqlDateTime>,
        batch: u32,
    ) -> Result<Option<Batch>> {
        let rest = shared.rest();
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
            return Ok((count > 0).then_some(Batch::array(json, count)));
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
            _ => {
                let r = self.new_range(
                    Lower::From(String::new()),
                    None,
                    0,
                    0,
                    Reading::Chain(Some(next)),
                );
                self.ranges.push_back(r)
            }
        }
        Ok(Some(Batch::array(json, count)))
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
            let upper = Some(space.id_at(hi));
            return Some(self.new_range(lower, upper, lo, hi, Reading::NotStarted));
        }
        // Budget low: wait for this round's first pages (usually little waste) before giving the
        // rest to one open range.
        if hi <= self.max_v && self.unknown() > 0.0 {
            return None;
        }
        let lower = lower_of(self.pending_after.take(), &space, lo);
        self.next_lo = None;
        let hi = self.max_v.saturating_add(1);
        Some(self.new_range(lower, None, lo, hi, Reading::NotStarted))
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
        r.ready = Some(Batch::array(json, count));
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
            subs.push(self.new_range(lower, upper, lo, hi, Reading::NotStarted));
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

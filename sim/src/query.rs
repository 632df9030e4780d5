//! Query executor and server-side cursors.
//!
//! Rows are never materialised (except for ORDER BY on non-monotone fields, capped at
//! [`MAX_SORT_ROWS`]). An execution is: an index range `[lo, lo+m)` narrowed by binary
//! search on monotone fields, an iteration order over positions `0..m` (identity,
//! reversed, or an affine permutation), and a residual predicate. A cursor is that
//! description plus a position: O(1) memory regardless of result size.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;

use crate::data::{Data, Obj, Value, F};
use crate::plan::{self, Bound, FPath, Order, Plan, QueryFailure, SortKey};
use crate::render;
use crate::soql::CmpOp;

pub const DEFAULT_BATCH: u64 = 2000;
pub const MIN_BATCH: u64 = 200;
pub const MAX_SORT_ROWS: usize = 50_000;
pub const CURSOR_TTL: Duration = Duration::from_secs(15 * 60);
pub const MAX_CURSORS: usize = 10_000;

/// `Sforce-Query-Options: batchSize=N` → clamped to 200..=2000 (Salesforce treats the
/// value as a hint; out-of-range values are not errors).
pub fn batch_from_header(h: Option<&str>) -> Option<u64> {
    let h = h?;
    h.split(',').find_map(|opt| {
        let (k, v) = opt.split_once('=')?;
        if !k.trim().eq_ignore_ascii_case("batchSize") {
            return None;
        }
        v.trim()
            .parse::<u64>()
            .ok()
            .map(|n| n.clamp(MIN_BATCH, DEFAULT_BATCH))
    })
}

fn invalid_locator() -> QueryFailure {
    ("INVALID_QUERY_LOCATOR", "invalid query locator".to_string())
}

/// One execution of a plan over a data snapshot.
#[derive(Clone, Debug)]
pub struct Exec {
    plan: Arc<Plan>,
    data: Data,
    /// The plan's order, unless writes made it unusable (see [`Exec::new`]).
    order: Order,
    /// Bounds checked row by row instead of by index arithmetic.
    extra: Vec<Bound>,
    lo: u64,
    m: u64,
    /// Affine permutation p -> (a*p + b) mod m, used when there is no ORDER BY.
    a: u64,
    b: u64,
    /// `queryAll`: recycle-bin rows are included (purged ones never are).
    all: bool,
    /// Some row of the object is deleted or purged, so rows are checked one by one.
    removed: bool,
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Smallest i in [0, n) with `pred(i)` true, for a predicate monotone false→true.
fn first_true(n: u64, pred: impl Fn(u64) -> bool) -> u64 {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}

/// Index range `[lo, hi)` satisfying all bounds: O(log n) per bound.
fn bound_range(d: &Data, obj: Obj, n: u64, bounds: &[Bound]) -> (u64, u64) {
    let (mut lo, mut hi) = (0, n);
    for b in bounds {
        let ord = |i: u64| plan::compare(&d.value(obj, i, b.f), &b.lit);
        let gt = || first_true(n, |i| ord(i) == Some(std::cmp::Ordering::Greater));
        let ge = || first_true(n, |i| ord(i).is_some_and(|o| o != std::cmp::Ordering::Less));
        match b.op {
            CmpOp::Gt => lo = lo.max(gt()),
            CmpOp::Ge => lo = lo.max(ge()),
            CmpOp::Lt => hi = hi.min(ge()),
            CmpOp::Le => hi = hi.min(gt()),
            CmpOp::Eq => {
                lo = lo.max(ge());
                hi = hi.min(gt());
            }
            CmpOp::Ne => {}
        }
    }
    (lo, hi.max(lo))
}

fn bound_holds(v: &Value, b: &Bound) -> bool {
    !v.is_null() && plan::compare(v, &b.lit).is_some_and(|o| plan::op_holds(b.op, o))
}

impl Exec {
    /// After an update, LastModifiedDate/SystemModstamp stop growing with the record
    /// index; bounds and ORDER BY on them then become a row filter and a sort.
    pub fn new(plan: Arc<Plan>, data: Data) -> Exec {
        Self::with_deleted(plan, data, false)
    }

    /// `all = true` runs the plan as `queryAll` does: deleted records stay in the result.
    pub fn with_deleted(plan: Arc<Plan>, data: Data, all: bool) -> Exec {
        let removed = data.overlay.obj(plan.obj).has_removed();
        let n = data.count(plan.obj);
        let shuffled = data.overlay.obj(plan.obj).modstamp_shuffled;
        let unstable = |f: F| shuffled && matches!(f, F::LastModifiedDate | F::SystemModstamp);
        let (extra, index_bounds): (Vec<Bound>, Vec<Bound>) =
            plan.bounds.iter().cloned().partition(|b| unstable(b.f));
        let order = match &plan.order {
            Order::Index { desc, f } if unstable(*f) => match plan.obj.def(*f) {
                Some(field) => Order::Sorted(vec![SortKey {
                    path: FPath {
                        hops: vec![],
                        field,
                    },
                    desc: *desc,
                    nulls_first: !*desc,
                }]),
                None => plan.order.clone(),
            },
            o => o.clone(),
        };
        let (lo, hi) = bound_range(&data, plan.obj, n, &index_bounds);
        let m = hi - lo;
        let (a, b) = if m > 1 {
            let mut rng = rand::rng();
            let mut a = rng.random_range(1..m);
            while gcd(a, m) != 1 {
                a = rng.random_range(1..m);
            }
            (a, rng.random_range(0..m))
        } else {
            (1, 0)
        };
        Exec {
            plan,
            data,
            order,
            extra,
            lo,
            m,
            a,
            b,
            all,
            removed,
        }
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    pub fn data(&self) -> &Data {
        &self.data
    }

    /// True when rows come from a materialised sort (capped at [`MAX_SORT_ROWS`]).
    pub fn is_sorted(&self) -> bool {
        matches!(self.order, Order::Sorted(_))
    }

    fn index_at(&self, p: u64) -> u64 {
        if self.m == 0 {
            return self.lo;
        }
        match self.order {
            Order::Index { desc: false, .. } => self.lo + p,
            Order::Index { desc: true, .. } => self.lo + self.m - 1 - p,
            // u128: a*p overflows u64 once m passes ~4 billion.
            _ => self.lo + ((self.a as u128 * p as u128 + self.b as u128) % self.m as u128) as u64,
        }
    }

    fn has_filter(&self) -> bool {
        self.plan.filter.is_some() || !self.extra.is_empty() || self.removed
    }

    fn matches(&self, idx: u64) -> bool {
        let obj = self.plan.obj;
        if self.removed {
            let ov = self.data.overlay.obj(obj);
            if ov.purged.contains(&idx) || (!self.all && ov.deleted.contains_key(&idx)) {
                return false;
            }
        }
        self.extra
            .iter()
            .all(|b| bound_holds(&self.data.value(obj, idx, b.f), b))
            && self
                .plan
                .filter
                .as_ref()
                .is_none_or(|f| plan::eval(&self.data, obj, idx, f))
    }

    /// Matching rows, counting at most `cap`.
    pub fn count(&self, cap: u64) -> u64 {
        match self.has_filter() {
            false => self.m.min(cap),
            true => {
                let mut c = 0;
                for i in self.lo..self.lo + self.m {
                    if c >= cap {
                        break;
                    }
                    c += self.matches(i) as u64;
                }
                c
            }
        }
    }

    /// Advances `pos` past `n` matching rows.
    fn skip(&self, pos: &mut u64, n: u64) {
        if !self.has_filter() {
            *pos = pos.saturating_add(n).min(self.m);
            return;
        }
        let mut left = n;
        while left > 0 && *pos < self.m {
            left -= self.matches(self.index_at(*pos)) as u64;
            *pos += 1;
        }
    }

    /// Appends the next matching indices (unsorted orders) until `out` holds `want`.
    pub fn fill(&self, pos: &mut u64, want: u64, out: &mut Vec<u64>) {
        while (out.len() as u64) < want && *pos < self.m {
            let idx = self.index_at(*pos);
            *pos += 1;
            if self.matches(idx) {
                out.push(idx);
            }
        }
    }

    /// Matching indices in ORDER BY order (ties broken by Id for stable paging).
    pub fn sorted(&self) -> Result<Vec<u64>, QueryFailure> {
        let Order::Sorted(keys) = &self.order else {
            return Ok(vec![]);
        };
        let mut rows: Vec<(Vec<Value>, u64)> = Vec::new();
        for i in self.lo..self.lo + self.m {
            if !self.matches(i) {
                continue;
            }
            if rows.len() >= MAX_SORT_ROWS {
                return Err((
                    "MALFORMED_QUERY",
                    format!(
                        "sim: ORDER BY {} unsupported on large result sets",
                        self.plan.order_label
                    ),
                ));
            }
            let vals = keys
                .iter()
                .map(|k| plan::eval_path(&self.data, self.plan.obj, i, &k.path))
                .collect();
            rows.push((vals, i));
        }
        rows.sort_by(|x, y| {
            keys.iter()
                .zip(x.0.iter().zip(&y.0))
                .map(|(k, (a, b))| plan::cmp_values(a, b, k))
                .find(|o| o.is_ne())
                .unwrap_or_else(|| x.1.cmp(&y.1))
        });
        Ok(rows.into_iter().map(|r| r.1).collect())
    }

    /// Rows `start..start+want` of the result (after OFFSET), advancing `pos` for
    /// unsorted orders. `pos` must correspond to `start` (see [`Exec::seek`]).
    fn rows(&self, pos: &mut u64, start: u64, want: u64) -> Result<Vec<u64>, QueryFailure> {
        if self.is_sorted() {
            let all = self.sorted()?;
            let s = (start as usize).min(all.len());
            let e = s.saturating_add(want as usize).min(all.len());
            return Ok(all[s..e].to_vec());
        }
        let mut out = Vec::with_capacity(want.min(DEFAULT_BATCH) as usize);
        self.fill(pos, want, &mut out);
        Ok(out)
    }

    /// Position of result row `start` (recomputed when a client re-requests an earlier
    /// locator, e.g. a retry after a dropped connection).
    pub fn seek(&self, start: u64) -> u64 {
        let mut pos = 0;
        if !self.is_sorted() {
            self.skip(&mut pos, start);
        }
        pos
    }

    fn render(&self, total: u64, rows: &[u64], next: Option<&str>, version: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + rows.len() * 320);
        let obj = self.plan.obj;
        render::push_page(&mut out, total, next, |out| {
            for (k, &idx) in rows.iter().enumerate() {
                if k > 0 {
                    out.push(b',');
                }
                render::push_record(
                    out,
                    &self.data,
                    obj,
                    idx,
                    obj.name(),
                    version,
                    &self.plan.select,
                );
            }
        });
        out
    }
}

#[derive(Clone, Debug)]
struct Cursor {
    exec: Exec,
    total: u64,
    pos: u64,
    delivered: u64,
    batch: u64,
    last_used: Instant,
}

/// Open query locators. Bounded: idle ones expire after 15 minutes and the oldest is
/// evicted past [`MAX_CURSORS`].
#[derive(Default)]
pub struct Cursors {
    map: Mutex<HashMap<String, Cursor>>,
}

fn locator_id() -> String {
    const B62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut rng = rand::rng();
    let mid: String = (0..12)
        .map(|_| B62[rng.random_range(0..B62.len())] as char)
        .collect();
    format!("0r8{mid}AAP")
}

impl Cursors {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Cursor>> {
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn clear(&self) {
        self.lock().clear();
    }

    fn insert(&self, c: Cursor) -> String {
        let id = locator_id();
        let mut map = self.lock();
        if map.len() >= MAX_CURSORS {
            map.retain(|_, c| c.last_used.elapsed() < CURSOR_TTL);
        }
        if map.len() >= MAX_CURSORS {
            if let Some(oldest) = map
                .iter()
                .min_by_key(|(_, c)| c.last_used)
                .map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
        }
        map.insert(id.clone(), c);
        id
    }

    fn get(&self, id: &str) -> Option<Cursor> {
        let mut map = self.lock();
        match map.get(id) {
            Some(c) if c.last_used.elapsed() < CURSOR_TTL => Some(c.clone()),
            Some(_) => {
                map.remove(id);
                None
            }
            None => None,
        }
    }

    fn update(&self, id: &str, pos: u64, delivered: u64) {
        if let Some(c) = self.lock().get_mut(id) {
            c.pos = pos;
            c.delivered = delivered;
            c.last_used = Instant::now();
        }
    }

    /// Runs a query and returns the first page's JSON body.
    pub fn run(
        &self,
        plan: Arc<Plan>,
        data: Data,
        batch: u64,
        version: &str,
    ) -> Result<Vec<u8>, QueryFailure> {
        self.run_all(plan, data, batch, version, false)
    }

    /// `run`, as `queryAll` when `all` (deleted records included).
    pub fn run_all(
        &self,
        plan: Arc<Plan>,
        data: Data,
        batch: u64,
        version: &str,
        all: bool,
    ) -> Result<Vec<u8>, QueryFailure> {
        let exec = Exec::with_deleted(plan.clone(), data, all);
        let offset = plan.offset.unwrap_or(0);
        let limit = plan.limit.unwrap_or(u64::MAX);
        let total = exec
            .count(offset.saturating_add(limit))
            .saturating_sub(offset)
            .min(limit);
        if plan.count_only {
            return Ok(exec.render(total, &[], None, version));
        }
        let mut pos = exec.seek(offset);
        let rows = exec.rows(&mut pos, offset, batch.min(total))?;
        let delivered = rows.len() as u64;
        // OFFSET queries get one batch and no locator (Salesforce: "only the first batch
        // of records is returned").
        let next = if delivered < total && plan.offset.is_none() {
            let id = self.insert(Cursor {
                exec: exec.clone(),
                total,
                pos,
                delivered,
                batch,
                last_used: Instant::now(),
            });
            Some(format!("/services/data/v{version}/query/{id}-{delivered}"))
        } else {
            None
        };
        Ok(exec.render(total, &rows, next.as_deref(), version))
    }

    /// Serves `GET /services/data/vXX.X/query/<id>-<n>`.
    pub fn more(
        &self,
        locator: &str,
        batch: Option<u64>,
        version: &str,
    ) -> Result<Vec<u8>, QueryFailure> {
        let (id, n) = locator.rsplit_once('-').ok_or_else(invalid_locator)?;
        let start: u64 = n.parse().map_err(|_| invalid_locator())?;
        let c = self.get(id).ok_or_else(invalid_locator)?;
        if start > c.total {
            return Err(invalid_locator());
        }
        let mut pos = if start == c.delivered {
            c.pos
        } else {
            c.exec.seek(start)
        };
        let want = batch.unwrap_or(c.batch).min(c.total - start);
        let rows = c.exec.rows(&mut pos, start, want)?;
        let delivered = start + rows.len() as u64;
        self.update(id, pos, delivered);
        let next = (delivered < c.total)
            .then(|| format!("/services/data/v{version}/query/{id}-{delivered}"));
        Ok(c.exec.render(c.total, &rows, next.as_deref(), version))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{id_string, Obj};
    use std::collections::HashSet;

    fn data(contacts: u64) -> Data {
        Data::new(42, contacts, 100, 10)
    }

    fn page(body: &[u8]) -> serde_json::Value {
        serde_json::from_slice(body).expect("valid JSON page")
    }

    /// Pages through a query, returning (totalSize, ids in delivery order).
    fn drain(cur: &Cursors, q: &str, d: Data, batch: u64) -> (u64, Vec<String>) {
        let plan = Arc::new(plan::compile(q).expect("compiles"));
        let mut v = page(&cur.run(plan, d, batch, "62.0").expect("runs"));
        let total = v["totalSize"].as_u64().unwrap_or(0);
        let mut ids = Vec::new();
        loop {
            for r in v["records"].as_array().into_iter().flatten() {
                ids.push(r["Id"].as_str().unwrap_or("").to_string());
            }
            if v["done"] == true {
                assert!(v.get("nextRecordsUrl").is_none());
                break;
            }
            let url = v["nextRecordsUrl"].as_str().expect("next url").to_string();
            let loc = url.rsplit('/').next().unwrap_or("");
            v = page(&cur.more(loc, None, "62.0").expect("more"));
        }
        (total, ids)
    }

    #[test]
    fn permutation_is_a_bijection() {
        for m in [1u64, 2, 3, 10, 97, 1000, 4096, 5000] {
            let plan = Arc::new(plan::compile("SELECT Id FROM Contact").unwrap());
            let e = Exec::new(plan, data(m));
            assert_eq!(gcd(e.a, m.max(1)), 1);
            let seen: HashSet<u64> = (0..m).map(|p| e.index_at(p)).collect();
            assert_eq!(seen.len() as u64, m);
            assert!(seen.iter().all(|&i| i < m));
        }
    }

    #[test]
    fn cursor_paging_returns_each_row_once() {
        let cur = Cursors::default();
        for q in [
            "SELECT Id, Name FROM Contact",
            "SELECT Id FROM Contact ORDER BY Id",
            "SELECT Id FROM Contact ORDER BY Id DESC",
            "SELECT Id FROM Contact ORDER BY Name, Id",
            "SELECT Id FROM Contact WHERE Name LIKE '%a%'",
        ] {
            let (total, ids) = drain(&cur, q, data(5000), 2000);
            let uniq: HashSet<&String> = ids.iter().collect();
            assert_eq!(ids.len() as u64, total, "{q}");
            assert_eq!(uniq.len(), ids.len(), "{q}");
            if !q.contains("WHERE") {
                assert_eq!(total, 5000, "{q}");
            }
        }
        let (_, asc) = drain(&cur, "SELECT Id FROM Contact ORDER BY Id", data(5000), 2000);
        assert!(asc.windows(2).all(|w| w[0] < w[1]));
        let (_, rnd) = drain(&cur, "SELECT Id FROM Contact", data(5000), 200);
        assert_ne!(rnd, asc, "unordered queries are shuffled");
    }

    #[test]
    fn limit_and_small_batches() {
        let cur = Cursors::default();
        let (total, ids) = drain(
            &cur,
            "SELECT Id FROM Contact ORDER BY Id LIMIT 450",
            data(5000),
            200,
        );
        assert_eq!((total, ids.len()), (450, 450));
        let (total, ids) = drain(&cur, "SELECT Id FROM Contact LIMIT 0", data(5000), 200);
        assert_eq!((total, ids.len()), (0, 0));
    }

    #[test]
    fn offset_returns_one_batch_without_cursor() {
        let cur = Cursors::default();
        let plan = Arc::new(
            plan::compile("SELECT Id FROM Contact ORDER BY Id LIMIT 3000 OFFSET 10").unwrap(),
        );
        let v = page(&cur.run(plan, data(5000), 2000, "62.0").unwrap());
        assert_eq!(v["totalSize"], 3000);
        assert_eq!(v["done"], true);
        assert_eq!(v["records"].as_array().map(Vec::len), Some(2000));
        assert_eq!(v["records"][0]["Id"], id_string(Obj::Contact, 10));
        assert!(cur.is_empty());
    }

    #[test]
    fn id_and_modstamp_ranges_use_index_math() {
        let cur = Cursors::default();
        let d = data(1_000_000);
        let q = format!(
            "SELECT Id FROM Contact WHERE Id > '{}' ORDER BY Id LIMIT 3",
            id_string(Obj::Contact, 999_000)
        );
        let (total, ids) = drain(&cur, &q, d.clone(), 2000);
        assert_eq!(total, 3);
        assert_eq!(
            ids,
            (999_001..999_004)
                .map(|i| id_string(Obj::Contact, i))
                .collect::<Vec<_>>()
        );
        let ts = crate::time::format_datetime(d.modstamp_ms(Obj::Contact, 500_000));
        let q = format!("SELECT COUNT() FROM Contact WHERE SystemModstamp >= {ts}");
        let (total, _) = drain(&cur, &q, d.clone(), 2000);
        assert_eq!(total, 500_000);
        let q = format!(
            "SELECT Id FROM Contact WHERE Id = '{}'",
            &id_string(Obj::Contact, 77)[..15]
        );
        assert_eq!(
            drain(&cur, &q, d, 2000).1,
            vec![id_string(Obj::Contact, 77)]
        );
    }

    #[test]
    fn relocating_an_earlier_locator_replays_the_same_rows() {
        let cur = Cursors::default();
        let plan = Arc::new(plan::compile("SELECT Id FROM Contact WHERE Name LIKE '%e%'").unwrap());
        let v = page(&cur.run(plan, data(3000), 200, "62.0").unwrap());
        let url = v["nextRecordsUrl"].as_str().unwrap().to_string();
        let loc = url.rsplit('/').next().unwrap().to_string();
        let a = page(&cur.more(&loc, None, "62.0").unwrap());
        let b = page(&cur.more(&loc, None, "62.0").unwrap());
        assert_eq!(a["records"], b["records"]);
        assert_eq!(
            cur.more("0r8nope-200", None, "62.0").unwrap_err().0,
            "INVALID_QUERY_LOCATOR"
        );
        assert!(cur.more("garbage", None, "62.0").is_err());
    }

    #[test]
    fn sort_cap_is_enforced() {
        let cur = Cursors::default();
        let plan = Arc::new(plan::compile("SELECT Id FROM Contact ORDER BY Name").unwrap());
        let err = cur.run(plan, data(60_000), 2000, "62.0").unwrap_err();
        assert_eq!(
            err,
            (
                "MALFORMED_QUERY",
                "sim: ORDER BY Name unsupported on large result sets".to_string()
            )
        );
    }

    #[test]
    fn batch_header_is_clamped() {
        assert_eq!(batch_from_header(Some("batchSize=1000")), Some(1000));
        assert_eq!(batch_from_header(Some("batchSize=5")), Some(200));
        assert_eq!(batch_from_header(Some("batchSize=99999")), Some(2000));
        assert_eq!(batch_from_header(Some("batchSize=x")), None);
        assert_eq!(batch_from_header(None), None);
    }
}

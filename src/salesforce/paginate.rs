//! The incumbent's paginator, kept exactly where its formula is well defined, with documented,
//! NaN-free answers where it is not (see README "Paging semantics").

use serde::Serialize;

/// The largest page size honoured; larger values are clamped (they would mean "everything" anyway).
pub const MAX_PER_PAGE: u64 = 1_000_000_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pagination {
    pub page: u64,
    pub per_page: u64,
    pub total: u64,
    pub total_pages: u64,
    pub next_page: Option<u64>,
    pub prev_page: Option<u64>,
    #[serde(rename = "offsetValue")]
    pub offset_value: u64,
}

/// JavaScript's `parseInt(String(v), 10)` for the values a query string can carry: optional
/// whitespace, an optional sign, then leading digits; anything else is `None` (NaN).
pub fn parse_int(v: &str) -> Option<i128> {
    let t = v.trim_start();
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let n: String = digits
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .take(30)
        .collect();
    if n.is_empty() {
        return None;
    }
    let v: i128 = n.parse().ok()?;
    Some(if neg { -v } else { v })
}

/// Page number as the incumbent reads it (`parseInt(page) || 1`), with page < 1 also meaning 1.
pub fn normalize_page(page: Option<&str>) -> u64 {
    match page.and_then(parse_int) {
        Some(p) if p >= 1 => p.min(u64::MAX as i128 / 4) as u64,
        _ => 1,
    }
}

/// Page size: a positive integer, or `None` for "no limit" (absent, 0, negative or not a number).
pub fn normalize_limit(limit: Option<&str>) -> Option<u64> {
    match limit.and_then(parse_int) {
        Some(l) if l >= 1 => Some(l.min(MAX_PER_PAGE as i128) as u64),
        _ => None,
    }
}

/// `paginator(items, page, per_page)` from the incumbent's pagination.js.
pub fn paginate(total: u64, page: u64, per_page: Option<u64>) -> Pagination {
    let page = page.max(1);
    let per_page = per_page.unwrap_or(total);
    let total_pages = if per_page == 0 {
        0
    } else {
        total.div_ceil(per_page)
    };
    let offset = (page - 1).saturating_mul(per_page);
    Pagination {
        page,
        per_page,
        total,
        total_pages,
        next_page: if page < total_pages {
            Some(page + 1)
        } else {
            None
        },
        prev_page: if page > 1 { Some(page - 1) } else { None },
        offset_value: if offset < total { offset } else { 0 },
    }
}

impl Pagination {
    /// Whether the incumbent would run the data query for this page.
    pub fn in_range(&self) -> bool {
        self.page <= self.total_pages
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The incumbent's formula in f64 arithmetic, as JavaScript computes it.
    fn incumbent(
        items: f64,
        page: f64,
        per_page: f64,
    ) -> (f64, f64, f64, Option<f64>, Option<f64>, f64) {
        let per_page = if per_page == 0.0 { items } else { per_page };
        let offset = (page - 1.0) * per_page;
        let total_pages = (items / per_page).ceil();
        (
            page,
            per_page,
            total_pages,
            if page < total_pages {
                Some(page + 1.0)
            } else {
                None
            },
            if page > 1.0 { Some(page - 1.0) } else { None },
            if offset < items { offset } else { 0.0 },
        )
    }

    #[test]
    fn doc_example() {
        let p = paginate(1500, 1, Some(100));
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"page":1,"per_page":100,"total":1500,"total_pages":15,"next_page":2,"prev_page":null,"offsetValue":0}"#
        );
    }

    #[test]
    fn undefined_cases_are_sane() {
        let p = paginate(0, 1, None);
        assert_eq!(
            (p.per_page, p.total_pages, p.next_page, p.offset_value),
            (0, 0, None, 0)
        );
        assert_eq!(normalize_page(Some("-3")), 1);
        assert_eq!(normalize_page(Some("abc")), 1);
        assert_eq!(normalize_page(Some("2.9")), 2);
        assert_eq!(normalize_page(None), 1);
        assert_eq!(normalize_limit(Some("1e9999")), Some(1));
        assert_eq!(normalize_limit(Some("0")), None);
        assert_eq!(
            normalize_limit(Some("99999999999999999999999")),
            Some(MAX_PER_PAGE)
        );
        assert_eq!(normalize_limit(Some(" 25abc")), Some(25));
    }

    proptest! {
        #[test]
        fn matches_incumbent_where_defined(total in 1u64..100_000, page in 1u64..2000, per in 1u64..5000) {
            let p = paginate(total, page, Some(per));
            let (ip, ipp, itp, inext, iprev, ioff) = incumbent(total as f64, page as f64, per as f64);
            prop_assert_eq!(p.page as f64, ip);
            prop_assert_eq!(p.per_page as f64, ipp);
            prop_assert_eq!(p.total_pages as f64, itp);
            prop_assert_eq!(p.next_page.map(|v| v as f64), inext);
            prop_assert_eq!(p.prev_page.map(|v| v as f64), iprev);
            prop_assert_eq!(p.offset_value as f64, ioff);
        }

        #[test]
        fn no_limit_is_one_page(total in 1u64..1_000_000) {
            let p = paginate(total, 1, None);
            prop_assert_eq!((p.per_page, p.total_pages, p.next_page), (total, 1, None));
        }

        #[test]
        fn pages_tile_the_records(total in 0u64..10_000, per in 1u64..500) {
            let tp = paginate(total, 1, Some(per)).total_pages;
            let mut covered = 0;
            for page in 1..=tp {
                let p = paginate(total, page, Some(per));
                prop_assert_eq!(p.offset_value, covered);
                covered += per.min(total - p.offset_value);
            }
            prop_assert_eq!(covered, total);
        }
    }
}

//! Bulk API 2.0 results through `resultPages` (API 58.0+): Salesforce hands out up to five result
//! URLs at a time, each a page that may be downloaded in parallel. Up to five pages stream at once
//! (gzip-encoded on the wire), each decoded as its bytes arrive, rows handed out as they come, so
//! memory is a few chunks per page whatever the page size. A page whose connection drops midway
//! is opened again and its rows already delivered are skipped (a page's content is fixed by its
//! locator), a bounded number of times.

use std::collections::VecDeque;
use std::io::Write;

use crate::error::{Error, Result};
use crate::salesforce::bulk::{RowPlan, RowSink};
use crate::salesforce::csv::{CsvReader, Row};
use crate::salesforce::rest::{Call, Rest};
use crate::token::record::ConnKey;
use flate2::write::GzDecoder;
use serde::Deserialize;

/// Pages downloading at once (Salesforce's "up to five" per `resultPages` answer).
pub const PARALLEL_PAGES: usize = 5;
/// First API version with `resultPages`.
pub const MIN_VERSION: f64 = 58.0;

#[derive(Deserialize)]
struct PagesAnswer {
    #[serde(rename = "resultPages", default)]
    result_pages: Vec<ResultPage>,
    /// The documented name; `nextRecordsUrl` is accepted too (the docs' prose uses both).
    #[serde(rename = "nextRecordUrl", default)]
    next_record_url: Option<String>,
    #[serde(rename = "nextRecordsUrl", default)]
    next_records_url: Option<String>,
    #[serde(default)]
    done: bool,
}

#[derive(Deserialize)]
struct ResultPage {
    #[serde(rename = "resultUrl")]
    result_url: String,
}

/// One page being downloaded.
struct Page {
    url: String,
    resp: reqwest::Response,
    gz: Option<GzDecoder<Vec<u8>>>,
    reader: CsvReader,
    header_seen: bool,
    /// Rows handed out from this page, and rows to skip after a reopen.
    rows: u64,
    skip: u64,
    reopened: u32,
}

impl Page {
    fn feed(&mut self, bytes: &[u8]) -> Result<()> {
        match &mut self.gz {
            Some(gz) => {
                gz.write_all(bytes).map_err(|e| {
                    Error::Unavailable(format!("unreadable gzip results page: {e}"))
                })?;
                let out = std::mem::take(gz.get_mut());
                self.reader.push(&out);
            }
            None => self.reader.push(bytes),
        }
        Ok(())
    }

    /// Reads the next row into `row`, if any (skipping the header and rows delivered before a
    /// reopen).
    fn row(&mut self, row: &mut Row) -> bool {
        loop {
            if !self.reader.next_into(row) {
                return false;
            }
            if !self.header_seen {
                self.header_seen = true;
                continue;
            }
            if self.skip > 0 {
                self.skip -= 1;
                continue;
            }
            self.rows += 1;
            return true;
        }
    }
}

/// The state of a `resultPages` download between `next` calls.
pub struct ResultPages {
    job_path: String,
    /// URLs listed but not opened yet, and where the next list is (`None` when done).
    pending: VecDeque<String>,
    next_list: Option<String>,
    listed: bool,
    active: Vec<Page>,
}

pub enum Listing {
    /// `resultPages` is served: read through it.
    Pages(Box<ResultPages>),
    /// Not served (older API version or a 404): the sequential locator walk.
    Sequential,
}

impl ResultPages {
    /// Whether the configured API version has `resultPages`.
    pub fn available(rest: &Rest<'_>) -> bool {
        rest.cfg
            .api_version
            .as_str()
            .parse::<f64>()
            .is_ok_and(|v| v >= MIN_VERSION)
    }

    pub fn new(job_path: String, max_records: u64) -> Self {
        let first = format!("{job_path}/resultPages?maxRecords={max_records}");
        Self {
            job_path,
            pending: VecDeque::new(),
            next_list: Some(first),
            listed: false,
            active: Vec::new(),
        }
    }

    /// Lists the first pages; a 404 on the first list means the org does not serve them.
    pub async fn start(mut self, rest: &Rest<'_>, key: &ConnKey) -> Result<Listing> {
        match self.list(rest, key).await {
            Ok(()) => Ok(Listing::Pages(Box::new(self))),
            Err(Error::Salesforce {
                http_status: 404, ..
            }) => Ok(Listing::Sequential),
            Err(e) => Err(e),
        }
    }

    async fn list(&mut self, rest: &Rest<'_>, key: &ConnKey) -> Result<()> {
        let Some(path) = self.next_list.take() else {
            return Ok(());
        };
        let body = rest
            .send(
                key,
                Call::get(&path).header("Accept", "application/json".into()),
            )
            .await?
            .body;
        let a: PagesAnswer = serde_json::from_slice(&body)
            .map_err(|e| Error::Unavailable(format!("unreadable resultPages answer: {e}")))?;
        for p in a.result_pages {
            // Only this job's results, on the instance (rest.open refuses anything else).
            if !p
                .result_url
                .starts_with(&format!("{}/results", self.job_path))
            {
                return Err(Error::Unavailable(
                    "resultPages listed a URL outside the job's results".into(),
                ));
            }
            self.pending.push_back(p.result_url);
        }
        let next = a
            .next_record_url
            .or(a.next_records_url)
            .filter(|u| !u.is_empty());
        self.next_list = match next {
            Some(u) if !a.done => {
                if !u.starts_with(&format!("{}/resultPages", self.job_path)) {
                    return Err(Error::Unavailable(
                        "resultPages pointed outside the job's result pages".into(),
                    ));
                }
                Some(u)
            }
            _ => None,
        };
        self.listed = true;
        Ok(())
    }

    async fn open(
        rest: &Rest<'_>,
        key: &ConnKey,
        url: String,
        skip: u64,
        reopened: u32,
    ) -> Result<Page> {
        let call = Call::get(&url)
            .header("Accept", "text/csv".into())
            .header("Accept-Encoding", "gzip".into());
        let resp = rest.open(key, &call).await?;
        let gz = resp
            .headers()
            .get("content-encoding")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("gzip"))
            .then(|| GzDecoder::new(Vec::new()));
        Ok(Page {
            url,
            resp,
            gz,
            reader: CsvReader::default(),
            header_seen: false,
            rows: skip,
            skip,
            reopened,
        })
    }

    /// Up to `batch` records written into `out`; `None` when every page is read.
    pub async fn next(
        &mut self,
        rest: &Rest<'_>,
        key: &ConnKey,
        plan: &RowPlan,
        batch: usize,
        mut out: RowSink,
    ) -> Result<Option<(String, usize)>> {
        let data_path = rest.cfg.data_path();
        let mut row = Row::default();
        loop {
            for p in &mut self.active {
                while p.row(&mut row) {
                    plan.write(&mut out, &data_path, &row)?;
                    if out.count >= batch {
                        return Ok(Some(out.finish()));
                    }
                }
            }
            // Keep five pages streaming: list more when the listed ones are all open.
            let mut to_open = Vec::new();
            while self.active.len() + to_open.len() < PARALLEL_PAGES {
                if let Some(u) = self.pending.pop_front() {
                    to_open.push(u);
                } else if self.next_list.is_some() {
                    self.list(rest, key).await?;
                } else {
                    break;
                }
            }
            if !to_open.is_empty() {
                let opened = futures_util::future::join_all(
                    to_open.into_iter().map(|u| Self::open(rest, key, u, 0, 0)),
                )
                .await;
                for p in opened {
                    self.active.push(p?);
                }
            }
            if self.active.is_empty() {
                return Ok((out.count > 0).then(|| out.finish()));
            }
            // The next chunk from whichever page has one (dropping a pending `chunk()` loses nothing).
            let (got, i, others) = futures_util::future::select_all(
                self.active.iter_mut().map(|p| Box::pin(p.resp.chunk())),
            )
            .await;
            drop(others);
            match got {
                Ok(Some(bytes)) => self.active[i].feed(&bytes)?,
                Ok(None) => {
                    let mut p = self.active.swap_remove(i);
                    if let Some(gz) = p.gz.take() {
                        let rest_bytes = gz.finish().map_err(|e| {
                            Error::Unavailable(format!("unreadable gzip results page: {e}"))
                        })?;
                        p.reader.push(&rest_bytes);
                    }
                    while p.row(&mut row) {
                        plan.write(&mut out, &data_path, &row)?;
                    }
                    if p.reader.finish_into(&mut row) && p.header_seen && !row.all_empty() {
                        if p.skip > 0 {
                            p.skip -= 1;
                        } else {
                            plan.write(&mut out, &data_path, &row)?;
                        }
                    }
                }
                Err(e) => {
                    // Lost midway: open it again and skip what was already handed out.
                    let p = self.active.swap_remove(i);
                    if p.reopened >= rest.cfg.max_retries {
                        return Err(Error::Unavailable(crate::net::describe(e)));
                    }
                    tokio::time::sleep(crate::net::backoff(p.reopened + 1)).await;
                    let again = Self::open(rest, key, p.url, p.rows, p.reopened + 1).await?;
                    self.active.push(again);
                }
            }
        }
    }
}

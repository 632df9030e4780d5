//! `verify` over an initial load read through Bulk. The job reads every live record; the rows
//! stamped at or before the job's start (Salesforce time) are its window, checked against
//! `SELECT COUNT()` with the same filter once the job is read through. A mismatch runs the job
//! once more (rows this run delivered are not delivered again); a second mismatch is reported
//! as `verifyMismatch`, never an error.

use std::collections::HashSet;

use serde_json::value::RawValue;

use super::checkpoint::id_hash;
use super::{literal, stamp_of, SyncRun};
use crate::error::Result;
use crate::salesforce::export::QueryPage;
use crate::salesforce::rest::{query_path, Rest};

/// Ids remembered for the re-read's de-duplication; past this, rows may be delivered twice.
const MAX_IDS: usize = 1_000_000;

#[derive(Default)]
pub struct BulkCheck {
    /// Rows of this job stamped at or before its start (skipped ones included).
    received: u64,
    /// Ids this run read from a job (the re-read passes them over).
    ids: HashSet<u64>,
    /// This job is the one re-read.
    pub rereading: bool,
}

impl SyncRun {
    /// Counts a batch of the job's results (all of it: rows passed over on resume too).
    pub(super) fn bulk_seen(&mut self, rows: &[&RawValue], start: i64) {
        if !self.opts.verify {
            return;
        }
        for r in rows {
            if stamp_of(r).is_some_and(|ts| ts <= start) {
                self.bulk_check.received += 1;
            }
            if !self.bulk_check.rereading && self.bulk_check.ids.len() < MAX_IDS {
                if let Some(id) = crate::salesforce::export::record_id(r) {
                    self.bulk_check.ids.insert(id_hash("record", &id));
                }
            }
        }
    }

    /// Whether the re-read has this row already (delivered from the first job in this run).
    pub(super) fn bulk_delivered(&self, r: &RawValue) -> bool {
        self.bulk_check.rereading
            && crate::salesforce::export::record_id(r)
                .is_some_and(|id| self.bulk_check.ids.contains(&id_hash("record", &id)))
    }

    /// The job is read through: true when it is to be run again.
    pub(super) async fn bulk_verified(&mut self, rest: &Rest<'_>, start: i64) -> Result<bool> {
        if !self.opts.verify {
            return Ok(false);
        }
        let received = std::mem::take(&mut self.bulk_check.received);
        let soql = format!(
            "SELECT COUNT() FROM {} WHERE SystemModstamp <= {}",
            self.shape.object.as_str(),
            literal(start)?
        );
        let body = rest
            .get(&self.key, &query_path(rest.cfg, &soql), None)
            .await?;
        let expected = QueryPage::parse(&body)?.total_size;
        if expected == received {
            return Ok(false);
        }
        let window = serde_json::json!({
            "from": literal(0)?, "to": literal(start)?, "expected": expected, "received": received,
        });
        if !self.bulk_check.rereading {
            self.bulk_check.rereading = true;
            self.pending_meta.insert("reread".into(), window);
            return Ok(true);
        }
        self.report_mismatch(rest, 0, start, expected, received)
            .await?;
        self.pending_meta.insert("verifyMismatch".into(), window);
        Ok(false)
    }
}

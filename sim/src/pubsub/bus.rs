//! The event bus: change events in commit order, each with an opaque replay id, kept for the
//! retention window (default 72 hours, as on Salesforce) and at most `MAX_EVENTS` of them.
//! Mutation paths queue `Change`s in the overlay's outbox; `flush` turns them into events under
//! the same data lock. Controls: the next N changes of an object arrive as gap events, or are
//! swallowed and replaced by one `GAP_OVERFLOW`; streams can be reset or stalled.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use super::avro::{self, Header};
use super::proto::{ConsumerEvent, ProducerEvent};
use crate::data::{self, Data, Obj};
use crate::overlay::{Change, ChangeKind};
use crate::state::lock;
use crate::time;

/// Salesforce keeps change events 72 hours.
pub const DEFAULT_RETENTION_MS: i64 = 72 * 3_600_000;
/// An idle stream gets an empty response (a keepalive) this often (Salesforce: within 270 s).
pub const DEFAULT_KEEPALIVE_MS: u64 = 270_000;
/// Events kept at most (older ones are dropped, as if past retention).
const MAX_EVENTS: usize = 200_000;

/// One stored event.
pub struct Entry {
    pub replay: u64,
    pub obj: Obj,
    pub at: i64,
    pub event: ConsumerEvent,
}

#[derive(Default)]
struct Log {
    events: VecDeque<Entry>,
    /// Replay id of the last event ever stored (0 = none yet).
    last: u64,
    /// Replay ids at or below this are no longer retained.
    dropped_through: u64,
    commit_number: i64,
    transactions: u64,
    /// Next N changes of an object become gap events.
    gaps: HashMap<Obj, u64>,
    /// Next N changes of an object are swallowed into one overflow event.
    overflows: HashMap<Obj, u64>,
}

pub struct Bus {
    log: Mutex<Log>,
    /// Bumped on every new event (subscribers wait on it).
    pub tick: watch::Sender<u64>,
    /// Bumped by a stream reset: streams opened before end with UNAVAILABLE.
    pub resets: watch::Sender<u64>,
    pub retention_ms: AtomicI64,
    pub keepalive_ms: AtomicU64,
    /// Streams send nothing until this instant (ms since epoch, real time).
    pub stall_until: AtomicI64,
    /// The org's virtual clock (`/__sim/clock`) minus real time: retention counts on it.
    pub clock_offset_ms: AtomicI64,
}

/// Where a subscription starts.
pub enum Start {
    Latest,
    Earliest,
    After(Vec<u8>),
}

impl Default for Bus {
    fn default() -> Self {
        Bus {
            log: Mutex::new(Log::default()),
            tick: watch::channel(0).0,
            resets: watch::channel(0).0,
            retention_ms: AtomicI64::new(DEFAULT_RETENTION_MS),
            keepalive_ms: AtomicU64::new(DEFAULT_KEEPALIVE_MS),
            stall_until: AtomicI64::new(0),
            clock_offset_ms: AtomicI64::new(0),
        }
    }
}

pub fn replay_bytes(r: u64) -> Vec<u8> {
    r.to_be_bytes().to_vec()
}

fn schema_id(obj: Obj) -> String {
    avro::schema_id(&avro::schema_json(obj))
}

impl Log {
    fn prune(&mut self, now: i64, retention: i64) {
        while let Some(e) = self.events.front() {
            if self.events.len() <= MAX_EVENTS && e.at >= now - retention {
                break;
            }
            self.dropped_through = e.replay;
            self.events.pop_front();
        }
    }

    fn push(&mut self, obj: Obj, at: i64, h: &Header<'_>, change: Option<&Change>) {
        self.last += 1;
        let fields = change.map(|c| c.fields.as_slice()).unwrap_or(&[]);
        let payload = avro::encode(obj, h, fields);
        let replay = self.last;
        let event = ConsumerEvent {
            event: Some(ProducerEvent {
                id: uuid_like(replay, at),
                schema_id: schema_id(obj),
                payload,
                headers: Vec::new(),
            }),
            replay_id: replay_bytes(replay),
        };
        self.events.push_back(Entry {
            replay,
            obj,
            at,
            event,
        });
    }
}

/// A version-4-shaped UUID, unique per event.
fn uuid_like(replay: u64, at: i64) -> String {
    let a = (at as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ replay;
    format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        (a >> 32) as u32,
        (a >> 16) as u16,
        a as u16 & 0xfff,
        (replay >> 48) as u16 & 0xfff,
        replay & 0xffff_ffff_ffff
    )
}

fn kind_name(k: ChangeKind) -> &'static str {
    match k {
        ChangeKind::Create => "CREATE",
        ChangeKind::Update => "UPDATE",
        ChangeKind::Delete => "DELETE",
        ChangeKind::Undelete => "UNDELETE",
    }
}

impl Bus {
    /// Now on the org's clock.
    pub fn now(&self) -> i64 {
        time::now_ms() + self.clock_offset_ms.load(Relaxed)
    }

    /// Publishes the queued changes of `d` as events. `txn`: they were one transaction (one
    /// transactionKey; alike consecutive changes become one multi-record event).
    pub fn flush(&self, d: &mut Data, txn: bool) {
        if d.overlay.outbox.is_empty() {
            return;
        }
        let changes = std::mem::take(&mut Arc::make_mut(&mut d.overlay).outbox);
        let now = self.now();
        let mut log = lock(&self.log);
        let mut groups: Vec<(Change, Vec<u64>)> = Vec::new();
        for c in changes {
            match groups.last_mut() {
                Some((g, ids))
                    if txn
                        && g.obj == c.obj
                        && g.kind == c.kind
                        && matches!(c.kind, ChangeKind::Delete | ChangeKind::Undelete)
                        && g.at == c.at
                        // One event carries one body: undeletes merge only when their field
                        // values are the same (as on Salesforce); deletes carry none.
                        && g.fields == c.fields =>
                {
                    ids.push(c.idx);
                }
                _ => {
                    let idx = c.idx;
                    groups.push((c, vec![idx]));
                }
            }
        }
        let mut key = String::new();
        for (seq, (c, ids)) in groups.iter().enumerate() {
            if !txn || seq == 0 {
                log.transactions += 1;
                log.commit_number += 1;
                key = format!("{:08x}-{:04x}-sim", log.transactions, seq);
            }
            let record_ids: Vec<String> = ids.iter().map(|i| data::id_string(c.obj, *i)).collect();
            let mut kind = kind_name(c.kind).to_string();
            if let Some(n) = log.overflows.get_mut(&c.obj).filter(|n| **n > 0) {
                *n -= 1;
                if *n > 0 {
                    continue;
                }
                kind = "GAP_OVERFLOW".into();
            } else if let Some(n) = log.gaps.get_mut(&c.obj).filter(|n| **n > 0) {
                *n -= 1;
                kind = format!("GAP_{kind}");
            }
            let gap = kind.starts_with("GAP_");
            let positions: Vec<usize> = if gap || c.kind == ChangeKind::Delete {
                Vec::new()
            } else {
                c.fields
                    .iter()
                    .filter(|(_, v)| c.kind == ChangeKind::Update || !v.is_null())
                    .filter_map(|(f, _)| avro::position(c.obj, *f))
                    .collect()
            };
            let nulled_positions: Vec<usize> = if c.kind == ChangeKind::Update && !gap {
                c.fields
                    .iter()
                    .filter(|(_, v)| v.is_null())
                    .filter_map(|(f, _)| avro::position(c.obj, *f))
                    .collect()
            } else {
                Vec::new()
            };
            // changedFields is set on UPDATE only; nulledFields lists fields set to null.
            let changed: Vec<String> = if c.kind == ChangeKind::Update && !gap {
                avro::bitmap(&positions).into_iter().collect()
            } else {
                Vec::new()
            };
            let nulled: Vec<String> = avro::bitmap(&nulled_positions).into_iter().collect();
            let record_ids = if kind == "GAP_OVERFLOW" {
                Vec::new()
            } else {
                record_ids
            };
            let h = Header {
                entity: c.obj.name(),
                record_ids: &record_ids,
                change_type: avro::change_type_index(&kind).unwrap_or(1),
                change_origin: "com/salesforce/api/rest/62.0",
                transaction_key: &key,
                sequence_number: if txn { seq as i32 + 1 } else { 1 },
                commit_timestamp: c.at,
                commit_number: log.commit_number,
                commit_user: &data::id_string(Obj::User, c.user),
                nulled: &nulled,
                diff: &[],
                changed: &changed,
            };
            // A CREATE or UNDELETE event carries the whole record, as on Salesforce (defaults
            // such as `IsPrivate = false` included), not only the fields the write named.
            let whole;
            let body = if gap {
                None
            } else if matches!(c.kind, ChangeKind::Create | ChangeKind::Undelete) {
                whole = Change {
                    fields: avro::event_fields(c.obj)
                        .map(|fd| (fd.f, d.value(c.obj, c.idx, fd.f)))
                        .collect(),
                    ..c.clone()
                };
                Some(&whole)
            } else {
                Some(c)
            };
            log.push(c.obj, now, &h, body);
        }
        log.prune(now, self.retention_ms.load(Relaxed));
        let last = log.last;
        drop(log);
        self.tick.send_replace(last);
    }

    /// The next `n` changes of `obj` arrive as gap events (`GAP_UPDATE`, …) without field values.
    pub fn gap(&self, obj: Obj, n: u64) {
        *lock(&self.log).gaps.entry(obj).or_default() += n;
    }

    /// The next `n` changes of `obj` are not published; the n-th becomes one `GAP_OVERFLOW`.
    pub fn overflow(&self, obj: Obj, n: u64) {
        *lock(&self.log).overflows.entry(obj).or_default() += n.max(1);
    }

    /// Data was re-seeded: record ids are reused, so every stored event is dropped.
    pub fn forget(&self) {
        let mut log = lock(&self.log);
        log.dropped_through = log.last;
        log.events.clear();
    }

    /// Drops every event published before `before` (ms, the org's clock): as if retention passed.
    pub fn expire_before(&self, before: i64) -> usize {
        let mut log = lock(&self.log);
        let mut n = 0;
        while log.events.front().is_some_and(|e| e.at < before) {
            if let Some(e) = log.events.pop_front() {
                log.dropped_through = e.replay;
                n += 1;
            }
        }
        n
    }

    /// Replay id after which a subscription starts; None for an unknown or no longer
    /// retained replay id (`replayid.corrupted`).
    pub fn start_after(&self, start: &Start) -> Option<u64> {
        let mut log = lock(&self.log);
        log.prune(self.now(), self.retention_ms.load(Relaxed));
        match start {
            Start::Latest => Some(log.last),
            Start::Earliest => Some(log.dropped_through),
            Start::After(bytes) => {
                let r = u64::from_be_bytes(<[u8; 8]>::try_from(bytes.as_slice()).ok()?);
                // The event named must itself still be retained (as on Salesforce), not only
                // the ones after it.
                let retained = r > log.dropped_through || (r == 0 && log.dropped_through == 0);
                (retained && r <= log.last).then_some(r)
            }
        }
    }

    /// Up to `max` events of `obj` after `pos`, and the position reached (the last replay id
    /// looked at, so keepalives carry progress past other objects' events). None when `pos`
    /// fell behind the retention window.
    pub fn read(&self, obj: Obj, pos: u64, max: usize) -> Option<(Vec<ConsumerEvent>, u64)> {
        let mut log = lock(&self.log);
        log.prune(self.now(), self.retention_ms.load(Relaxed));
        if pos < log.dropped_through {
            return None;
        }
        let first = log.events.partition_point(|e| e.replay <= pos);
        let mut out = Vec::new();
        let mut reached = pos;
        for e in log.events.iter().skip(first) {
            if out.len() >= max {
                break;
            }
            reached = e.replay;
            if e.obj == obj {
                out.push(e.event.clone());
            }
        }
        if out.len() < max {
            reached = reached.max(log.last);
        }
        Some((out, reached))
    }

    pub fn summary(&self) -> serde_json::Value {
        let log = lock(&self.log);
        serde_json::json!({
            "events": log.events.len(),
            "latestReplayId": log.last,
            "droppedThrough": log.dropped_through,
            "retentionMs": self.retention_ms.load(Relaxed),
            "keepaliveMs": self.keepalive_ms.load(Relaxed),
            "stallUntil": self.stall_until.load(Relaxed),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deletes(bus: &Bus, d: &mut Data, ids: std::ops::Range<u64>, txn: bool) {
        for i in ids {
            crate::mutate::delete(d, Obj::Contact, i, 1_000);
        }
        bus.flush(d, txn);
    }

    #[test]
    fn a_transaction_of_alike_deletes_is_one_multi_record_event() {
        let (bus, mut d) = (Bus::default(), Data::new(1, 20, 0, 0));
        deletes(&bus, &mut d, 0..3, true);
        deletes(&bus, &mut d, 3..5, false);
        let (events, pos) = bus.read(Obj::Contact, 0, 100).unwrap();
        assert_eq!(events.len(), 3);
        assert_eq!(pos, 3);
        assert!(d.overlay.outbox.is_empty());
        // Another object's subscriber passes over them.
        assert_eq!(bus.read(Obj::Account, 0, 100).unwrap(), (Vec::new(), 3));
    }

    #[test]
    fn overflow_swallows_changes_into_one_event_and_gaps_keep_them() {
        let (bus, mut d) = (Bus::default(), Data::new(1, 20, 0, 0));
        bus.overflow(Obj::Contact, 3);
        deletes(&bus, &mut d, 0..3, false);
        assert_eq!(bus.read(Obj::Contact, 0, 100).unwrap().0.len(), 1);
        bus.gap(Obj::Contact, 2);
        deletes(&bus, &mut d, 3..5, false);
        assert_eq!(bus.read(Obj::Contact, 0, 100).unwrap().0.len(), 3);
    }

    #[test]
    fn replay_ids_past_retention_are_refused() {
        let (bus, mut d) = (Bus::default(), Data::new(1, 20, 0, 0));
        deletes(&bus, &mut d, 0..2, false);
        assert_eq!(bus.start_after(&Start::After(replay_bytes(1))), Some(1));
        assert_eq!(bus.start_after(&Start::After(vec![1, 2])), None);
        assert_eq!(bus.start_after(&Start::After(replay_bytes(9))), None);
        bus.clock_offset_ms
            .store(DEFAULT_RETENTION_MS + 1_000, Relaxed);
        assert_eq!(bus.start_after(&Start::After(replay_bytes(1))), None);
        assert_eq!(bus.start_after(&Start::Latest), Some(2));
        assert_eq!(bus.start_after(&Start::Earliest), Some(2));
        assert!(bus.read(Obj::Contact, 0, 100).is_none());
    }
}

//! Write overlay: records created through `POST /sobjects/<Type>/` and field updates made
//! with `PATCH`. Only these writes are stored; everything else stays procedural.
//!
//! A created record of an object with `n` generated records gets index `n + k` (k-th
//! creation), so its Id sorts after every generated Id and query paging by Id keeps
//! working. The sim holds the overlay in an `Arc`; queries, cursors and bulk jobs take a
//! snapshot (an `Arc` clone) and writes go through `Arc::make_mut`, which copies only
//! while an older snapshot is still alive.

use std::collections::{HashMap, HashSet};

use crate::data::{Obj, Value, F};

/// Written fields of one record, in write order (a handful of fields, so a Vec).
#[derive(Clone, Debug, Default)]
pub struct Rec {
    fields: Vec<(F, Value)>,
}

impl Rec {
    pub fn get(&self, f: F) -> Option<&Value> {
        self.fields.iter().find(|(k, _)| *k == f).map(|(_, v)| v)
    }

    /// Written fields, in write order.
    pub fn fields(&self) -> &[(F, Value)] {
        &self.fields
    }

    pub fn set(&mut self, f: F, v: Value) {
        match self.fields.iter_mut().find(|(k, _)| *k == f) {
            Some(slot) => slot.1 = v,
            None => self.fields.push((f, v)),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct ObjOverlay {
    /// Created records; index `k` here is record index `gen_count + k`.
    pub created: Vec<Rec>,
    /// Field updates to generated records, by record index.
    pub updated: HashMap<u64, Rec>,
    /// Some record was updated after creation, so LastModifiedDate/SystemModstamp no
    /// longer grow with the index: the executor must filter and sort them row by row.
    pub modstamp_shuffled: bool,
    /// The recycle bin: deleted records (index → deletion time), still seen by `queryAll`
    /// with `IsDeleted = true` (see `mutate.rs`).
    pub deleted: HashMap<u64, i64>,
    /// Records gone for good (recycle bin emptied): invisible even to `queryAll`.
    pub purged: HashSet<u64>,
    /// The delete log read by `sobjects/<Type>/deleted` (index, deletion time), oldest first.
    pub delete_log: Vec<(u64, i64)>,
    /// `earliestDateAvailable` after the recycle bin was emptied.
    pub purged_before: Option<i64>,
}

impl ObjOverlay {
    /// Whether any record is deleted or purged (queries must then filter row by row).
    pub fn has_removed(&self) -> bool {
        !self.deleted.is_empty() || !self.purged.is_empty()
    }
}

/// What a committed change did (a Change Data Capture `changeType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    Create,
    Update,
    Delete,
    Undelete,
}

/// A committed change, queued for the Pub/Sub event bus (`pubsub/bus.rs` drains it under the
/// same data lock, so events keep commit order). `fields` holds the values the change wrote.
#[derive(Clone, Debug)]
pub struct Change {
    pub obj: Obj,
    pub kind: ChangeKind,
    pub idx: u64,
    pub fields: Vec<(F, Value)>,
    pub at: i64,
    pub user: u64,
}

#[derive(Clone, Debug, Default)]
pub struct Overlay {
    objs: [ObjOverlay; 5],
    writes: u64,
    /// Changes not yet published as change events.
    pub outbox: Vec<Change>,
}

fn slot(obj: Obj) -> usize {
    match obj {
        Obj::Account => 0,
        Obj::Contact => 1,
        Obj::Opportunity => 2,
        Obj::Note => 3,
        Obj::User => 4,
    }
}

impl Overlay {
    /// True until the first write: lets the hot read path skip overlay lookups.
    pub fn is_empty(&self) -> bool {
        self.writes == 0
    }

    pub fn obj(&self, obj: Obj) -> &ObjOverlay {
        &self.objs[slot(obj)]
    }

    pub fn obj_mut(&mut self, obj: Obj) -> &mut ObjOverlay {
        self.writes += 1;
        &mut self.objs[slot(obj)]
    }

    /// `{"Contact":{"created":n,"updated":m},…}` for `/__sim/seed`.
    pub fn summary(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        for o in Obj::ALL {
            let ov = self.obj(o);
            m.insert(
                o.name().into(),
                serde_json::json!({"created": ov.created.len(), "updated": ov.updated.len()}),
            );
        }
        serde_json::Value::Object(m)
    }
}

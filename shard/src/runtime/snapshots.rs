//! The KV snapshots a shard holds open for callers (see `Rill::kv_snapshot`): each freezes
//! a primary-key bucket (its memtables copied, its SSTs held by reference, so garbage
//! collection keeps their files) and is pulled a few chunks at a time by its id.
//!
//! Bounded: at most [`SNAPSHOTS_OPEN_MAX_PER_SHARD`]; one not pulled for
//! [`SNAPSHOT_IDLE_MS_MAX`] is dropped (its caller then gets `SnapshotGone`).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::time::{Duration, Instant};

use rill_engine::log::{Storage, UringStorage};
use rill_engine::table::snapshot::KvSnapshot;

use crate::error::{Error, Result};

/// Open snapshots per shard (each holds a copy of its bucket's memtables).
pub const SNAPSHOTS_OPEN_MAX_PER_SHARD: usize = 1024;
/// A snapshot not pulled for this long is dropped, releasing its SSTs and memory.
pub const SNAPSHOT_IDLE_MS_MAX: u64 = 5 * 60 * 1000;

/// A frozen bucket of this shard's storage.
pub(crate) type BucketSnapshot = KvSnapshot<<UringStorage as Storage>::File>;

struct Held {
    /// `None` while a pull has it out.
    snapshot: Option<BucketSnapshot>,
    last_used: Instant,
}

/// The open snapshots of one shard, by id.
#[derive(Default)]
pub(crate) struct Snapshots {
    open: RefCell<HashMap<u64, Held>>,
    next_id: Cell<u64>,
}

impl Snapshots {
    /// Keeps `snapshot` open; returns its id.
    pub(crate) fn insert(&self, shard: usize, snapshot: BucketSnapshot) -> Result<u64> {
        let mut open = self.open.borrow_mut();
        let idle = Duration::from_millis(SNAPSHOT_IDLE_MS_MAX);
        open.retain(|_, held| held.last_used.elapsed() < idle);
        if open.len() >= SNAPSHOTS_OPEN_MAX_PER_SHARD {
            return Err(Error::TooManySnapshots { shard, open: open.len(), limit: SNAPSHOTS_OPEN_MAX_PER_SHARD });
        }
        let id = self.next_id.get();
        self.next_id.set(id.wrapping_add(1));
        open.insert(id, Held { snapshot: Some(snapshot), last_used: Instant::now() });
        Ok(id)
    }

    /// Takes snapshot `id` out for a pull (put it back with [`Self::put_back`]).
    pub(crate) fn take(&self, shard: usize, id: u64) -> Result<BucketSnapshot> {
        let mut open = self.open.borrow_mut();
        let held = open.get_mut(&id).ok_or(Error::SnapshotGone { shard, id })?;
        held.last_used = Instant::now();
        held.snapshot
            .take()
            .ok_or_else(|| Error::Runtime { reason: format!("snapshot {id} on shard {shard} is already being pulled") })
    }

    /// Returns a snapshot after a pull that did not reach its end.
    pub(crate) fn put_back(&self, id: u64, snapshot: BucketSnapshot) {
        if let Some(held) = self.open.borrow_mut().get_mut(&id) {
            held.snapshot = Some(snapshot);
            held.last_used = Instant::now();
        }
    }

    /// Drops snapshot `id` (done, or its caller went away).
    pub(crate) fn remove(&self, id: u64) {
        self.open.borrow_mut().remove(&id);
    }
}

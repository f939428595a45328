//! The append log of one bucket: segments of Fluss batches behind a [`Storage`] seam, with
//! group commit, idempotent writers, reads by offset and time, retention and crash recovery.

mod append;
pub mod config;
pub mod entry;
pub(crate) mod join;
pub mod notify;
mod open;
mod read;
mod retention;
pub mod segment;
pub mod sim;
mod state;
pub mod storage;
pub mod uring;
mod wait;
pub mod writers;
mod zero_fill;

use std::cell::RefCell;

pub use config::LogConfig;
pub use read::{BatchFilter, OffsetSpec, ReadResult, StoredBatch};
pub use sim::{SimFaults, SimStorage};
pub use storage::{Storage, StorageFile, WRITE_ALIGNMENT};
pub use uring::UringStorage;

use notify::Notify;
use state::State;

/// Milliseconds since the epoch; injectable so tests control time.
pub type Clock = Box<dyn Fn() -> i64>;

/// The wall clock.
pub fn system_clock() -> Clock {
    Box::new(|| std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64))
}

/// What an append was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppendInfo {
    pub base_offset: i64,
    /// Offset after the batch's last record.
    pub next_offset: i64,
    pub commit_timestamp: i64,
    /// The batch was a retry of one already appended; these are its original offsets.
    pub duplicate: bool,
}

/// The log of one bucket. Single-threaded: it lives on one shard; concurrent appends are
/// futures on that shard's executor and share group commits.
pub struct Log<S: Storage> {
    storage: S,
    config: LogConfig,
    clock: Clock,
    state: RefCell<State<S::File>>,
    committed: Notify,
    /// Wakes the writer and syncer of a running flush (a batch staged, a group written or
    /// synced).
    flush_wake: Notify,
    /// Wakes writes waiting for a zero fill to land.
    zero_wake: Notify,
}

impl<S: Storage> Log<S> {
    /// The configuration.
    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    /// Number of segments.
    pub fn segment_count(&self) -> usize {
        self.state.borrow().segments.len()
    }

    /// Names of the segment files, oldest first.
    pub fn segment_names(&self) -> Vec<String> {
        self.state.borrow().segments.iter().map(|s| segment::log_name(s.base_offset)).collect()
    }

    /// Number of idempotent writers remembered.
    pub fn writer_count(&self) -> usize {
        self.state.borrow().writers.len()
    }

    /// The reason the log stopped accepting writes, if it did.
    pub fn poisoned(&self) -> Option<String> {
        self.state.borrow().poisoned.clone()
    }
}

//! The counter SST ids come from, shared by an LSM's owner and the compaction jobs it hands
//! to other threads ([`super::compaction_job`]), so every SST of a bucket gets its own id
//! wherever it is written. The counter's value is persisted with each manifest edit; ids
//! handed out after the last edit belong to files no edit lists, which the next open
//! removes before it hands out ids again.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A shared SST id counter.
#[derive(Clone, Debug)]
pub struct SstIds(Arc<AtomicU64>);

impl SstIds {
    /// A counter whose next id is `next`.
    pub(super) fn starting_at(next: u64) -> Self {
        Self(Arc::new(AtomicU64::new(next)))
    }

    /// Hands out the next id.
    pub(super) fn allocate(&self) -> u64 {
        self.0.fetch_add(1, Ordering::Relaxed)
    }

    /// The id the next [`Self::allocate`] returns (what a manifest edit records).
    pub(super) fn peek(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_one_sequence() {
        let ids = SstIds::starting_at(7);
        let elsewhere = ids.clone();
        let handed = std::thread::spawn(move || (0..100).map(|_| elsewhere.allocate()).collect::<Vec<_>>());
        let mut all: Vec<u64> = (0..100).map(|_| ids.allocate()).collect();
        all.extend(handed.join().unwrap_or_default());
        all.sort_unstable();
        assert_eq!(all, (7..207).collect::<Vec<_>>());
        assert_eq!(ids.peek(), 207);
    }
}

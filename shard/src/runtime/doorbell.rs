//! The doorbell of a shard's call slots: one bit per slot with a queued one-key lookup.
//!
//! Ringing is one `fetch_or` on a word alone on its cache line; the shard takes every rung bit
//! with one `swap` and serves them one by one. Compared with a queue entry (the queue's tail,
//! head and entry lines, each written by one side and read by the other) a call moves one
//! line from the caller to the shard.

use std::sync::atomic::{AtomicU64, Ordering};

use super::point::POINT_SLOTS;

const _: () = assert!(POINT_SLOTS <= 64, "one doorbell bit per call slot");

/// A word alone on its cache lines (two: adjacent-line prefetch).
#[repr(align(128))]
#[derive(Default)]
struct Line(AtomicU64);

#[derive(Default)]
pub(crate) struct Doorbell {
    /// Slots rung by callers, not yet taken by the shard.
    rung: Line,
    /// Slots taken from `rung`, not yet served (also taken from by a draining caller).
    taken: Line,
}

impl Doorbell {
    /// Caller side: slot `index` has a request (SeqCst: pairs with the shard's check before
    /// it parks, as the queue's push does).
    pub(crate) fn ring(&self, index: u32) {
        self.rung.0.fetch_or(1u64 << (index % 64), Ordering::SeqCst);
    }

    /// A slot taken earlier and not served yet.
    pub(crate) fn next_taken(&self) -> Option<u32> {
        loop {
            let taken = self.taken.0.load(Ordering::Acquire);
            if taken == 0 {
                return None;
            }
            let bit = taken & taken.wrapping_neg();
            // Another thread may drain at the same time: the one that clears the bit owns it.
            if self.taken.0.fetch_and(!bit, Ordering::AcqRel) & bit != 0 {
                return Some(bit.trailing_zeros());
            }
        }
    }

    /// Takes every rung slot and returns the first of them (the others follow through
    /// [`Self::next_taken`]).
    pub(crate) fn take(&self) -> Option<u32> {
        if self.rung.0.load(Ordering::SeqCst) == 0 {
            // No write while nobody rang: the line stays shared with the callers.
            return None;
        }
        let rung = self.rung.0.swap(0, Ordering::SeqCst);
        if rung == 0 {
            return None;
        }
        let first = rung & rung.wrapping_neg();
        let rest = rung & !first;
        if rest != 0 {
            self.taken.0.fetch_or(rest, Ordering::AcqRel);
        }
        Some(first.trailing_zeros())
    }

    /// True when no slot is rung or taken.
    pub(crate) fn is_quiet(&self) -> bool {
        self.rung.0.load(Ordering::SeqCst) == 0 && self.taken.0.load(Ordering::SeqCst) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rung_slot_is_taken_once() {
        let bell = Doorbell::default();
        assert!(bell.is_quiet());
        for index in [3, 0, 63, 17] {
            bell.ring(index);
        }
        bell.ring(3);
        assert!(!bell.is_quiet());
        let mut got = vec![bell.take().unwrap_or(99)];
        bell.ring(5);
        while let Some(index) = bell.next_taken() {
            got.push(index);
        }
        assert_eq!(got, [0, 3, 17, 63], "rung twice before the take: served once");
        assert!(!bell.is_quiet(), "5 rang after the take");
        assert_eq!(bell.take(), Some(5));
        assert_eq!((bell.next_taken(), bell.take()), (None, None));
        assert!(bell.is_quiet());
    }
}

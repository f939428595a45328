//! Model test of the log on the simulated backend: hundreds of seeds of appends, crashes,
//! restarts and injected faults; every acknowledged batch survives byte for byte, offsets
//! stay contiguous, nothing unacknowledged appears half-written.
#![allow(clippy::unwrap_used)]

mod logkit;

use logkit::model::{op, run, Backend};
use proptest::prelude::*;
use rill_engine::log::{SimFaults, SimStorage};

/// The simulated disk and whether its crashes reorder unsynced writes.
struct Sim(SimStorage, bool);

impl Backend for Sim {
    type S = SimStorage;
    fn storage(&self) -> SimStorage {
        self.0.clone()
    }
    fn crash(&self) {
        self.0.crash();
    }
    fn set_faults(&self, on: bool) {
        self.0.set_faults(faults(on, self.1));
    }
}

fn faults(on: bool, reorder_on_crash: bool) -> SimFaults {
    let rate = if on { 150_000 } else { 0 };
    SimFaults {
        write_error_per_million: rate,
        sync_error_per_million: rate,
        read_error_per_million: 0,
        garbage_on_tear: !reorder_on_crash,
        reorder_on_crash,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: logkit::cases(300), ..ProptestConfig::default() })]

    #[test]
    fn acknowledged_batches_survive_crashes(seed in any::<u64>(), ops in proptest::collection::vec(op(), 1..40)) {
        let backend = Sim(SimStorage::new(seed, faults(false, false)), false);
        futures_lite::future::block_on(run(&backend, &ops));
    }

    /// The same when a crash may persist later unsynced writes without earlier ones (group
    /// commits are pipelined: the next group is written while the previous one syncs).
    #[test]
    fn acknowledged_batches_survive_reordering_crashes(seed in any::<u64>(), ops in proptest::collection::vec(op(), 1..40)) {
        let backend = Sim(SimStorage::new(seed, faults(false, true)), true);
        futures_lite::future::block_on(run(&backend, &ops));
    }
}

//! Model test of the log on the simulated backend: hundreds of seeds of appends, crashes,
//! restarts and injected faults; every acknowledged batch survives byte for byte, offsets
//! stay contiguous, nothing unacknowledged appears half-written.
#![allow(clippy::unwrap_used)]

mod logkit;

use logkit::model::{op, run, Backend};
use proptest::prelude::*;
use rill_engine::log::{SimFaults, SimStorage};

struct Sim(SimStorage);

impl Backend for Sim {
    type S = SimStorage;
    fn storage(&self) -> SimStorage {
        self.0.clone()
    }
    fn crash(&self) {
        self.0.crash();
    }
    fn set_faults(&self, on: bool) {
        self.0.set_faults(faults(on));
    }
}

fn faults(on: bool) -> SimFaults {
    let rate = if on { 150_000 } else { 0 };
    SimFaults {
        write_error_per_million: rate,
        sync_error_per_million: rate,
        read_error_per_million: 0,
        garbage_on_tear: true,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: logkit::cases(300), ..ProptestConfig::default() })]

    #[test]
    fn acknowledged_batches_survive_crashes(seed in any::<u64>(), ops in proptest::collection::vec(op(), 1..40)) {
        let backend = Sim(SimStorage::new(seed, faults(false)));
        futures_lite::future::block_on(run(&backend, &ops));
    }
}

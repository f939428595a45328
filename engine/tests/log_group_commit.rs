//! Group commit: appends that arrive while a sync is in flight share the next one, and an
//! append resolves only when its bytes are durable.
#![allow(clippy::unwrap_used)]

mod logkit;

use std::future::Future;
use std::pin::Pin;

use futures_lite::future::block_on;
use logkit::{batch_bytes, config, join_all, ticking_clock};
use rill_engine::log::{Log, OffsetSpec, SimFaults, SimStorage};

#[test]
fn concurrent_appends_share_syncs() {
    let sim = SimStorage::new(5, SimFaults::default());
    let log = block_on(Log::open(sim.clone(), config(), ticking_clock(0))).unwrap();
    let before = sim.sync_count();
    let batches: Vec<Vec<u8>> = (0..20).map(|i| batch_bytes(i * 2, 2, None)).collect();
    let futures: Vec<Pin<Box<dyn Future<Output = _> + '_>>> =
        batches.iter().map(|b| Box::pin(log.append(b.clone())) as Pin<Box<dyn Future<Output = _>>>).collect();
    let results = block_on(join_all(futures));
    assert!(results.iter().all(Result::is_ok));
    let syncs = sim.sync_count() - before;
    // The first append syncs alone (nothing else was staged yet); the 19 staged while it
    // was in flight share the next sync (the simulated disk completes at once, so here they
    // are staged before the leader's first sync; either way far fewer syncs than appends).
    assert!(syncs <= 2, "{syncs} syncs for 20 appends");
    assert_eq!(log.list_offset(OffsetSpec::Latest), 40);
}

#[test]
fn an_append_is_not_acknowledged_when_its_sync_fails() {
    let sim = SimStorage::new(9, SimFaults::default());
    let log = block_on(Log::open(sim.clone(), config(), ticking_clock(0))).unwrap();
    block_on(log.append(batch_bytes(0, 3, None))).unwrap();
    sim.set_faults(SimFaults { sync_error_per_million: 1_000_000, ..SimFaults::default() });
    assert!(block_on(log.append(batch_bytes(3, 3, None))).is_err());
    // Not durable, so not readable; and the log refuses writes until reopened.
    assert_eq!(log.list_offset(OffsetSpec::Latest), 3);
    assert!(log.poisoned().is_some());
    sim.set_faults(SimFaults::default());
    assert!(block_on(log.append(batch_bytes(3, 3, None))).is_err());
    drop(log);
    sim.crash();
    let log = block_on(Log::open(sim.clone(), config(), ticking_clock(0))).unwrap();
    let end = log.list_offset(OffsetSpec::Latest);
    assert!(end == 3 || end == 6, "end {end}");
    block_on(log.append(batch_bytes(end, 1, None))).unwrap();
}

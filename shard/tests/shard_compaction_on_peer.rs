//! A shard ships the merges of its buckets' compaction steps to the next shard
//! (`RillConfig::compaction_merges_on_peer`) and installs what comes back; with the option
//! off it merges them itself. Either way every row stays readable, across a restart too.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use rill_shard::{BucketStats, Rill};

/// `LsmConfig::default().l0_compaction_trigger`, which the shard uses.
const L0_TRIGGER: usize = 4;

fn open(dir: &std::path::Path, on_peer: bool) -> Rill {
    let mut config = common::config(dir, 2);
    config.memtable_bytes_max = 16 << 10;
    config.maintenance_interval_ms = 10;
    config.compaction_merges_on_peer = on_peer;
    common::open_with(config)
}

/// Writes ids 10_000..20_000 in small memtables (enough to need compaction), without waiting
/// for it.
fn write_without_waiting(rill: &Rill) {
    let ids: Vec<i64> = (10_000..20_000).collect();
    for chunk in ids.chunks(250) {
        rill.upsert("db.users", common::users(chunk, 0)).unwrap();
    }
}

/// [`write_without_waiting`], then waits until L0 is compacted.
fn write_and_settle(rill: &Rill) -> BucketStats {
    write_without_waiting(rill);
    let settled = common::wait_for(Duration::from_secs(30), || {
        let s = rill.bucket_stats("db.users", 0).unwrap();
        let deeper: usize = s.sst_counts.iter().skip(1).sum();
        (s.l0_ssts() < L0_TRIGGER && deeper > 0).then_some(s)
    });
    settled.unwrap_or_else(|| panic!("no background compaction: {:?}", rill.bucket_stats("db.users", 0).unwrap()))
}

/// Runs `work` on another thread and fails if it takes longer than `limit`.
fn within(limit: Duration, work: impl FnOnce() + Send + 'static) {
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        work();
        let _ = done.send(());
    });
    finished.recv_timeout(limit).expect("did not finish in time");
}

/// Shuts `rill` down and fails if that takes longer than `limit`.
fn shutdown_within(rill: Rill, limit: Duration) {
    within(limit, move || rill.shutdown());
}

fn assert_all_readable(rill: &Rill) {
    let probe: Vec<i64> = (10_000..20_000).step_by(37).chain([9_999, 20_000]).collect();
    let (rows, found) = common::lookup_scores(rill, "db.users", &probe);
    assert_eq!(found.iter().filter(|f| !**f).count(), 2, "only the two absent ids are missing");
    assert!(rows.iter().all(|(id, score)| *score == id * 10));
}

#[test]
fn merges_run_on_the_next_shard_and_their_outputs_are_installed() {
    let dir = tempfile::tempdir().unwrap();
    let rill = open(dir.path(), true);
    rill.create_table(common::pk_table("db.users", 1)).unwrap();
    let settled = write_and_settle(&rill);
    assert!(settled.compaction_merges_on_peer > 0, "no merge ran on the peer shard: {settled:?}");
    assert_all_readable(&rill);
    rill.shutdown();

    // What the peer wrote and the owner installed is what a restart opens.
    let rill = open(dir.path(), true);
    assert_all_readable(&rill);
    let reopened = rill.bucket_stats("db.users", 0).unwrap();
    assert!(reopened.sst_counts.iter().skip(1).sum::<usize>() > 0, "{reopened:?}");
    rill.shutdown();
}

#[test]
fn with_the_option_off_the_owner_merges() {
    let dir = tempfile::tempdir().unwrap();
    let rill = open(dir.path(), false);
    rill.create_table(common::pk_table("db.users", 1)).unwrap();
    let settled = write_and_settle(&rill);
    assert_eq!(settled.compaction_merges_on_peer, 0, "{settled:?}");
    assert_all_readable(&rill);
    rill.shutdown();
}

#[test]
fn shutdown_while_merges_are_out_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let rill = open(dir.path(), true);
    rill.create_table(common::pk_table("db.users", 1)).unwrap();
    write_without_waiting(&rill);
    // No wait: compaction steps (and their merges on the peer) are likely in flight. Each
    // shard's shutdown waits for the other's merges; neither may wait for ever.
    shutdown_within(rill, Duration::from_secs(120));
    let rill = open(dir.path(), true);
    assert_all_readable(&rill);
    let settled = write_and_settle(&rill);
    assert!(settled.sst_counts.iter().skip(1).sum::<usize>() > 0);
    assert_all_readable(&rill);
    rill.shutdown();
}

#[test]
fn a_merge_held_on_the_peer_past_its_shutdown_does_not_hold_the_owner_for_ever() {
    let dir = tempfile::tempdir().unwrap();
    let rill = open(dir.path(), true);
    rill.create_table(common::pk_table("db.users", 1)).unwrap();
    let owner = rill.bucket_stats("db.users", 0).unwrap().shard;
    // Longer than the peer's shutdown waits for running requests (30 s): the merge is still
    // parked on its timer when the peer's executor exits.
    rill.hook_peer_merges_for_tests(1 - owner, Duration::from_secs(600), false).unwrap();
    write_without_waiting(&rill);
    let out = common::wait_for(Duration::from_secs(30), || {
        let s = rill.bucket_stats("db.users", 0).unwrap();
        (s.l0_ssts() >= L0_TRIGGER).then_some(s)
    });
    assert!(out.is_some(), "no compaction was due");
    std::thread::sleep(Duration::from_millis(300)); // the maintenance round ships the merge
    shutdown_within(rill, Duration::from_secs(150));
    let rill = open(dir.path(), true);
    assert_all_readable(&rill);
    rill.shutdown();
}

#[test]
fn a_panic_in_a_peer_merge_fails_the_step_and_the_peer_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let rill = open(dir.path(), true);
    rill.create_table(common::pk_table("db.users", 1)).unwrap();
    let owner = rill.bucket_stats("db.users", 0).unwrap().shard;
    let peer = 1 - owner;
    rill.hook_peer_merges_for_tests(peer, Duration::ZERO, true).unwrap();
    write_without_waiting(&rill);
    // Steps keep failing: L0 stays at or over the trigger, nothing reaches L1.
    std::thread::sleep(Duration::from_millis(500));
    let stuck = rill.bucket_stats("db.users", 0).unwrap();
    assert!(stuck.l0_ssts() >= L0_TRIGGER, "{stuck:?}");
    assert_eq!(stuck.compaction_merges_on_peer, 0, "{stuck:?}");
    // The peer still serves requests (an empty message runs a request that does not panic;
    // a shard stopped by a panic answers `ShardPanicked`).
    let rill = std::sync::Arc::new(rill);
    let pinged = std::sync::Arc::clone(&rill);
    within(Duration::from_secs(30), move || pinged.panic_on_shard_for_tests(peer, "").unwrap());
    // Without the planted panic the next rounds merge on the peer again.
    rill.hook_peer_merges_for_tests(peer, Duration::ZERO, false).unwrap();
    let settled = common::wait_for(Duration::from_secs(30), || {
        let s = rill.bucket_stats("db.users", 0).unwrap();
        (s.l0_ssts() < L0_TRIGGER && s.compaction_merges_on_peer > 0).then_some(s)
    });
    assert!(settled.is_some(), "{:?}", rill.bucket_stats("db.users", 0).unwrap());
    assert_all_readable(&rill);
    rill.shutdown();
}

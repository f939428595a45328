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

/// Writes ids 10_000..20_000 in small memtables, then waits until L0 is compacted.
fn write_and_settle(rill: &Rill) -> BucketStats {
    let ids: Vec<i64> = (10_000..20_000).collect();
    for chunk in ids.chunks(250) {
        rill.upsert("db.users", common::users(chunk, 0)).unwrap();
    }
    let settled = common::wait_for(Duration::from_secs(30), || {
        let s = rill.bucket_stats("db.users", 0).unwrap();
        let deeper: usize = s.sst_counts.iter().skip(1).sum();
        (s.l0_ssts() < L0_TRIGGER && deeper > 0).then_some(s)
    });
    settled.unwrap_or_else(|| panic!("no background compaction: {:?}", rill.bucket_stats("db.users", 0).unwrap()))
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
    let ids: Vec<i64> = (10_000..20_000).collect();
    for chunk in ids.chunks(250) {
        rill.upsert("db.users", common::users(chunk, 0)).unwrap();
    }
    // No wait: compaction steps (and their merges on the peer) are likely in flight.
    rill.shutdown();
    let rill = open(dir.path(), true);
    assert_all_readable(&rill);
    let settled = write_and_settle(&rill);
    assert!(settled.sst_counts.iter().skip(1).sum::<usize>() > 0);
    assert_all_readable(&rill);
    rill.shutdown();
}

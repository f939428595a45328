//! The shard's background maintenance compacts on its own: writes that flush many small
//! memtables into L0 SSTs are merged into L1 without anyone calling compaction (nothing on the
//! write path compacts), and every row stays readable.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

/// `LsmConfig::default().l0_compaction_trigger`, which the shard uses.
const L0_TRIGGER: usize = 4;

#[test]
fn l0_ssts_are_compacted_in_the_background() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::config(dir.path(), 1);
    config.memtable_bytes_max = 16 << 10;
    config.maintenance_interval_ms = 10;
    let rill = common::open_with(config);
    rill.create_table(common::pk_table("db.users", 1)).unwrap();
    let ids: Vec<i64> = (10_000..20_000).collect();
    let mut l0_max = 0;
    for chunk in ids.chunks(250) {
        rill.upsert("db.users", common::users(chunk, 0)).unwrap();
        l0_max = l0_max.max(rill.bucket_stats("db.users", 0).unwrap().l0_ssts());
    }
    let flushed = rill.bucket_stats("db.users", 0).unwrap();
    assert!(flushed.covered_offset.unwrap() > 0, "16 KiB memtables must have flushed: {flushed:?}");

    let settled = common::wait_for(Duration::from_secs(30), || {
        let s = rill.bucket_stats("db.users", 0).unwrap();
        let deeper: usize = s.sst_counts.iter().skip(1).sum();
        (s.l0_ssts() < L0_TRIGGER && deeper > 0).then_some(s)
    });
    let settled = settled.unwrap_or_else(|| {
        panic!("no background compaction: {:?} (L0 peaked at {l0_max})", rill.bucket_stats("db.users", 0).unwrap())
    });
    assert!(settled.sst_counts.iter().sum::<usize>() > 0);

    let probe: Vec<i64> = (10_000..20_000).step_by(37).chain([9_999, 20_000]).collect();
    let (rows, found) = common::lookup_scores(&rill, "db.users", &probe);
    assert_eq!(found.iter().filter(|f| !**f).count(), 2, "only the two absent ids are missing");
    assert!(rows.iter().all(|(id, score)| *score == id * 10));
    rill.shutdown();
}

//! The memtable budget of a shard: writes beyond it wait for the largest memtables to flush,
//! so the shard's memtables stay within the budget plus the write that crossed it; when
//! flushing is impossible, a write fails after `write_stall_ms_max` with `WriteStalled`,
//! naming the shard and the numbers.
#![allow(clippy::unwrap_used)]

mod common;

use rill_shard::{Error, Rill, RillConfig};

const BUDGET_BYTES: usize = 256 << 10;
const BUCKETS: u32 = 4;

fn config(dir: &std::path::Path) -> RillConfig {
    let mut config = common::config(dir, 1);
    // Only the shard budget makes memtables flush: no bucket reaches its own limit, and the
    // background loop (which would also relieve the shard) sleeps through the test.
    config.memtable_bytes_max = 64 << 20;
    config.memtable_bytes_max_per_shard = BUDGET_BYTES;
    config.maintenance_interval_ms = 3_600_000;
    config
}

fn shard_memtable_bytes(rill: &Rill, table: &str) -> usize {
    rill.bucket_stats(table, 0).unwrap().shard_memtable_bytes
}

#[test]
fn writes_over_budget_wait_for_flushes_and_memory_stays_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let rill = common::open_with(config(dir.path()));
    rill.create_table(common::pk_table("db.users", BUCKETS)).unwrap();
    // Ids of one width, so every write of 200 new rows weighs about the same.
    let ids: Vec<i64> = (100_000..130_000).collect();
    let mut chunks = ids.chunks(200);
    rill.upsert("db.users", common::users(chunks.next().unwrap(), 0)).unwrap();
    let one_write = shard_memtable_bytes(&rill, "db.users");
    assert!(one_write > 0 && one_write < BUDGET_BYTES / 4, "one write is {one_write} bytes");
    let mut peak = one_write;
    for chunk in chunks {
        rill.upsert("db.users", common::users(chunk, 0)).unwrap();
        let bytes = shard_memtable_bytes(&rill, "db.users");
        peak = peak.max(bytes);
        assert!(bytes <= BUDGET_BYTES + one_write, "{bytes} bytes in memtables, budget {BUDGET_BYTES} + {one_write}");
    }
    assert!(peak > BUDGET_BYTES / 2, "the writes reached the budget (peak {peak})");
    let ssts: usize = (0..BUCKETS).map(|b| rill.bucket_stats("db.users", b).unwrap().l0_ssts()).sum();
    assert!(ssts > 0, "the budget made memtables flush");
    let probe: Vec<i64> = (100_000..130_000).step_by(13).collect();
    let (_, found) = common::lookup_scores(&rill, "db.users", &probe);
    assert!(found.iter().all(|f| *f));
    rill.shutdown();
}

#[test]
fn a_write_stalled_beyond_the_limit_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.write_stall_ms_max = 200;
    let rill = common::open_with(config);
    let table = rill.create_table(common::pk_table("db.users", 1)).unwrap();
    // Flushing becomes impossible: new SST files cannot be created in a deleted directory
    // (the open log segment keeps taking appends through its file descriptor). Works as root.
    std::fs::remove_dir_all(dir.path().join("tables").join(table.id.to_string()).join("b0")).unwrap();
    let ids: Vec<i64> = (100_000..200_000).collect();
    let mut stalled = None;
    for chunk in ids.chunks(500) {
        match rill.upsert("db.users", common::users(chunk, 0)) {
            Ok(_) => {}
            Err(e) => {
                stalled = Some(e);
                break;
            }
        }
    }
    let e = stalled.expect("a write must stall once the budget is full");
    let text = e.to_string();
    match e {
        Error::WriteStalled { shard, memtable_bytes, budget_bytes, waited_ms, flush_error } => {
            assert_eq!(shard, 0);
            assert_eq!(budget_bytes, BUDGET_BYTES);
            assert!(memtable_bytes > BUDGET_BYTES);
            assert!(waited_ms >= 200);
            assert!(flush_error.is_some(), "the failed flush is named: {text}");
        }
        other => panic!("expected WriteStalled, got {other}"),
    }
    assert!(text.contains("shard 0") && text.contains(&BUDGET_BYTES.to_string()), "{text}");
    rill.shutdown();
}

//! A graceful shutdown flushes every primary-key bucket's memtable: after reopening, the SSTs
//! cover the whole changelog (recovery replays nothing, the memtables start empty) and every
//! row is there.
#![allow(clippy::unwrap_used)]

mod common;

#[test]
fn shutdown_flushes_every_memtable() {
    let dir = tempfile::tempdir().unwrap();
    let config = || {
        let mut config = common::config(dir.path(), 2);
        // Nothing flushes before the shutdown: no bucket or shard budget is reached, no
        // memtable is idle long enough.
        config.memtable_bytes_max = 64 << 20;
        config.memtable_idle_flush_ms = 3_600_000;
        config
    };
    let rill = common::open_with(config());
    rill.create_table(common::pk_table("db.users", 3)).unwrap();
    let ids: Vec<i64> = (0..3000).collect();
    for chunk in ids.chunks(500) {
        rill.upsert("db.users", common::users(chunk, 1)).unwrap();
    }
    for bucket in 0..3 {
        let s = rill.bucket_stats("db.users", bucket).unwrap();
        assert!(s.memtable_bytes > 0, "bucket {bucket} holds unflushed rows: {s:?}");
        assert!(s.covered_offset.unwrap() < s.log_end_offset, "bucket {bucket}: {s:?}");
    }
    rill.shutdown();
    drop(rill);

    let rill = common::open_with(config());
    for bucket in 0..3 {
        let s = rill.bucket_stats("db.users", bucket).unwrap();
        assert!(s.log_end_offset > 0);
        assert_eq!(s.covered_offset, Some(s.log_end_offset), "bucket {bucket}: the SSTs cover the changelog");
        assert_eq!(s.memtable_bytes, 0, "bucket {bucket}: recovery replayed nothing");
        assert!(s.l0_ssts() > 0, "bucket {bucket}: {s:?}");
    }
    let probe: Vec<i64> = (0..3000).step_by(11).collect();
    let (rows, found) = common::lookup_scores(&rill, "db.users", &probe);
    assert!(found.iter().all(|f| *f));
    assert!(rows.iter().all(|(id, score)| *score == id * 10 + 1));
    rill.shutdown();
}

//! A KV snapshot scan returns exactly the table as it was when the snapshot opened (the
//! oracle), although writes, flushes, compactions and garbage collection run while it is
//! read; per bucket it reports the changelog offset it is consistent at.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use arrow_array::{Int64Array, RecordBatch};
use rill_shard::{Error, OffsetSpec, Rill};

const TABLE: &str = "db.users";
const BUCKETS: u32 = 3;

/// (id, score) of each row.
fn scores(batch: &RecordBatch) -> Vec<(i64, i64)> {
    let id = batch.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
    let score = batch.column(2).as_any().downcast_ref::<Int64Array>().unwrap();
    (0..batch.num_rows()).map(|i| (id.value(i), score.value(i))).collect()
}

fn upsert(rill: &Rill, oracle: &mut BTreeMap<i64, i64>, ids: &[i64], score: i64) {
    for chunk in ids.chunks(500) {
        rill.upsert(TABLE, common::users(chunk, score)).unwrap();
        oracle.extend(chunk.iter().map(|&i| (i, i * 10 + score)));
    }
}

fn delete(rill: &Rill, oracle: &mut BTreeMap<i64, i64>, ids: &[i64]) {
    rill.delete(TABLE, common::user_keys(ids)).unwrap();
    for i in ids {
        oracle.remove(i);
    }
}

fn compacted_somewhere(rill: &Rill) -> bool {
    (0..BUCKETS).any(|b| rill.bucket_stats(TABLE, b).unwrap().sst_counts.iter().skip(1).sum::<usize>() > 0)
}

fn snapshot_survives_maintenance(shards: usize) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::config(dir.path(), shards);
    config.memtable_bytes_max = 16 << 10;
    config.maintenance_interval_ms = 10;
    let rill = common::open_with(config);
    rill.create_table(common::pk_table(TABLE, BUCKETS)).unwrap();
    let mut oracle = BTreeMap::new();
    let ids: Vec<i64> = (0..12_000).collect();
    upsert(&rill, &mut oracle, &ids, 0);
    upsert(&rill, &mut oracle, &ids[..4_000], 1);
    delete(&rill, &mut oracle, &ids.iter().copied().filter(|i| i % 7 == 0).collect::<Vec<_>>());
    let ends: Vec<i64> = (0..BUCKETS).map(|b| rill.list_offsets(TABLE, b, OffsetSpec::Latest).unwrap()).collect();

    let mut snapshot = rill.kv_snapshot(TABLE).unwrap().with_pull_bytes(1);
    let offsets: Vec<i64> = snapshot.log_offsets().iter().map(|o| o.log_offset).collect();
    assert_eq!(offsets, ends, "each bucket's snapshot is at its changelog end");
    let mut seen: Vec<(i64, i64)> = scores(&snapshot.next().unwrap().unwrap());

    // Rewrite everything while the snapshot is held: memtables flush, L0 compacts, replaced
    // SSTs become garbage.
    let mut later = oracle.clone();
    upsert(&rill, &mut later, &ids, 2);
    delete(&rill, &mut later, &ids.iter().copied().filter(|i| i % 5 == 0).collect::<Vec<_>>());
    upsert(&rill, &mut later, &ids, 3);
    let compacted = common::wait_for(Duration::from_secs(30), || compacted_somewhere(&rill).then_some(()));
    assert!(compacted.is_some(), "the test needs a compaction during the scan");
    std::thread::sleep(Duration::from_millis(100)); // a few maintenance rounds: garbage collection

    for batch in snapshot {
        seen.extend(scores(&batch.unwrap()));
    }
    let got: BTreeMap<i64, i64> = seen.iter().copied().collect();
    assert_eq!(got.len(), seen.len(), "no row twice");
    assert_eq!(got, oracle, "the snapshot is the table as it was when it opened");

    let now: BTreeMap<i64, i64> = rill.kv_snapshot(TABLE).unwrap().flat_map(|b| scores(&b.unwrap())).collect();
    assert_eq!(now, later, "a new snapshot sees the later writes");
    rill.shutdown();
}

#[test]
fn one_shard() {
    snapshot_survives_maintenance(1);
}

#[test]
fn two_shards() {
    snapshot_survives_maintenance(2);
}

#[test]
fn four_shards() {
    snapshot_survives_maintenance(4);
}

#[test]
fn bucket_snapshot_and_wrong_tables() {
    let dir = tempfile::tempdir().unwrap();
    let rill = common::open(dir.path(), 2);
    rill.create_table(common::pk_table(TABLE, BUCKETS)).unwrap();
    rill.create_table(common::log_table("db.events", 1)).unwrap();
    let mut oracle = BTreeMap::new();
    upsert(&rill, &mut oracle, &(0..300).collect::<Vec<_>>(), 0);
    let mut total = 0;
    for b in 0..BUCKETS {
        let snapshot = rill.kv_snapshot_bucket(TABLE, b).unwrap();
        assert_eq!(snapshot.log_offsets().len(), 1);
        for batch in snapshot {
            let rows = scores(&batch.unwrap());
            let (_, found) = common::lookup_scores(&rill, TABLE, &rows.iter().map(|r| r.0).collect::<Vec<_>>());
            assert!(found.iter().all(|f| *f));
            total += rows.len();
        }
    }
    assert_eq!(total, 300);
    assert!(matches!(rill.kv_snapshot("db.events"), Err(Error::NotAPrimaryKeyTable { .. })));
    assert!(matches!(rill.kv_snapshot_bucket(TABLE, BUCKETS), Err(Error::UnknownBucket { .. })));
    // An abandoned snapshot is released on its shard (shutdown does not wait for it).
    let mut abandoned = rill.kv_snapshot(TABLE).unwrap();
    assert!(abandoned.next().is_some());
    drop(abandoned);
    rill.shutdown();
}

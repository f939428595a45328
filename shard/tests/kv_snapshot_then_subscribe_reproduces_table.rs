//! The lookup-join bootstrap: a KV snapshot taken while another thread writes, then the
//! changelog followed from the snapshot's offsets, rebuild exactly the table's final state.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use arrow_array::{Int64Array, RecordBatch, StringArray};
use rill_shard::OffsetSpec;

const TABLE: &str = "db.users";
const BUCKETS: u32 = 4;

fn column<'a>(batch: &'a RecordBatch, name: &str) -> &'a Int64Array {
    batch.column_by_name(name).unwrap().as_any().downcast_ref::<Int64Array>().unwrap()
}

/// The writer's deterministic history: round r upserts a window of ids and deletes some.
fn write_round(rill: &rill_shard::Rill, oracle: &mut BTreeMap<i64, i64>, round: i64) {
    let ids: Vec<i64> = (round * 37 % 500..round * 37 % 500 + 120).collect();
    rill.upsert(TABLE, common::users(&ids, round)).unwrap();
    oracle.extend(ids.iter().map(|&i| (i, i * 10 + round)));
    let gone: Vec<i64> = ids.iter().copied().filter(|i| (i + round) % 9 == 0).collect();
    rill.delete(TABLE, common::user_keys(&gone)).unwrap();
    for i in &gone {
        oracle.remove(i);
    }
}

fn bootstrap(shards: usize) {
    let dir = tempfile::tempdir().unwrap();
    let rill = common::open(dir.path(), shards);
    rill.create_table(common::pk_table(TABLE, BUCKETS)).unwrap();
    let mut oracle = BTreeMap::new();
    for round in 0..10 {
        write_round(&rill, &mut oracle, round);
    }
    let writer = {
        let rill = rill.clone();
        std::thread::spawn(move || {
            for round in 10..60 {
                write_round(&rill, &mut oracle, round);
            }
            oracle
        })
    };

    let snapshot = rill.kv_snapshot(TABLE).unwrap();
    let mut subscriptions = snapshot.subscriptions().unwrap();
    let mut copy: BTreeMap<i64, i64> = BTreeMap::new();
    for batch in snapshot {
        let batch = batch.unwrap();
        let (id, score) = (column(&batch, "id"), column(&batch, "score"));
        copy.extend((0..batch.num_rows()).map(|i| (id.value(i), score.value(i))));
    }
    let oracle = writer.join().unwrap();
    for sub in &mut subscriptions {
        let end = rill.list_offsets(TABLE, sub.bucket(), OffsetSpec::Latest).unwrap();
        while sub.offset() < end {
            let batch = sub.next().unwrap().expect("the changelog up to its end is durable");
            let (id, score) = (column(&batch, "id"), column(&batch, "score"));
            let kind = batch.column_by_name("_change_type").unwrap().as_any().downcast_ref::<StringArray>().unwrap();
            for i in 0..batch.num_rows() {
                match kind.value(i) {
                    "insert" | "update_after" => {
                        copy.insert(id.value(i), score.value(i));
                    }
                    "delete" | "update_before" => {
                        copy.remove(&id.value(i));
                    }
                    other => panic!("unexpected change type {other}"),
                }
            }
        }
    }
    let diff: Vec<_> = oracle.iter().filter(|(k, v)| copy.get(k) != Some(v)).take(5).collect();
    assert!(
        copy == oracle,
        "snapshot + changelog must be the final state: {} rows vs {} in the oracle; first differences {diff:?}",
        copy.len(),
        oracle.len()
    );
    rill.shutdown();
}

#[test]
fn one_shard() {
    bootstrap(1);
}

#[test]
fn two_shards() {
    bootstrap(2);
}

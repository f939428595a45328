//! Encoded Fluss batches appended as a client sends them: a batch without statistics is
//! acknowledged first and the shard's background maintenance computes its statistics later;
//! scans agree before and after. Bad bytes are refused and change nothing.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use arrow_array::{Array, Int64Array};
use rill_engine::batch::{build, BuildOptions};
use rill_shard::{Error, Rill};

const TABLE: &str = "db.events";

fn ids_of(rill: &Rill, predicate: &str) -> Vec<i64> {
    let result = rill.scan(TABLE, 0, 0, 1 << 24, None, Some(predicate.to_string())).unwrap();
    let mut ids: Vec<i64> = Vec::new();
    for batch in &result.batches {
        let column = batch.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
        ids.extend((0..column.len()).map(|i| column.value(i)));
    }
    ids
}

#[test]
fn batches_without_statistics_get_them_in_the_background() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::config(dir.path(), 1);
    config.maintenance_interval_ms = 1500;
    let opened = Instant::now();
    let rill = common::open_with(config);
    rill.create_table(common::log_table(TABLE, 1)).unwrap();
    let schema = rill.describe(TABLE).unwrap().descriptor.schema.clone();
    let options = BuildOptions { statistics: false, ..Default::default() };
    for i in 0..10 {
        let bytes = build(&schema, &common::events(i * 10, 10), None, &options).unwrap();
        let appended = rill.append_encoded(TABLE, 0, bytes).unwrap();
        assert_eq!(appended.base_offset, i * 10);
    }
    let pending = rill.bucket_stats(TABLE, 0).unwrap().log_pending_stats_bytes;
    if opened.elapsed() < Duration::from_millis(1000) {
        // No maintenance round has run yet (the first comes after 1.5 s).
        assert!(pending > 0, "statistics are computed after the ack");
    }
    let wanted: Vec<i64> = (35..52).collect();
    assert_eq!(ids_of(&rill, "id >= 35 AND id < 52"), wanted, "nothing is skipped while statistics wait");

    let waited = Instant::now();
    while rill.bucket_stats(TABLE, 0).unwrap().log_pending_stats_bytes > 0 {
        assert!(waited.elapsed() < Duration::from_secs(20), "maintenance never computed the statistics");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(ids_of(&rill, "id >= 35 AND id < 52"), wanted);
    assert!(ids_of(&rill, "id > 1000").is_empty());
    rill.shutdown();
}

#[test]
fn bad_encoded_batches_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let rill = common::open(dir.path(), 1);
    rill.create_table(common::log_table(TABLE, 1)).unwrap();
    rill.create_table(common::pk_table("db.users", 1)).unwrap();
    let schema = rill.describe(TABLE).unwrap().descriptor.schema.clone();
    let good = build(&schema, &common::events(0, 10), None, &BuildOptions::default()).unwrap();
    rill.append_encoded(TABLE, 0, good.clone()).unwrap();

    let mut flipped = good.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0xff;
    assert!(rill.append_encoded(TABLE, 0, flipped).is_err(), "a damaged batch (CRC) is refused");
    assert!(rill.append_encoded(TABLE, 0, vec![1, 2, 3]).is_err(), "a truncated batch is refused");
    assert!(matches!(rill.append_encoded(TABLE, 7, good.clone()), Err(Error::UnknownBucket { .. })));
    assert!(matches!(rill.append_encoded("db.users", 0, good), Err(Error::NotALogTable { .. })));
    assert_eq!(rill.bucket_stats(TABLE, 0).unwrap().log_end_offset, 10, "only the good batch landed");
    rill.shutdown();
}

//! Writes to several partitions land in the right partition and bucket directory, per-partition
//! and pruned whole-table scans return exactly the right rows, the same with 1, 2 and 4 shards.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use rill_shard::Error;

const DAYS: [&str; 3] = ["20240101", "20240102", "20240103"];

fn rows() -> Vec<(i64, &'static str)> {
    (0..120).map(|i| (i, DAYS[(i % 3) as usize])).collect()
}

type Rows = Vec<(i64, String, String)>;

/// (per-partition rows, pruned-scan rows) for one shard count.
fn run(shards: usize) -> (Vec<Rows>, Rows) {
    let dir = tempfile::tempdir().unwrap();
    let rill = open(dir.path(), shards);
    let table = rill.create_table(dated_log_table("db.events", 3)).unwrap();
    create_days(&rill, "db.events", &DAYS);
    assert_eq!(partition_names(&rill, "db.events"), DAYS);

    let appended = rill.append_partitioned("db.events", None, dated(&rows())).unwrap();
    assert_eq!(appended.len(), 3);
    assert!(appended.iter().all(|a| a.rows == 40));
    // A batch of one partition goes through the plain append too.
    let one = rill.append("db.events", Some(2), dated(&[(500, "20240102"), (501, "20240102")])).unwrap();
    assert_eq!(one.bucket, 2);

    let per_partition: Vec<_> = DAYS.iter().map(|d| partition_rows(&rill, "db.events", d)).collect();
    for (day, got) in DAYS.iter().zip(&per_partition) {
        assert!(got.iter().all(|(_, _, dt)| dt == day), "{day}: {got:?}");
        let extra = if *day == "20240102" { 2 } else { 0 };
        assert_eq!(got.len(), 40 + extra, "{day}");
    }

    // Each partition has its own bucket directories.
    for p in rill.list_partitions("db.events").unwrap() {
        let pdir = dir.path().join("tables").join(table.id.to_string()).join(format!("p{}", p.id));
        assert!(pdir.join("b2").is_dir(), "{}", pdir.display());
    }
    assert!(!dir.path().join("tables").join(table.id.to_string()).join("b0").exists());

    // Pruned scans.
    let scan = rill.scan_table("db.events", None, Some("dt = '20240102'".into()), 64 << 20).unwrap();
    assert_eq!(
        (scan.partitions_scanned.clone(), scan.partitions_pruned, scan.complete),
        (vec!["20240102".to_string()], 2, true)
    );
    let mut got: Vec<_> = scan.batches.iter().flat_map(dated_rows_of).collect();
    got.sort();
    assert_eq!(got, per_partition[1]);

    let scan = rill.scan_table("db.events", None, Some("dt >= '20240102' AND id < 30".into()), 64 << 20).unwrap();
    assert_eq!(scan.partitions_pruned, 1);
    let mut pruned: Vec<_> = scan.batches.iter().flat_map(dated_rows_of).collect();
    pruned.sort();
    let expected: Vec<_> = rows()
        .into_iter()
        .filter(|(id, dt)| *dt >= "20240102" && *id < 30)
        .map(|(id, dt)| (id, ["Lisbon", "Oslo", "Quito", "Perth"][(id % 4) as usize].to_string(), dt.to_string()))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(pruned, expected);

    // A condition on a non-partition column prunes nothing; a contradiction prunes all.
    let scan = rill.scan_table("db.events", None, Some("city = 'Oslo'".into()), 64 << 20).unwrap();
    assert_eq!(scan.partitions_pruned, 0);
    let scan = rill.scan_table("db.events", None, Some("dt = '20250101'".into()), 64 << 20).unwrap();
    assert_eq!((scan.partitions_pruned, scan.batches.len()), (3, 0));

    // Bucket statistics per partition: the 40 + 2 rows of 20240102 are in its buckets.
    let ends: i64 =
        (0..3).map(|b| rill.bucket_stats_partition("db.events", Some("20240102"), b).unwrap().log_end_offset).sum();
    assert_eq!(ends, 42);

    // The unpartitioned calls say a partition is needed.
    let e = rill.scan("db.events", 0, 0, 1 << 20, None, None).unwrap_err();
    assert!(matches!(e, Error::PartitionRequired { .. }), "{e}");
    let e = rill.list_offsets("db.events", 0, rill_shard::OffsetSpec::Latest).unwrap_err();
    assert!(matches!(e, Error::PartitionRequired { .. }), "{e}");
    let e = rill.bucket_stats("db.events", 0).unwrap_err();
    assert!(matches!(e, Error::PartitionRequired { .. }), "{e}");
    let e = rill.scan_iter("db.events", 0, rill_shard::OffsetSpec::Earliest, None, None).err().unwrap();
    assert!(matches!(e, Error::PartitionRequired { .. }), "{e}");
    let iterated: usize = rill
        .scan_iter_partition("db.events", Some("20240103"), 1, rill_shard::OffsetSpec::Earliest, None, None)
        .unwrap()
        .map(|b| b.unwrap().num_rows())
        .sum();
    let in_bucket_1 = rill.bucket_stats_partition("db.events", Some("20240103"), 1).unwrap().log_end_offset;
    assert_eq!(iterated as i64, in_bucket_1);
    // Appending rows of several partitions through the plain append is refused.
    let e = rill.append("db.events", None, dated(&[(1, "20240101"), (2, "20240102")])).unwrap_err();
    assert!(e.to_string().contains("append_partitioned"), "{e}");
    rill.shutdown();
    (per_partition, pruned)
}

#[test]
fn partitions_route_and_prune_the_same_with_1_2_4_shards() {
    let one = run(1);
    assert_eq!(run(2), one);
    assert_eq!(run(4), one);
}

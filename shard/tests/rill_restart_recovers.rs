//! A restart recovers the catalog and the data, also with another shard count (4 -> 2 -> 3).
#![allow(clippy::unwrap_used)]

mod common;

use rill_shard::{OffsetSpec, TableKind};

#[test]
fn restart_with_other_shard_counts_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let rill = common::open(dir.path(), 4);
    rill.create_table(common::log_table("db.events", 6)).unwrap();
    rill.create_table(common::pk_table("db.users", 4)).unwrap();
    rill.create_table(common::log_table("db.gone", 2)).unwrap();
    rill.drop_table("db.gone").unwrap();
    for i in 0..12 {
        rill.append("db.events", None, common::events(i * 5, 5)).unwrap();
    }
    rill.upsert("db.users", common::users(&(0..50).collect::<Vec<_>>(), 0)).unwrap();
    let events = common::all_events(&rill, "db.events");
    rill.shutdown();
    drop(rill);

    let ids: Vec<i64> = (0..60).collect();
    for (round, shards) in [2usize, 3].into_iter().enumerate() {
        let rill = common::open(dir.path(), shards);
        let names: Vec<String> = rill.list_tables().iter().map(|t| t.name().to_string()).collect();
        assert_eq!(names, ["db.events", "db.users"]);
        assert_eq!(rill.describe("db.users").unwrap().kind(), TableKind::PrimaryKey);
        assert_eq!(common::all_events(&rill, "db.events"), events, "round {round}");
        let id = rill.describe("db.events").unwrap().id;
        for b in 0..6 {
            assert_eq!(rill.serving_shard("db.events", b).unwrap(), rill_shard::shard_of(id, None, b, shards));
        }
        let (found_rows, found) = common::lookup_scores(&rill, "db.users", &ids);
        assert_eq!(found.iter().filter(|f| **f).count(), 50 + round * 5);
        assert!(found_rows.iter().all(|(id, score)| *score == id * 10));
        // Write more in this round; the next round must see it too.
        let more: Vec<i64> = (50 + round as i64 * 5..55 + round as i64 * 5).collect();
        rill.upsert("db.users", common::users(&more, 0)).unwrap();
        let end: i64 = (0..6).map(|b| rill.list_offsets("db.events", b, OffsetSpec::Latest).unwrap()).sum();
        assert_eq!(end, 60);
        rill.shutdown();
    }
    assert!(!dir.path().join("tables/3").exists(), "the dropped table's data is gone");
}

#[test]
fn an_empty_data_dir_opens_and_reads() {
    // glommio's polled-I/O probe must not be fooled by a fresh directory (shared/STYLE.md).
    let dir = tempfile::tempdir().unwrap();
    let rill = common::open(dir.path(), 2);
    rill.create_table(common::log_table("t", 1)).unwrap();
    assert!(rill.scan("t", 0, 0, 1 << 20, None, None).unwrap().batches.is_empty());
    rill.append("t", Some(0), common::events(0, 3)).unwrap();
    assert_eq!(common::all_events(&rill, "t").len(), 3);
    rill.shutdown();
}

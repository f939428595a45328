//! Partitions and their data survive restarts, also with another shard count (4 -> 2 -> 3);
//! partition ids are never reused; a partition directory the catalog does not know (a drop
//! interrupted by a crash) is removed at open.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;

const DAYS: [&str; 3] = ["20240101", "20240102", "20240103"];

#[test]
fn partitions_and_data_survive_restarts_with_other_shard_counts() {
    let dir = tempfile::tempdir().unwrap();
    let rows: Vec<(i64, &str)> = (0..90).map(|i| (i, DAYS[(i % 3) as usize])).collect();
    let (expected, table_id, dropped_id) = {
        let rill = open(dir.path(), 4);
        rill.create_table(dated_log_table("db.events", 3)).unwrap();
        rill.create_table(dated_pk_table("db.users", 2)).unwrap();
        create_days(&rill, "db.events", &DAYS);
        create_days(&rill, "db.events", &["20240104"]);
        create_days(&rill, "db.users", &DAYS);
        rill.append_partitioned("db.events", None, dated(&rows)).unwrap();
        rill.upsert("db.users", dated(&rows)).unwrap();
        let dropped = rill.list_partitions("db.events").unwrap().last().unwrap().id;
        assert!(rill.drop_partition("db.events", &[("dt", "20240104")], false).unwrap());
        let expected: Vec<_> = DAYS.iter().map(|d| partition_rows(&rill, "db.events", d)).collect();
        let id = rill.describe("db.events").unwrap().id;
        rill.shutdown();
        (expected, id, dropped)
    };
    // A crash between the catalog change and the removal leaves an orphan directory.
    let orphan = dir.path().join("tables").join(table_id.to_string()).join("p999").join("b0");
    std::fs::create_dir_all(&orphan).unwrap();

    for shards in [2, 3] {
        let rill = open(dir.path(), shards);
        assert_eq!(partition_names(&rill, "db.events"), DAYS);
        assert_eq!(partition_names(&rill, "db.users"), DAYS);
        let got: Vec<_> = DAYS.iter().map(|d| partition_rows(&rill, "db.events", d)).collect();
        assert_eq!(got, expected, "{shards} shards");
        let (rows, found) = rill.lookup("db.users", lookup_keys(&[(5, "20240103"), (5, "20240101")])).unwrap();
        assert_eq!(found, [true, false], "{shards} shards");
        assert_eq!(dated_rows_of(&rows)[0].0, 5);
        assert!(!orphan.parent().unwrap().exists(), "the orphan partition directory is removed at open");
        rill.shutdown();
    }

    let rill = open(dir.path(), 1);
    let again = rill.create_partition("db.events", &[("dt", "20240104")], false).unwrap();
    assert!(again.id > dropped_id, "partition ids are never reused: {} after {dropped_id}", again.id);
    assert!(partition_rows(&rill, "db.events", "20240104").is_empty(), "a re-created partition starts empty");
    rill.shutdown();
}

fn lookup_keys(rows: &[(i64, &str)]) -> arrow_array::RecordBatch {
    dated(rows).project(&[0, 2]).unwrap()
}

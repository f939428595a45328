//! Bad partition input gets clear errors and loses nothing: unknown partitions (write, scan,
//! drop), duplicates, values that do not parse, specs with a missing or unknown key, partition
//! keys outside the primary key, unsupported auto-partition settings, the partition cap.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use rill_engine::schema::{Column, DataType, Schema, TableDescriptor};
use rill_shard::Error;

#[test]
fn bad_partition_requests_are_refused_and_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path(), 2);
    config.partitions_per_table_max = 3;
    let rill = open_with(config);
    rill.create_table(dated_log_table("db.events", 2)).unwrap();
    rill.create_table(dated_pk_table("db.users", 2)).unwrap();
    create_days(&rill, "db.events", &["20240101"]);
    create_days(&rill, "db.users", &["20240101"]);
    rill.append("db.events", Some(0), dated(&[(1, "20240101")])).unwrap();

    // Unknown partition: write (nothing of the request is written), scan, drop.
    let e = rill.append_partitioned("db.events", None, dated(&[(2, "20240101"), (3, "20240109")])).unwrap_err();
    assert!(
        matches!(&e, Error::UnknownPartition { table, partition } if table == "db.events" && partition == "20240109"),
        "{e}"
    );
    let e = rill.upsert("db.users", dated(&[(2, "20240101"), (3, "20240109")])).unwrap_err();
    assert!(matches!(e, Error::UnknownPartition { .. }), "{e}");
    let e = rill.scan_partition("db.events", Some("20240109"), 0, 0, 1 << 20, None, None).unwrap_err();
    assert!(e.to_string().contains("no partition '20240109'"), "{e}");
    let e = rill.drop_partition("db.events", &[("dt", "20240109")], false).unwrap_err();
    assert!(matches!(e, Error::UnknownPartition { .. }), "{e}");
    assert!(!rill.drop_partition("db.events", &[("dt", "20240109")], true).unwrap());
    assert_eq!(partition_rows(&rill, "db.events", "20240101").len(), 1, "nothing of the failed append was written");
    let (_, found) = rill.lookup("db.users", dated(&[(2, "20240101")]).project(&[0, 2]).unwrap()).unwrap();
    assert_eq!(found, [false], "nothing of the failed upsert was written");

    // Duplicate create.
    let e = rill.create_partition("db.events", &[("dt", "20240101")], false).unwrap_err();
    assert!(matches!(e, Error::PartitionExists { .. }), "{e}");
    let same = rill.create_partition("db.events", &[("dt", "20240101")], true).unwrap();
    assert_eq!(same.name, "20240101");

    // Specs: missing key, unknown key, a value that is not a valid name, a partition on an
    // unpartitioned table.
    let spec_error = |spec: &[(&str, &str)], needle: &str| {
        let e = rill.create_partition("db.events", spec, false).unwrap_err();
        assert!(matches!(e, Error::InvalidPartitionSpec { .. }), "{spec:?}: {e}");
        assert!(e.to_string().contains(needle) && e.to_string().contains("db.events"), "{spec:?}: {e}");
    };
    spec_error(&[], "no value for partition key 'dt'");
    spec_error(&[("dt", "20240102"), ("region", "eu")], "'region' is not a partition key");
    spec_error(&[("dt", "2024/01/02")], "2024/01/02");
    rill.create_table(log_table("db.plain", 1)).unwrap();
    let e = rill.create_partition("db.plain", &[("dt", "x")], false).unwrap_err();
    assert!(matches!(e, Error::NotPartitioned { .. }), "{e}");

    // Typed partition keys: values must parse for the column type.
    let mut typed = TableDescriptor::log_table(
        "db.typed",
        Schema::new(vec![
            Column::not_null("id", DataType::BigInt),
            Column::not_null("day", DataType::Date),
            Column::not_null("shard", DataType::Int),
        ]),
    );
    typed.partition_keys = vec!["day".into(), "shard".into()];
    rill.create_table(typed).unwrap();
    let ok = rill.create_partition("db.typed", &[("shard", "-7"), ("day", "2024-02-29")], false).unwrap();
    assert_eq!((ok.name.as_str(), ok.values.clone()), ("2024-02-29$-7", vec!["2024-02-29".to_string(), "-7".into()]));
    for (day, shard, needle) in
        [("2023-02-29", "1", "2023-02-29"), ("2024-01-01", "x1", "x1"), ("2024-01-01", "99999999999", "99999999999")]
    {
        let e = rill.create_partition("db.typed", &[("day", day), ("shard", shard)], false).unwrap_err();
        assert!(matches!(e, Error::InvalidPartitionSpec { .. }) && e.to_string().contains(needle), "{e}");
    }

    // Table definitions Fluss refuses.
    let mut outside_pk = dated_pk_table("db.bad_pk", 1);
    outside_pk.primary_key = vec!["id".into()];
    let e = rill.create_table(outside_pk).unwrap_err();
    assert!(matches!(e, Error::InvalidPartitionSpec { .. }) && e.to_string().contains("primary key"), "{e}");
    let mut bucket_on_partition = dated_log_table("db.bad_bucket", 1);
    bucket_on_partition.bucket_key = Some(vec!["dt".into()]);
    let e = rill.create_table(bucket_on_partition).unwrap_err();
    assert!(e.to_string().contains("bucket key column 'dt' is a partition key"), "{e}");
    let mut bad_auto = dated_log_table("db.bad_auto", 1);
    bad_auto.properties.insert("table.auto-partition.enabled".into(), "true".into());
    bad_auto.properties.insert("table.auto-partition.time-unit".into(), "WEEK".into());
    let e = rill.create_table(bad_auto).unwrap_err();
    assert!(e.to_string().contains("time-unit") && e.to_string().contains("WEEK"), "{e}");
    let mut auto_unpartitioned = log_table("db.bad_auto2", 1);
    auto_unpartitioned.properties.insert("table.auto-partition.enabled".into(), "true".into());
    assert!(rill.create_table(auto_unpartitioned).is_err());

    // Over the cap (3 per table here): the create fails, the others stay.
    create_days(&rill, "db.events", &["20240102", "20240103"]);
    let e = rill.create_partition("db.events", &[("dt", "20240104")], false).unwrap_err();
    assert!(matches!(e, Error::TooManyPartitions { partitions: 4, partitions_max: 3, .. }), "{e}");
    assert_eq!(partition_names(&rill, "db.events"), ["20240101", "20240102", "20240103"]);
    let mut too_many = dated_log_table("db.auto_many", 1);
    too_many.properties.insert("table.auto-partition.enabled".into(), "true".into());
    too_many.properties.insert("table.auto-partition.num-precreate".into(), "5".into());
    let e = rill.create_table(too_many).unwrap_err();
    assert!(matches!(e, Error::TooManyPartitions { .. }), "{e}");
    assert!(rill.describe("db.auto_many").is_err(), "a refused table is not created");

    // Nothing was lost along the way.
    assert_eq!(partition_rows(&rill, "db.events", "20240101").len(), 1);
    rill.shutdown();
    let rill = open(dir.path(), 1);
    assert_eq!(partition_names(&rill, "db.events"), ["20240101", "20240102", "20240103"]);
    assert_eq!(partition_names(&rill, "db.typed"), ["2024-02-29$-7"]);
    rill.shutdown();
}

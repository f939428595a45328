//! Every bucket is served by the shard `shard_of` names, for several shard counts.
#![allow(clippy::unwrap_used)]

mod common;

use rill_shard::shard_of;

#[test]
fn each_bucket_is_served_by_its_shard() {
    for shards in [1usize, 2, 4] {
        let dir = tempfile::tempdir().unwrap();
        let rill = common::open(dir.path(), shards);
        let table = rill.create_table(common::log_table("db.events", 8)).unwrap();
        rill.create_table(common::pk_table("db.users", 8)).unwrap();
        let mut seen = vec![0usize; shards];
        for bucket in 0..8u32 {
            let expected = shard_of(table.id, None, bucket, shards);
            assert_eq!(rill.serving_shard("db.events", bucket).unwrap(), expected);
            let users = rill.describe("db.users").unwrap();
            assert_eq!(rill.serving_shard("db.users", bucket).unwrap(), shard_of(users.id, None, bucket, shards));
            let appended = rill.append("db.events", Some(bucket), common::events(bucket as i64 * 10, 10)).unwrap();
            assert_eq!((appended.bucket, appended.shard), (bucket, expected));
            seen[expected] += 1;
        }
        if shards > 1 {
            assert!(seen.iter().filter(|n| **n > 0).count() > 1, "{shards} shards: {seen:?}");
        }
        rill.shutdown();
    }
}

//! Idempotent writers: a retried append or upsert (same writer id and sequence) is
//! acknowledged with its first result and not applied twice, also after a restart; a
//! sequence gap is an error that leaves the bucket writable; writer ids are never reused.
#![allow(clippy::unwrap_used)]

mod common;

use rill_shard::{Error, OffsetSpec, WriterSeq};

fn seq(writer_id: i64, sequence: i32) -> WriterSeq {
    WriterSeq { writer_id, sequence }
}

fn is_gap(e: &Error, want_expected: i32, want_received: i32) -> bool {
    matches!(
        e,
        Error::Engine(rill_engine::Error::OutOfOrderSequence { expected, received, .. })
            if *expected == want_expected && *received == want_received
    )
}

fn log_appends(shards: usize) {
    let dir = tempfile::tempdir().unwrap();
    let rill = common::open(dir.path(), shards);
    rill.create_table(common::log_table("db.events", 2)).unwrap();
    let w = rill.new_writer_id().unwrap();
    let first = rill.append_idempotent("db.events", 1, common::events(0, 3), seq(w, 0)).unwrap();
    assert!(!first.duplicate);
    let retry = rill.append_idempotent("db.events", 1, common::events(0, 3), seq(w, 0)).unwrap();
    assert!(retry.duplicate, "{retry:?}");
    assert_eq!((retry.base_offset, retry.next_offset), (first.base_offset, first.next_offset));
    let second = rill.append_idempotent("db.events", 1, common::events(3, 2), seq(w, 1)).unwrap();
    assert_eq!(second.base_offset, 3);
    let gap = rill.append_idempotent("db.events", 1, common::events(9, 1), seq(w, 3)).unwrap_err();
    assert!(is_gap(&gap, 2, 3), "{gap}");
    // Sequences are per bucket: the same writer starts anywhere in another bucket.
    rill.append_idempotent("db.events", 0, common::events(100, 1), seq(w, 7)).unwrap();
    assert_eq!(common::all_events(&rill, "db.events").len(), 6, "3 + 2 + 1 rows, nothing twice");
    rill.shutdown();
    drop(rill);

    let rill = common::open_with(common::config(dir.path(), shards));
    let again = rill.append_idempotent("db.events", 1, common::events(3, 2), seq(w, 1)).unwrap();
    assert!(again.duplicate, "the writer state is rebuilt from the log");
    assert_eq!(again.base_offset, second.base_offset);
    let next = rill.append_idempotent("db.events", 1, common::events(5, 1), seq(w, 2)).unwrap();
    assert_eq!((next.base_offset, next.duplicate), (5, false));
    assert_eq!(rill.list_offsets("db.events", 1, OffsetSpec::Latest).unwrap(), 6);
    let later = rill.new_writer_id().unwrap();
    assert!(later > w, "writer ids are not reused after a restart: {later} after {w}");
    assert!(matches!(
        rill.append_idempotent("db.events", 1, common::events(0, 1), seq(-1, 0)),
        Err(Error::InvalidRequest { .. })
    ));
    rill.shutdown();
}

#[test]
fn log_appends_one_shard() {
    log_appends(1);
}

#[test]
fn log_appends_two_shards() {
    log_appends(2);
}

fn pk_writes(shards: usize) {
    let dir = tempfile::tempdir().unwrap();
    let rill = common::open(dir.path(), shards);
    rill.create_table(common::pk_table("db.users", 1)).unwrap();
    let w = rill.new_writer_id().unwrap();
    let first = rill.upsert_idempotent("db.users", 0, common::users(&[1, 2], 0), seq(w, 0)).unwrap();
    assert_eq!((first.changes, first.duplicates), (2, 0));
    let end = rill.list_offsets("db.users", 0, OffsetSpec::Latest).unwrap();
    // A retry carrying other values must not apply them.
    let retry = rill.upsert_idempotent("db.users", 0, common::users(&[1, 2], 5), seq(w, 0)).unwrap();
    assert_eq!((retry.changes, retry.duplicates), (0, 1));
    assert_eq!(rill.list_offsets("db.users", 0, OffsetSpec::Latest).unwrap(), end, "nothing appended");
    assert_eq!(common::lookup_scores(&rill, "db.users", &[1, 2]).0, [(1, 10), (2, 20)]);

    let gap = rill.upsert_idempotent("db.users", 0, common::users(&[3], 0), seq(w, 4)).unwrap_err();
    assert!(is_gap(&gap, 1, 4), "{gap}");
    rill.upsert_idempotent("db.users", 0, common::users(&[3], 0), seq(w, 1)).unwrap();
    rill.upsert("db.users", common::users(&[4], 0)).unwrap(); // the gap did not close the table
                                                              // A delete that changes nothing still uses its sequence.
    let noop = rill.delete_idempotent("db.users", 0, common::user_keys(&[99]), seq(w, 2)).unwrap();
    assert_eq!(noop.changes, 0);
    rill.delete_idempotent("db.users", 0, common::user_keys(&[2]), seq(w, 3)).unwrap();
    rill.shutdown();
    drop(rill);

    let rill = common::open_with(common::config(dir.path(), shards));
    let again = rill.delete_idempotent("db.users", 0, common::user_keys(&[2]), seq(w, 3)).unwrap();
    assert_eq!(again.duplicates, 1, "recognised after a restart");
    let retry = rill.upsert_idempotent("db.users", 0, common::users(&[3], 7), seq(w, 1)).unwrap();
    assert_eq!(retry.duplicates, 1);
    let (rows, found) = common::lookup_scores(&rill, "db.users", &[1, 2, 3, 4]);
    assert_eq!(found, [true, false, true, true]);
    assert_eq!(rows, [(1, 10), (3, 30), (4, 40)]);
    rill.shutdown();
}

#[test]
fn pk_writes_one_shard() {
    pk_writes(1);
}

#[test]
fn pk_writes_two_shards() {
    pk_writes(2);
}

#[test]
fn idempotent_pk_write_goes_to_one_bucket() {
    let dir = tempfile::tempdir().unwrap();
    let rill = common::open(dir.path(), 2);
    rill.create_table(common::pk_table("db.users", 4)).unwrap();
    let w = rill.new_writer_id().unwrap();
    let ids: Vec<i64> = (0..40).collect();
    let spread = rill.upsert_idempotent("db.users", 0, common::users(&ids, 0), seq(w, 0));
    assert!(matches!(spread, Err(Error::InvalidRequest { .. })), "{spread:?}");
    let ids: Vec<i64> = (0..40).collect();
    assert_eq!(common::lookup_scores(&rill, "db.users", &ids).0.len(), 0, "nothing written");
    rill.shutdown();
}

//! Databases in the catalog: create / list / drop with if-not-exists, if-exists and cascade,
//! clear errors for bad input (nothing changes), and persistence across restarts with other
//! shard counts.
#![allow(clippy::unwrap_used)]

mod common;

use rill_shard::{Error, Rill, RillConfig, DEFAULT_DATABASE};

/// Opens without `common::open`'s `db` database: a fresh catalog as a user sees it.
fn open_plain(dir: &std::path::Path, shards: usize) -> Rill {
    let mut config = RillConfig::new(dir).with_shards(shards);
    config.block_cache_bytes_per_shard = 1 << 20;
    Rill::open(config).unwrap()
}

fn database_names(rill: &Rill) -> Vec<String> {
    rill.list_databases().iter().map(|d| d.name.clone()).collect()
}

fn table_names(rill: &Rill) -> Vec<String> {
    rill.list_tables().iter().map(|t| t.name().to_string()).collect()
}

#[test]
fn create_list_and_drop_databases() {
    let dir = tempfile::tempdir().unwrap();
    let rill = open_plain(dir.path(), 2);
    assert_eq!(database_names(&rill), [DEFAULT_DATABASE], "a fresh catalog holds the default database");

    let before_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let sales = rill.create_database("sales", false).unwrap();
    assert_eq!(sales.name, "sales");
    assert!(sales.created_ms >= before_ms && sales.created_ms < before_ms + 60_000, "{}", sales.created_ms);
    rill.create_database("archive", false).unwrap();
    assert_eq!(database_names(&rill), ["archive", DEFAULT_DATABASE, "sales"]);
    assert_eq!(rill.describe_database("sales").unwrap(), sales);

    let e = rill.create_database("sales", false).unwrap_err();
    assert!(matches!(&e, Error::DatabaseExists { name } if name == "sales"), "{e}");
    assert!(e.to_string().contains("database 'sales' already exists"), "{e}");
    let again = rill.create_database("sales", true).unwrap();
    assert_eq!(again, sales, "if-not-exists returns the existing database unchanged");

    rill.drop_database("archive", false, false).unwrap();
    assert_eq!(database_names(&rill), [DEFAULT_DATABASE, "sales"]);
    let e = rill.drop_database("archive", false, false).unwrap_err();
    assert!(matches!(&e, Error::UnknownDatabase { name } if name == "archive"), "{e}");
    rill.drop_database("archive", true, false).unwrap();
    rill.drop_database("archive", true, true).unwrap();
    let e = rill.describe_database("archive").unwrap_err();
    assert!(matches!(e, Error::UnknownDatabase { .. }), "{e}");
    assert_eq!(database_names(&rill), [DEFAULT_DATABASE, "sales"]);

    for bad in ["", "a.b", "with space", &"x".repeat(201)] {
        let e = rill.create_database(bad, true).unwrap_err();
        assert!(matches!(e, Error::InvalidName { .. }), "{bad:?}: {e}");
    }
    assert_eq!(database_names(&rill), [DEFAULT_DATABASE, "sales"], "bad names changed nothing");
    rill.shutdown();
}

#[test]
fn tables_need_their_database() {
    let dir = tempfile::tempdir().unwrap();
    let rill = open_plain(dir.path(), 2);
    let e = rill.create_table(common::log_table("nowhere.events", 2)).unwrap_err();
    assert!(matches!(&e, Error::UnknownDatabase { name } if name == "nowhere"), "{e}");
    assert!(e.to_string().contains("unknown database 'nowhere'"), "{e}");
    let e = rill.create_table_if_not_exists(common::log_table("nowhere.events", 2)).unwrap_err();
    assert!(matches!(e, Error::UnknownDatabase { .. }), "{e}");
    let e = rill.create_table(common::log_table("db.", 2)).unwrap_err();
    assert!(matches!(e, Error::InvalidName { .. }), "{e}");
    assert!(rill.list_tables().is_empty());

    // A name without a database part lives in the default database; `fluss.` names too.
    let plain = rill.create_table(common::log_table("events", 1)).unwrap();
    assert_eq!(plain.database(), DEFAULT_DATABASE);
    rill.create_table(common::log_table("fluss.users", 1)).unwrap();
    let in_default: Vec<_> = rill.list_tables_in(DEFAULT_DATABASE).unwrap().iter().map(|t| t.id).collect();
    assert_eq!(in_default.len(), 2);
    assert!(matches!(rill.list_tables_in("nowhere").unwrap_err(), Error::UnknownDatabase { .. }));

    rill.create_database("db", false).unwrap();
    let first = rill.create_table(common::log_table("db.events", 2)).unwrap();
    let e = rill.create_table(common::log_table("db.events", 3)).unwrap_err();
    assert!(matches!(&e, Error::TableExists { name } if name == "db.events"), "{e}");
    let same = rill.create_table_if_not_exists(common::log_table("db.events", 3)).unwrap();
    assert_eq!(same, first, "if-not-exists returns the existing table unchanged");
    assert_eq!(rill.describe("db.events").unwrap().descriptor.bucket_count, 2);
    let fresh = rill.create_table_if_not_exists(common::pk_table("db.users", 2)).unwrap();
    assert_eq!(rill.describe("db.users").unwrap(), fresh);
    rill.upsert("db.users", common::users(&[1, 2], 0)).unwrap();
    rill.shutdown();
}

#[test]
fn dropping_a_database_with_tables_needs_cascade() {
    let dir = tempfile::tempdir().unwrap();
    let rill = open_plain(dir.path(), 2);
    rill.create_database("shop", false).unwrap();
    rill.create_database("other", false).unwrap();
    let events = rill.create_table(common::log_table("shop.events", 3)).unwrap();
    let users = rill.create_table(common::pk_table("shop.users", 2)).unwrap();
    rill.create_table(common::log_table("other.events", 1)).unwrap();
    rill.append("shop.events", None, common::events(0, 10)).unwrap();
    rill.upsert("shop.users", common::users(&[1, 2, 3], 0)).unwrap();
    rill.append("other.events", None, common::events(0, 4)).unwrap();
    for id in [events.id, users.id] {
        assert!(dir.path().join(format!("tables/{id}")).exists());
    }

    let e = rill.drop_database("shop", false, false).unwrap_err();
    match &e {
        Error::DatabaseNotEmpty { name, tables } => {
            assert_eq!(name, "shop");
            assert_eq!(tables, &["shop.events", "shop.users"]);
        }
        other => panic!("expected DatabaseNotEmpty, got {other}"),
    }
    assert!(e.to_string().contains("cascade"), "{e}");
    let e = rill.drop_database("shop", true, false).unwrap_err();
    assert!(matches!(e, Error::DatabaseNotEmpty { .. }), "if-exists does not imply cascade: {e}");
    // Nothing was lost by the refusals.
    assert_eq!(common::all_events(&rill, "shop.events").len(), 10);
    assert_eq!(common::lookup_scores(&rill, "shop.users", &[1, 2, 3]).0.len(), 3);

    rill.drop_database("shop", false, true).unwrap();
    assert_eq!(database_names(&rill), [DEFAULT_DATABASE, "other"]);
    assert_eq!(table_names(&rill), ["other.events"]);
    for id in [events.id, users.id] {
        assert!(!dir.path().join(format!("tables/{id}")).exists(), "table {id}'s data is gone");
    }
    let e = rill.append("shop.events", None, common::events(0, 1)).unwrap_err();
    assert!(matches!(e, Error::UnknownTable { .. }), "{e}");
    let e = rill.create_table(common::log_table("shop.events", 1)).unwrap_err();
    assert!(matches!(e, Error::UnknownDatabase { .. }), "{e}");
    assert_eq!(common::all_events(&rill, "other.events").len(), 4, "the other database is untouched");

    // Recreated, the database is empty and its old table names are free again.
    rill.create_database("shop", false).unwrap();
    assert!(rill.list_tables_in("shop").unwrap().is_empty());
    let again = rill.create_table(common::log_table("shop.events", 2)).unwrap();
    assert!(again.id > users.id, "ids are never reused");
    assert!(common::all_events(&rill, "shop.events").is_empty());
    rill.drop_database("shop", false, false).unwrap_err();
    rill.drop_table("shop.events").unwrap();
    rill.drop_database("shop", false, false).unwrap();
    rill.shutdown();
}

#[test]
fn databases_survive_restarts_with_other_shard_counts() {
    let dir = tempfile::tempdir().unwrap();
    let rill = open_plain(dir.path(), 4);
    let sales = rill.create_database("sales", false).unwrap();
    rill.create_database("empty", false).unwrap();
    rill.create_database("gone", false).unwrap();
    rill.create_table(common::log_table("gone.t", 1)).unwrap();
    rill.drop_database("gone", false, true).unwrap();
    rill.drop_database(DEFAULT_DATABASE, false, false).unwrap();
    rill.create_table(common::log_table("sales.events", 4)).unwrap();
    rill.append("sales.events", None, common::events(0, 20)).unwrap();
    rill.shutdown();
    drop(rill);

    for shards in [2, 3] {
        let rill = open_plain(dir.path(), shards);
        assert_eq!(database_names(&rill), ["empty", "sales"], "{shards} shards");
        assert_eq!(rill.describe_database("sales").unwrap(), sales, "created time kept");
        assert_eq!(table_names(&rill), ["sales.events"]);
        assert_eq!(common::all_events(&rill, "sales.events").len(), 20);
        let e = rill.drop_database("sales", false, false).unwrap_err();
        assert!(matches!(e, Error::DatabaseNotEmpty { .. }), "{e}");
        let e = rill.create_table(common::log_table("gone.t", 1)).unwrap_err();
        assert!(matches!(e, Error::UnknownDatabase { .. }), "{e}");
        rill.shutdown();
    }
    assert!(!dir.path().join("tables/1").exists(), "the cascaded table's data is gone");
}

//! One-key lookups go through reusable call slots of the owning shard (`runtime/point.rs`):
//! more threads than slots, abandoned async calls and every answer kind must give exactly the
//! answers of the general path.
#![allow(clippy::unwrap_used)]

mod common;

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Waker};

use arrow_array::{Array, Int64Array, StringArray};

/// More callers than a shard has call slots (64), each looking up its own keys: every answer
/// belongs to its caller's key, whether it went through a slot or the general path.
#[test]
fn threads_beyond_the_slot_count_get_their_own_answers() {
    let dir = tempfile::tempdir().unwrap();
    let rill = common::open(dir.path(), 2);
    rill.create_table(common::pk_table("db.users", 3)).unwrap();
    let ids: Vec<i64> = (0..400).collect();
    rill.upsert("db.users", common::users(&ids, 7)).unwrap();
    let threads: Vec<_> = (0..80i64)
        .map(|t| {
            let rill = rill.clone();
            std::thread::spawn(move || {
                for round in 0..40i64 {
                    let id = (t * 41 + round * 7) % 500;
                    let (rows, found) = rill.lookup("db.users", common::user_keys(&[id])).unwrap();
                    assert_eq!(found, [id < 400], "key {id}");
                    assert_eq!(rows.num_rows(), usize::from(id < 400), "key {id}");
                    assert_eq!(rows.schema(), common::user_schema().to_arrow(), "key {id}");
                    if id < 400 {
                        let got = rows.column(0).as_any().downcast_ref::<Int64Array>().unwrap().value(0);
                        let name = rows.column(1).as_any().downcast_ref::<StringArray>().unwrap().value(0);
                        let score = rows.column(2).as_any().downcast_ref::<Int64Array>().unwrap().value(0);
                        assert_eq!((got, name, score), (id, format!("user-{id}").as_str(), id * 10 + 7));
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    rill.shutdown();
}

/// Async one-key lookups dropped after their request was queued (more of them than a shard has
/// slots) leave no slot behind and no answer for a later call: later calls still get their own
/// rows, through slots and the general path alike.
#[test]
fn abandoned_async_lookups_do_not_leak_or_mix_answers() {
    let dir = tempfile::tempdir().unwrap();
    let rill = common::open(dir.path(), 1);
    rill.create_table(common::pk_table("db.users", 1)).unwrap();
    let ids: Vec<i64> = (0..300).collect();
    rill.upsert("db.users", common::users(&ids, 1)).unwrap();
    let mut cx = Context::from_waker(Waker::noop());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    for id in 0..200i64 {
        let mut call = pin!(rill.lookup_async("db.users", common::user_keys(&[id])));
        // Queued (the first poll sends it), then dropped before (or after) the answer.
        let _ = call.as_mut().poll(&mut cx);
    }
    for id in 200..300i64 {
        let (rows, found) = rill.lookup("db.users", common::user_keys(&[id])).unwrap();
        assert_eq!(found, [true]);
        let got = rows.column(0).as_any().downcast_ref::<Int64Array>().unwrap().value(0);
        assert_eq!(got, id);
        // On a real executor: the shard's answer wakes the task through the slot's waker.
        let (rows, found) = runtime.block_on(rill.lookup_async("db.users", common::user_keys(&[id]))).unwrap();
        assert_eq!(found, [true]);
        assert_eq!(rows.column(0).as_any().downcast_ref::<Int64Array>().unwrap().value(0), id);
    }
    rill.shutdown();
}

/// A lookup after shutdown fails (ShardGone) instead of waiting for a slot's answer.
#[test]
fn one_key_lookup_after_shutdown_fails() {
    let dir = tempfile::tempdir().unwrap();
    let rill = common::open(dir.path(), 1);
    rill.create_table(common::pk_table("db.users", 1)).unwrap();
    rill.upsert("db.users", common::users(&[1], 0)).unwrap();
    assert_eq!(rill.lookup("db.users", common::user_keys(&[1])).unwrap().1, [true]);
    rill.shutdown();
    let err = rill.lookup("db.users", common::user_keys(&[1])).unwrap_err();
    assert!(matches!(err, rill_shard::Error::ShardGone { .. }), "{err:?}");
}

/// A primary-key table with a column of (almost) every type; `time_ns` adds a TIME(9) (whose
/// sub-millisecond part Fluss's row format would lose: answers must stay Arrow).
fn typed_table(name: &str, time_ns: bool) -> rill_engine::schema::TableDescriptor {
    use rill_engine::schema::{Column, DataType, Schema};
    let mut columns = vec![
        Column::not_null("id", DataType::BigInt),
        Column::new("flag", DataType::Boolean),
        Column::new("tiny", DataType::TinyInt),
        Column::new("f", DataType::Float),
        Column::new("d", DataType::Double),
        Column::new("dec", DataType::Decimal { precision: 20, scale: 4 }),
        Column::new("s", DataType::String),
        Column::new("fixed", DataType::Binary { length: 4 }),
        Column::new("raw", DataType::Bytes),
        Column::new("day", DataType::Date),
        Column::new("t3", DataType::Time { precision: 3 }),
        Column::new("ts9", DataType::Timestamp { precision: 9 }),
        Column::new("ltz3", DataType::TimestampLtz { precision: 3 }),
    ];
    if time_ns {
        columns.push(Column::new("t9", DataType::Time { precision: 9 }));
    }
    let mut d = common::pk_descriptor(name, Schema::new(columns), "id");
    d.bucket_count = 3;
    d
}

/// Rows of `table` for `ids`: the second row is null in every nullable column.
fn typed_rows(table: &rill_engine::schema::TableDescriptor, ids: &[i64]) -> arrow_array::RecordBatch {
    use std::sync::Arc;

    use arrow_array::*;
    use arrow_schema::{DataType as A, TimeUnit};
    let arrow = table.schema.to_arrow();
    let at = |f: &arrow_schema::Field| -> Vec<Option<i64>> {
        ids.iter().enumerate().map(|(i, &id)| (i != 1 || !f.is_nullable()).then_some(id)).collect()
    };
    let columns: Vec<ArrayRef> = arrow
        .fields()
        .iter()
        .map(|f| -> ArrayRef {
            let v = at(f);
            match f.data_type() {
                A::Int64 => Arc::new(Int64Array::from(v)),
                A::Boolean => Arc::new(v.iter().map(|x| x.map(|x| x % 2 == 0)).collect::<BooleanArray>()),
                A::Int8 => Arc::new(v.iter().map(|x| x.map(|x| (x % 100) as i8)).collect::<Int8Array>()),
                A::Float32 => Arc::new(v.iter().map(|x| x.map(|x| x as f32 * 0.5)).collect::<Float32Array>()),
                A::Float64 => Arc::new(v.iter().map(|x| x.map(|x| x as f64 / 3.0)).collect::<Float64Array>()),
                A::Decimal128(p, s) => Arc::new(
                    v.iter()
                        .map(|x| x.map(|x| i128::from(x) * 123_456_789))
                        .collect::<Decimal128Array>()
                        .with_precision_and_scale(*p, *s)
                        .unwrap(),
                ),
                A::Utf8 => Arc::new(v.iter().map(|x| x.map(|x| format!("text {x} é"))).collect::<StringArray>()),
                A::FixedSizeBinary(4) => Arc::new(
                    FixedSizeBinaryArray::try_from_sparse_iter_with_size(
                        v.iter().map(|x| x.map(|x| (x as u32).to_be_bytes())),
                        4,
                    )
                    .unwrap(),
                ),
                A::Binary => Arc::new(v.iter().map(|x| x.map(|x| vec![x as u8; 3])).collect::<BinaryArray>()),
                A::Date32 => Arc::new(v.iter().map(|x| x.map(|x| x as i32 * 11)).collect::<Date32Array>()),
                A::Time32(TimeUnit::Millisecond) => {
                    Arc::new(v.iter().map(|x| x.map(|x| x as i32 * 1_001)).collect::<Time32MillisecondArray>())
                }
                A::Time64(TimeUnit::Nanosecond) => {
                    Arc::new(v.iter().map(|x| x.map(|x| x * 1_000_000_007)).collect::<Time64NanosecondArray>())
                }
                A::Timestamp(TimeUnit::Nanosecond, tz) => Arc::new(
                    v.iter()
                        .map(|x| x.map(|x| x * 1_000_000_007))
                        .collect::<TimestampNanosecondArray>()
                        .with_timezone_opt(tz.clone()),
                ),
                A::Timestamp(TimeUnit::Millisecond, tz) => Arc::new(
                    v.iter()
                        .map(|x| x.map(|x| x * 1_001))
                        .collect::<TimestampMillisecondArray>()
                        .with_timezone_opt(tz.clone()),
                ),
                other => panic!("no sample values for {other}"),
            }
        })
        .collect();
    RecordBatch::try_new(arrow, columns).unwrap()
}

/// One-key lookups (answered through the call slots, as the shards' count shows: the caller
/// slices the row out of the columns the shard lends it) give exactly the rows written, nulls
/// included, and what lookups of several keys (the general path) give: from the memtable and,
/// after a restart, from SSTs whose blocks also hold a tombstone (nulls in NOT NULL columns).
#[test]
fn one_key_answers_are_the_rows_written_for_every_type() {
    let dir = tempfile::tempdir().unwrap();
    let ids = [1i64, 2, 3, 40];
    let tables = [typed_table("db.typed", false), typed_table("db.typed_ns", true)];
    let rill = common::open(dir.path(), 2);
    for table in &tables {
        rill.create_table(table.clone()).unwrap();
        rill.upsert(&table.name, typed_rows(table, &ids)).unwrap();
        rill.delete(&table.name, common::user_keys(&[3])).unwrap();
    }
    check_typed_lookups(&rill, &tables, &ids, "memtable");
    rill.shutdown();
    let rill = common::open(dir.path(), 2);
    check_typed_lookups(&rill, &tables, &ids, "SSTs after a restart");
    rill.shutdown();
}

fn check_typed_lookups(
    rill: &rill_shard::Rill,
    tables: &[rill_engine::schema::TableDescriptor],
    ids: &[i64],
    round: &str,
) {
    let answered = rill.point_lookups_answered().unwrap();
    let mut one_key_lookups = 0;
    for table in tables {
        let written = typed_rows(table, ids);
        for (row, &id) in ids.iter().enumerate() {
            one_key_lookups += 1;
            if id == 3 {
                let (gone, found) = rill.lookup(&table.name, common::user_keys(&[id])).unwrap();
                assert_eq!((found, gone.num_rows()), (vec![false], 0), "{} deleted key ({round})", table.name);
                continue;
            }
            let (one, found) = rill.lookup(&table.name, common::user_keys(&[id])).unwrap();
            assert_eq!(found, [true], "{} key {id} ({round})", table.name);
            assert_eq!(one, written.slice(row, 1), "{} key {id} ({round})", table.name);
            let (two, found) = rill.lookup(&table.name, common::user_keys(&[id, 999])).unwrap();
            assert_eq!(found, [true, false]);
            assert_eq!(two, one, "{} key {id}: general path ({round})", table.name);
        }
        one_key_lookups += 1;
        let (none, found) = rill.lookup(&table.name, common::user_keys(&[999])).unwrap();
        assert_eq!((found, none.num_rows(), none.schema()), (vec![false], 0, table.schema.to_arrow()));
    }
    let through_slots = rill.point_lookups_answered().unwrap() - answered;
    assert_eq!(through_slots, one_key_lookups, "every one-key lookup went through a slot ({round})");
}

/// Keys longer than a slot carries inline travel in its key buffer; short and long keys
/// alternate on the same slots and each call gets its own row.
#[test]
fn long_and_short_keys_alternate_on_the_slots() {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, RecordBatch};
    use rill_engine::schema::{Column, DataType, Schema};
    let schema = Schema::new(vec![Column::not_null("name", DataType::String), Column::new("score", DataType::BigInt)]);
    let table = common::pk_descriptor("db.named", schema.clone(), "name");
    let names: Vec<String> = (0..40)
        .map(|i| if i % 2 == 0 { format!("k{i}") } else { format!("a key longer than the slot's inline bytes {i}") })
        .collect();
    let rows = RecordBatch::try_new(
        schema.to_arrow(),
        vec![
            Arc::new(StringArray::from(names.clone())) as ArrayRef,
            Arc::new(Int64Array::from_iter_values(0..40)) as ArrayRef,
        ],
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let rill = common::open(dir.path(), 1);
    rill.create_table(table).unwrap();
    rill.upsert("db.named", rows).unwrap();
    let key = |name: &str| common::keys_of("name", Arc::new(StringArray::from(vec![name])));
    for round in 0..3 {
        for (i, name) in names.iter().enumerate() {
            let (row, found) = rill.lookup("db.named", key(name)).unwrap();
            assert_eq!(found, [true], "{name} (round {round})");
            let score = row.column(1).as_any().downcast_ref::<Int64Array>().unwrap().value(0);
            assert_eq!(score, i as i64, "{name} (round {round})");
        }
        let (row, found) = rill.lookup("db.named", key("a missing key longer than the inline bytes")).unwrap();
        assert_eq!((found, row.num_rows()), (vec![false], 0));
    }
    assert_eq!(rill.point_lookups_answered().unwrap(), 3 * 41, "every one went through a slot");
    rill.shutdown();
}

/// Table ids restart at 1 in every `Rill`: one thread looking up keys in two of them (tables
/// with the same ids and types but other column names) gets each table's own schema.
#[test]
fn equal_table_ids_of_two_rills_keep_their_own_schemas() {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, RecordBatch};
    use rill_engine::schema::{Column, DataType, Schema};
    let open = |dir: &std::path::Path, key: &str, value: &str| {
        let schema = Schema::new(vec![Column::not_null(key, DataType::BigInt), Column::new(value, DataType::BigInt)]);
        let table = common::pk_descriptor("db.t", schema.clone(), key);
        let rill = common::open(dir, 1);
        let info = rill.create_table(table).unwrap();
        let columns: Vec<ArrayRef> = vec![Arc::new(Int64Array::from(vec![7])), Arc::new(Int64Array::from(vec![70]))];
        rill.upsert("db.t", RecordBatch::try_new(schema.to_arrow(), columns).unwrap()).unwrap();
        (rill, info.id)
    };
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, id_a) = open(dir_a.path(), "id", "score");
    let (b, id_b) = open(dir_b.path(), "user", "amount");
    assert_eq!(id_a, id_b, "the case under test: the same table id in both");
    let key = |name: &str| common::keys_of(name, Arc::new(Int64Array::from(vec![7])));
    for _ in 0..3 {
        let (rows, _) = a.lookup("db.t", key("id")).unwrap();
        assert_eq!((rows.schema().field(0).name().as_str(), rows.schema().field(1).name().as_str()), ("id", "score"));
        let (rows, _) = b.lookup("db.t", key("user")).unwrap();
        assert_eq!(
            (rows.schema().field(0).name().as_str(), rows.schema().field(1).name().as_str()),
            ("user", "amount")
        );
    }
    assert_eq!((a.point_lookups_answered().unwrap(), b.point_lookups_answered().unwrap()), (3, 3));
    a.shutdown();
    b.shutdown();
}

/// Rows written before a column was added (read back from SSTs after a restart) and after it
/// come through the slots with the new column (null for the old rows).
#[test]
fn one_key_lookups_read_old_and_new_rows_after_a_column_is_added() {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, RecordBatch};
    use rill_engine::schema::{Column, DataType};
    let dir = tempfile::tempdir().unwrap();
    let rill = common::open(dir.path(), 1);
    rill.create_table(common::pk_table("db.users", 1)).unwrap();
    rill.upsert("db.users", common::users(&[1, 2], 0)).unwrap();
    rill.shutdown();
    let rill = common::open(dir.path(), 1);
    let info = rill.add_columns("db.users", vec![Column::new("level", DataType::BigInt)]).unwrap();
    let schema = info.descriptor.schema.to_arrow();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(vec![3])),
        Arc::new(StringArray::from(vec!["user-3"])),
        Arc::new(Int64Array::from(vec![30])),
        Arc::new(Int64Array::from(vec![9])),
    ];
    rill.upsert("db.users", RecordBatch::try_new(Arc::clone(&schema), columns).unwrap()).unwrap();
    let answered = rill.point_lookups_answered().unwrap();
    for id in [1i64, 2, 3] {
        let (rows, found) = rill.lookup("db.users", common::user_keys(&[id])).unwrap();
        assert_eq!((found, rows.schema()), (vec![true], Arc::clone(&schema)), "key {id}");
        let level = rows.column(3).as_any().downcast_ref::<Int64Array>().unwrap();
        assert_eq!(level.is_null(0), id < 3, "key {id}: the added column");
        assert_eq!(rows.column(0).as_any().downcast_ref::<Int64Array>().unwrap().value(0), id);
    }
    assert_eq!(rill.point_lookups_answered().unwrap() - answered, 3, "answered through the slots");
    rill.shutdown();
}

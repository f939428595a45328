//! Unit tests of the merge engines and of their table properties.

use super::*;
use crate::schema::{Column, DataType, Schema, TableDescriptor};

/// `orders(id BIGINT NOT NULL PK, ver BIGINT, amount INT, name STRING, ok BOOLEAN)`.
fn table(properties: &[(&str, &str)]) -> TableDescriptor {
    let mut t = TableDescriptor::log_table(
        "orders",
        Schema::new(vec![
            Column::not_null("id", DataType::BigInt),
            Column::new("ver", DataType::BigInt),
            Column::new("amount", DataType::Int),
            Column::new("name", DataType::String),
            Column::new("ok", DataType::Boolean),
        ]),
    );
    t.primary_key = vec!["id".into()];
    t.properties = properties.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    t
}

fn engine(properties: &[(&str, &str)]) -> MergeEngine {
    match MergeEngine::from_table(&table(properties)) {
        Ok(e) => e,
        Err(e) => panic!("{e}"),
    }
}

fn rejection(desc: &TableDescriptor) -> String {
    match MergeEngine::from_table(desc) {
        Ok(_) => "accepted".into(),
        Err(e) => e.to_string(),
    }
}

fn row(id: i64, ver: Option<i64>, amount: Option<i64>, name: Option<&str>, ok: Option<bool>) -> Vec<Datum> {
    vec![
        Datum::Int(id),
        ver.map_or(Datum::Null, Datum::Int),
        amount.map_or(Datum::Null, Datum::Int),
        name.map_or(Datum::Null, |n| Datum::Str(n.into())),
        ok.map_or(Datum::Null, Datum::Bool),
    ]
}

fn upsert(e: &MergeEngine, old: Option<&[Datum]>, new: &[Datum], targets: Option<&[usize]>) -> Outcome {
    match e.upsert(old, new, targets) {
        Ok(o) => o,
        Err(err) => panic!("{err}"),
    }
}

fn upsert_error(e: &MergeEngine, old: Option<&[Datum]>, new: &[Datum], targets: Option<&[usize]>) -> String {
    match e.upsert(old, new, targets) {
        Ok(o) => format!("accepted: {o:?}"),
        Err(err) => err.to_string(),
    }
}

fn delete(e: &MergeEngine, old: Option<&[Datum]>, targets: Option<&[usize]>) -> Outcome {
    match e.delete(old, targets) {
        Ok(o) => o,
        Err(err) => panic!("{err}"),
    }
}

#[test]
fn default_engine_last_write_wins() {
    let e = engine(&[]);
    assert_eq!(e.kind(), MergeKind::Default);
    assert_eq!(e.delete_behavior(), DeleteBehavior::Allow);
    let a = row(1, Some(1), Some(10), Some("a"), None);
    let b = row(1, None, Some(20), None, Some(true));
    assert_eq!(upsert(&e, None, &a, None), Outcome::Put(a.clone()));
    assert_eq!(upsert(&e, Some(&a), &b, None), Outcome::Put(b.clone()));
    // Fluss emits -U/+U even for an identical row.
    assert_eq!(upsert(&e, Some(&a), &a, None), Outcome::Put(a.clone()));
    assert!(e.is_last_write_wins_full_row(None));
    assert!(e.is_last_write_wins_full_row(Some(&[4, 3, 2, 1, 0])));
    assert!(!e.is_last_write_wins_full_row(Some(&[0, 2])));
    assert_eq!(delete(&e, Some(&a), None), Outcome::Delete);
    assert_eq!(delete(&e, None, None), Outcome::Unchanged);
    assert!(!engine(&[("table.merge-engine", "first_row")]).is_last_write_wins_full_row(None));
}

#[test]
fn default_engine_partial_update_keeps_the_other_columns() {
    let e = engine(&[("table.merge-engine", "DEFAULT")]);
    let old = row(1, Some(1), Some(10), Some("a"), Some(false));
    let new = row(1, Some(99), Some(20), Some("ignored"), Some(true));
    let targets: &[usize] = &[0, 2, 4];
    assert_eq!(
        upsert(&e, Some(&old), &new, Some(targets)),
        Outcome::Put(row(1, Some(1), Some(20), Some("a"), Some(true)))
    );
    // A new key: the non-target columns are NULL.
    assert_eq!(upsert(&e, None, &new, Some(targets)), Outcome::Put(row(1, None, Some(20), None, Some(true))));
    // Only the primary key: an existing row is untouched (Fluss's updatePrimaryKeyOnly).
    assert_eq!(upsert(&e, Some(&old), &new, Some(&[0])), Outcome::Unchanged);
    assert_eq!(upsert(&e, None, &new, Some(&[0])), Outcome::Put(row(1, None, None, None, None)));
    // The datums of non-target columns are not read, not even checked.
    let sloppy = vec![Datum::Int(1), Datum::Str("x".into()), Datum::Int(5), Datum::Null, Datum::Null];
    assert_eq!(upsert(&e, None, &sloppy, Some(&[0, 2])), Outcome::Put(row(1, None, Some(5), None, None)));
}

#[test]
fn partial_deletes_null_the_targets_or_delete_the_row() {
    let e = engine(&[]);
    let full = row(1, Some(1), Some(10), Some("a"), None);
    // Non-target columns (ver, name, ok) still hold values: null the targets only.
    assert_eq!(delete(&e, Some(&full), Some(&[0, 2])), Outcome::Put(row(1, Some(1), None, Some("a"), None)));
    // Every non-target column is NULL: the row goes.
    let thin = row(1, None, Some(10), None, None);
    assert_eq!(delete(&e, Some(&thin), Some(&[0, 2])), Outcome::Delete);
    // Nothing to null: unchanged.
    let already = row(1, Some(1), None, None, None);
    assert_eq!(delete(&e, Some(&already), Some(&[0, 2])), Outcome::Unchanged);
    assert_eq!(delete(&e, None, Some(&[0, 2])), Outcome::Unchanged);
}

#[test]
fn partial_updates_need_the_key_and_nullable_columns() {
    let e = engine(&[]);
    let new = row(1, Some(1), Some(10), Some("a"), None);
    let missing_pk = upsert_error(&e, None, &new, Some(&[1, 2]));
    assert!(missing_pk.contains("primary key column 'id'"), "{missing_pk}");
    assert!(upsert_error(&e, None, &new, Some(&[0, 7])).contains("target column 7"));
    assert!(e.check_targets(Some(&[2])).is_err());
    assert!(e.check_targets(Some(&[0, 2])).is_ok());
    assert!(e.delete(None, Some(&[2])).is_err());

    let mut strict = table(&[]);
    strict.schema.columns[3].nullable = false;
    let e = MergeEngine::from_table(&strict).ok();
    let err = e.map(|e| upsert_error(&e, None, &new, Some(&[0, 2])));
    assert!(matches!(&err, Some(m) if m.contains("NOT NULL column 'name'")), "{err:?}");
}

#[test]
fn written_rows_are_checked() {
    let e = engine(&[]);
    let mut null_key = row(1, None, None, None, None);
    null_key[0] = Datum::Null;
    assert!(upsert_error(&e, None, &null_key, None).contains("NOT NULL column 'id'"));
    let mut wrong = row(1, None, None, None, None);
    wrong[2] = Datum::Str("10".into());
    assert!(upsert_error(&e, None, &wrong, None).contains("column 'amount'"));
    let mut out_of_range = row(1, None, None, None, None);
    out_of_range[2] = Datum::Int(1 << 40);
    assert!(upsert_error(&e, None, &out_of_range, None).contains("column 'amount'"));
    assert!(upsert_error(&e, None, &[Datum::Int(1)], None).contains("5 values"));
}

#[test]
fn first_row_keeps_the_first_row() {
    let e = engine(&[("table.merge-engine", "first_row")]);
    assert_eq!(e.kind(), MergeKind::FirstRow);
    assert_eq!(e.delete_behavior(), DeleteBehavior::Ignore);
    let a = row(1, None, Some(1), None, None);
    let b = row(1, None, Some(2), None, None);
    assert_eq!(upsert(&e, None, &a, None), Outcome::Put(a.clone()));
    assert_eq!(upsert(&e, Some(&a), &b, None), Outcome::Unchanged);
    assert_eq!(delete(&e, Some(&a), None), Outcome::Unchanged);
    assert!(upsert_error(&e, None, &a, Some(&[0, 2])).contains("first_row merge engine has no partial updates"));
    // Targets naming every column are a full-row write.
    assert_eq!(upsert(&e, Some(&a), &b, Some(&[0, 1, 2, 3, 4])), Outcome::Unchanged);
}

#[test]
fn versioned_replaces_on_greater_or_equal_version() {
    let e = engine(&[("table.merge-engine", "versioned"), ("table.merge-engine.versioned.ver-column", "ver")]);
    assert_eq!(e.kind(), MergeKind::Versioned { column: 1 });
    let v = |ver: Option<i64>, amount: i64| row(1, ver, Some(amount), None, None);
    assert_eq!(upsert(&e, None, &v(Some(5), 1), None), Outcome::Put(v(Some(5), 1)));
    assert_eq!(upsert(&e, Some(&v(Some(5), 1)), &v(Some(4), 2), None), Outcome::Unchanged);
    assert_eq!(upsert(&e, Some(&v(Some(5), 1)), &v(Some(5), 2), None), Outcome::Put(v(Some(5), 2)));
    assert_eq!(upsert(&e, Some(&v(Some(5), 1)), &v(Some(6), 2), None), Outcome::Put(v(Some(6), 2)));
    // NULL is the smallest version (BIGINT: Long.MIN_VALUE).
    // A NULL version is refused (rill's choice; Fluss would treat it as the smallest version).
    assert!(upsert_error(&e, None, &v(None, 1), None).contains("version column 'ver'"));
    assert!(upsert_error(&e, Some(&v(Some(5), 1)), &v(None, 2), None).contains("must not be null"));
    assert_eq!(delete(&e, Some(&v(Some(5), 1)), None), Outcome::Unchanged);
    assert!(
        upsert_error(&e, None, &v(Some(1), 1), Some(&[0, 1])).contains("versioned merge engine has no partial updates")
    );
}

#[test]
fn versioned_timestamp_orders_and_rejects_null() {
    let mut t = table(&[("table.merge-engine", "versioned"), ("table.merge-engine.versioned.ver-column", "ver")]);
    t.schema.columns[1].data_type = DataType::TimestampLtz { precision: 6 };
    let e = MergeEngine::from_table(&t).ok();
    let v = |ver: Option<i64>, amount: i64| row(1, ver, Some(amount), None, None);
    let outcome = e.as_ref().and_then(|e| e.upsert(Some(&v(Some(i64::MIN), 1)), &v(None, 2), None).ok());
    assert_eq!(outcome, None, "a NULL version is an error");
    let outcome = e.as_ref().and_then(|e| e.upsert(Some(&v(Some(10), 1)), &v(Some(9), 2), None).ok());
    assert_eq!(outcome, Some(Outcome::Unchanged));
    let outcome = e.as_ref().and_then(|e| e.upsert(Some(&v(Some(i64::MIN), 1)), &v(Some(i64::MIN), 2), None).ok());
    assert_eq!(outcome, Some(Outcome::Put(v(Some(i64::MIN), 2))));
}

fn aggregation(extra: &[(&str, &str)]) -> MergeEngine {
    let mut props = vec![("table.merge-engine", "aggregation")];
    props.extend_from_slice(extra);
    engine(&props)
}

#[test]
fn aggregation_folds_every_column() {
    let e = aggregation(&[
        ("fields.ver.agg", "max"),
        ("fields.amount.agg", "sum"),
        ("fields.name.agg", "listagg"),
        ("fields.ok.agg", "bool_and"),
    ]);
    assert_eq!(e.kind(), MergeKind::Aggregation);
    assert_eq!(e.delete_behavior(), DeleteBehavior::Ignore);
    assert_eq!(e.function(0), None);
    assert_eq!(e.function(2), Some(&AggFunction::Sum));
    let a = row(1, Some(3), Some(10), Some("a"), Some(true));
    // A new key stores the row as written.
    assert_eq!(upsert(&e, None, &a, None), Outcome::Put(a.clone()));
    let b = row(1, Some(2), Some(5), Some("b"), Some(false));
    assert_eq!(upsert(&e, Some(&a), &b, None), Outcome::Put(row(1, Some(3), Some(15), Some("a,b"), Some(false))));
    // NULLs are ignored.
    let nulls = row(1, None, None, None, None);
    assert_eq!(upsert(&e, Some(&a), &nulls, None), Outcome::Unchanged);
    // A result equal to the old row emits nothing.
    let same = row(1, Some(1), Some(0), None, Some(true));
    assert_eq!(upsert(&e, Some(&a), &same, None), Outcome::Unchanged);
}

#[test]
fn aggregation_defaults_to_last_value_ignore_nulls() {
    let e = aggregation(&[]);
    assert_eq!(e.function(3), Some(&AggFunction::LastValueIgnoreNulls));
    let a = row(1, Some(1), Some(10), Some("a"), Some(true));
    let b = row(1, None, Some(20), None, None);
    assert_eq!(upsert(&e, Some(&a), &b, None), Outcome::Put(row(1, Some(1), Some(20), Some("a"), Some(true))));
}

#[test]
fn aggregation_partial_update_folds_only_the_targets() {
    let e = aggregation(&[("fields.amount.agg", "sum"), ("fields.ver.agg", "sum")]);
    let old = row(1, Some(1), Some(10), Some("a"), None);
    let new = row(1, Some(100), Some(5), Some("b"), Some(true));
    assert_eq!(upsert(&e, Some(&old), &new, Some(&[0, 2])), Outcome::Put(row(1, Some(1), Some(15), Some("a"), None)));
    assert_eq!(upsert(&e, None, &new, Some(&[0, 2])), Outcome::Put(row(1, None, Some(5), None, None)));
    assert_eq!(upsert(&e, Some(&old), &new, Some(&[0])), Outcome::Unchanged);
}

#[test]
fn aggregation_deletes_follow_the_delete_behavior() {
    let a = row(1, Some(1), Some(10), Some("a"), None);
    assert_eq!(delete(&aggregation(&[]), Some(&a), None), Outcome::Unchanged);
    let allow = aggregation(&[("table.delete.behavior", "allow")]);
    assert_eq!(delete(&allow, Some(&a), None), Outcome::Delete);
    assert_eq!(delete(&allow, Some(&a), Some(&[0, 2])), Outcome::Put(row(1, Some(1), None, Some("a"), None)));
    assert_eq!(delete(&allow, Some(&row(1, None, Some(3), None, None)), Some(&[0, 2])), Outcome::Delete);
    let disable = aggregation(&[("table.delete.behavior", "Disable")]);
    let err = disable.delete(Some(&a), None).err().map(|e| e.to_string());
    assert!(matches!(&err, Some(m) if m.contains("table.delete.behavior") && m.contains("orders")), "{err:?}");
    assert!(disable.delete(None, None).is_err());
}

#[test]
fn default_engine_delete_behaviors() {
    let a = row(1, None, None, None, None);
    assert_eq!(delete(&engine(&[("table.delete.behavior", "ignore")]), Some(&a), None), Outcome::Unchanged);
    assert!(engine(&[("table.delete.behavior", "disable")]).delete(Some(&a), None).is_err());
}

#[test]
fn decimal_overflow_in_a_not_null_column_is_an_error() {
    let mut t = table(&[("table.merge-engine", "aggregation"), ("fields.amount.agg", "sum")]);
    t.schema.columns[2] = Column::not_null("amount", DataType::Decimal { precision: 3, scale: 1 });
    let e = MergeEngine::from_table(&t).ok();
    let r = |v: i128| vec![Datum::Int(1), Datum::Null, Datum::Decimal(v), Datum::Null, Datum::Null];
    let sum = e.as_ref().and_then(|e| e.upsert(Some(&r(500)), &r(400), None).ok());
    assert_eq!(sum, Some(Outcome::Put(r(900))));
    let err = e.as_ref().and_then(|e| e.upsert(Some(&r(500)), &r(500), None).err()).map(|e| e.to_string());
    assert!(matches!(&err, Some(m) if m.contains("NOT NULL column 'amount'")), "{err:?}");
    // In a nullable column the overflow is NULL, as in Fluss.
    t.schema.columns[2].nullable = true;
    let e = MergeEngine::from_table(&t).ok();
    let sum = e.as_ref().and_then(|e| e.upsert(Some(&r(500)), &r(500), None).ok());
    let mut null_sum = r(0);
    null_sum[2] = Datum::Null;
    assert_eq!(sum, Some(Outcome::Put(null_sum)));
}

#[test]
fn listagg_delimiters_come_from_fluss_or_paimon_keys() {
    let f = |props: &[(&str, &str)]| aggregation(props).function(3).cloned();
    let listagg = |d: &str| Some(AggFunction::ListAgg { delimiter: d.into() });
    assert_eq!(f(&[("fields.name.agg", "listagg")]), listagg(","));
    assert_eq!(f(&[("fields.name.agg", "listagg"), ("fields.name.listagg.delimiter", ";")]), listagg(";"));
    assert_eq!(f(&[("fields.name.agg", "string_agg"), ("fields.name.string_agg.delimiter", " | ")]), listagg(" | "));
    assert_eq!(f(&[("fields.name.agg", "listagg"), ("fields.name.list-agg-delimiter", "-")]), listagg("-"));
    assert_eq!(
        f(&[
            ("fields.name.agg", "listagg"),
            ("fields.name.listagg.delimiter", ";"),
            ("fields.name.list-agg-delimiter", "-")
        ]),
        listagg(";")
    );
    // The delimiter of another function is not read.
    assert_eq!(f(&[("fields.name.agg", "listagg"), ("fields.name.string_agg.delimiter", ";")]), listagg(","));
}

#[test]
fn bad_properties_are_rejected_with_clear_messages() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("table.merge-engine", "last_row")], "unknown table.merge-engine 'last_row'"),
        (&[("table.merge-engine", "versioned")], "'table.merge-engine.versioned.ver-column' must be set"),
        (
            &[("table.merge-engine", "versioned"), ("table.merge-engine.versioned.ver-column", "nope")],
            "version column 'nope'",
        ),
        (
            &[("table.merge-engine", "versioned"), ("table.merge-engine.versioned.ver-column", "name")],
            "must be INT, BIGINT, TIMESTAMP or TIMESTAMP_LTZ, but is STRING",
        ),
        (
            &[("table.merge-engine", "first_row"), ("table.delete.behavior", "allow")],
            "first_row merge engine does not support deletes",
        ),
        (
            &[
                ("table.merge-engine", "versioned"),
                ("table.merge-engine.versioned.ver-column", "ver"),
                ("table.delete.behavior", "allow"),
            ],
            "versioned merge engine does not support deletes",
        ),
        (&[("table.delete.behavior", "sometimes")], "unknown table.delete.behavior 'sometimes'"),
        (
            &[("table.merge-engine", "aggregation"), ("fields.amount.agg", "avg")],
            "unknown aggregate function 'avg' for column 'amount'",
        ),
        (
            &[("table.merge-engine", "aggregation"), ("fields.amount.agg", "")],
            "empty aggregate function name for column 'amount'",
        ),
        (&[("table.merge-engine", "aggregation"), ("fields.amount.agg", "rbm32")], "not supported by rill yet"),
        (
            &[("table.merge-engine", "aggregation"), ("fields.name.agg", "sum")],
            "aggregate function 'sum' of column 'name' does not take its type STRING",
        ),
        (
            &[("table.merge-engine", "aggregation"), ("fields.ok.agg", "max")],
            "'max' of column 'ok' does not take its type BOOLEAN",
        ),
        (&[("table.merge-engine", "aggregation"), ("fields.amount.agg", "listagg")], "'listagg' of column 'amount'"),
        (&[("table.merge-engine", "aggregation"), ("fields.amount.agg", "bool_or")], "'bool_or' of column 'amount'"),
        (
            &[("table.merge-engine", "aggregation"), ("fields.id.agg", "sum")],
            "primary key column 'id' cannot have an aggregate function",
        ),
        (
            &[("table.merge-engine", "aggregation"), ("fields.nope.agg", "sum")],
            "'fields.nope.agg' names unknown column 'nope'",
        ),
        (&[("fields.amount.agg", "sum")], "'fields.amount.agg' needs 'table.merge-engine' = 'aggregation'"),
        (
            &[
                ("table.merge-engine", "aggregation"),
                ("fields.name.agg", "listagg"),
                ("fields.name.listagg.delimiter", ""),
            ],
            "delimiter of column 'name' must not be empty",
        ),
        (
            &[
                ("table.merge-engine", "aggregation"),
                ("fields.name.agg", "listagg"),
                ("fields.name.listagg.separator", ";"),
            ],
            "has no parameter 'separator'",
        ),
    ];
    for (props, expected) in cases {
        let message = rejection(&table(props));
        assert!(message.contains(expected) && message.contains("'orders'"), "{props:?}: {message}");
    }
    let mut log = table(&[]);
    log.primary_key.clear();
    assert!(rejection(&log).contains("needs a primary key table"));
}

#[test]
fn property_values_are_case_insensitive_and_hyphens_allowed() {
    let e = aggregation(&[("fields.amount.agg", "SUM"), ("fields.name.agg", "Last-Value")]);
    assert_eq!(e.function(2), Some(&AggFunction::Sum));
    assert_eq!(e.function(3), Some(&AggFunction::LastValue));
    assert_eq!(engine(&[("table.merge-engine", "First_Row")]).kind(), MergeKind::FirstRow);
}

#[test]
fn every_function_name_is_accepted_by_some_column() {
    for name in FUNCTION_NAMES {
        let accepted = ["amount", "name", "ok"].iter().any(|column| {
            let key = format!("fields.{column}.agg");
            MergeEngine::from_table(&table(&[("table.merge-engine", "aggregation"), (key.as_str(), name)])).is_ok()
        });
        assert!(accepted, "{name}");
    }
}

//! Model test of the merge engines: random upserts and deletes (full and partial) applied
//! through `MergeEngine` to a `BTreeMap` of rows must equal a plain model of each engine written
//! here from Fluss's documented rules, after every operation.
//!
//! The aggregation model keeps every column's history of written values and folds the column's
//! function over it (nulls skipped, except by `last_value`); a partial delete clears the history
//! of the target columns.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use proptest::prelude::*;
use rill_engine::schema::{Column, DataType, Schema, TableDescriptor};
use rill_engine::table::merge::{Datum, MergeEngine, Outcome};

/// Columns: k INT NOT NULL (PK), v BIGINT, a INT, d DECIMAL(18, 2), s STRING, b BOOLEAN,
/// l STRING, f INT, n INT.
const WIDTH: usize = 9;
const K: usize = 0;
const V: usize = 1;
const A: usize = 2;
const D: usize = 3;
const S: usize = 4;
const B: usize = 5;
const L: usize = 6;
const F: usize = 7;
const N: usize = 8;

fn table(properties: &[(&str, &str)]) -> TableDescriptor {
    let mut t = TableDescriptor::log_table(
        "model",
        Schema::new(vec![
            Column::not_null("k", DataType::Int),
            Column::new("v", DataType::BigInt),
            Column::new("a", DataType::Int),
            Column::new("d", DataType::Decimal { precision: 18, scale: 2 }),
            Column::new("s", DataType::String),
            Column::new("b", DataType::Boolean),
            Column::new("l", DataType::String),
            Column::new("f", DataType::Int),
            Column::new("n", DataType::Int),
        ]),
    );
    t.primary_key = vec!["k".into()];
    t.properties = properties.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    t
}

type Row = Vec<Datum>;

#[derive(Clone, Debug)]
enum Op {
    Upsert { row: Row, targets: Option<Vec<usize>> },
    Delete { key: i64, targets: Option<Vec<usize>> },
}

fn nullable<T: std::fmt::Debug + Clone + 'static>(
    value: impl Strategy<Value = T> + 'static,
) -> BoxedStrategy<Option<T>> {
    prop_oneof![1 => Just(None), 4 => value.prop_map(Some)].boxed()
}

fn row_strategy() -> impl Strategy<Value = Row> {
    let int = prop_oneof![3 => -5i64..5, 1 => Just(i64::from(i32::MAX) - 1), 1 => Just(i64::from(i32::MIN) + 1)];
    let text = || prop::sample::select(vec!["x", "y", "zz", ""]).prop_map(str::to_string);
    (
        0i64..4,
        nullable(-3i64..3),
        nullable(int.clone()),
        nullable(-1_000_000i128..1_000_000),
        nullable(text()),
        nullable(any::<bool>()),
        (nullable(text()), nullable(-5i64..5), nullable(int)),
    )
        .prop_map(|(k, v, a, d, s, b, (l, f, n))| {
            let int = |x: Option<i64>| x.map_or(Datum::Null, Datum::Int);
            let str = |x: Option<String>| x.map_or(Datum::Null, Datum::Str);
            vec![
                Datum::Int(k),
                int(v),
                int(a),
                d.map_or(Datum::Null, Datum::Decimal),
                str(s),
                b.map_or(Datum::Null, Datum::Bool),
                str(l),
                int(f),
                int(n),
            ]
        })
}

/// `None` (full row) or the key plus a random subset of the other columns, in random order.
fn targets_strategy() -> impl Strategy<Value = Option<Vec<usize>>> {
    let subset = prop::collection::vec(any::<bool>(), WIDTH - 1).prop_flat_map(|picks| {
        let mut cols: Vec<usize> = vec![K];
        cols.extend(picks.iter().enumerate().filter(|(_, p)| **p).map(|(i, _)| i + 1));
        Just(cols).prop_shuffle()
    });
    prop_oneof![1 => Just(None), 1 => subset.prop_map(Some)]
}

fn ops_strategy() -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        3 => (row_strategy(), targets_strategy()).prop_map(|(row, targets)| Op::Upsert { row, targets }),
        1 => (0i64..4, targets_strategy()).prop_map(|(key, targets)| Op::Delete { key, targets }),
    ];
    prop::collection::vec(op, 1..40)
}

fn key_of(row: &[Datum]) -> i64 {
    match row.first() {
        Some(Datum::Int(k)) => *k,
        other => panic!("no key in {other:?}"),
    }
}

fn is_partial(targets: &Option<Vec<usize>>) -> bool {
    targets.as_ref().is_some_and(|t| (0..WIDTH).any(|c| !t.contains(&c)))
}

fn targeted(targets: &Option<Vec<usize>>, column: usize) -> bool {
    targets.as_ref().is_none_or(|t| t.contains(&column))
}

/// Applies `op` through the engine to `table`; `Err` when the engine refused it.
fn apply(engine: &MergeEngine, table: &mut BTreeMap<i64, Row>, op: &Op) -> Result<(), String> {
    let (key, outcome) = match op {
        Op::Upsert { row, targets } => {
            let key = key_of(row);
            (key, engine.upsert(table.get(&key).map(Vec::as_slice), row, targets.as_deref()))
        }
        Op::Delete { key, targets } => (*key, engine.delete(table.get(key).map(Vec::as_slice), targets.as_deref())),
    };
    match outcome.map_err(|e| e.to_string())? {
        Outcome::Unchanged => {}
        Outcome::Put(row) => {
            assert_eq!(key_of(&row), key, "a put keeps the key");
            table.insert(key, row);
        }
        Outcome::Delete => {
            assert!(table.remove(&key).is_some(), "a delete of an absent key must be Unchanged");
        }
    }
    Ok(())
}

/// A model of one engine: what it expects of an op (accept or refuse) and the rows it holds.
trait Model {
    /// Applies the op; `false` when the engine must refuse it.
    fn apply(&mut self, op: &Op) -> bool;
    fn rows(&self) -> BTreeMap<i64, Row>;
}

fn run(properties: &[(&str, &str)], model: &mut dyn Model, ops: &[Op]) -> Result<(), TestCaseError> {
    let engine = MergeEngine::from_table(&table(properties)).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let mut state = BTreeMap::new();
    for (i, op) in ops.iter().enumerate() {
        let accepted = apply(&engine, &mut state, op);
        let expected = model.apply(op);
        prop_assert_eq!(accepted.is_ok(), expected, "op {} {:?}: {:?}", i, op, accepted);
        prop_assert_eq!(&state, &model.rows(), "after op {} {:?}", i, op);
    }
    Ok(())
}

/// The default engine with `table.delete.behavior` = allow.
#[derive(Default)]
struct LastWriteWins(BTreeMap<i64, Row>);

impl Model for LastWriteWins {
    fn apply(&mut self, op: &Op) -> bool {
        match op {
            Op::Upsert { row, targets } => {
                let key = key_of(row);
                let old = self.0.get(&key);
                let only_key = targets.as_ref().is_some_and(|t| t.iter().all(|c| *c == K));
                if only_key && old.is_some() {
                    return true;
                }
                let new: Row = (0..WIDTH)
                    .map(|c| match (targeted(targets, c), old) {
                        (true, _) => row[c].clone(),
                        (false, Some(old)) => old[c].clone(),
                        (false, None) => Datum::Null,
                    })
                    .collect();
                self.0.insert(key, new);
            }
            Op::Delete { key, targets } => partial_delete(&mut self.0, *key, targets),
        }
        true
    }
    fn rows(&self) -> BTreeMap<i64, Row> {
        self.0.clone()
    }
}

/// Fluss's partial delete: drop the row when every non-target column is null, else null the
/// target columns but the key.
fn partial_delete(rows: &mut BTreeMap<i64, Row>, key: i64, targets: &Option<Vec<usize>>) {
    let Some(row) = rows.get_mut(&key) else { return };
    if (0..WIDTH).all(|c| targeted(targets, c) || row[c].is_null()) {
        rows.remove(&key);
        return;
    }
    for c in (0..WIDTH).filter(|c| *c != K && targeted(targets, *c)) {
        row[c] = Datum::Null;
    }
}

/// first_row: the first row of a key stays; deletes are ignored; partial writes refused.
#[derive(Default)]
struct FirstRow(BTreeMap<i64, Row>);

impl Model for FirstRow {
    fn apply(&mut self, op: &Op) -> bool {
        match op {
            Op::Upsert { targets, .. } | Op::Delete { targets, .. } if is_partial(targets) => false,
            Op::Upsert { row, .. } => {
                self.0.entry(key_of(row)).or_insert_with(|| row.clone());
                true
            }
            Op::Delete { .. } => true,
        }
    }
    fn rows(&self) -> BTreeMap<i64, Row> {
        self.0.clone()
    }
}

/// versioned on `v`: a row replaces the stored one when its version is >=; a NULL version is
/// refused.
#[derive(Default)]
struct Versioned(BTreeMap<i64, Row>);

impl Model for Versioned {
    fn apply(&mut self, op: &Op) -> bool {
        let version = |row: &Row| match row[V] {
            Datum::Int(v) => v,
            _ => i64::MIN,
        };
        match op {
            Op::Upsert { targets, .. } | Op::Delete { targets, .. } if is_partial(targets) => false,
            Op::Upsert { row, .. } if row[V].is_null() => false,
            Op::Upsert { row, .. } => {
                let key = key_of(row);
                if self.0.get(&key).is_none_or(|old| version(row) >= version(old)) {
                    self.0.insert(key, row.clone());
                }
                true
            }
            Op::Delete { .. } => true,
        }
    }
    fn rows(&self) -> BTreeMap<i64, Row> {
        self.0.clone()
    }
}

const AGG_PROPERTIES: &[(&str, &str)] = &[
    ("table.merge-engine", "aggregation"),
    ("fields.v.agg", "min"),
    ("fields.a.agg", "sum"),
    ("fields.d.agg", "sum"),
    ("fields.s.agg", "listagg"),
    ("fields.s.listagg.delimiter", "|"),
    ("fields.b.agg", "bool_or"),
    ("fields.l.agg", "last_value"),
    ("fields.f.agg", "first_value"),
    // n: no function, last_value_ignore_nulls
];

/// aggregation: per key, the values each column was written (in order, nulls included).
struct Aggregation {
    deletes: bool,
    history: BTreeMap<i64, Vec<Vec<Datum>>>,
}

impl Aggregation {
    fn fold(column: usize, values: &[Datum]) -> Datum {
        let ints = || values.iter().filter_map(|d| if let Datum::Int(v) = d { Some(*v) } else { None });
        let strs = || values.iter().filter_map(|d| if let Datum::Str(v) = d { Some(v.as_str()) } else { None });
        let some_int = |v: Option<i64>| v.map_or(Datum::Null, Datum::Int);
        match column {
            V => some_int(ints().min()),
            A => some_int(ints().map(|v| v as i32).reduce(i32::wrapping_add).map(i64::from)),
            D => values
                .iter()
                .filter_map(|d| if let Datum::Decimal(v) = d { Some(*v) } else { None })
                .reduce(|x, y| x + y)
                .map_or(Datum::Null, Datum::Decimal),
            S => {
                let parts: Vec<&str> = strs().collect();
                if parts.is_empty() {
                    Datum::Null
                } else {
                    Datum::Str(parts.join("|"))
                }
            }
            B => values
                .iter()
                .filter_map(|d| if let Datum::Bool(v) = d { Some(*v) } else { None })
                .reduce(|x, y| x || y)
                .map_or(Datum::Null, Datum::Bool),
            L => values.last().cloned().unwrap_or(Datum::Null),
            F => some_int(ints().next()),
            N => some_int(ints().next_back()),
            _ => unreachable!("column {column}"),
        }
    }

    fn render(key: i64, history: &[Vec<Datum>]) -> Row {
        (0..WIDTH).map(|c| if c == K { Datum::Int(key) } else { Self::fold(c, &history[c]) }).collect()
    }
}

impl Model for Aggregation {
    fn apply(&mut self, op: &Op) -> bool {
        match op {
            Op::Upsert { row, targets } => {
                let key = key_of(row);
                let history = self.history.entry(key).or_insert_with(|| vec![Vec::new(); WIDTH]);
                for c in (0..WIDTH).filter(|c| *c != K && targeted(targets, *c)) {
                    history[c].push(row[c].clone());
                }
            }
            Op::Delete { key, targets } if self.deletes => {
                let Some(history) = self.history.get_mut(key) else { return true };
                let row = Self::render(*key, history);
                if (0..WIDTH).all(|c| targeted(targets, c) || row[c].is_null()) {
                    self.history.remove(key);
                } else {
                    for c in (0..WIDTH).filter(|c| *c != K && targeted(targets, *c)) {
                        history[c].clear();
                    }
                }
            }
            Op::Delete { .. } => {}
        }
        true
    }
    fn rows(&self) -> BTreeMap<i64, Row> {
        self.history.iter().map(|(k, h)| (*k, Self::render(*k, h))).collect()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn default_engine_matches_its_model(ops in ops_strategy()) {
        run(&[], &mut LastWriteWins::default(), &ops)?;
    }

    #[test]
    fn first_row_matches_its_model(ops in ops_strategy()) {
        run(&[("table.merge-engine", "first_row")], &mut FirstRow::default(), &ops)?;
    }

    #[test]
    fn versioned_matches_its_model(ops in ops_strategy()) {
        let properties = [("table.merge-engine", "versioned"), ("table.merge-engine.versioned.ver-column", "v")];
        run(&properties, &mut Versioned::default(), &ops)?;
    }

    #[test]
    fn aggregation_matches_its_model(ops in ops_strategy(), deletes in any::<bool>()) {
        let mut properties = AGG_PROPERTIES.to_vec();
        if deletes {
            properties.push(("table.delete.behavior", "allow"));
        }
        run(&properties, &mut Aggregation { deletes, history: BTreeMap::new() }, &ops)?;
    }
}

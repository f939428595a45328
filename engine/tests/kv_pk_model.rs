//! Model test of primary-key tables against a `BTreeMap` oracle, for every merge engine:
//! default (last write wins), first_row, versioned (on `n`) and aggregation (`n` sums; `v`
//! concatenates with `listagg` or keeps its last non-null value), each with the delete
//! behaviours rill accepts for it. Random upserts, deletes, partial updates and partial deletes,
//! flushes, compactions, crashes and restarts on the simulated backend, with or without injected
//! write and sync faults; lookups, prefix lookups and snapshots always agree with the oracle, and
//! the changelog replayed onto an empty map reproduces the table.
//!
//! The oracle applies each engine's rules itself ([`Setup::merge`], [`Setup::delete`]), written
//! from Fluss's documented rules, including the writes an engine refuses (a partial update of
//! first_row or versioned, a NULL version, a delete with `table.delete.behavior` = disable): a
//! refused write fails with `InvalidWrite` and changes nothing, not even its other records.
#![allow(clippy::unwrap_used)]

mod logkit;

use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray};
use futures_lite::future::block_on;
use proptest::collection::vec;
use proptest::prelude::*;
use rill_engine::batch::{ipc, BatchView, ChangeType};
use rill_engine::kv::cache::BlockCache;
use rill_engine::kv::sst::SstOptions;
use rill_engine::kv::tree::LsmConfig;
use rill_engine::log::{LogConfig, OffsetSpec, SimFaults, SimStorage};
use rill_engine::row::key::encode_key;
use rill_engine::schema::{Column, DataType, Schema, TableDescriptor};
use rill_engine::table::{KvWrite, PkConfig, PkTable};
use rill_engine::Error;

type Key = (i32, i64);
type Value = (Option<String>, Option<i64>);
type Oracle = BTreeMap<Key, Value>;

/// The merge engine of the table. `versioned` orders rows by `n`; `aggregation` sums `n`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Engine {
    /// Last write wins.
    Default,
    /// The first row of a key stays.
    FirstRow,
    /// A row replaces the stored one when its version `n` is greater or equal.
    Versioned,
    /// `n` sums; `v` is `listagg` with delimiter `|`, or `last_value_ignore_nulls` (the
    /// function of a column without `fields.v.agg`).
    Aggregation { listagg: bool },
}

/// `table.delete.behavior`: unset (the engine's default) or set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Deletes {
    Unset,
    Allow,
    Ignore,
    Disable,
}

/// The table under test: its engine and delete behaviour.
#[derive(Clone, Copy, Debug)]
struct Setup {
    engine: Engine,
    deletes: Deletes,
}

const DEFAULT: Setup = Setup { engine: Engine::Default, deletes: Deletes::Unset };

/// Why the oracle expects the table to refuse a write.
#[derive(Debug)]
struct Refused(&'static str);

impl Setup {
    fn properties(self) -> Vec<(&'static str, &'static str)> {
        let mut p = match self.engine {
            Engine::Default => Vec::new(),
            Engine::FirstRow => vec![("table.merge-engine", "first_row")],
            Engine::Versioned => {
                vec![("table.merge-engine", "versioned"), ("table.merge-engine.versioned.ver-column", "n")]
            }
            Engine::Aggregation { listagg } => {
                let mut p = vec![("table.merge-engine", "aggregation"), ("fields.n.agg", "sum")];
                if listagg {
                    p.extend([("fields.v.agg", "listagg"), ("fields.v.listagg.delimiter", "|")]);
                }
                p
            }
        };
        let delete = match self.deletes {
            Deletes::Unset => None,
            Deletes::Allow => Some("allow"),
            Deletes::Ignore => Some("ignore"),
            Deletes::Disable => Some("disable"),
        };
        p.extend(delete.map(|d| ("table.delete.behavior", d)));
        p
    }

    /// What a delete does: `allow` by default for the default engine, `ignore` for the others.
    fn delete_behavior(self) -> Deletes {
        match (self.deletes, self.engine) {
            (Deletes::Unset, Engine::Default) => Deletes::Allow,
            (Deletes::Unset, _) => Deletes::Ignore,
            (set, _) => set,
        }
    }

    /// first_row and versioned refuse partial updates and partial deletes.
    fn partial_writes(self) -> bool {
        matches!(self.engine, Engine::Default | Engine::Aggregation { .. })
    }

    /// The row of a key after an upsert of `new` onto `old` (`None` = absent); with `partial`
    /// the write targets `n` only (and `new.0` must not be read).
    fn merge(self, old: Option<&Value>, new: &Value, partial: bool) -> Result<Option<Value>, Refused> {
        if partial && !self.partial_writes() {
            return Err(Refused("a partial update"));
        }
        if self.engine == Engine::Versioned && new.1.is_none() {
            return Err(Refused("a NULL version"));
        }
        let Some(old) = old else {
            // A new key stores the written row, NULL in the columns a partial update skips.
            return Ok(Some(if partial { (None, new.1) } else { new.clone() }));
        };
        Ok(Some(match self.engine {
            Engine::Default if partial => (old.0.clone(), new.1),
            Engine::Default => new.clone(),
            Engine::FirstRow => old.clone(),
            Engine::Versioned => {
                let stored = old.1.expect("a stored row of a versioned table has a version");
                if new.1 >= Some(stored) {
                    new.clone()
                } else {
                    old.clone()
                }
            }
            Engine::Aggregation { listagg } => {
                let v = match (partial, listagg, &old.0, &new.0) {
                    (true, ..) => old.0.clone(),
                    (false, true, Some(a), Some(b)) => Some(format!("{a}|{b}")),
                    (false, _, old_v, new_v) => new_v.clone().or_else(|| old_v.clone()),
                };
                let n = match (old.1, new.1) {
                    (Some(a), Some(b)) => Some(a.wrapping_add(b)),
                    (a, b) => a.or(b),
                };
                (v, n)
            }
        }))
    }

    /// The row of a key after a delete (with `partial`, of `n` only) of `old`.
    fn delete(self, old: Option<&Value>, partial: bool) -> Result<Option<Value>, Refused> {
        if partial && !self.partial_writes() {
            return Err(Refused("a partial delete"));
        }
        match self.delete_behavior() {
            Deletes::Ignore => Ok(old.cloned()),
            Deletes::Disable => Err(Refused("a delete (table.delete.behavior = disable)")),
            Deletes::Allow | Deletes::Unset => Ok(match old {
                // A partial delete nulls `n`, or drops the row when the untargeted `v` is NULL.
                Some((Some(v), _)) if partial => Some((Some(v.clone()), None)),
                _ => None,
            }),
        }
    }

    /// The state after `op`, or why the table must refuse it (then nothing changes).
    fn expect(self, oracle: &Oracle, op: &Op) -> Result<Oracle, Refused> {
        let mut state = oracle.clone();
        let set = |state: &mut Oracle, key: &Key, row: Option<Value>| match row {
            Some(row) => state.insert(*key, row),
            None => state.remove(key),
        };
        // Records of one write apply in order, each on top of the ones before it.
        match op {
            Op::Upsert(records) => {
                for (k, v) in records {
                    let row = self.merge(state.get(k), v, false)?;
                    set(&mut state, k, row);
                }
            }
            Op::Partial(updates) => {
                for (k, n) in updates {
                    let row = self.merge(state.get(k), &partial_row(*n), true)?;
                    set(&mut state, k, row);
                }
            }
            Op::Delete(keys) | Op::PartialDelete(keys) => {
                for k in keys {
                    let row = self.delete(state.get(k), matches!(op, Op::PartialDelete(_)))?;
                    set(&mut state, k, row);
                }
            }
            Op::Flush | Op::Compact | Op::CompactElsewhere | Op::ZeroFill | Op::Crash | Op::Check(_) => {}
        }
        Ok(state)
    }
}

fn schema() -> Schema {
    Schema::new(vec![
        Column::not_null("a", DataType::Int),
        Column::not_null("b", DataType::BigInt),
        Column::new("v", DataType::String),
        Column::new("n", DataType::BigInt),
    ])
}

fn descriptor(setup: Setup) -> TableDescriptor {
    let mut d = TableDescriptor::log_table("db.kv", schema());
    d.primary_key = vec!["a".into(), "b".into()];
    d.bucket_key = Some(vec!["a".into()]);
    d.properties.insert("table.log.arrow.compression.type".into(), "NONE".into());
    for (k, v) in setup.properties() {
        d.properties.insert(k.into(), v.into());
    }
    d
}

fn config() -> PkConfig {
    let mut log = LogConfig::new("db.kv/b0", schema());
    log.segment_bytes_max = 64 * 1024;
    log.retention_ms_max = None;
    // Zeros ahead of the changelog's data (`Op::ZeroFill`), as a shard keeps them.
    log.zero_fill_bytes = 16 * 1024;
    let lsm = LsmConfig {
        memtable_bytes_max: 4 * 1024,
        l0_compaction_trigger: 3,
        // Small levels, so the model's few KiB of rows reach L2 and deeper: compactions into
        // L1 then run above non-empty levels, where tombstones must be kept.
        l1_bytes_target: 2 * 1024,
        level_size_multiplier: 2,
        sst_bytes_target: 16 * 1024,
        merge_chunk_rows: 64,
        // A few blocks per read, so compactions and snapshots cross read-ahead boundaries
        // inside an SST (the default reads these small SSTs whole).
        scan_read_bytes: 8 * 1024,
        // Several blocks per SST whatever the default block size.
        sst: SstOptions { block_bytes_target: 4 * 1024, ..SstOptions::default() },
        ..LsmConfig::default()
    };
    PkConfig { log, lsm }
}

fn try_open(sim: &SimStorage, setup: Setup) -> rill_engine::Result<PkTable<SimStorage>> {
    let cache = Rc::new(BlockCache::new(256 * 1024));
    block_on(PkTable::open(sim.clone(), descriptor(setup), config(), cache, logkit::ticking_clock(0)))
}

fn open(sim: &SimStorage, setup: Setup) -> PkTable<SimStorage> {
    try_open(sim, setup).unwrap()
}

fn rows(records: &[(Key, Value)]) -> RecordBatch {
    let a: ArrayRef = Arc::new(Int32Array::from_iter_values(records.iter().map(|((a, _), _)| *a)));
    let b: ArrayRef = Arc::new(Int64Array::from_iter_values(records.iter().map(|((_, b), _)| *b)));
    let v: ArrayRef = Arc::new(StringArray::from_iter(records.iter().map(|(_, (v, _))| v.clone())));
    let n: ArrayRef = Arc::new(Int64Array::from_iter(records.iter().map(|(_, (_, n))| *n)));
    RecordBatch::try_new(schema().to_arrow(), vec![a, b, v, n]).unwrap()
}

fn keys_of(batch: &RecordBatch, columns: &[usize]) -> Vec<Vec<u8>> {
    (0..batch.num_rows())
        .map(|i| {
            let mut out = Vec::new();
            encode_key(&schema(), columns, batch.columns(), i, &mut out).unwrap();
            out
        })
        .collect()
}

fn decode(batch: &RecordBatch) -> Vec<(Key, Value)> {
    let col = |i: usize| batch.column(i).clone();
    let a = col(0);
    let a = a.as_any().downcast_ref::<Int32Array>().unwrap();
    let b = col(1);
    let b = b.as_any().downcast_ref::<Int64Array>().unwrap();
    let v = col(2);
    let v = v.as_any().downcast_ref::<StringArray>().unwrap();
    let n = col(3);
    let n = n.as_any().downcast_ref::<Int64Array>().unwrap();
    (0..batch.num_rows())
        .map(|i| {
            let value = ((!v.is_null(i)).then(|| v.value(i).to_string()), (!n.is_null(i)).then(|| n.value(i)));
            ((a.value(i), b.value(i)), value)
        })
        .collect()
}

#[derive(Clone, Debug)]
enum Op {
    Upsert(Vec<(Key, Value)>),
    Delete(Vec<Key>),
    /// Sets only `n` of these keys.
    Partial(Vec<(Key, Option<i64>)>),
    /// Deletes only `n` of these keys.
    PartialDelete(Vec<Key>),
    Flush,
    Compact,
    /// Compaction steps whose merges run as jobs (`CompactionJob::execute`, which opens its
    /// inputs by id) on a second handle on the storage, on this thread, with a flush between
    /// each merge and its install: a new L0 SST appears between the plan and the install.
    CompactElsewhere,
    /// Zeroes ahead of the changelog's data until `zero_fill_bytes` are (background work in
    /// a shard): later writes land in zeroed space, and a crash leaves zeros after the data.
    ZeroFill,
    Crash,
    Check(Vec<Key>),
}

/// The row a partial update of `n` sends: `v` holds a value the table must not read.
fn partial_row(n: Option<i64>) -> Value {
    (Some("ignored".into()), n)
}

/// The target columns of partial updates and partial deletes: the key and `n`.
const PARTIAL_TARGETS: [usize; 3] = [0, 1, 3];

fn key() -> impl Strategy<Value = Key> {
    (0i32..6, 0i64..40)
}

/// Values of `n` for the engine.
fn number(engine: Engine) -> BoxedStrategy<Option<i64>> {
    match engine {
        // Versions: few, so that ties and older versions are common; rarely NULL (refused).
        Engine::Versioned => proptest::option::weighted(0.985, 0i64..8).boxed(),
        // Sums: mostly small (zero leaves a row unchanged), some large ones that wrap around.
        Engine::Aggregation { .. } => proptest::option::of(prop_oneof![4 => -3i64..4, 1 => any::<i64>()]).boxed(),
        Engine::Default | Engine::FirstRow => proptest::option::of(any::<i64>()).boxed(),
    }
}

fn value(engine: Engine) -> impl Strategy<Value = Value> {
    (proptest::option::of("[a-z]{0,12}"), number(engine))
}

/// Ops for a table with `engine` (partial writes are rarer where the engine refuses them).
fn op(engine: Engine) -> impl Strategy<Value = Op> {
    let partial = if matches!(engine, Engine::FirstRow | Engine::Versioned) { 1 } else { 3 };
    prop_oneof![
        8 => vec((key(), value(engine)), 1..20).prop_map(Op::Upsert),
        3 => vec(key(), 1..6).prop_map(Op::Delete),
        partial => vec((key(), number(engine)), 1..6).prop_map(Op::Partial),
        1 => vec(key(), 1..6).prop_map(Op::PartialDelete),
        1 => Just(Op::Flush),
        1 => Just(Op::Compact),
        1 => Just(Op::CompactElsewhere),
        1 => Just(Op::ZeroFill),
        1 => Just(Op::Crash),
        2 => vec(key(), 1..10).prop_map(Op::Check),
    ]
}

fn ops(engine: Engine) -> impl Strategy<Value = Vec<Op>> {
    vec(op(engine), 1..40)
}

/// Applies `op` to the table, and to the oracle as it expects. When the table fails an op the
/// oracle accepts (an injected fault), the oracle is left as it was and the state the op would
/// have produced is returned with the error: the write may or may not have become durable.
fn apply(table: &PkTable<SimStorage>, setup: Setup, oracle: &mut Oracle, op: &Op) -> Option<(Oracle, Error)> {
    let expected = setup.expect(oracle, op);
    match (expected, apply_to_table(table, op)) {
        (Ok(after), Ok(())) => {
            *oracle = after;
            None
        }
        (Ok(_), Err(e @ Error::InvalidWrite { .. })) => panic!("{setup:?} refused {op:?}: {e}"),
        (Ok(after), Err(e)) => Some((after, e)),
        (Err(_), Err(Error::InvalidWrite { .. })) => None,
        (Err(Refused(why)), outcome) => {
            panic!("{setup:?} must refuse {op:?} ({why}) with InvalidWrite, got {outcome:?}")
        }
    }
}

fn write(
    table: &PkTable<SimStorage>,
    records: &[(Key, Value)],
    deleted: bool,
    partial: bool,
) -> rill_engine::Result<()> {
    let batch = rows(records);
    let write = KvWrite {
        keys: keys_of(&batch, &[0, 1]),
        deleted: vec![deleted; records.len()],
        rows: batch,
        target_columns: partial.then(|| PARTIAL_TARGETS.to_vec()),
        writer_id: -1,
        batch_sequence: -1,
    };
    block_on(table.write(write)).map(drop)
}

fn apply_to_table(table: &PkTable<SimStorage>, op: &Op) -> rill_engine::Result<()> {
    // A delete carries no values: its row holds some the table must not read.
    let deletes = |keys: &[Key]| -> Vec<(Key, Value)> { keys.iter().map(|k| (*k, partial_row(Some(-1)))).collect() };
    match op {
        Op::Upsert(records) => write(table, records, false, false),
        Op::Delete(keys) => write(table, &deletes(keys), true, false),
        Op::Partial(updates) => {
            let records: Vec<(Key, Value)> = updates.iter().map(|(k, n)| (*k, partial_row(*n))).collect();
            write(table, &records, false, true)
        }
        Op::PartialDelete(keys) => write(table, &deletes(keys), true, true),
        Op::Flush => block_on(table.flush()),
        Op::Compact => block_on(table.lsm().compact_all()).map(drop),
        Op::CompactElsewhere => loop {
            let elsewhere = table.lsm().storage().clone();
            let step = table.lsm().compact_once_with(|job| async move {
                let done = job.execute(&elsewhere).await;
                table.flush().await?;
                done
            });
            match block_on(step) {
                Ok(true) => {}
                Ok(false) => break Ok(()),
                Err(e) => break Err(e),
            }
        },
        Op::ZeroFill => loop {
            match block_on(table.log().zero_fill_step()) {
                Ok(0) => break Ok(()),
                Ok(_) => {}
                Err(e) => break Err(e),
            }
        },
        Op::Crash | Op::Check(_) => Ok(()),
    }
}

/// Reads every key `a` or `b` knows.
fn actual_state(table: &PkTable<SimStorage>, a: &Oracle, b: &Oracle) -> Oracle {
    let keys: Vec<Key> =
        a.keys().chain(b.keys()).copied().collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    let records: Vec<(Key, Value)> = keys.iter().map(|k| (*k, (None, None))).collect();
    let result = block_on(table.lookup(&keys_of(&rows(&records), &[0, 1]))).unwrap();
    decode(&result.rows).into_iter().collect()
}

fn check_lookups(table: &PkTable<SimStorage>, oracle: &Oracle, keys: &[Key]) {
    let records: Vec<(Key, Value)> = keys.iter().map(|k| (*k, (None, None))).collect();
    let encoded = keys_of(&rows(&records), &[0, 1]);
    let result = block_on(table.lookup(&encoded)).unwrap();
    let found = decode(&result.rows);
    let mut next = found.iter();
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(result.found[i], oracle.contains_key(k), "key {k:?}");
        if result.found[i] {
            let (fk, fv) = next.next().unwrap();
            assert_eq!((fk, Some(fv)), (k, oracle.get(k)));
        }
    }
    // Prefix lookups by the bucket key `a` (a byte prefix of the compacted key).
    for a in 0..6 {
        let prefix_records = [((a, 0i64), (None, None))];
        let mut prefix = Vec::new();
        encode_key(&schema(), &[0], rows(&prefix_records).columns(), 0, &mut prefix).unwrap();
        let got = decode(&block_on(table.prefix_lookup(&prefix)).unwrap());
        let want: Vec<(Key, Value)> =
            oracle.range((a, i64::MIN)..=(a, i64::MAX)).map(|(k, v)| (*k, v.clone())).collect();
        let mut got_sorted = got.clone();
        got_sorted.sort_by_key(|(k, _)| *k);
        assert_eq!(got_sorted, want, "prefix a = {a}");
    }
}

fn check_snapshot(table: &PkTable<SimStorage>, oracle: &Oracle) {
    let mut snapshot = table.snapshot().unwrap();
    let mut all = Vec::new();
    while let Some(batch) = block_on(snapshot.next_batch()).unwrap() {
        all.extend(decode(&batch));
    }
    all.sort_by_key(|(k, _)| *k);
    let want: Vec<(Key, Value)> = oracle.iter().map(|(k, v)| (*k, v.clone())).collect();
    assert_eq!(all, want, "snapshot");
    assert_eq!(snapshot.log_offset, table.log().list_offset(OffsetSpec::Latest));
}

fn check_changelog_replay(table: &PkTable<SimStorage>, oracle: &Oracle) {
    let mut replayed = Oracle::new();
    let mut offset = table.log().list_offset(OffsetSpec::Earliest);
    let end = table.log().list_offset(OffsetSpec::Latest);
    while offset < end {
        let read = block_on(table.log().read(offset, 1 << 20, None)).unwrap();
        for stored in &read.batches {
            let view = BatchView::parse(stored.bytes.as_slice()).unwrap();
            let range = view.ipc_range();
            let batch =
                ipc::decode(&stored.bytes.slice_with_length(range.start, range.len()), schema().to_arrow(), false)
                    .unwrap();
            for ((k, v), kind) in decode(&batch).into_iter().zip(view.change_types().unwrap()) {
                match kind {
                    ChangeType::Insert => assert_eq!(replayed.insert(k, v), None, "+I of a present key"),
                    ChangeType::UpdateAfter => {
                        replayed.insert(k, v);
                    }
                    ChangeType::Delete => assert_eq!(replayed.remove(&k), Some(v), "-D carries the old row"),
                    ChangeType::UpdateBefore => assert_eq!(replayed.get(&k), Some(&v), "-U carries the old row"),
                    ChangeType::AppendOnly => panic!("+A in a changelog"),
                }
            }
        }
        offset = read.next_offset;
    }
    assert_eq!(&replayed, oracle, "changelog replay");
}

fn faults(on: bool) -> SimFaults {
    let rate = if on { 40_000 } else { 0 };
    SimFaults { write_error_per_million: rate, sync_error_per_million: rate, ..SimFaults::default() }
}

/// The model run: applies `ops` to a fresh table of `setup` and to the oracle, checking lookups
/// at every `Check` and after every crash, and the snapshot and the changelog at the end and
/// after a last crash. With `faulty`, writes and syncs fail at random: a failed op is followed
/// by a crash and reopen, after which an acknowledged write is never lost and a failed one is
/// all or nothing.
fn run(setup: Setup, seed: u64, ops: &[Op], faulty: bool) -> Result<(), TestCaseError> {
    let sim = SimStorage::new(seed, faults(false));
    let mut table = open(&sim, setup);
    sim.set_faults(faults(faulty));
    let mut oracle = Oracle::new();
    for op in ops {
        let failed = apply(&table, setup, &mut oracle, op);
        if let Some((_, e)) = &failed {
            prop_assert!(faulty, "no faults were injected, but {:?} failed: {}", op, e);
        }
        if failed.is_some() || matches!(op, Op::Crash) {
            drop(table);
            sim.crash();
            sim.set_faults(faults(false));
            table = open(&sim, setup);
            if let Some((after, _)) = failed {
                let actual = actual_state(&table, &oracle, &after);
                prop_assert!(actual == oracle || actual == after, "a failed write must be all or nothing");
                oracle = actual;
            }
            check_lookups(&table, &oracle, &oracle.keys().copied().take(20).collect::<Vec<_>>());
            sim.set_faults(faults(faulty));
        }
        if let Op::Check(keys) = op {
            check_lookups(&table, &oracle, keys);
        }
    }
    sim.set_faults(faults(false));
    check_snapshot(&table, &oracle);
    check_changelog_replay(&table, &oracle);
    drop(table);
    sim.crash();
    let table = open(&sim, setup);
    check_snapshot(&table, &oracle);
    check_changelog_replay(&table, &oracle);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: logkit::cases(48), ..ProptestConfig::default() })]

    #[test]
    fn pk_table_agrees_with_a_btreemap(seed in any::<u64>(), ops in ops(Engine::Default)) {
        run(DEFAULT, seed, &ops, false)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: logkit::cases(32), ..ProptestConfig::default() })]

    /// With write and sync failures injected: an acknowledged write is never lost, a failed
    /// one is all or nothing after the crash and reopen that follow it, and the table stays
    /// equal to its own changelog.
    #[test]
    fn pk_table_survives_injected_faults(seed in any::<u64>(), ops in ops(Engine::Default)) {
        run(DEFAULT, seed, &ops, true)?;
    }
}

/// Delete behaviours of first_row and versioned tables: unset (ignore), ignore or disable
/// (`allow` is refused when the table opens).
fn no_delete_behaviors() -> impl Strategy<Value = Deletes> {
    prop_oneof![2 => Just(Deletes::Unset), 1 => Just(Deletes::Ignore), 1 => Just(Deletes::Disable)]
}

/// Delete behaviours of aggregation tables: unset (ignore), allow or disable.
fn aggregation_delete_behaviors() -> impl Strategy<Value = Deletes> {
    prop_oneof![2 => Just(Deletes::Unset), 2 => Just(Deletes::Allow), 1 => Just(Deletes::Disable)]
}

/// An aggregation table: `v` with `listagg` or with the default function.
fn aggregation(listagg: bool, deletes: Deletes) -> Setup {
    Setup { engine: Engine::Aggregation { listagg }, deletes }
}

// The other engines, as many cases as the default engine's tests.
proptest! {
    #![proptest_config(ProptestConfig { cases: logkit::cases(48), ..ProptestConfig::default() })]

    #[test]
    fn first_row_table_agrees_with_a_btreemap(
        deletes in no_delete_behaviors(),
        seed in any::<u64>(),
        ops in ops(Engine::FirstRow),
    ) {
        run(Setup { engine: Engine::FirstRow, deletes }, seed, &ops, false)?;
    }

    #[test]
    fn versioned_table_agrees_with_a_btreemap(
        deletes in no_delete_behaviors(),
        seed in any::<u64>(),
        ops in ops(Engine::Versioned),
    ) {
        run(Setup { engine: Engine::Versioned, deletes }, seed, &ops, false)?;
    }

    #[test]
    fn aggregation_table_agrees_with_a_btreemap(
        listagg in any::<bool>(),
        deletes in aggregation_delete_behaviors(),
        seed in any::<u64>(),
        // The ops do not depend on `v`'s function.
        ops in ops(Engine::Aggregation { listagg: true }),
    ) {
        run(aggregation(listagg, deletes), seed, &ops, false)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: logkit::cases(32), ..ProptestConfig::default() })]

    #[test]
    fn first_row_table_survives_injected_faults(
        deletes in no_delete_behaviors(),
        seed in any::<u64>(),
        ops in ops(Engine::FirstRow),
    ) {
        run(Setup { engine: Engine::FirstRow, deletes }, seed, &ops, true)?;
    }

    #[test]
    fn versioned_table_survives_injected_faults(
        deletes in no_delete_behaviors(),
        seed in any::<u64>(),
        ops in ops(Engine::Versioned),
    ) {
        run(Setup { engine: Engine::Versioned, deletes }, seed, &ops, true)?;
    }

    #[test]
    fn aggregation_table_survives_injected_faults(
        listagg in any::<bool>(),
        deletes in aggregation_delete_behaviors(),
        seed in any::<u64>(),
        // The ops do not depend on `v`'s function.
        ops in ops(Engine::Aggregation { listagg: true }),
    ) {
        run(aggregation(listagg, deletes), seed, &ops, true)?;
    }
}

/// rill refuses `table.delete.behavior` = allow for first_row and versioned tables, as Fluss
/// does, and accepts it for aggregation tables.
#[test]
fn delete_behavior_allow_is_refused_where_fluss_refuses_it() {
    for (engine, accepted) in
        [(Engine::FirstRow, false), (Engine::Versioned, false), (Engine::Aggregation { listagg: false }, true)]
    {
        let opened = try_open(&SimStorage::new(0, SimFaults::default()), Setup { engine, deletes: Deletes::Allow });
        match opened {
            Ok(_) => assert!(accepted, "{engine:?} with deletes allowed opened"),
            Err(e) => assert!(!accepted && matches!(e, Error::InvalidSchema { .. }), "{engine:?}: {e}"),
        }
    }
}

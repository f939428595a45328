//! SSTs round trip: rows of every column type, with tombstones and nulls, in files of 1 row
//! to many blocks, on the simulated and the io_uring backend. Every key is found with its
//! values, absent keys are not, prefix ranges select the right blocks, a full scan returns the
//! input, and an SST written with an older schema reads with a newer one.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use arrow_array::*;
use futures_lite::future::block_on;
use glommio::LocalExecutorBuilder;
use rill_engine::batch::stats::Scalar;
use rill_engine::batch::Compression;
use rill_engine::kv::cache::BlockCache;
use rill_engine::kv::sst::{key_column, sst_arrow_schema, sst_name, SstOptions, SstReader, SstWriter, SYSTEM_COLUMNS};
use rill_engine::log::{SimFaults, SimStorage, Storage, StorageFile, UringStorage};
use rill_engine::schema::{Column, DataType, Schema};
use rill_engine::Error;

fn all_types() -> Schema {
    use DataType::*;
    let types = [
        Boolean,
        TinyInt,
        SmallInt,
        Int,
        BigInt,
        Float,
        Double,
        Decimal { precision: 10, scale: 2 },
        Decimal { precision: 30, scale: 4 },
        Char { length: 5 },
        String,
        Binary { length: 4 },
        Bytes,
        Date,
        Time { precision: 0 },
        Time { precision: 3 },
        Time { precision: 6 },
        Time { precision: 9 },
        Timestamp { precision: 0 },
        Timestamp { precision: 3 },
        Timestamp { precision: 6 },
        Timestamp { precision: 9 },
        TimestampLtz { precision: 3 },
        TimestampLtz { precision: 9 },
    ];
    let mut columns = vec![Column::not_null("id", BigInt)];
    columns.extend(types.iter().enumerate().map(|(i, t)| Column::new(format!("c{i}"), *t)));
    Schema { id: 3, columns }
}

/// Key of row `id`: 8 big-endian bytes, then `id % 5` bytes of 0xAB (variable length, still
/// ascending with `id`).
fn key(id: i64) -> Vec<u8> {
    let mut k = (id as u64).to_be_bytes().to_vec();
    k.extend(std::iter::repeat_n(0xAB, id.rem_euclid(5) as usize));
    k
}

fn is_tombstone(id: i64) -> bool {
    id % 7 == 3
}

/// A value column of `data_type` for `ids`: null for tombstones and every 11th row.
fn column(data_type: &DataType, ids: &[i64], seed: i64) -> ArrayRef {
    let live = |id: i64| !is_tombstone(id) && (id + seed) % 11 != 0;
    let v = |id: i64| live(id).then_some(id * 31 + seed);
    let it = || ids.iter().map(|&id| v(id));
    let tz: Arc<str> = Arc::from("UTC");
    match *data_type {
        DataType::Boolean => Arc::new(BooleanArray::from_iter(it().map(|x| x.map(|x| x % 2 == 0)))),
        DataType::TinyInt => Arc::new(Int8Array::from_iter(it().map(|x| x.map(|x| x as i8)))),
        DataType::SmallInt => Arc::new(Int16Array::from_iter(it().map(|x| x.map(|x| x as i16)))),
        DataType::Int => Arc::new(Int32Array::from_iter(it().map(|x| x.map(|x| x as i32)))),
        DataType::BigInt => Arc::new(Int64Array::from_iter(it())),
        DataType::Float => Arc::new(Float32Array::from_iter(it().map(|x| x.map(|x| x as f32 / 3.0)))),
        DataType::Double => Arc::new(Float64Array::from_iter(it().map(|x| x.map(|x| x as f64 / 7.0)))),
        DataType::Decimal { precision, scale } => Arc::new(
            Decimal128Array::from_iter(it().map(|x| x.map(|x| i128::from(x) * 1_000_003 - 5)))
                .with_precision_and_scale(precision, scale as i8)
                .unwrap(),
        ),
        DataType::Char { .. } => {
            Arc::new(StringArray::from_iter(it().map(|x| x.map(|x| format!("{:05}", x % 100_000)))))
        }
        DataType::String => Arc::new(StringArray::from_iter(it().map(|x| x.map(|x| "s".repeat((x % 40) as usize))))),
        DataType::Binary { length } => Arc::new(
            FixedSizeBinaryArray::try_from_sparse_iter_with_size(
                it().map(|x| x.map(|x| (x as u32).to_le_bytes())),
                length as i32,
            )
            .unwrap(),
        ),
        DataType::Bytes => Arc::new(BinaryArray::from_iter(it().map(|x| x.map(|x| vec![x as u8; (x % 17) as usize])))),
        DataType::Date => Arc::new(Date32Array::from_iter(it().map(|x| x.map(|x| (x % 40_000) as i32)))),
        DataType::Time { precision: 0 } => {
            Arc::new(Time32SecondArray::from_iter(it().map(|x| x.map(|x| (x % 86_400) as i32))))
        }
        DataType::Time { precision: 1..=3 } => {
            Arc::new(Time32MillisecondArray::from_iter(it().map(|x| x.map(|x| (x % 86_400_000) as i32))))
        }
        DataType::Time { precision: 4..=6 } => Arc::new(Time64MicrosecondArray::from_iter(it())),
        DataType::Time { .. } => Arc::new(Time64NanosecondArray::from_iter(it())),
        DataType::Timestamp { precision } | DataType::TimestampLtz { precision } => {
            let zone = matches!(data_type, DataType::TimestampLtz { .. }).then(|| Arc::clone(&tz));
            let values = it().map(|x| x.map(|x| x * 1_000_003));
            match precision {
                0 => Arc::new(TimestampSecondArray::from_iter(values).with_timezone_opt(zone)),
                1..=3 => Arc::new(TimestampMillisecondArray::from_iter(values).with_timezone_opt(zone)),
                4..=6 => Arc::new(TimestampMicrosecondArray::from_iter(values).with_timezone_opt(zone)),
                _ => Arc::new(TimestampNanosecondArray::from_iter(values).with_timezone_opt(zone)),
            }
        }
        _ => unreachable!("every type is listed"),
    }
}

/// SST rows for `ids` (ascending) of `schema`.
fn rows(schema: &Schema, ids: &[i64]) -> RecordBatch {
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(BinaryArray::from_iter_values(ids.iter().map(|&id| key(id)))),
        Arc::new(BooleanArray::from_iter(ids.iter().map(|&id| Some(is_tombstone(id))))),
    ];
    for (i, c) in schema.columns.iter().enumerate() {
        columns.push(column(&c.data_type, ids, i as i64));
    }
    RecordBatch::try_new(sst_arrow_schema(schema), columns).unwrap()
}

/// The ids of an SST of `count` rows: even numbers, so odd ones are absent keys.
fn ids(count: usize) -> Vec<i64> {
    (0..count as i64).map(|i| i * 2 + 10).collect()
}

/// Writes `ids` in add() calls of varying sizes.
async fn write<S: Storage>(storage: &S, id: u64, schema: &Schema, ids: &[i64], options: SstOptions) {
    let mut writer = SstWriter::create(storage, id, schema, options, 500 + id as i64).await.unwrap();
    let mut at = 0;
    let mut step = 1;
    while at < ids.len() {
        let end = (at + step).min(ids.len());
        writer.add(&rows(schema, &ids[at..end])).await.unwrap();
        at = end;
        step = step * 3 + 1;
    }
    let meta = writer.finish().await.unwrap();
    assert_eq!(meta.rows as usize, ids.len());
    assert_eq!(meta.tombstones as usize, ids.iter().filter(|&&i| is_tombstone(i)).count());
    assert_eq!(meta.first_key, key(ids[0]));
    assert_eq!(meta.last_key, key(*ids.last().unwrap()));
    assert_eq!((meta.covers_log_offset, meta.schema_id), (500 + id as i64, schema.id));
}

async fn check<S: Storage>(storage: &S, id: u64, ids: &[i64], options: SstOptions) {
    let schema = all_types();
    write(storage, id, &schema, ids, options).await;
    verify(storage, id, ids).await;
}

/// Reads SST `id` of `all_types()` holding `ids` back: every key with its row, no absent key,
/// each block read once, a full scan, prefix ranges.
async fn verify<S: Storage>(storage: &S, id: u64, ids: &[i64]) {
    let schema = all_types();
    let reader = SstReader::open(storage, id, &schema).await.unwrap();
    let expected = rows(&schema, ids);
    let cache = BlockCache::new(64 << 20);
    for (row, &i) in ids.iter().enumerate() {
        let found = reader.get(&key(i), &cache).await.unwrap().unwrap_or_else(|| panic!("key {i} not found"));
        assert_eq!(found.key(), key(i).as_slice());
        assert_eq!(found.is_tombstone(), is_tombstone(i));
        assert_eq!(found.block.slice(found.row, 1), expected.slice(row, 1), "row of key {i}");
    }
    let first = ids[0];
    let last = *ids.last().unwrap();
    for absent in [first - 1, first + 1, last + 1, last + 2, -1, i64::MAX].into_iter().chain(ids.iter().map(|i| i + 1))
    {
        assert!(reader.get(&key(absent), &cache).await.unwrap().is_none(), "absent key {absent}");
    }
    let stats = cache.stats();
    assert_eq!(stats.misses as usize, reader.block_count(), "each block read once");
    // Full scan returns the input.
    let all = reader.read_all_blocks().await.unwrap();
    assert_eq!(all.len(), reader.block_count());
    let scanned = arrow_select::concat::concat_batches(reader.arrow_schema(), &all).unwrap();
    assert_eq!(scanned, expected);
    check_prefixes(&reader, ids).await;
    reader.close().await.unwrap();
}

/// Prefixes of 7 bytes select runs of 256 ids (128 rows): a scan of the prefix's blocks finds
/// exactly those keys.
async fn check_prefixes<F: rill_engine::log::StorageFile>(reader: &SstReader<F>, ids: &[i64]) {
    let prefixes: Vec<Vec<u8>> = [ids[0], ids[ids.len() / 2], *ids.last().unwrap(), ids.last().unwrap() + 1000]
        .iter()
        .map(|&i| key(i)[..7].to_vec())
        .collect();
    for prefix in prefixes {
        let expected: Vec<Vec<u8>> = ids.iter().map(|&i| key(i)).filter(|k| k.starts_with(&prefix)).collect();
        let range = reader.blocks_for_prefix(&prefix);
        let mut scan = reader.scan_blocks(range.clone());
        let mut found = Vec::new();
        while let Some(block) = scan.next().await.unwrap() {
            found.extend(
                key_column(&block).unwrap().iter().flatten().filter(|k| k.starts_with(&prefix)).map(<[u8]>::to_vec),
            );
        }
        assert_eq!(found, expected, "prefix {prefix:02x?}");
        if expected.is_empty() {
            assert!(range.is_empty(), "no key has prefix {prefix:02x?}, yet blocks {range:?}");
        }
    }
}

const SIZES: [usize; 5] = [1, 2, 97, 2_000, 20_000];

fn option_sets() -> [SstOptions; 3] {
    [
        SstOptions::default(),
        SstOptions { block_bytes_target: 4096, bloom_bits_per_key: 0, ..SstOptions::default() },
        SstOptions { compression: Compression::Lz4Frame, block_bytes_target: 32 << 10, ..SstOptions::default() },
    ]
}

#[test]
fn round_trips_on_the_simulated_backend() {
    let storage = SimStorage::new(11, SimFaults::default());
    block_on(async {
        let mut id = 1;
        for options in option_sets() {
            for size in SIZES {
                check(&storage, id, &ids(size), options).await;
                id += 1;
            }
        }
    });
}

#[test]
fn round_trips_on_io_uring() {
    LocalExecutorBuilder::default()
        .spawn(|| async {
            let dir = tempfile::tempdir().unwrap();
            let storage = UringStorage::open(dir.path()).await.unwrap();
            let mut id = 1;
            for options in option_sets() {
                for size in SIZES {
                    check(&storage, id, &ids(size), options).await;
                    let on_disk = std::fs::metadata(dir.path().join(sst_name(id))).unwrap().len();
                    assert_eq!(on_disk % 4096, 0);
                    id += 1;
                }
            }
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn an_empty_sst_is_rejected() {
    let storage = SimStorage::new(1, SimFaults::default());
    let schema = all_types();
    let result = block_on(async {
        let writer = SstWriter::create(&storage, 1, &schema, SstOptions::default(), 0).await.unwrap();
        writer.finish().await
    });
    assert!(matches!(result, Err(Error::InvalidBatch { .. })), "{result:?}");
}

/// Schema v1 = v0 + two nullable columns at the end.
fn evolved(v0: &Schema) -> Schema {
    let mut v1 = v0.clone();
    v1.id = v0.id + 1;
    v1.columns.push(Column::new("added_int", DataType::Int));
    v1.columns.push(Column::new("added_bytes", DataType::Bytes));
    v1
}

async fn check_evolution<S: Storage>(storage: &S) {
    let v0 = all_types();
    let v1 = evolved(&v0);
    let ids = ids(3_000);
    // Blocks large enough that every block has a non-null value in column 0 (checked below).
    let options = SstOptions { block_bytes_target: 16 << 10, ..SstOptions::default() };
    write(storage, 1, &v0, &ids, options).await;
    let reader = SstReader::open(storage, 1, &v1).await.unwrap();
    assert_eq!(reader.meta().schema_id, v0.id);
    assert_eq!(reader.arrow_schema(), &sst_arrow_schema(&v1));
    let old = rows(&v0, &ids);
    let cache = BlockCache::new(64 << 20);
    for (row, &i) in ids.iter().enumerate().step_by(13) {
        let found = reader.get(&key(i), &cache).await.unwrap().unwrap();
        let got = found.block.slice(found.row, 1);
        assert_eq!(got.num_columns(), v1.columns.len() + SYSTEM_COLUMNS);
        for c in 0..old.num_columns() {
            assert_eq!(got.column(c).as_ref(), old.slice(row, 1).column(c).as_ref(), "column {c} of key {i}");
        }
        assert!(got.column(old.num_columns()).is_null(0) && got.column(old.num_columns() + 1).is_null(0));
    }
    let all = reader.read_all_blocks().await.unwrap();
    let scanned = arrow_select::concat::concat_batches(reader.arrow_schema(), &all).unwrap();
    assert_eq!(scanned.num_rows(), ids.len());
    assert_eq!(scanned.column(old.num_columns()).null_count(), ids.len());
    // Statistics: the added INT column is all null in every block; BYTES has none collected.
    for b in 0..reader.block_count() {
        let stats = reader.block_stats(b).unwrap();
        let added = stats.column(v0.columns.len()).unwrap();
        assert_eq!((added.null_count as usize, &added.min), (reader.block_rows(b).unwrap(), &None));
        assert!(stats.column(v0.columns.len() + 1).is_none());
        assert!(matches!(stats.column(0).unwrap().min, Some(Scalar::Int(_))));
    }
    // The same cache serves a reader of the old schema without mixing the shapes.
    let old_reader = SstReader::open(storage, 1, &v0).await.unwrap();
    let found = old_reader.get(&key(ids[0]), &cache).await.unwrap().unwrap();
    assert_eq!(found.block.num_columns(), v0.columns.len() + SYSTEM_COLUMNS);
    // A reader with fewer columns, or with a stored column's type changed, is refused.
    let mut fewer = v0.clone();
    fewer.columns.pop();
    assert!(matches!(SstReader::open(storage, 1, &fewer).await, Err(Error::SchemaMismatch { .. })));
    let mut changed = v1.clone();
    changed.columns[3].data_type = DataType::Double;
    assert!(matches!(SstReader::open(storage, 1, &changed).await, Err(Error::SchemaMismatch { .. })));
    // Renames are fine: the types decide.
    let mut renamed = v1.clone();
    renamed.columns[2].name = "renamed".into();
    let r = SstReader::open(storage, 1, &renamed).await.unwrap();
    assert_eq!(r.arrow_schema().field(4).name(), "renamed");
    assert!(r.get(&key(ids[5]), &BlockCache::new(0)).await.unwrap().is_some());
}

#[test]
fn an_older_schema_reads_with_a_newer_one_on_the_simulated_backend() {
    block_on(check_evolution(&SimStorage::new(5, SimFaults::default())));
}

#[test]
fn an_older_schema_reads_with_a_newer_one_on_io_uring() {
    LocalExecutorBuilder::default()
        .spawn(|| async {
            let dir = tempfile::tempdir().unwrap();
            let storage = UringStorage::open(dir.path()).await.unwrap();
            check_evolution(&storage).await;
        })
        .unwrap()
        .join()
        .unwrap();
}

/// Measures one 16 KiB block: read + CRC + decode, on io_uring (page cache bypassed) and
/// from the simulated backend (no I/O), with and without LZ4. Run with
/// `cargo test --release -p rill-engine --test kv_sst_roundtrip -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement, not a check"]
fn measure_block_read_and_decode() {
    LocalExecutorBuilder::default()
        .spawn(|| async {
            let dir = tempfile::tempdir().unwrap();
            let uring = UringStorage::open(dir.path()).await.unwrap();
            let sim = SimStorage::new(1, SimFaults::default());
            let wide = all_types();
            // BIGINT, STRING, DOUBLE: a narrow table.
            let narrow = Schema { id: 0, columns: [0, 11, 7].iter().map(|&c| wide.columns[c].clone()).collect() };
            let ids = ids(200_000);
            let cases = [("wide", "none", Compression::None), ("wide", "lz4", Compression::Lz4Frame)];
            let narrow_cases = [("narrow", "none", Compression::None), ("narrow", "lz4", Compression::Lz4Frame)];
            for (id, (table, name, compression)) in cases.into_iter().chain(narrow_cases).enumerate() {
                let schema = if table == "wide" { &wide } else { &narrow };
                let options = SstOptions { compression, ..SstOptions::default() };
                let id = id as u64 + 1;
                let started = std::time::Instant::now();
                write(&uring, id, schema, &ids, options).await;
                let write_ms = started.elapsed().as_secs_f64() * 1e3;
                write(&sim, id, schema, &ids, options).await;
                for (backend, reader) in [
                    ("io_uring", MeasuredReader::Uring(SstReader::open(&uring, id, schema).await.unwrap())),
                    ("sim", MeasuredReader::Sim(SstReader::open(&sim, id, schema).await.unwrap())),
                ] {
                    let (blocks, rows_per_block, bytes) = reader.shape();
                    let started = std::time::Instant::now();
                    let n = blocks.min(2_000);
                    for b in 0..n {
                        reader.load(b * blocks / n).await;
                    }
                    let per_block_us = started.elapsed().as_secs_f64() * 1e6 / n as f64;
                    println!(
                        "{table:6} {backend:8} compression {name:4}: {blocks} blocks of ~{bytes} B, ~{rows_per_block} rows; \
                         read+CRC+decode {per_block_us:.1} us/block; file written in {write_ms:.0} ms"
                    );
                }
            }
            let cache = BlockCache::new(256 << 20);
            let reader = SstReader::open(&sim, 1, &wide).await.unwrap();
            for &i in ids.iter().step_by(7) {
                reader.get(&key(i), &cache).await.unwrap();
            }
            let started = std::time::Instant::now();
            for &i in ids.iter().step_by(7) {
                reader.get(&key(i), &cache).await.unwrap();
            }
            let per_get_ns = started.elapsed().as_secs_f64() * 1e9 / (ids.len() / 7) as f64;
            let started = std::time::Instant::now();
            for &i in ids.iter() {
                reader.get(&key(i + 1), &cache).await.unwrap();
            }
            let absent_ns = started.elapsed().as_secs_f64() * 1e9 / ids.len() as f64;
            println!(
                "cached get: {per_get_ns:.0} ns; absent key (bloom): {absent_ns:.0} ns; cache {:?}",
                cache.stats()
            );
        })
        .unwrap()
        .join()
        .unwrap();
}

enum MeasuredReader {
    Uring(SstReader<<UringStorage as Storage>::File>),
    Sim(SstReader<<SimStorage as Storage>::File>),
}

impl MeasuredReader {
    fn shape(&self) -> (usize, usize, u64) {
        let meta = match self {
            Self::Uring(r) => (r.block_count(), r.meta().rows, r.meta().file_bytes),
            Self::Sim(r) => (r.block_count(), r.meta().rows, r.meta().file_bytes),
        };
        (meta.0, meta.1 as usize / meta.0, meta.2 / meta.0 as u64)
    }

    async fn load(&self, block: usize) {
        match self {
            Self::Uring(r) => drop(r.load_block(block).await.unwrap()),
            Self::Sim(r) => drop(r.load_block(block).await.unwrap()),
        }
    }
}

/// An SST written before blocked bloom filters (by ccb6e69: `write(.., 7, &all_types(),
/// &ids(300), SstOptions::default())` on `SimStorage`, its bytes saved) still reads: its
/// standard-layout filter admits every key it holds, and its blocks, IPC messages padded to
/// 64 bytes (SSTs written since 2026-12-07 pad to 8), decode.
#[test]
fn an_sst_with_a_standard_bloom_filter_still_reads() {
    let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/sst_standard_bloom.sst")).unwrap();
    // Footer: the last 128 bytes, bloom_offset at 80; the bloom header's layout byte at 10.
    let footer = bytes.len() - 128;
    let bloom_offset = u64::from_le_bytes(bytes[footer + 80..footer + 88].try_into().unwrap()) as usize;
    assert_eq!(bytes[bloom_offset + 10], 0, "the fixture's filter is in the standard layout");
    let storage = SimStorage::new(3, SimFaults::default());
    block_on(async {
        let file = storage.open(&sst_name(7), true).await.unwrap();
        file.write_at(0, &bytes).await.unwrap();
        file.sync().await.unwrap();
        file.close().await.unwrap();
        verify(&storage, 7, &ids(300)).await;
    });
}

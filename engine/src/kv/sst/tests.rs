//! Unit tests of the SST writer and reader on the simulated backend: round trips, input
//! checks, block sizing, and corrupt files (targeted and random flips) that must fail cleanly.

use std::sync::Arc;

use arrow_array::{Array, BinaryArray, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use futures_lite::future::block_on;
use proptest::prelude::*;

use super::*;
use crate::batch::stats;
use crate::error::{Error, Result};
use crate::kv::cache::{batch_memory_bytes, BlockCache};
use crate::log::{SimFaults, SimStorage, Storage, StorageFile};
use crate::schema::{Column, DataType};

fn schema() -> Schema {
    Schema::new(vec![
        Column::not_null("id", DataType::BigInt),
        Column::new("name", DataType::String),
        Column::new("score", DataType::Double),
    ])
}

fn key(id: i64) -> Vec<u8> {
    // Order-preserving: flip the sign bit, big-endian.
    ((id as u64) ^ (1 << 63)).to_be_bytes().to_vec()
}

/// Rows for ids `ids` (ascending); every `tombstone_every`-th id is a tombstone.
fn rows(ids: impl Iterator<Item = i64>, tombstone_every: i64) -> RecordBatch {
    let ids: Vec<i64> = ids.collect();
    let dead = |id: i64| tombstone_every > 0 && id % tombstone_every == 0;
    let keys = BinaryArray::from_iter_values(ids.iter().map(|&id| key(id)));
    let tomb = BooleanArray::from(ids.iter().map(|&id| dead(id)).collect::<Vec<_>>());
    let id = Int64Array::from(ids.iter().map(|&id| (!dead(id)).then_some(id)).collect::<Vec<_>>());
    let name = StringArray::from(
        ids.iter().map(|&id| (!dead(id) && id % 7 != 0).then(|| format!("name-{id}"))).collect::<Vec<_>>(),
    );
    let score = Float64Array::from(ids.iter().map(|&id| (!dead(id)).then_some(id as f64 / 2.0)).collect::<Vec<_>>());
    RecordBatch::try_new(
        sst_arrow_schema(&schema()),
        vec![Arc::new(keys), Arc::new(tomb), Arc::new(id), Arc::new(name), Arc::new(score)],
    )
    .expect("rows")
}

fn write(storage: &SimStorage, id: u64, batches: &[RecordBatch], options: SstOptions) -> Result<SstMeta> {
    block_on(async {
        let mut writer = SstWriter::create(storage, id, &schema(), options, 77).await?;
        for b in batches {
            writer.add(b).await?;
        }
        writer.finish().await
    })
}

fn storage() -> SimStorage {
    SimStorage::new(1, SimFaults::default())
}

#[test]
fn names_round_trip() {
    assert_eq!(sst_name(42), "00000000000000000042.sst");
    assert_eq!(parse_sst_name(&sst_name(42)), Some(42));
    assert_eq!(parse_sst_name(&sst_name(u64::MAX)), Some(u64::MAX));
    assert_eq!(parse_sst_name("42.sst"), None);
    assert_eq!(parse_sst_name("00000000000000000042.log"), None);
}

#[test]
fn small_sst_round_trips() {
    let s = storage();
    let meta = write(&s, 3, &[rows(0..10, 4), rows(10..1000, 4)], SstOptions::default()).expect("write");
    assert_eq!((meta.rows, meta.tombstones, meta.covers_log_offset), (1000, 250, 77));
    assert_eq!(meta.first_key, key(0));
    assert_eq!(meta.last_key, key(999));
    assert_eq!(meta.file_bytes % 4096, 0);
    assert_eq!(s.file_len(&sst_name(3)), Some(meta.file_bytes));
    block_on(async {
        let reader = SstReader::open(&s, 3, &schema()).await.expect("open");
        assert_eq!(reader.meta(), &meta);
        let cache = BlockCache::new(1 << 20);
        for id in 0..1000 {
            let row = reader.get(&key(id), &cache).await.expect("get").expect("found");
            assert_eq!(row.key(), key(id).as_slice());
            assert_eq!(row.is_tombstone(), id % 4 == 0);
            let ids = row.block.column(2).as_any().downcast_ref::<Int64Array>().expect("ids");
            assert_eq!(ids.is_null(row.row), id % 4 == 0);
            if id % 4 != 0 {
                assert_eq!(ids.value(row.row), id);
            }
        }
        for id in [-5, 1000, 5000] {
            assert!(reader.get(&key(id), &cache).await.expect("get").is_none());
        }
        let all = reader.read_all_blocks().await.expect("scan");
        assert_eq!(all.len(), reader.block_count());
        let expected = rows(0..1000, 4);
        let concat = arrow_select::concat::concat_batches(reader.arrow_schema(), &all).expect("concat");
        assert_eq!(concat, expected);
        let stats = cache.stats();
        assert_eq!(stats.misses as usize, reader.block_count());
        assert_eq!(stats.hits as usize, 1000 - reader.block_count());
    });
}

#[test]
fn block_statistics_are_read_back() {
    let s = storage();
    write(&s, 1, &[rows(0..2000, 0)], SstOptions { block_bytes_target: 4096, ..SstOptions::default() }).expect("write");
    let reader = block_on(SstReader::open(&s, 1, &schema())).expect("open");
    assert!(reader.block_count() > 3);
    let mut next = 0i64;
    for i in 0..reader.block_count() {
        let stats = reader.block_stats(i).expect("stats");
        let rows = reader.block_rows(i).expect("rows") as i64;
        let id = stats.column(0).expect("id stats");
        assert_eq!(id.min, Some(stats::Scalar::Int(next)));
        assert_eq!(id.max, Some(stats::Scalar::Int(next + rows - 1)));
        assert!(stats.column(1).is_some() && stats.column(2).is_some());
        next += rows;
    }
    assert!(reader.block_stats(reader.block_count()).is_none());
}

#[test]
fn blocks_are_near_the_target_size() {
    let s = storage();
    for target in [4096usize, 16 << 10, 64 << 10] {
        let id = target as u64;
        let options = SstOptions { block_bytes_target: target, ..SstOptions::default() };
        write(&s, id, &[rows(0..3000, 0), rows(3000..20_000, 9)], options).expect("write");
        let reader = block_on(SstReader::open(&s, id, &schema())).expect("open");
        let count = reader.block_count();
        for (b, next) in reader.blocks.iter().zip(reader.blocks.iter().skip(1)) {
            // Back to back, no padding: IPC messages padded to 8 bytes, blocks at multiples of 8.
            assert_eq!((b.offset % 8, b.len % 8), (0, 0));
            assert_eq!(b.offset + u64::from(b.len), next.offset);
        }
        for i in 0..count - 1 {
            let len = reader.blocks[i].len as usize;
            assert!(len > target / 2 && len < target * 3 / 2, "target {target}: block {i} of {len} bytes");
        }
    }
}

#[test]
fn rejects_empty_ssts_and_bad_rows() {
    let s = storage();
    let empty = write(&s, 1, &[], SstOptions::default());
    assert!(matches!(empty, Err(Error::InvalidBatch { .. })), "{empty:?}");
    let descending = write(&s, 2, &[rows(10..20, 0), rows(5..8, 0)], SstOptions::default());
    assert!(descending.is_err_and(|e| e.to_string().contains("strictly ascending")));
    let repeated = write(&s, 3, &[rows(10..20, 0), rows(19..21, 0)], SstOptions::default());
    assert!(repeated.is_err_and(|e| e.to_string().contains("strictly ascending")));
    // A tombstone that carries a value.
    let good = rows(0..4, 0);
    let mut columns = good.columns().to_vec();
    columns[1] = Arc::new(BooleanArray::from(vec![false, true, false, false]));
    let bad = RecordBatch::try_new(good.schema(), columns).expect("batch");
    let tomb = write(&s, 4, &[bad], SstOptions::default());
    assert!(tomb.is_err_and(|e| e.to_string().contains("tombstone at row 1")));
    // Wrong column types.
    let wrong = good.project(&[0, 1, 2, 3]).expect("project");
    assert!(matches!(write(&s, 5, &[wrong], SstOptions::default()), Err(Error::SchemaMismatch { .. })));
}

#[test]
fn prefix_ranges_and_block_lookup() {
    let s = storage();
    // Keys "k/<3 digits>/<2 digits>": prefixes select runs of keys.
    let ids: Vec<i64> = (0..3000).collect();
    let keys: Vec<Vec<u8>> = ids.iter().map(|i| format!("k/{:03}/{:02}", i / 30, i % 30).into_bytes()).collect();
    let base = rows(0..3000, 0);
    let mut columns = base.columns().to_vec();
    columns[0] = Arc::new(BinaryArray::from_iter_values(keys.iter()));
    let batch = RecordBatch::try_new(base.schema(), columns).expect("batch");
    write(&s, 9, &[batch], SstOptions { block_bytes_target: 2048, ..SstOptions::default() }).expect("write");
    let reader = block_on(SstReader::open(&s, 9, &schema())).expect("open");
    assert!(reader.block_count() > 10);
    assert_eq!(reader.blocks_for_prefix(b""), 0..reader.block_count());
    assert!(reader.blocks_for_prefix(b"x").is_empty());
    assert!(reader.blocks_for_prefix(b"a").is_empty());
    assert!(reader.blocks_for_prefix(b"k/100").is_empty());
    for group in [0usize, 17, 50, 99] {
        let prefix = format!("k/{group:03}/").into_bytes();
        let range = reader.blocks_for_prefix(&prefix);
        let found: Vec<Vec<u8>> = block_on(async {
            let mut scan = reader.scan_blocks(range.clone());
            let mut found = Vec::new();
            while let Some(b) = scan.next().await.expect("scan") {
                let keys = key_column(&b).expect("keys");
                found.extend(keys.iter().flatten().filter(|k| k.starts_with(&prefix)).map(<[u8]>::to_vec));
            }
            found
        });
        let expected: Vec<Vec<u8>> = keys.iter().filter(|k| k.starts_with(&prefix)).cloned().collect();
        assert_eq!(found, expected, "prefix {group}");
        // The range is tight: its first and last blocks hold keys of the prefix.
        let (_, last_of_first) = reader.block_keys(range.start).expect("keys");
        let (first_of_last, _) = reader.block_keys(range.end - 1).expect("keys");
        assert!(last_of_first >= prefix.as_slice() && first_of_last <= expected.last().expect("some").as_slice());
    }
    for (i, k) in keys.iter().enumerate().step_by(97) {
        let block = reader.block_for(k).expect("block");
        let (first, last) = reader.block_keys(block).expect("keys");
        assert!(first <= k.as_slice() && k.as_slice() <= last, "key {i}");
    }
    assert_eq!(reader.block_for(b"a"), None);
    assert_eq!(reader.block_for(b"z"), None);
}

/// `block_for` against a plain search over the index, for keys that are in the SST and keys
/// that fall between its keys (and so maybe between blocks), with short keys (unique 8-byte
/// prefixes) and long keys sharing their first 8 bytes.
#[test]
fn block_for_agrees_with_a_plain_search() {
    let naming: [fn(i64) -> Vec<u8>; 2] =
        [|i| format!("{i:06}").into_bytes(), |i| format!("same-pfx/{i:06}").into_bytes()];
    for (id, name) in naming.into_iter().enumerate() {
        let s = storage();
        let present: Vec<i64> = (0..3000).map(|i| i * 2).collect();
        let keys: Vec<Vec<u8>> = present.iter().map(|&i| name(i)).collect();
        let base = rows(0..3000, 0);
        let mut columns = base.columns().to_vec();
        columns[0] = Arc::new(BinaryArray::from_iter_values(keys.iter()));
        let batch = RecordBatch::try_new(base.schema(), columns).expect("batch");
        let sst = id as u64 + 1;
        write(&s, sst, &[batch], SstOptions { block_bytes_target: 1024, ..SstOptions::default() }).expect("write");
        let reader = block_on(SstReader::open(&s, sst, &schema())).expect("open");
        assert!(reader.block_count() > 40);
        let plain = |key: &[u8]| {
            let i = reader.blocks.partition_point(|b| b.last_key.as_slice() < key);
            reader.blocks.get(i).filter(|b| b.first_key.as_slice() <= key).map(|_| i)
        };
        let mut inside = 0;
        for probe in (-1..6002).map(name).chain([Vec::new(), b"same".to_vec(), b"z".to_vec()]) {
            assert_eq!(reader.block_for(&probe), plain(&probe), "key {}", String::from_utf8_lossy(&probe));
            inside += usize::from(reader.block_for(&probe).is_some());
        }
        // Keys between two blocks are in neither: fewer hits than probes inside the range.
        assert!(inside < 6000, "{inside}");
    }
}

#[test]
fn decoded_blocks_are_charged_their_real_memory() {
    let s = storage();
    write(&s, 1, &[rows(0..2000, 0)], SstOptions::default()).expect("write");
    let reader = block_on(SstReader::open(&s, 1, &schema())).expect("open");
    let block = block_on(reader.load_block(0)).expect("block");
    let ours = batch_memory_bytes(&block);
    let arrow = block.get_array_memory_size();
    println!(
        "block of {} bytes on disk, {} rows: batch_memory_bytes {ours}, get_array_memory_size {arrow}",
        reader.blocks[0].len, reader.blocks[0].rows
    );
    assert!(ours < 2 * reader.blocks[0].len as usize + 4096, "{ours}");
}

#[test]
fn lz4_blocks_round_trip() {
    let s = storage();
    let options = SstOptions { compression: crate::batch::Compression::Lz4Frame, ..SstOptions::default() };
    write(&s, 1, &[rows(0..5000, 3)], options).expect("write");
    let reader = block_on(SstReader::open(&s, 1, &schema())).expect("open");
    let all = block_on(reader.read_all_blocks()).expect("scan");
    let concat = arrow_select::concat::concat_batches(reader.arrow_schema(), &all).expect("concat");
    assert_eq!(concat, rows(0..5000, 3));
}

/// Writes the small SST the corruption tests damage; returns its bytes' length.
fn small_sst(s: &SimStorage) -> u64 {
    let options = SstOptions { block_bytes_target: 1024, ..SstOptions::default() };
    write(s, 5, &[rows(0..300, 5)], options).expect("write").file_bytes
}

/// Opens the SST and reads everything; `Ok` only when every answer is right.
fn read_everything(s: &SimStorage) -> Result<()> {
    block_on(async {
        let reader = SstReader::open(s, 5, &schema()).await?;
        let cache = BlockCache::new(1 << 20);
        for id in 0..300 {
            let row = reader.get(&key(id), &cache).await?;
            let row = row.ok_or_else(|| Error::invalid_batch(format!("key {id} lost")))?;
            if row.is_tombstone() != (id % 5 == 0) {
                return Err(Error::invalid_batch(format!("key {id} changed")));
            }
        }
        let all = reader.read_all_blocks().await?;
        let concat =
            arrow_select::concat::concat_batches(reader.arrow_schema(), &all).map_err(|e| Error::arrow("concat", e))?;
        if concat != rows(0..300, 5) {
            return Err(Error::invalid_batch("rows changed"));
        }
        Ok(())
    })
}

#[test]
fn targeted_damage_is_a_clean_corruption_error() {
    let s = storage();
    let size = small_sst(&s);
    assert!(read_everything(&s).is_ok());
    let reader = block_on(SstReader::open(&s, 5, &schema())).expect("open");
    let index_at = reader.blocks.last().expect("blocks").end();
    let block_at = reader.blocks[1].offset + 20;
    drop(reader);
    for (what, position) in [("footer", size - 10), ("index", index_at + 3), ("block", block_at)] {
        let s = storage();
        small_sst(&s);
        assert!(s.flip_bit(&sst_name(5), position, 3));
        let e = read_everything(&s).expect_err(what);
        assert!(matches!(e, Error::Corruption { .. }), "{what}: {e}");
        assert!(e.to_string().contains("00000000000000000005.sst"), "{what}: {e}");
        println!("{what}: {e}");
    }
    // A truncated file, and a missing one.
    let s = storage();
    small_sst(&s);
    block_on(async {
        let f = s.open(&sst_name(5), false).await.expect("open");
        f.truncate(size - 4096).await.expect("truncate");
    });
    assert!(matches!(read_everything(&s), Err(Error::Corruption { .. })));
    assert!(matches!(block_on(SstReader::open(&s, 6, &schema())), Err(Error::Io { .. })));
}

#[test]
fn a_file_under_another_id_is_rejected() {
    let s = storage();
    small_sst(&s);
    let bytes = block_on(async {
        let f = s.open(&sst_name(5), false).await.expect("open");
        f.read_at(0, 1 << 20).await.expect("read")
    });
    block_on(async {
        let f = s.open(&sst_name(6), true).await.expect("create");
        f.write_at(0, &bytes).await.expect("write");
    });
    let e = block_on(SstReader::open(&s, 6, &schema())).err().expect("rejected");
    assert!(e.to_string().contains("footer names SST 5"), "{e}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Random bit flips anywhere in the file: reading either fails with an error or returns
    /// exactly the rows written (a flip in padding or a reserved byte); it never panics.
    #[test]
    fn random_damage_never_panics_or_lies(flips in proptest::collection::vec((any::<u64>(), 0u8..8), 1..4)) {
        let s = storage();
        let size = small_sst(&s);
        for (position, bit) in flips {
            s.flip_bit(&sst_name(5), position % size, bit);
        }
        match read_everything(&s) {
            Ok(()) => {}
            Err(Error::Corruption { .. } | Error::SchemaMismatch { .. }) => {}
            Err(e) => prop_assert!(false, "unexpected error kind: {e}"),
        }
    }

    /// Damage concentrated on the non-data sections (footer, index, bloom, statistics).
    #[test]
    fn damage_to_the_metadata_never_panics_or_lies(offset in 0u64..4096, bit in 0u8..8) {
        let s = storage();
        let size = small_sst(&s);
        let data_end = block_on(SstReader::open(&s, 5, &schema())).map(|r| r.blocks.last().map_or(0, |b| b.end()));
        let data_end = data_end.expect("open");
        let position = data_end + offset % (size - data_end);
        s.flip_bit(&sst_name(5), position, bit);
        match read_everything(&s) {
            Ok(()) => {}
            Err(Error::Corruption { .. } | Error::SchemaMismatch { .. }) => {}
            Err(e) => prop_assert!(false, "unexpected error kind: {e}"),
        }
    }
}

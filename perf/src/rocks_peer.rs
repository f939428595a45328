//! RocksDB as a `KvStore`: the peer of rill's KV benchmarks (cargo feature `rocksdb`).
//!
//! Set up as a user of the `rocksdb` crate would, with the knobs the comparison needs and
//! RocksDB's defaults otherwise: an LRU block cache of the same byte budget as rill's, a full
//! bloom filter of 10 bits per key, leveled compaction (the default, with dynamic level
//! bytes), the default 64 MiB write buffer and two background jobs, Snappy (the default),
//! buffered I/O through the page cache (the default; `rocks_direct_reads` switches reads to
//! O_DIRECT as rill's), and every write batch written with `sync = true` to its WAL.

use std::path::Path;

use rocksdb::{BlockBasedOptions, Cache, Options, WaitForCompactOptions, WriteBatch, WriteOptions, DB};

use crate::kv_bench::KvConfig;
use crate::kv_data;
use crate::kv_store::KvStore;
use crate::Result;

/// Levels whose file counts are reported.
const LEVELS: usize = 7;

/// An open RocksDB and its block cache.
pub struct RocksStore {
    db: DB,
    cache: Cache,
    sync: WriteOptions,
}

fn options(cache: &Cache, direct_reads: bool) -> Options {
    let mut table = BlockBasedOptions::default();
    table.set_block_cache(cache);
    table.set_bloom_filter(10.0, false);
    let mut opts = Options::default();
    opts.create_if_missing(true);
    opts.set_block_based_table_factory(&table);
    opts.set_use_direct_reads(direct_reads);
    opts
}

impl KvStore for RocksStore {
    type Batch = WriteBatch;

    async fn open(dir: &Path, cache_bytes: usize, config: &KvConfig) -> Result<Self> {
        let cache = Cache::new_lru_cache(cache_bytes);
        let opts = options(&cache, config.rocks_direct_reads);
        let db = DB::open(&opts, dir).map_err(|e| format!("opening RocksDB in {}: {e}", dir.display()))?;
        let mut sync = WriteOptions::default();
        sync.set_sync(true);
        sync.disable_wal(false);
        Ok(Self { db, cache, sync })
    }

    fn name(&self) -> &'static str {
        "rocksdb"
    }

    fn prepare(&self, ids: &[u64], version: u64, value_bytes: usize) -> Result<WriteBatch> {
        let mut batch = WriteBatch::default();
        let mut key = Vec::with_capacity(10);
        let mut value = vec![0u8; value_bytes];
        for &id in ids {
            key.clear();
            kv_data::encode_id(id, &mut key);
            kv_data::fill_value(id, version, &mut value);
            batch.put(&key, &value);
        }
        Ok(batch)
    }

    async fn write(&self, batch: WriteBatch) -> Result<()> {
        self.db.write_opt(batch, &self.sync).map_err(|e| format!("RocksDB write: {e}"))
    }

    async fn get(&self, key: &[u8], expect: Option<&[u8]>) -> Result<bool> {
        let found = self.db.get_pinned(key).map_err(|e| format!("RocksDB get: {e}"))?;
        match (found, expect) {
            (Some(v), Some(expected)) if v.as_ref() != expected => {
                Err(format!("RocksDB get of key {key:02x?} returned a wrong value"))
            }
            (found, _) => Ok(found.is_some()),
        }
    }

    async fn settle(&self) -> Result<()> {
        self.db.flush().map_err(|e| format!("RocksDB flush: {e}"))?;
        let mut wait = WaitForCompactOptions::default();
        wait.set_flush(true);
        self.db.wait_for_compact(&wait).map_err(|e| format!("RocksDB wait_for_compact: {e}"))
    }

    fn shape(&self) -> String {
        let int = |name: &str| self.db.property_int_value(name).ok().flatten().unwrap_or(0);
        let levels: Vec<String> = (0..LEVELS)
            .map(|l| (l, int(&format!("rocksdb.num-files-at-level{l}"))))
            .filter(|(_, files)| *files > 0)
            .map(|(l, files)| format!("L{l}: {files} SSTs"))
            .collect();
        format!(
            "{}; live SSTs {:.1} MiB; memtables {:.1} MiB",
            if levels.is_empty() { "no SSTs".to_string() } else { levels.join(", ") },
            int("rocksdb.live-sst-files-size") as f64 / (1 << 20) as f64,
            int("rocksdb.cur-size-all-mem-tables") as f64 / (1 << 20) as f64
        )
    }

    fn cache_note(&self) -> String {
        format!("block cache: {:.1} MiB used", self.cache.get_usage() as f64 / (1 << 20) as f64)
    }

    fn is_data_file(name: &str) -> bool {
        name.ends_with(".sst")
    }

    async fn close(self) -> Result<()> {
        drop(self.db);
        Ok(())
    }
}

/// How RocksDB is set up, in words (for the results).
pub fn setup(config: &KvConfig) -> Vec<String> {
    vec![
        "rocksdb crate 0.25 (RocksDB 11.8.1, built from source by librocksdb-sys 0.19)".into(),
        "Options::default() + create_if_missing; BlockBasedOptions: LRU block cache of the same bytes as rill's, full bloom filter 10 bits/key; all else default (leveled compaction with dynamic level bytes, 64 MiB write buffer, 2 background jobs, 4 KiB blocks, Snappy)".into(),
        format!(
            "reads: {}",
            if config.rocks_direct_reads {
                "use_direct_reads = true (O_DIRECT, no page cache, like rill)"
            } else {
                "buffered (default): blocks missing from the block cache come from the OS page cache when there"
            }
        ),
        "writes: WriteBatch of the same rows as rill's write, WriteOptions::set_sync(true), WAL on".into(),
        match config.cpu {
            Some(cpu) => format!("calling thread pinned to CPU {cpu} (RocksDB's background threads not pinned)"),
            None => "calling thread not pinned".into(),
        },
        "settle before gets: DB::flush, then wait_for_compact (flush = true)".into(),
        "get = DB::get_pinned (no copy of the value)".into(),
    ]
}

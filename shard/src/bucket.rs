//! One bucket as a shard holds it: a log table's `Log` or a primary-key table's `PkTable`,
//! in its own directory `tables/<table id>/b<bucket>/`, or for a partition of a partitioned
//! table `tables/<table id>/p<partition id>/b<bucket>/` (independent of the shard, so a
//! restart with another shard count just opens it elsewhere).

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

use rill_engine::kv::cache::BlockCache;
use rill_engine::kv::tree::LsmConfig;
use rill_engine::log::{system_clock, Log, LogConfig, UringStorage};
use rill_engine::table::{PkConfig, PkTable};

use crate::bucket_lsm::{LsmTurn, ENGINE_MEMTABLE_BYTES_MAX};
use crate::catalog::{TableInfo, TableKind};
use crate::error::{Error, Result};

/// Directory holding every bucket of a table.
pub fn table_dir(data_dir: &Path, table_id: u64) -> PathBuf {
    data_dir.join("tables").join(table_id.to_string())
}

/// Directory holding every bucket of one partition.
pub fn partition_dir(data_dir: &Path, table_id: u64, partition_id: u64) -> PathBuf {
    table_dir(data_dir, table_id).join(format!("p{partition_id}"))
}

/// Directory of one bucket (of a partition when `partition_id` is given).
pub fn bucket_dir(data_dir: &Path, table_id: u64, partition_id: Option<u64>, bucket: u32) -> PathBuf {
    match partition_id {
        Some(p) => partition_dir(data_dir, table_id, p).join(format!("b{bucket}")),
        None => table_dir(data_dir, table_id).join(format!("b{bucket}")),
    }
}

/// The storage of one bucket.
#[expect(clippy::large_enum_variant, reason = "one per bucket, already behind an Rc")]
pub(crate) enum Store {
    Log(Log<UringStorage>),
    Pk(PkTable<UringStorage>),
}

/// An open bucket with the table it belongs to.
pub(crate) struct OpenBucket {
    pub(crate) table: Arc<TableInfo>,
    /// The partition id, for a partitioned table.
    pub(crate) partition: Option<u64>,
    /// The bucket number.
    pub(crate) bucket: u32,
    pub(crate) store: Store,
    /// Flush beyond this many memtable bytes (the shard schedules it, see [`crate::bucket_lsm`]).
    pub(crate) memtable_bytes_max: usize,
    /// Flushes and compaction steps of a primary-key bucket take turns.
    pub(crate) lsm_turn: LsmTurn,
    /// A flush task for this bucket is queued or running.
    pub(crate) flush_queued: Cell<bool>,
    /// Compaction steps whose merge a peer shard ran (`runtime/merge_peer.rs`).
    pub(crate) merges_on_peer: Cell<u64>,
}

/// Settings shared by the buckets of one shard.
pub(crate) struct BucketSettings {
    pub(crate) data_dir: PathBuf,
    pub(crate) memtable_bytes_max: usize,
    /// `RillConfig::log_zero_fill_bytes`.
    pub(crate) log_zero_fill_bytes: u64,
    /// The shard's block cache, shared by its primary-key buckets (each LSM keys its blocks
    /// under its own namespace).
    pub(crate) block_cache: Rc<BlockCache>,
}

impl OpenBucket {
    /// Opens (creating or recovering) bucket `bucket` of `table` (of its partition
    /// `partition`, for a partitioned table).
    pub(crate) async fn open(
        settings: &BucketSettings,
        table: Arc<TableInfo>,
        partition: Option<u64>,
        bucket: u32,
    ) -> Result<Self> {
        let dir = bucket_dir(&settings.data_dir, table.id, partition, bucket);
        let storage = UringStorage::open(&dir).await?;
        let desc = &table.descriptor;
        let label = match partition {
            Some(p) => format!("{}/p{p}/b{bucket}", desc.name),
            None => format!("{}/b{bucket}", desc.name),
        };
        let mut log = LogConfig::new(label, desc.schema.clone());
        log.retention_ms_max = crate::table_props::log_retention_ms(desc)?;
        // Log tables and primary-key changelogs alike (docs/operations.md).
        log.zero_fill_bytes = settings.log_zero_fill_bytes;
        // Every schema of the table, so batches written under older ones still decode.
        log.schemas.extend(table.schemas.iter().map(|(id, s)| (*id, Arc::clone(s))));
        let store = match table.kind() {
            TableKind::Log => Store::Log(Log::open(storage, log, system_clock()).await?),
            TableKind::PrimaryKey => {
                // The shard flushes (the engine's own flush on the write path could meet a
                // compaction step: see `bucket_lsm`).
                let lsm = LsmConfig { memtable_bytes_max: ENGINE_MEMTABLE_BYTES_MAX, ..LsmConfig::default() };
                let config = PkConfig { log, lsm };
                let cache = Rc::clone(&settings.block_cache);
                Store::Pk(PkTable::open(storage, desc.clone(), config, cache, system_clock()).await?)
            }
        };
        Ok(Self {
            table,
            partition,
            bucket,
            store,
            memtable_bytes_max: settings.memtable_bytes_max,
            lsm_turn: LsmTurn::default(),
            flush_queued: Cell::new(false),
            merges_on_peer: Cell::new(0),
        })
    }

    /// Flushes and closes.
    pub(crate) async fn close(self) -> Result<()> {
        match self.store {
            Store::Log(log) => log.close().await?,
            Store::Pk(table) => table.close().await?,
        }
        Ok(())
    }

    /// The log of a log table.
    pub(crate) fn log(&self) -> Result<&Log<UringStorage>> {
        match &self.store {
            Store::Log(log) => Ok(log),
            Store::Pk(_) => Err(Error::NotALogTable { name: self.table.name().to_string() }),
        }
    }

    /// The log of either kind of table (a primary-key table's changelog).
    pub(crate) fn any_log(&self) -> &Log<UringStorage> {
        match &self.store {
            Store::Log(log) => log,
            Store::Pk(table) => table.log(),
        }
    }

    /// The primary-key table.
    pub(crate) fn pk(&self) -> Result<&PkTable<UringStorage>> {
        match &self.store {
            Store::Pk(table) => Ok(table),
            Store::Log(_) => Err(Error::NotAPrimaryKeyTable { name: self.table.name().to_string() }),
        }
    }
}

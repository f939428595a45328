//! The embedding API: [`Rill`], a cloneable `Send + Sync` handle usable from any thread.
//!
//! Every operation has an `async` form (`*_async`, awaiting a oneshot reply, so it works from
//! tokio or any executor) and a blocking form. Never call the blocking forms from inside a
//! shard (a glommio task): the shard would wait for itself.
//!
//! The handle keeps a copy of the newest catalog snapshot for routing (table id, bucket
//! count); shards hold their own snapshots and never share mutable state with callers.

mod database;
mod ddl;
mod log;
mod on_shard;
mod panic_hook;
mod partition;
mod partition_route;
mod partition_scan;
mod pk;
mod prefix;
mod scan_iter;
mod schema;
mod snapshot;
mod stats;
mod subscribe;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU32;
use std::sync::{Arc, Mutex, RwLock};

use crate::runtime::block_on;

pub use log::AppendInfo;
pub use on_shard::OnShard;
pub use partition_scan::{PartitionAppend, TableScan};
pub use pk::WriteInfo;
pub use scan_iter::{ScanIter, SCAN_ITER_BYTES_MAX};
pub use snapshot::{KvSnapshotIter, SnapshotOffset, SNAPSHOT_PULL_BYTES_MAX};
pub use stats::BucketStats;
pub use subscribe::{Subscription, SUBSCRIBE_READ_BYTES_MAX, SUBSCRIBE_WAIT_MS_DEFAULT, SUBSCRIBE_WAIT_MS_MAX};
pub use writer::{WriterSeq, WRITER_ID_BLOCK};

use crate::bucket::{partition_dir, table_dir};
use crate::catalog::{Catalog, CatalogSnapshot, TableInfo};
use crate::config::{Clock, RillConfig};
use crate::dir_lock::DirLock;
use crate::error::{Error, Result};
use crate::route::shard_of;
use crate::runtime::coordinator::{remember, Published};
use crate::runtime::Runtime;

/// An embedded rill: `N` shards owning the buckets of every table.
#[derive(Clone)]
pub struct Rill {
    inner: Arc<Inner>,
}

struct Inner {
    runtime: Runtime,
    /// Shared with shard 0, which updates it when it changes the catalog on its own.
    catalog: Published,
    clock: Clock,
    data_dir: PathBuf,
    /// Next bucket for appends that do not name one.
    round_robin: AtomicU32,
    /// Hands out idempotent writer ids.
    writer_ids: writer::WriterIds,
    /// The data directory's lock, released once the shards have stopped (declared after
    /// `runtime`, so a drop stops the shards first).
    lock: Mutex<Option<DirLock>>,
}

impl Rill {
    /// Opens (creating) the data directory, locks it, recovers the catalog and opens every
    /// bucket on its owning shard. Blocks until all shards are ready. Fails with
    /// `DataDirLocked` while another `Rill` (in this process or another) has the directory
    /// open; the lock is released by [`Self::shutdown`] or when the last clone is dropped.
    pub fn open(config: RillConfig) -> Result<Self> {
        // A configuration the machine cannot run is refused before the directory is touched.
        let placements = Runtime::placements(&config)?;
        let dir = &config.data_dir;
        std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        let lock = DirLock::acquire(dir)?;
        let catalog = Catalog::open(dir)?.with_partitions_per_table_max(config.partitions_per_table_max);
        let snapshot = catalog.snapshot();
        remove_orphans(dir, &snapshot)?;
        let published: Published = Arc::new(RwLock::new(snapshot));
        let writer_ids = writer::WriterIds::open(dir)?;
        let runtime = Runtime::start(&config, placements, catalog, Arc::clone(&published))?;
        let inner = Inner {
            runtime,
            catalog: published,
            clock: config.clock.clone(),
            data_dir: config.data_dir.clone(),
            round_robin: AtomicU32::new(0),
            writer_ids,
            lock: Mutex::new(Some(lock)),
        };
        let rill = Self { inner: Arc::new(inner) };
        // Catch up on auto-partitioning missed while closed (then shard 0 keeps it going).
        rill.run_auto_partitioning()?;
        Ok(rill)
    }

    /// Number of shards.
    pub fn shards(&self) -> usize {
        self.inner.runtime.shards()
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.inner.data_dir
    }

    /// The catalog as this handle last saw it.
    pub fn catalog(&self) -> Arc<CatalogSnapshot> {
        match self.inner.catalog.read() {
            Ok(c) => Arc::clone(&c),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    fn remember(&self, snapshot: &Arc<CatalogSnapshot>) {
        remember(&self.inner.catalog, snapshot);
    }

    /// Now, epoch ms, by the configured clock.
    fn now_ms(&self) -> i64 {
        self.inner.clock.now_ms()
    }

    fn table(&self, name: &str) -> Result<Arc<TableInfo>> {
        self.catalog().table(name).cloned()
    }

    fn owner(&self, table: &TableInfo, bucket: u32) -> Result<usize> {
        self.owner_in(table, None, bucket)
    }

    /// The shard owning `bucket` of `table` (of partition `partition` of a partitioned table).
    fn owner_in(&self, table: &TableInfo, partition: Option<u64>, bucket: u32) -> Result<usize> {
        let count = table.descriptor.bucket_count;
        if bucket >= count {
            return Err(Error::UnknownBucket { table: table.name().to_string(), bucket, bucket_count: count });
        }
        Ok(shard_of(table.id, partition, bucket, self.shards()))
    }

    /// Asks the shard that should own `bucket` of `table` to confirm it holds it open, and
    /// returns that shard's own index (a debugging aid for routing).
    pub async fn serving_shard_async(&self, table: &str, bucket: u32) -> Result<usize> {
        let info = self.table(table)?;
        let shard = self.owner(&info, bucket)?;
        self.inner
            .runtime
            .call(shard, move |ctx| async move {
                ctx.bucket(&info, bucket).await?;
                Ok(ctx.index())
            })
            .await
    }

    /// How many one-key lookups the shards answered through their call slots so far (found or
    /// not; lookups the slots sent the general way are not counted): a diagnostic of the point
    /// lookup path (docs/embedding.md).
    pub fn point_lookups_answered(&self) -> Result<u64> {
        let mut total = 0;
        for shard in 0..self.shards() {
            total += block_on(self.inner.runtime.call(shard, |ctx| async move { Ok(ctx.points_answered()) }))?;
        }
        Ok(total)
    }

    /// Blocking [`Self::serving_shard_async`].
    pub fn serving_shard(&self, table: &str, bucket: u32) -> Result<usize> {
        block_on(self.serving_shard_async(table, bucket))
    }

    /// Stops every shard: running requests finish, buckets are flushed and closed, threads
    /// are joined, then the data directory's lock is released (it can be opened again). Later
    /// calls on any clone fail with `ShardGone`.
    pub fn shutdown(&self) {
        // Held across the join: a concurrent shutdown from another clone waits here instead
        // of releasing the lock while shards still write.
        let mut lock = match self.inner.lock.lock() {
            Ok(l) => l,
            Err(poisoned) => poisoned.into_inner(),
        };
        self.inner.runtime.shutdown();
        lock.take();
    }
}

/// Removes table and partition directories the catalog does not know (a drop interrupted by
/// a crash).
fn remove_orphans(data_dir: &Path, snapshot: &CatalogSnapshot) -> Result<()> {
    remove_orphan_tables(data_dir, snapshot)?;
    for table in snapshot.tables().filter(|t| t.is_partitioned()) {
        remove_orphan_partitions(data_dir, snapshot, table)?;
    }
    Ok(())
}

/// Removes `p<id>` directories of `table` that name no partition of it.
fn remove_orphan_partitions(data_dir: &Path, snapshot: &CatalogSnapshot, table: &TableInfo) -> Result<()> {
    let dir = table_dir(data_dir, table.id);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(format!("listing {}", dir.display()), e)),
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let id = name.to_str().and_then(|n| n.strip_prefix('p')).and_then(|n| n.parse::<u64>().ok());
        if let Some(id) = id.filter(|id| snapshot.partition_by_id(table.id, *id).is_none()) {
            let orphan = partition_dir(data_dir, table.id, id);
            tracing::info!(dir = %orphan.display(), "removing the data of a dropped partition");
            std::fs::remove_dir_all(&orphan).map_err(|e| Error::io(format!("removing {}", orphan.display()), e))?;
        }
    }
    Ok(())
}

/// Removes table directories the catalog does not know.
fn remove_orphan_tables(data_dir: &Path, snapshot: &CatalogSnapshot) -> Result<()> {
    let tables = data_dir.join("tables");
    let entries = match std::fs::read_dir(&tables) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(format!("listing {}", tables.display()), e)),
    };
    for entry in entries.flatten() {
        let id = entry.file_name().to_str().and_then(|n| n.parse::<u64>().ok());
        if let Some(id) = id.filter(|id| snapshot.table_by_id(*id).is_none()) {
            let dir = table_dir(data_dir, id);
            tracing::info!(dir = %dir.display(), "removing the data of a dropped table");
            std::fs::remove_dir_all(&dir).map_err(|e| Error::io(format!("removing {}", dir.display()), e))?;
        }
    }
    Ok(())
}

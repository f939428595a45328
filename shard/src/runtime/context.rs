//! What a shard holds: its catalog snapshot, its open buckets, its block cache and task
//! queues. Lives on the shard's thread only (`Rc`, `RefCell`): no locks on the data path.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use glommio::sync::Semaphore;
use glommio::TaskQueueHandle;
use tracing::warn;

use super::budget::MemtableBudget;
use super::coordinator::Coordinator;
use crate::bucket::{BucketSettings, OpenBucket};
use crate::catalog::{Catalog, CatalogSnapshot, TableInfo};
use crate::error::{Error, Result};
use crate::route::shard_of;

/// (table id, partition id for a partitioned table, bucket).
pub(crate) type BucketId = (u64, Option<u64>, u32);

/// How long shutdown or a drop waits for requests still using a bucket.
pub(crate) const IDLE_WAIT_MAX: Duration = Duration::from_secs(30);
/// How long a request waits for a bucket that is reopening (after a schema change): its
/// close waits up to `IDLE_WAIT_MAX` for running requests, then it opens again.
const REOPEN_WAIT_MAX: Duration = Duration::from_secs(60);

/// The state of one shard, handed to every request it runs.
pub struct ShardContext {
    index: usize,
    shards: usize,
    settings: BucketSettings,
    catalog: RefCell<Arc<CatalogSnapshot>>,
    /// The mutable catalog: only on shard 0.
    owner: Option<RefCell<Catalog>>,
    buckets: RefCell<HashMap<BucketId, Rc<OpenBucket>>>,
    /// Serializes catalog installs (each opens and closes buckets across awaits).
    installing: Semaphore,
    in_flight: Cell<usize>,
    background: TaskQueueHandle,
    budget: MemtableBudget,
    /// Shard 0's means to publish catalog changes it makes itself.
    coordinator: Option<Coordinator>,
    /// KV snapshots held open for callers.
    snapshots: super::snapshots::Snapshots,
    /// Wakes requests waiting for new data (subscriptions) when a bucket closes or the
    /// shard stops, so they return instead of holding the bucket.
    closing: rill_engine::log::notify::Notify,
    /// Buckets closed to be opened again with a new schema; requests for them wait.
    reopening: RefCell<std::collections::HashSet<BucketId>>,
    /// Woken when a reopening bucket is back (or failed to open).
    reopened: rill_engine::log::notify::Notify,
    /// Tests only: the maintenance loop panics with this message at its next round.
    maintenance_panic_for_tests: RefCell<Option<String>>,
    /// One-key lookups answered through call slots (found or not; not the fallbacks).
    points_answered: Cell<u64>,
    /// Where compaction merges run when not here (`RillConfig::compaction_merges_on_peer`).
    merge_peer: Option<MergePeer>,
    /// Tests only: what merges run here for other shards do first.
    peer_merge_hook_for_tests: Cell<PeerMergeHook>,
}

/// Tests only: what a merge run for another shard does before it starts.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct PeerMergeHook {
    pub(crate) delay: Duration,
    pub(crate) panic: bool,
}

/// The shard that runs this shard's compaction merges.
pub(crate) struct MergePeer {
    pub(crate) peers: super::Peers,
    pub(crate) shard: usize,
}

impl ShardContext {
    pub(crate) fn new(
        index: usize,
        shards: usize,
        settings: BucketSettings,
        budget: MemtableBudget,
        owner: Option<(Catalog, Coordinator)>,
        background: TaskQueueHandle,
        merge_peer: Option<MergePeer>,
    ) -> Self {
        let (owner, coordinator) = owner.map_or((None, None), |(o, c)| (Some(o), Some(c)));
        Self {
            index,
            shards,
            settings,
            catalog: RefCell::new(Arc::new(CatalogSnapshot::default())),
            owner: owner.map(RefCell::new),
            buckets: RefCell::new(HashMap::new()),
            installing: Semaphore::new(1),
            in_flight: Cell::new(0),
            background,
            budget,
            coordinator,
            snapshots: super::snapshots::Snapshots::default(),
            closing: rill_engine::log::notify::Notify::default(),
            reopening: RefCell::new(std::collections::HashSet::new()),
            reopened: rill_engine::log::notify::Notify::default(),
            maintenance_panic_for_tests: RefCell::new(None),
            points_answered: Cell::new(0),
            merge_peer,
            peer_merge_hook_for_tests: Cell::new(PeerMergeHook::default()),
        }
    }

    /// Tests only: makes the maintenance loop panic with `message` at its next round.
    pub(crate) fn panic_in_maintenance_for_tests(&self, message: String) {
        *self.maintenance_panic_for_tests.borrow_mut() = Some(message);
    }

    /// Tests only: merges run here for other shards first wait `delay`, then panic if `panic`.
    pub(crate) fn set_peer_merge_hook_for_tests(&self, hook: PeerMergeHook) {
        self.peer_merge_hook_for_tests.set(hook);
    }

    pub(crate) fn peer_merge_hook_for_tests(&self) -> PeerMergeHook {
        self.peer_merge_hook_for_tests.get()
    }

    pub(crate) fn take_maintenance_panic_for_tests(&self) -> Option<String> {
        self.maintenance_panic_for_tests.borrow_mut().take()
    }

    /// Shard 0's coordinator (none on the other shards).
    pub(crate) fn coordinator(&self) -> Option<&Coordinator> {
        self.coordinator.as_ref()
    }

    /// This shard's index.
    pub fn index(&self) -> usize {
        self.index
    }

    /// The catalog snapshot this shard runs on.
    pub fn catalog(&self) -> Arc<CatalogSnapshot> {
        Arc::clone(&self.catalog.borrow())
    }

    /// The mailbox of the shard that runs this shard's compaction merges, if not this one
    /// (none until every shard has started).
    pub(crate) fn merge_peer(&self) -> Option<Arc<super::mailbox::Mailbox>> {
        let peer = self.merge_peer.as_ref()?;
        peer.peers.get()?.get(peer.shard).cloned()
    }

    /// The shard's data directory.
    pub(crate) fn data_dir(&self) -> &std::path::Path {
        &self.settings.data_dir
    }

    /// The background task queue (flush, close, drop).
    pub(crate) fn background(&self) -> TaskQueueHandle {
        self.background
    }

    /// The shard's memtable budget.
    pub(crate) fn budget(&self) -> &MemtableBudget {
        &self.budget
    }

    /// The open buckets with their ids, sorted by id (a copy: hold the `Rc`s only as long as
    /// needed, a bucket being dropped waits for them).
    pub(crate) fn bucket_handles(&self) -> Vec<(BucketId, Rc<OpenBucket>)> {
        let mut all: Vec<_> = self.buckets.borrow().iter().map(|(id, b)| (*id, Rc::clone(b))).collect();
        all.sort_unstable_by_key(|(id, _)| *id);
        all
    }

    /// One open bucket by id, if it is still open.
    pub(crate) fn bucket_by_id(&self, id: BucketId) -> Option<Rc<OpenBucket>> {
        self.buckets.borrow().get(&id).map(Rc::clone)
    }

    /// The sum of `f` over the open buckets (no copy; `f` cannot await).
    pub(crate) fn sum_over_buckets(&self, f: impl Fn(&OpenBucket) -> usize) -> usize {
        self.buckets.borrow().values().map(|b| f(b)).sum()
    }

    /// The KV snapshots held open for callers.
    pub(crate) fn snapshots(&self) -> &super::snapshots::Snapshots {
        &self.snapshots
    }

    /// Notified when a bucket closes or the shard stops (waiters re-check and return).
    pub(crate) fn closing(&self) -> &rill_engine::log::notify::Notify {
        &self.closing
    }

    /// The mutable catalog (shard 0 only).
    pub(crate) fn with_owner<T>(&self, f: impl FnOnce(&mut Catalog) -> Result<T>) -> Result<T> {
        let owner = self.owner.as_ref().ok_or_else(|| Error::Runtime {
            reason: format!("DDL sent to shard {}, but shard 0 owns the catalog", self.index),
        })?;
        f(&mut owner.borrow_mut())
    }

    /// The open bucket `bucket` of an unpartitioned `table`, which must be owned by this
    /// shard.
    pub(crate) async fn bucket(&self, table: &TableInfo, bucket: u32) -> Result<Rc<OpenBucket>> {
        self.bucket_in(table, None, bucket).await
    }

    /// The open bucket `bucket` of `table` (of partition `partition` for a partitioned table),
    /// which must be owned by this shard. A bucket reopening after a schema change is waited
    /// for (up to `REOPEN_WAIT_MAX`).
    pub(crate) async fn bucket_in(
        &self,
        table: &TableInfo,
        partition: Option<u64>,
        bucket: u32,
    ) -> Result<Rc<OpenBucket>> {
        let id = (table.id, partition, bucket);
        let started = std::time::Instant::now();
        loop {
            let found = self.open_bucket(table, partition, bucket);
            if found.is_ok() || !self.reopening.borrow().contains(&id) || started.elapsed() >= REOPEN_WAIT_MAX {
                return found;
            }
            // Woken when a reopen ends; the timer bounds a wait that missed the wake.
            let wait = self.reopened.wait();
            futures_lite::future::or(wait, glommio::timer::sleep(Duration::from_millis(10))).await;
        }
    }

    fn open_bucket(&self, table: &TableInfo, partition: Option<u64>, bucket: u32) -> Result<Rc<OpenBucket>> {
        let count = table.descriptor.bucket_count;
        if bucket >= count {
            return Err(Error::UnknownBucket { table: table.name().to_string(), bucket, bucket_count: count });
        }
        if table.is_partitioned() != partition.is_some() {
            return Err(match partition {
                None => Error::PartitionRequired { table: table.name().to_string(), operation: "this call".into() },
                Some(_) => Error::NotPartitioned { table: table.name().to_string() },
            });
        }
        match self.buckets.borrow().get(&(table.id, partition, bucket)) {
            Some(b) if b.table.id == table.id => Ok(Rc::clone(b)),
            _ if self.catalog.borrow().table_by_id(table.id).is_none() => {
                Err(Error::UnknownTable { name: table.name().to_string() })
            }
            _ if partition.is_some_and(|p| self.catalog.borrow().partition_by_id(table.id, p).is_none()) => {
                Err(Error::UnknownPartition {
                    table: table.name().to_string(),
                    partition: format!("id {}", partition.unwrap_or_default()),
                })
            }
            _ => Err(Error::Runtime {
                reason: format!("bucket {bucket} of '{}' is not open on shard {}", table.name(), self.index),
            }),
        }
    }

    /// Installs a catalog snapshot: opens the buckets of new tables and partitions this shard
    /// owns, closes those of dropped ones. A snapshot older than the current one is ignored.
    pub(crate) async fn install(&self, snapshot: Arc<CatalogSnapshot>) -> Result<()> {
        let _permit = self.installing.acquire_permit(1).await.map_err(|e| Error::Runtime { reason: e.to_string() })?;
        if snapshot.version < self.catalog.borrow().version {
            return Ok(());
        }
        // Swap first: from here on, requests for dropped tables get `UnknownTable` while their
        // buckets close (requests for new tables only come once every shard has installed).
        *self.catalog.borrow_mut() = Arc::clone(&snapshot);
        let gone = |(t, p, _): &&BucketId| match p {
            Some(p) => snapshot.partition_by_id(*t, *p).is_none(),
            None => snapshot.table_by_id(*t).is_none(),
        };
        let removed: Vec<BucketId> = self.buckets.borrow().keys().filter(gone).copied().collect();
        if !removed.is_empty() {
            self.closing.notify_all();
        }
        for id in removed {
            let bucket = self.buckets.borrow_mut().remove(&id);
            if let Some(bucket) = bucket {
                close_when_idle(bucket).await?;
            }
        }
        self.reopen_evolved(&snapshot).await?;
        for table in snapshot.tables() {
            let partitions: Vec<Option<u64>> = match table.is_partitioned() {
                true => snapshot.partitions_of(table.id).map(|p| Some(p.id)).collect(),
                false => vec![None],
            };
            for partition in partitions {
                for b in 0..table.descriptor.bucket_count {
                    let id = (table.id, partition, b);
                    let owner = shard_of(table.id, partition, b, self.shards);
                    if owner != self.index || self.buckets.borrow().contains_key(&id) {
                        continue;
                    }
                    let open = OpenBucket::open(&self.settings, Arc::clone(table), partition, b).await?;
                    self.buckets.borrow_mut().insert(id, Rc::new(open));
                }
            }
        }
        Ok(())
    }

    /// Reopens the buckets whose table has a new schema, so they learn it (and keep the older
    /// ones to decode what was written under them). Closing flushes a primary-key bucket's
    /// memtable under the old schema; SSTs and changelog batches of older schemas are widened
    /// with null columns when read. Requests already running finish first; requests that
    /// arrive while it reopens wait for it ([`Self::bucket_in`]).
    async fn reopen_evolved(&self, snapshot: &CatalogSnapshot) -> Result<()> {
        let evolved: Vec<(BucketId, Arc<TableInfo>)> = self
            .buckets
            .borrow()
            .iter()
            .filter_map(|(id, b)| {
                let table = snapshot.table_by_id(id.0)?;
                (table.schema_id() != b.table.schema_id()).then(|| (*id, Arc::clone(table)))
            })
            .collect();
        for (id, table) in evolved {
            self.reopening.borrow_mut().insert(id);
            let reopened = self.reopen(id, table).await;
            self.reopening.borrow_mut().remove(&id);
            self.reopened.notify_all();
            reopened?;
        }
        Ok(())
    }

    async fn reopen(&self, id: BucketId, table: Arc<TableInfo>) -> Result<()> {
        let bucket = self.buckets.borrow_mut().remove(&id);
        if let Some(bucket) = bucket {
            close_when_idle(bucket).await?;
        }
        let (_, partition, b) = id;
        let open = OpenBucket::open(&self.settings, table, partition, b).await?;
        self.buckets.borrow_mut().insert(id, Rc::new(open));
        Ok(())
    }

    /// Ids of the buckets open here as (table id, partition id, bucket) (for tests and stats).
    pub fn open_buckets(&self) -> Vec<(u64, Option<u64>, u32)> {
        let mut ids: Vec<_> = self.buckets.borrow().keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// Marks a request as running (shutdown waits for none).
    /// Counts a one-key lookup answered through a call slot.
    pub(crate) fn note_point_answered(&self) {
        self.points_answered.set(self.points_answered.get() + 1);
    }

    /// One-key lookups this shard answered through call slots.
    pub(crate) fn points_answered(&self) -> u64 {
        self.points_answered.get()
    }

    pub(crate) fn begin(self: &Rc<Self>) -> InFlight {
        self.in_flight.set(self.in_flight.get() + 1);
        InFlight(Rc::clone(self))
    }

    /// Waits until no request is running (bounded by `IDLE_WAIT_MAX`).
    pub(crate) async fn wait_idle(&self) {
        self.closing.notify_all();
        let started = std::time::Instant::now();
        while self.in_flight.get() > 0 && started.elapsed() < IDLE_WAIT_MAX {
            glommio::timer::sleep(Duration::from_millis(1)).await;
        }
        if self.in_flight.get() > 0 {
            warn!(shard = self.index, running = self.in_flight.get(), "shutting down with requests still running");
        }
    }

    /// Flushes and closes every bucket (shutdown). Reports the first error after trying all.
    pub(crate) async fn close_all(&self) -> Result<()> {
        let buckets: Vec<_> = self.buckets.borrow_mut().drain().map(|(_, b)| b).collect();
        let mut first = Ok(());
        for bucket in buckets {
            if let Err(e) = close_when_idle(bucket).await {
                warn!(shard = self.index, error = %e, "closing a bucket failed");
                if first.is_ok() {
                    first = Err(e);
                }
            }
        }
        first
    }
}

/// Closes a bucket once no request holds it any more.
async fn close_when_idle(bucket: Rc<OpenBucket>) -> Result<()> {
    let started = std::time::Instant::now();
    let mut bucket = bucket;
    loop {
        match Rc::try_unwrap(bucket) {
            Ok(open) => return open.close().await,
            Err(shared) if started.elapsed() < IDLE_WAIT_MAX => {
                bucket = shared;
                glommio::timer::sleep(Duration::from_millis(1)).await;
            }
            Err(shared) => {
                return Err(Error::Runtime {
                    reason: format!(
                        "bucket {} of '{}' (partition id {:?}) still in use after {IDLE_WAIT_MAX:?}",
                        shared.bucket,
                        shared.table.name(),
                        shared.partition
                    ),
                })
            }
        }
    }
}

/// A running request; dropping it (on completion or cancellation) decrements the count.
pub(crate) struct InFlight(Rc<ShardContext>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.set(self.0.in_flight.get().saturating_sub(1));
    }
}

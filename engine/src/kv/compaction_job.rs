//! One compaction's merge as a job another thread can run.
//!
//! The owner of an LSM plans a compaction ([`super::compaction`]) and hands out a
//! [`CompactionJob`]: input SSTs by id, the output level's rules and the bucket's SST id
//! counter (shared, so outputs get ids no other SST of the bucket has). Everything in it is `Send`, so a shard can ship it to a less busy
//! shard, which runs [`CompactionJob::execute`] against its own storage on the bucket's
//! directory (SSTs are immutable files; outputs are new files) and sends the
//! [`CompactionDone`] back. The owner then installs the outputs (manifest edit, version swap)
//! as it does for a compaction it ran itself. Outputs a crash leaves behind are not in the
//! manifest and are removed at the next open, as for a local compaction.

use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use arrow_schema::SchemaRef;
use tracing::debug;

use super::cache::{cache_key, BlockCache};
use super::merge::{MergeIter, RunSource};
use super::sst::{sst_name, ReadAhead, SstMeta, SstOptions, SstReader, SstWriter};
use super::sst_ids::SstIds;
use super::step::{watch, ForegroundGauge};
use crate::error::{Error, Result};
use crate::log::{Storage, StorageFile};
use crate::schema::Schema;

/// A planned compaction, ready to run anywhere (see the module docs).
#[derive(Debug)]
pub struct CompactionJob {
    /// The bucket, for errors and logs.
    pub(super) bucket: String,
    pub(super) schema: Arc<Schema>,
    pub(super) sst_schema: SchemaRef,
    /// Input SST ids by run, newest run first; within a run, in key order.
    pub(super) inputs: Vec<Vec<u64>>,
    pub(super) output_level: usize,
    pub(super) drop_tombstones: bool,
    /// The log offset the outputs cover (the inputs' highest).
    pub(super) covers_log_offset: i64,
    /// The bucket's SST id counter.
    pub(super) ids: SstIds,
    pub(super) sst: SstOptions,
    pub(super) sst_bytes_target: u64,
    pub(super) merge_chunk_rows: usize,
    pub(super) scan_read_bytes: u64,
    /// The owner's foreground waits: background I/O of the job makes way for them wherever it
    /// runs (`kv::step`).
    pub(super) owner_waits: ForegroundGauge,
    /// Set when the owner gave up on the job (its step was dropped).
    pub(super) cancelled: Arc<AtomicBool>,
}

/// Cancels a job when dropped, unless disarmed first (held by the step that awaits the job).
pub(super) struct CancelOnDrop(Option<Arc<AtomicBool>>);

impl CancelOnDrop {
    /// The job's outcome arrived: nothing to cancel.
    pub(super) fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(flag) = self.0.take() {
            flag.store(true, Ordering::Relaxed);
        }
    }
}

/// What a [`CompactionJob`] wrote: its output SSTs in key order (durable, their directory
/// entries synced).
#[derive(Clone, Debug)]
pub struct CompactionDone {
    pub(super) outputs: Vec<SstMeta>,
}

impl CompactionDone {
    /// A result made elsewhere (the owner refuses outputs whose ids it never handed out or
    /// that name a live SST).
    pub fn new(outputs: Vec<SstMeta>) -> Self {
        Self { outputs }
    }

    /// The output SSTs, in key order.
    pub fn outputs(&self) -> &[SstMeta] {
        &self.outputs
    }
}

/// The owner's block cache, where written blocks go ([`super::tree::Lsm::written_blocks_fill`]).
pub(super) struct CacheFill {
    pub(super) cache: Rc<BlockCache>,
    pub(super) namespace: u64,
}

impl CacheFill {
    /// `writer` (of SST `id`) putting its blocks into the cache as it writes them.
    pub(super) fn attach<F: StorageFile>(&self, writer: SstWriter<F>, id: u64, arrow: &SchemaRef) -> SstWriter<F> {
        writer.with_cache_fill(Rc::clone(&self.cache), cache_key(self.namespace, id), Arc::clone(arrow))
    }
}

/// Removes SST files that were written but not installed (best effort: a leftover is
/// removed at the next open).
pub(super) async fn remove_ssts<S: Storage>(storage: &S, ids: impl IntoIterator<Item = u64>) {
    for id in ids {
        let _ = storage.remove(&sst_name(id)).await;
    }
}

// A job and its result cross threads; so does the error a failed job returns.
const _: () = {
    const fn send<T: Send>() {}
    send::<CompactionJob>();
    send::<CompactionDone>();
    send::<Error>();
};

impl CompactionJob {
    /// A guard that cancels this job when dropped.
    pub(super) fn cancel_on_drop(&self) -> CancelOnDrop {
        CancelOnDrop(Some(Arc::clone(&self.cancelled)))
    }

    /// The bucket the job compacts.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Input SSTs.
    pub fn input_count(&self) -> usize {
        self.inputs.iter().map(Vec::len).sum()
    }

    /// Runs the merge against `storage`, which must be the bucket's directory (any thread's
    /// handle on it): opens the inputs, writes and syncs the outputs, syncs the directory.
    pub async fn execute<S: Storage>(self, storage: &S) -> Result<CompactionDone> {
        let _watch = watch(self.owner_waits.clone());
        let mut runs = Vec::with_capacity(self.inputs.len());
        for run in &self.inputs {
            let mut readers = Vec::with_capacity(run.len());
            for &id in run {
                let reader = SstReader::open(storage, id, &self.schema).await?;
                readers.push(Rc::new(reader.with_arrow_schema(Arc::clone(&self.sst_schema))));
            }
            runs.push(readers);
        }
        self.merge(runs, storage, None).await
    }

    /// Merges `runs` (the job's inputs, open) into new SSTs. On an error, the outputs written
    /// so far are removed (best effort: a leftover is removed at the next open).
    pub(super) async fn merge<S: Storage>(
        &self,
        runs: Vec<Vec<Rc<SstReader<S::File>>>>,
        storage: &S,
        fill: Option<CacheFill>,
    ) -> Result<CompactionDone> {
        let mut created = Vec::new();
        let result = self.merge_into(runs, storage, fill, &mut created).await;
        // A cancelled job leaves its files to the next open: a new instance of the LSM may
        // already have handed out the same ids.
        if result.is_err() && !self.cancelled.load(Ordering::Relaxed) {
            remove_ssts(storage, created).await;
        }
        result
    }

    async fn merge_into<S: Storage>(
        &self,
        runs: Vec<Vec<Rc<SstReader<S::File>>>>,
        storage: &S,
        fill: Option<CacheFill>,
        created: &mut Vec<u64>,
    ) -> Result<CompactionDone> {
        let runs = runs
            .into_iter()
            .filter(|r| !r.is_empty())
            // Compaction is background work: its reads wait for the foreground's I/O waits.
            .map(|run| RunSource::ssts(run, ReadAhead::new(self.scan_read_bytes).background()))
            .collect();
        let mut merge = MergeIter::new(runs, Arc::clone(&self.sst_schema), self.drop_tombstones, self.merge_chunk_rows);
        let scratch = BlockCache::new(0);
        let mut outputs = Vec::new();
        let mut writer: Option<(SstWriter<S::File>, u64)> = None;
        while let Some(chunk) = merge.next_chunk(&scratch).await? {
            if chunk.num_rows() == 0 {
                continue;
            }
            let (w, bytes) = match writer.as_mut() {
                Some(open) => open,
                None => {
                    if self.cancelled.load(Ordering::Relaxed) {
                        return Err(Error::Compaction {
                            bucket: self.bucket.clone(),
                            reason: "the job was cancelled: its step was dropped".into(),
                        });
                    }
                    let id = self.ids.allocate();
                    created.push(id);
                    let mut w = SstWriter::create(storage, id, &self.schema, self.sst, self.covers_log_offset).await?;
                    if let Some(f) = &fill {
                        w = f.attach(w, id, &self.sst_schema);
                    }
                    writer.insert((w, 0))
                }
            };
            w.add(&chunk).await?;
            // Neither reading cached input blocks nor adding need suspend: yield between
            // chunks, so foreground work waits for one chunk at most.
            crate::kv::step::end_of_step().await;
            *bytes += chunk.get_array_memory_size() as u64;
            if *bytes >= self.sst_bytes_target {
                if let Some((w, _)) = writer.take() {
                    outputs.push(w.finish().await?);
                }
            }
        }
        if let Some((w, _)) = writer.take() {
            outputs.push(w.finish().await?);
        }
        storage.sync_dir().await?;
        debug!(bucket = %self.bucket, level = self.output_level, inputs = self.input_count(), outputs = outputs.len(), "compaction merged");
        Ok(CompactionDone { outputs })
    }
}

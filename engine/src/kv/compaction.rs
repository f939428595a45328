//! Leveled compaction.
//!
//! - L0 holds flushed memtables (overlapping, newest first). Once it has
//!   `l0_compaction_trigger` SSTs, all of them and the L1 SSTs they overlap are merged into
//!   new L1 SSTs.
//! - Level n >= 1 has a byte target `l1_bytes_target * level_size_multiplier^(n-1)`. When a
//!   level is over its target, its SST after the level's compaction pointer (round robin by
//!   key) is merged with the SSTs of level n+1 it overlaps.
//! - Tombstones are dropped only when no level below the output holds any SST (they could
//!   still hide an older version there).
//!
//! The multiplier is the write/space-amplification trade-off: a larger one means fewer levels
//! and less space amplification but more rewriting per byte. Each merge step yields to the
//! executor between chunks (the SST reads and writes are awaits), so foreground work runs.
//!
//! A step is planned and installed by the LSM's owner; its merge is a [`CompactionJob`] that
//! runs here ([`Lsm::compact_once`]) or on another thread ([`Lsm::compact_once_with`]).

use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;

use tracing::{debug, info};

use super::compaction_job::{remove_ssts, CompactionDone, CompactionJob};
use super::manifest::{Edit, LEVELS_MAX};
use super::sst::SstReader;
use super::tree::{clone_version, entry_of, Lsm, Turn};
use crate::error::{Error, Result};
use crate::log::Storage;

type SstReaderOf<S> = Rc<SstReader<<S as Storage>::File>>;

/// One planned compaction, as its owner holds it while the merge runs.
struct Plan<F: crate::log::StorageFile> {
    /// Runs, newest first.
    inputs: Vec<Vec<Rc<SstReader<F>>>>,
    output_level: usize,
    drop_tombstones: bool,
}

impl<S: Storage + Clone> Lsm<S> {
    /// Runs at most one compaction step on this thread; returns whether it did anything.
    pub async fn compact_once(&self) -> Result<bool> {
        let Some((turn, plan, job)) = self.begin_compaction() else {
            return Ok(false);
        };
        let fill = self.written_blocks_fill(true);
        let result = job.merge(plan.inputs.clone(), &self.storage, fill).await;
        self.end_compaction(turn, plan, result).await
    }

    /// Runs at most one compaction step whose merge `run` carries out, typically by shipping
    /// the job to another thread that calls [`CompactionJob::execute`] on its own handle on
    /// this bucket's directory. Installing the outputs happens here. Returns whether it did
    /// anything.
    ///
    /// Await it to the end before the LSM is closed or reopened: a step dropped half-way
    /// cancels its job, but the job may still be writing its current output when a new
    /// instance of the LSM opens.
    pub async fn compact_once_with<R, Fut>(&self, run: R) -> Result<bool>
    where
        R: FnOnce(CompactionJob) -> Fut,
        Fut: Future<Output = Result<CompactionDone>>,
    {
        let Some((turn, plan, job)) = self.begin_compaction() else {
            return Ok(false);
        };
        // If this step is dropped while the job runs elsewhere, the job stops at its next
        // output and leaves what it wrote to the next open.
        let cancel = job.cancel_on_drop();
        let result = run(job).await;
        cancel.disarm();
        self.end_compaction(turn, plan, result).await
    }

    /// Compacts until nothing is over its limits (tests and shutdown).
    pub async fn compact_all(&self) -> Result<usize> {
        let mut steps = 0;
        while self.compact_once().await? {
            steps += 1;
        }
        Ok(steps)
    }

    /// Takes the compaction turn and plans.
    fn begin_compaction(&self) -> Option<(Turn<'_>, Plan<S::File>, CompactionJob)> {
        if self.compaction_busy.get() {
            return None;
        }
        let plan = self.plan()?;
        let turn = Turn::take(&self.compaction_busy, None);
        let job = CompactionJob {
            bucket: self.bucket.clone(),
            schema: Arc::clone(&self.schema),
            sst_schema: Arc::clone(&self.sst_schema),
            inputs: plan.inputs.iter().map(|run| run.iter().map(|r| r.meta().id).collect()).collect(),
            output_level: plan.output_level,
            drop_tombstones: plan.drop_tombstones,
            covers_log_offset: plan.inputs.iter().flatten().map(|r| r.meta().covers_log_offset).max().unwrap_or(0),
            ids: self.sst_ids(),
            sst: self.config.sst,
            sst_bytes_target: self.config.sst_bytes_target,
            merge_chunk_rows: self.config.merge_chunk_rows,
            scan_read_bytes: self.config.scan_read_bytes,
            owner_waits: super::step::foreground_gauge(),
            cancelled: Arc::default(),
        };
        Some((turn, plan, job))
    }

    /// Installs a finished merge (or returns its error), gives the turn back and deletes what
    /// no reader holds any more.
    async fn end_compaction(
        &self,
        turn: Turn<'_>,
        plan: Plan<S::File>,
        merged: Result<CompactionDone>,
    ) -> Result<bool> {
        let (replaced, outputs) = match merged {
            Ok(done) => self.install(plan, done).await?,
            Err(e) => return Err(e),
        };
        // Which output blocks hold key ranges the cache held of the inputs, while it still
        // holds them (the turn stays taken until the cache is warm: a next step must not
        // replace the outputs meanwhile).
        let hot = match self.config.warm_compacted_blocks {
            true => super::warm::hot_blocks(&replaced, &outputs, &self.cache).await,
            false => Vec::new(),
        };
        drop(replaced);
        if hot.iter().all(|marks| !marks.contains(&true)) {
            drop(turn);
            self.collect_garbage().await?;
            return Ok(true);
        }
        self.collect_garbage().await?;
        let cached = super::warm::warm(&self.bucket, &outputs, &hot, &self.cache, super::warm::WARM_READ_BYTES).await;
        debug!(bucket = %self.bucket, cached, "warmed the block cache after a compaction");
        drop(turn);
        Ok(true)
    }

    fn level_target(&self, level: usize) -> u64 {
        let mut target = self.config.l1_bytes_target;
        for _ in 1..level {
            target = target.saturating_mul(self.config.level_size_multiplier);
        }
        target
    }

    fn plan(&self) -> Option<Plan<S::File>> {
        let version = Rc::clone(&self.version.borrow());
        let deepest_nonempty = |from: usize| version.levels.iter().skip(from).any(|l| !l.is_empty());
        if version.levels[0].len() >= self.config.l0_compaction_trigger {
            let l0 = &version.levels[0];
            let first = l0.iter().map(|r| r.meta().first_key.clone()).min()?;
            let last = l0.iter().map(|r| r.meta().last_key.clone()).max()?;
            let mut inputs: Vec<Vec<_>> = l0.iter().map(|r| vec![Rc::clone(r)]).collect();
            inputs.push(overlapping(&version.levels[1], &first, &last));
            return Some(Plan { inputs, output_level: 1, drop_tombstones: !deepest_nonempty(2) });
        }
        for level in 1..LEVELS_MAX - 1 {
            if version.level_bytes(level) <= self.level_target(level) {
                continue;
            }
            let source = version.levels[level].first()?;
            let (first, last) = (source.meta().first_key.clone(), source.meta().last_key.clone());
            let inputs = vec![vec![Rc::clone(source)], overlapping(&version.levels[level + 1], &first, &last)];
            return Some(Plan { inputs, output_level: level + 1, drop_tombstones: !deepest_nonempty(level + 2) });
        }
        None
    }

    /// Replaces the plan's inputs with the merge's outputs: manifest edit, version swap.
    /// Returns the inputs replaced and the outputs installed (in key order).
    async fn install(
        &self,
        plan: Plan<S::File>,
        done: CompactionDone,
    ) -> Result<(Vec<SstReaderOf<S>>, Vec<SstReaderOf<S>>)> {
        let outputs = done.outputs;
        let live = |id: u64| self.version.borrow().levels.iter().flatten().any(|r| r.meta().id == id);
        if let Some(stray) = outputs.iter().find(|m| m.id >= self.peek_next_sst_id() || live(m.id)) {
            // Nothing of this result is removed: its ids may name live files.
            return Err(Error::Compaction {
                bucket: self.bucket.clone(),
                reason: format!("output SST {} was never handed out or names a live SST", stray.id),
            });
        }
        // Open the outputs before the manifest lists them: an output that does not open is
        // never installed (and removed), and the edit lists what the files say they hold.
        let mut readers = Vec::with_capacity(outputs.len());
        for meta in &outputs {
            match self.open_sst(meta.id).await {
                Ok(reader) => readers.push(Rc::new(reader)),
                Err(e) => {
                    drop(readers);
                    remove_ssts(&self.storage, outputs.iter().map(|m| m.id)).await;
                    return Err(e);
                }
            }
        }
        let replaced: Vec<Rc<SstReader<S::File>>> = plan.inputs.into_iter().flatten().collect();
        let edit = Edit {
            covers_log_offset: self.covered_offset(),
            next_sst_id: self.peek_next_sst_id(),
            removed: replaced.iter().map(|r| r.meta().id).collect(),
            added: readers.iter().map(|r| entry_of(r.meta(), plan.output_level as u8)).collect(),
        };
        // On an error here the edit may or may not be durable: the outputs stay (the next
        // open keeps them if the manifest lists them and removes them if not).
        self.append_edit(&edit).await?;
        let mut next = clone_version(&self.version.borrow());
        for level in next.levels.iter_mut() {
            level.retain(|r| !replaced.iter().any(|x| Rc::ptr_eq(x, r)));
        }
        let target = &mut next.levels[plan.output_level];
        target.extend(readers.iter().cloned());
        target.sort_by(|a, b| a.meta().first_key.cmp(&b.meta().first_key));
        *self.version.borrow_mut() = Rc::new(next);
        info!(bucket = %self.bucket, replaced = replaced.len(), written = outputs.len(), level = plan.output_level, "compacted");
        self.obsolete.borrow_mut().extend(replaced.iter().cloned());
        readers.sort_by(|a, b| a.meta().first_key.cmp(&b.meta().first_key));
        Ok((replaced, readers))
    }
}

/// The SSTs of a sorted level whose key range meets `[first, last]`.
fn overlapping<F: crate::log::StorageFile>(
    level: &[Rc<SstReader<F>>],
    first: &[u8],
    last: &[u8],
) -> Vec<Rc<SstReader<F>>> {
    level
        .iter()
        .filter(|r| r.meta().last_key.as_slice() >= first && r.meta().first_key.as_slice() <= last)
        .cloned()
        .collect()
}

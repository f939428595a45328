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

use std::rc::Rc;
use std::sync::Arc;

use tracing::info;

use super::manifest::{Edit, LEVELS_MAX};
use super::merge::{MergeIter, RunSource};
use super::sst::{ReadAhead, SstReader, SstWriter};
use super::tree::{clone_version, entry_of, Lsm, Turn};
use crate::error::Result;
use crate::log::Storage;

/// One planned compaction.
struct Plan<F: crate::log::StorageFile> {
    /// Runs, newest first.
    inputs: Vec<Vec<Rc<SstReader<F>>>>,
    output_level: usize,
    drop_tombstones: bool,
}

impl<S: Storage + Clone> Lsm<S> {
    /// Runs at most one compaction step; returns whether it did anything.
    pub async fn compact_once(&self) -> Result<bool> {
        if self.compaction_busy.get() {
            return Ok(false);
        }
        let turn = Turn::take(&self.compaction_busy, None);
        let result = match self.plan() {
            Some(plan) => self.run(plan).await.map(|()| true),
            None => Ok(false),
        };
        drop(turn);
        if result.is_ok() {
            self.collect_garbage().await?;
        }
        result
    }

    /// Compacts until nothing is over its limits (tests and shutdown).
    pub async fn compact_all(&self) -> Result<usize> {
        let mut steps = 0;
        while self.compact_once().await? {
            steps += 1;
        }
        Ok(steps)
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

    async fn run(&self, plan: Plan<S::File>) -> Result<()> {
        let replaced: Vec<Rc<SstReader<S::File>>> = plan.inputs.iter().flatten().cloned().collect();
        let covers = replaced.iter().map(|r| r.meta().covers_log_offset).max().unwrap_or(0);
        let runs = plan
            .inputs
            .into_iter()
            .filter(|r| !r.is_empty())
            // Compaction is background work: its reads wait for the foreground's I/O waits.
            .map(|run| RunSource::ssts(run, ReadAhead::new(self.config.scan_read_bytes).background()))
            .collect();
        let mut merge =
            MergeIter::new(runs, Arc::clone(&self.sst_schema), plan.drop_tombstones, self.config.merge_chunk_rows);
        let scratch = super::cache::BlockCache::new(0);
        let mut outputs = Vec::new();
        let mut writer: Option<(SstWriter<S::File>, u64)> = None;
        while let Some(chunk) = merge.next_chunk(&scratch).await? {
            if chunk.num_rows() == 0 {
                continue;
            }
            if writer.is_none() {
                let id = self.next_sst_id();
                writer = Some((self.create_sst(id, covers, true).await?, 0));
            }
            if let Some((w, bytes)) = writer.as_mut() {
                w.add(&chunk).await?;
                // Neither reading cached input blocks nor adding need suspend: yield between
                // chunks, so foreground work waits for one chunk at most.
                crate::kv::step::end_of_step().await;
                *bytes += chunk.get_array_memory_size() as u64;
                if *bytes >= self.config.sst_bytes_target {
                    if let Some((w, _)) = writer.take() {
                        outputs.push(w.finish().await?);
                    }
                }
            }
        }
        if let Some((w, _)) = writer.take() {
            outputs.push(w.finish().await?);
        }
        self.storage.sync_dir().await?;
        let edit = Edit {
            covers_log_offset: self.covered_offset(),
            next_sst_id: self.peek_next_sst_id(),
            removed: replaced.iter().map(|r| r.meta().id).collect(),
            added: outputs.iter().map(|m| entry_of(m, plan.output_level as u8)).collect(),
        };
        self.append_edit(&edit).await?;
        let mut readers = Vec::with_capacity(outputs.len());
        for meta in &outputs {
            readers.push(Rc::new(self.open_sst(meta.id).await?));
        }
        let mut next = clone_version(&self.version.borrow());
        for level in next.levels.iter_mut() {
            level.retain(|r| !replaced.iter().any(|x| Rc::ptr_eq(x, r)));
        }
        let target = &mut next.levels[plan.output_level];
        target.extend(readers);
        target.sort_by(|a, b| a.meta().first_key.cmp(&b.meta().first_key));
        *self.version.borrow_mut() = Rc::new(next);
        info!(bucket = %self.bucket, replaced = replaced.len(), written = outputs.len(), level = plan.output_level, "compacted");
        self.obsolete.borrow_mut().extend(replaced);
        Ok(())
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

//! Batched point reads. Each key first goes as far as memory takes it (memtables, bloom
//! filters, block indexes, cached blocks); the SST blocks the misses stop at are then read
//! together, their I/Os in flight at once, and each key resumes where it stopped. A write of
//! 100 keys whose old rows are on disk waits for about one read instead of 100 in a row.

use std::rc::Rc;
use std::sync::Arc;

use arrow_array::RecordBatch;

use super::prefetch::{prefetch, prefetch_row, prefetch_slice, RowHop};
use super::sst::{hash64, key_column, tombstone_column, SstReader, SstRow};
use super::tree::{level_candidates, Lsm, RowRef, Version};
use crate::error::Result;
use crate::log::join::join_all;
use crate::log::Storage;

/// Block reads in flight at once for one batched read (more wait for the next round).
pub const READS_IN_FLIGHT_MAX: usize = 64;

/// Where a key's search stands: the next candidate SST to probe.
struct Cursor {
    key: usize,
    hash: u64,
    level: usize,
    at: usize,
}

/// How far a key got from memory.
enum Step<F: crate::log::StorageFile> {
    /// Its newest version (`None`: absent or deleted).
    Decided(Option<RowRef>),
    /// It needs block `.1` of this SST, which the cache does not hold.
    Read(Rc<SstReader<F>>, usize),
}

impl<S: Storage + Clone> Lsm<S> {
    /// The newest version of each key (as [`Lsm::get`] answers one, which also serves a
    /// single key), in order; the blocks missing from the cache are read concurrently.
    pub async fn get_many<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Option<RowRef>>> {
        // Lookups are foreground work: background steps make way while their reads are out.
        let _foreground = super::step::foreground_wait();
        if let [one] = keys {
            return Ok(vec![self.get(one.as_ref()).await?]);
        }
        let mut found: Vec<Option<RowRef>> = vec![None; keys.len()];
        let mut pending = Vec::new();
        let hashes: Vec<u64> = keys.iter().map(|k| hash64(k.as_ref())).collect();
        for &hash in &hashes {
            self.prefetch_in_memory(hash);
        }
        for ((k, key), &hash) in keys.iter().map(AsRef::as_ref).enumerate().zip(&hashes) {
            match self.get_in_memory(key, hash) {
                Some(answer) => found[k] = answer,
                None => pending.push(Cursor { key: k, hash, level: 0, at: 0 }),
            }
        }
        if pending.is_empty() {
            return Ok(found);
        }
        let version = Rc::clone(&self.version.borrow());
        prefetch_blooms(&version, keys, &pending);
        while !pending.is_empty() {
            let mut reads: Vec<(Rc<SstReader<S::File>>, usize)> = Vec::new();
            let mut waiting: Vec<(Cursor, usize)> = Vec::new();
            let mut next_round = Vec::new();
            for (cursor, step) in self.advance_all(&version, keys, std::mem::take(&mut pending))? {
                match step {
                    Step::Decided(answer) => found[cursor.key] = answer,
                    Step::Read(reader, block) => {
                        let same = |(r, b): &(Rc<SstReader<S::File>>, usize)| Rc::ptr_eq(r, &reader) && *b == block;
                        match reads.iter().position(same) {
                            Some(read) => waiting.push((cursor, read)),
                            None if reads.len() < READS_IN_FLIGHT_MAX => {
                                reads.push((reader, block));
                                waiting.push((cursor, reads.len() - 1));
                            }
                            // Over the limit: this key tries again (from the cache) next round.
                            None => next_round.push(cursor),
                        }
                    }
                }
            }
            let blocks = join_all(reads.iter().map(|(r, b)| r.read_block(*b, &self.cache)).collect()).await;
            let blocks: Vec<Arc<RecordBatch>> = blocks.into_iter().collect::<Result<_>>()?;
            for (mut cursor, read) in waiting {
                let (reader, block) = &reads[read];
                match reader.find_in_block(*block, Arc::clone(&blocks[read]), keys[cursor.key].as_ref())? {
                    Some(row) => found[cursor.key] = self.answer(row)?,
                    None => {
                        cursor.at += 1;
                        next_round.push(cursor);
                    }
                }
            }
            pending = next_round;
        }
        // Callers gather the rows found (the old rows of an upsert's changelog, a batched
        // lookup's answer): their values sit in as many blocks as rows, a miss or two each.
        for hop in [RowHop::Slots, RowHop::Bytes] {
            for (batch, row) in found.iter().flatten() {
                prefetch_row(batch, *row, hop);
            }
        }
        Ok(found)
    }

    /// Each cursor's next step, from cached blocks: probes every cursor's candidate SSTs
    /// in lockstep (all cursors' next candidate by bloom filter, then all their block index
    /// searches, then all their block cache lookups (their index entries and then the cached
    /// blocks hinted first), then all the searches in the blocks), so
    /// the cache misses of different keys overlap instead of queueing one key's chain of
    /// misses behind another's. A cursor stops at its answer or at the first
    /// block the cache does not hold.
    fn advance_all<K: AsRef<[u8]>>(
        &self,
        version: &Version<S::File>,
        keys: &[K],
        mut active: Vec<Cursor>,
    ) -> Result<Vec<(Cursor, Step<S::File>)>> {
        let mut steps = Vec::with_capacity(active.len());
        while !active.is_empty() {
            let mut candidates = Vec::with_capacity(active.len());
            for mut cursor in active.drain(..) {
                let key = keys[cursor.key].as_ref();
                match next_candidate(version, key, &mut cursor) {
                    Some(reader) => {
                        reader.prefetch_block_index(key);
                        candidates.push((cursor, reader));
                    }
                    None => steps.push((cursor, Step::Decided(None))),
                }
            }
            let mut probes = Vec::with_capacity(candidates.len());
            for (mut cursor, reader) in candidates {
                match reader.block_for(keys[cursor.key].as_ref()) {
                    Some(i) => {
                        self.cache.prefetch(reader.cache_key(), i);
                        probes.push((cursor, reader, i));
                    }
                    None => {
                        cursor.at += 1;
                        active.push(cursor);
                    }
                }
            }
            for (_, reader, i) in &probes {
                self.cache.prefetch_block(reader.cache_key(), *i);
            }
            let mut hits = Vec::with_capacity(probes.len());
            for (cursor, reader, i) in probes {
                match reader.cached_block(i, &self.cache) {
                    Some(block) => hits.push((cursor, reader, i, block)),
                    None => steps.push((cursor, Step::Read(reader, i))),
                }
            }
            prefetch_blocks(hits.iter().map(|(_, _, _, block)| block.as_ref()));
            for (mut cursor, reader, i, block) in hits {
                match reader.find_in_block(i, block, keys[cursor.key].as_ref())? {
                    Some(row) => steps.push((cursor, Step::Decided(self.answer(row)?))),
                    None => {
                        cursor.at += 1;
                        active.push(cursor);
                    }
                }
            }
        }
        Ok(steps)
    }

    /// A found SST row as an answer: a tombstone hides the key.
    pub(super) fn answer(&self, row: SstRow) -> Result<Option<RowRef>> {
        if row.is_tombstone() {
            return Ok(None);
        }
        Ok(Some((self.table_rows(&row.block)?, row.row)))
    }
}

/// Hints the CPU to fetch the bloom filter words of every candidate SST of every pending key,
/// before any is probed: the filters of a large bucket are megabytes, so each probe would
/// otherwise wait for its own cache misses, one key after another.
fn prefetch_blooms<F: crate::log::StorageFile, K: AsRef<[u8]>>(version: &Version<F>, keys: &[K], pending: &[Cursor]) {
    for cursor in pending {
        let key = keys[cursor.key].as_ref();
        for (level, readers) in version.levels.iter().enumerate() {
            for reader in level_candidates(readers, level, key) {
                reader.prefetch_bloom(cursor.hash);
            }
        }
    }
}

/// Moves `cursor` to its next candidate SST (from where it stands) whose bloom filter lets
/// the key in, and returns it; the cursor stays on it. `None` past the last level.
fn next_candidate<F: crate::log::StorageFile>(
    version: &Version<F>,
    key: &[u8],
    cursor: &mut Cursor,
) -> Option<Rc<SstReader<F>>> {
    while let Some(readers) = version.levels.get(cursor.level) {
        let candidates = level_candidates(readers, cursor.level, key);
        while let Some(reader) = candidates.get(cursor.at) {
            if reader.may_contain_hash(cursor.hash) {
                return Some(Rc::clone(reader));
            }
            cursor.at += 1;
        }
        cursor.level += 1;
        cursor.at = 0;
    }
    None
}

/// Hints the CPU to fetch what searching each cached block reads, one hop at a time for all
/// blocks: the block's column list, then each column's array, then the key column's offsets
/// and bytes and the tombstone bits. Each hop depends on the one before, so for one block
/// they are a chain of cache misses; over all blocks each hop's misses overlap.
fn prefetch_blocks<'a>(blocks: impl Iterator<Item = &'a RecordBatch> + Clone) {
    for block in blocks.clone() {
        if let Some(first) = block.columns().first() {
            prefetch(first);
        }
    }
    for block in blocks.clone() {
        for column in block.columns() {
            prefetch(column.as_ref());
        }
    }
    for block in blocks {
        if let Some(keys) = key_column(block) {
            prefetch_slice(keys.value_offsets());
            prefetch_slice(keys.value_data());
        }
        if let Some(tombstones) = tombstone_column(block) {
            prefetch_slice(tombstones.values().values());
        }
    }
}

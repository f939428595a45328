//! Batched point reads. Each key first goes as far as memory takes it (memtables, bloom
//! filters, block indexes, cached blocks); the SST blocks the misses stop at are then read
//! together, their I/Os in flight at once, and each key resumes where it stopped. A write of
//! 100 keys whose old rows are on disk waits for about one read instead of 100 in a row.

use std::rc::Rc;
use std::sync::Arc;

use arrow_array::RecordBatch;

use super::sst::{hash64, SstReader, SstRow};
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
        if let [one] = keys {
            return Ok(vec![self.get(one.as_ref()).await?]);
        }
        let mut found: Vec<Option<RowRef>> = vec![None; keys.len()];
        let mut pending = Vec::new();
        for (k, key) in keys.iter().map(AsRef::as_ref).enumerate() {
            let hash = hash64(key);
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
            for mut cursor in pending.drain(..) {
                let key = keys[cursor.key].as_ref();
                match self.advance(&version, key, &mut cursor)? {
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
        Ok(found)
    }

    /// Probes `key`'s candidate SSTs from `cursor` on, answering from cached blocks; stops at
    /// the first block the cache does not hold.
    fn advance(&self, version: &Version<S::File>, key: &[u8], cursor: &mut Cursor) -> Result<Step<S::File>> {
        while let Some(readers) = version.levels.get(cursor.level) {
            let candidates = level_candidates(readers, cursor.level, key);
            while let Some(reader) = candidates.get(cursor.at) {
                if reader.may_contain_hash(cursor.hash) {
                    if let Some(i) = reader.block_for(key) {
                        let Some(block) = reader.cached_block(i, &self.cache) else {
                            return Ok(Step::Read(Rc::clone(reader), i));
                        };
                        if let Some(row) = reader.find_in_block(i, block, key)? {
                            return Ok(Step::Decided(self.answer(row)?));
                        }
                    }
                }
                cursor.at += 1;
            }
            cursor.level += 1;
            cursor.at = 0;
        }
        Ok(Step::Decided(None))
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

//! Keeping hot key ranges cached across a compaction.
//!
//! A compaction replaces its inputs by outputs that hold the same keys. Once it is installed,
//! the inputs' blocks leave the block cache and the outputs' blocks are cold: every lookup
//! in the compacted range then misses once, and with uniform keys a write of 100 rows nearly
//! always waits for one of those reads (30 s of upserts on a 5M-key table saw 400-800k
//! misses with the cache not even full, more the more compaction ran).
//!
//! So the owner, after installing a step, marks each output block whose key range meets a
//! block of an input the cache held (the range was being read: [`hot_blocks`]), lets the
//! inputs go (their blocks leave the cache), and reads the marked blocks back, consecutive
//! ones in one read, into the room the inputs left, never evicting ([`warm`]). The reads are
//! background I/O: they make way for the foreground's waits.

use std::rc::Rc;
use std::sync::Arc;

use tracing::warn;

use super::cache::BlockCache;
use super::sst::SstReader;
use super::step::end_of_step;
use crate::log::StorageFile;

/// Bytes of consecutive marked blocks one warming read takes at most. Larger than a
/// compaction's reads: each background read may wait up to `step::IO_DEFER_MAX` for the
/// foreground's I/O, and until a range is warm its lookups miss.
pub(super) const WARM_READ_BYTES: u64 = 1 << 20;

/// Block visits of the marking pass between two yields.
const MARK_STEP: usize = 4096;

/// For each of `outputs` (disjoint, in key order), which of its blocks meet the key range of
/// a block of one of `inputs` that `cache` holds.
pub(super) async fn hot_blocks<F: StorageFile>(
    inputs: &[Rc<SstReader<F>>],
    outputs: &[Rc<SstReader<F>>],
    cache: &BlockCache,
) -> Vec<Vec<bool>> {
    let mut marks: Vec<Vec<bool>> = outputs.iter().map(|o| vec![false; o.block_count()]).collect();
    let mut visits = 0;
    for input in inputs {
        // One cursor over all output blocks in key order, moving forward only: the input's
        // cached blocks come in key order too.
        let (mut o, mut b) = (0usize, 0usize);
        for i in cache.cached_blocks(input.cache_key()) {
            let Some((first, last)) = input.block_keys(i) else { continue };
            while let Some(out) = outputs.get(o) {
                visits += 1;
                match out.block_keys(b) {
                    Some((_, out_last)) if out_last < first => b += 1,
                    Some(_) => break,
                    None => (o, b) = (o + 1, 0),
                }
            }
            let (mut mo, mut mb) = (o, b);
            while let Some(out) = outputs.get(mo) {
                visits += 1;
                match out.block_keys(mb) {
                    Some((out_first, _)) if out_first <= last => {
                        if let Some(mark) = marks.get_mut(mo).and_then(|m| m.get_mut(mb)) {
                            *mark = true;
                        }
                        mb += 1;
                    }
                    Some(_) => break,
                    None => (mo, mb) = (mo + 1, 0),
                }
            }
            if visits >= MARK_STEP {
                visits = 0;
                end_of_step().await;
            }
        }
    }
    marks
}

/// Reads the blocks `marks` names of `outputs` into `cache` while it has room (never
/// evicting), consecutive ones up to `read_bytes` per read; skips those already cached.
/// Best effort: a failed read stops it (logged). Returns the blocks it cached.
pub(super) async fn warm<F: StorageFile>(
    bucket: &str,
    outputs: &[Rc<SstReader<F>>],
    marks: &[Vec<bool>],
    cache: &BlockCache,
    read_bytes: u64,
) -> usize {
    let mut cached = 0;
    for (out, marks) in outputs.iter().zip(marks) {
        let key = out.cache_key();
        let wanted = |i: usize| marks.get(i).copied().unwrap_or(false) && !cache.contains(key, i);
        let mut i = 0;
        while i < marks.len() {
            if !wanted(i) {
                i += 1;
                continue;
            }
            let start = out.block_span(i).map_or(0, |s| s.start);
            let mut end = i + 1;
            while wanted(end) && out.block_span(end).is_some_and(|s| s.end - start <= read_bytes) {
                end += 1;
            }
            let blocks = match out.load_blocks_detached(i..end).await {
                Ok(blocks) => blocks,
                Err(e) => {
                    warn!(bucket, sst = out.meta().id, error = %e, "warming the block cache after a compaction stopped");
                    return cached;
                }
            };
            for (j, block) in (i..end).zip(blocks) {
                if !cache.insert_if_room(key, j, Arc::new(block)) {
                    return cached;
                }
                cached += 1;
            }
            i = end;
            end_of_step().await;
        }
    }
    cached
}

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
use super::sst::{ReadAhead, SstReader};
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
            // Read no more than the cache has room for (a full cache ends the warming).
            let fits = |s: std::ops::Range<u64>| {
                let bytes = s.end.saturating_sub(start);
                bytes <= read_bytes && cache.has_room(usize::try_from(bytes).unwrap_or(usize::MAX))
            };
            if !out.block_span(i).is_some_and(fits) {
                return cached;
            }
            let mut end = i + 1;
            while wanted(end) && out.block_span(end).is_some_and(fits) {
                end += 1;
            }
            // One read: the run spans at most `read_bytes`.
            let mut ahead = ReadAhead::new(read_bytes).background().detached();
            for j in i..end {
                let block = match ahead.block(out, j, end).await {
                    Ok(block) => block,
                    Err(e) => {
                        warn!(bucket, sst = out.meta().id, error = %e, "warming the block cache after a compaction stopped");
                        return cached;
                    }
                };
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::rc::Rc;
    use std::sync::Arc;

    use arrow_array::{BinaryArray, BooleanArray, Int64Array, RecordBatch};
    use futures_lite::future::block_on;
    use proptest::prelude::*;

    use super::hot_blocks;
    use crate::kv::cache::BlockCache;
    use crate::kv::sst::{sst_arrow_schema, SstOptions, SstReader, SstWriter};
    use crate::log::{SimFaults, SimStorage};
    use crate::schema::{Column, DataType, Schema};

    fn schema() -> Schema {
        Schema::new(vec![Column::not_null("id", DataType::BigInt)])
    }

    /// An SST `id` of the (sorted, distinct) `ids`, in blocks of about `block_bytes`.
    fn sst(
        storage: &SimStorage,
        id: u64,
        ids: &[i64],
        block_bytes: usize,
    ) -> Rc<SstReader<<SimStorage as crate::log::Storage>::File>> {
        let rows = RecordBatch::try_new(
            sst_arrow_schema(&schema()),
            vec![
                Arc::new(BinaryArray::from_iter_values(ids.iter().map(|i| (*i as u64).to_be_bytes()))),
                Arc::new(BooleanArray::from(vec![false; ids.len()])),
                Arc::new(Int64Array::from(ids.to_vec())),
            ],
        )
        .unwrap();
        let options = SstOptions { block_bytes_target: block_bytes, ..SstOptions::default() };
        block_on(async {
            let mut writer = SstWriter::create(storage, id, &schema(), options, 0).await.unwrap();
            writer.add(&rows).await.unwrap();
            writer.finish().await.unwrap();
            Rc::new(SstReader::open(storage, id, &schema()).await.unwrap())
        })
    }

    proptest! {
        /// Any inputs and disjoint outputs, any input blocks cached: an output block is marked
        /// exactly when its key range meets a cached input block's.
        #[test]
        fn marks_the_output_blocks_that_meet_cached_input_blocks(
            inputs in proptest::collection::vec(
                (proptest::collection::btree_set(0i64..3000, 1..300), 200usize..1200), 1..4),
            cuts in proptest::collection::btree_set(1i64..2999, 0..4),
            output_block_bytes in 200usize..1200,
            cached in proptest::collection::vec(any::<bool>(), 64),
        ) {
            let storage = SimStorage::new(1, SimFaults::default());
            let cache = BlockCache::new(64 << 20);
            let mut readers = Vec::new();
            let mut all = std::collections::BTreeSet::new();
            for (n, (ids, block_bytes)) in inputs.iter().enumerate() {
                all.extend(ids.iter().copied());
                readers.push(sst(&storage, n as u64 + 1, &ids.iter().copied().collect::<Vec<_>>(), *block_bytes));
            }
            // The outputs: all keys, cut into disjoint SSTs at `cuts`.
            let mut outputs = Vec::new();
            let bounds: Vec<i64> = std::iter::once(i64::MIN).chain(cuts.iter().copied()).chain([i64::MAX]).collect();
            for (n, w) in bounds.windows(2).enumerate() {
                let part: Vec<i64> = all.iter().copied().filter(|i| *i >= w[0] && *i < w[1]).collect();
                if !part.is_empty() {
                    outputs.push(sst(&storage, 100 + n as u64, &part, output_block_bytes));
                }
            }
            let mut flags = cached.iter().cycle();
            let dummy = Arc::new(RecordBatch::new_empty(sst_arrow_schema(&schema())));
            for r in &readers {
                for b in 0..r.block_count() {
                    if *flags.next().unwrap() {
                        cache.insert(r.cache_key(), b, Arc::clone(&dummy));
                    }
                }
            }
            let marks = block_on(hot_blocks(&readers, &outputs, &cache));
            for (o, (out, out_marks)) in outputs.iter().zip(&marks).enumerate() {
                prop_assert_eq!(out_marks.len(), out.block_count());
                for (b, &marked) in out_marks.iter().enumerate() {
                    let (first, last) = out.block_keys(b).unwrap();
                    let want = readers.iter().any(|r| {
                        cache.cached_blocks(r.cache_key()).into_iter().any(|i| {
                            let (f, l) = r.block_keys(i).unwrap();
                            f <= last && first <= l
                        })
                    });
                    prop_assert_eq!(marked, want, "output {} block {}", o, b);
                }
            }
        }
    }
}

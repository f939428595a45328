//! The block cache of a shard: decoded SST blocks under a byte budget, CLOCK eviction.
//!
//! Single-threaded (it lives on one shard), so interior mutability is a `RefCell`. Entries
//! are keyed by (SST id, block index) and charged [`batch_memory_bytes`]: the memory the
//! decoded block keeps alive. That is not `RecordBatch::get_array_memory_size`, which charges
//! every column the capacity of the whole allocation it points into: a block decoded without
//! copying keeps all its columns in the one buffer read from disk, so that sum would count
//! the block once per buffer (tens of times for a wide table).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::{Array, RecordBatch};
use arrow_buffer::Buffer;
use arrow_data::ArrayData;

/// Counters of a [`BlockCache`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    pub inserts: u64,
    pub evictions: u64,
    /// Blocks in the cache now.
    pub entries: usize,
    /// Bytes charged for them now.
    pub bytes: usize,
}

/// Key of a cached block: (SST id, block index).
type BlockKey = (u64, usize);

/// Hashes SST ids for the cache's index: a multiply per integer (SipHash, the default, cost
/// about as much as the rest of a cache hit). Keys are ours, not chosen by a client.
#[derive(Default, Clone, Copy)]
struct BlockKeyHasher(u64);

impl std::hash::Hasher for BlockKeyHasher {
    fn finish(&self) -> u64 {
        // Fold the well-mixed high bits of the products into the low ones hashbrown indexes by.
        self.0 ^ (self.0 >> 29)
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(23) ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

/// The cached blocks of every SST with any: by SST id, a list by block index. A lookup
/// finds its SST in a map as small as the SST count (it stays in the CPU's caches) and then
/// reads one 16-byte entry, whose address is known before it is read, so a batched lookup
/// hints it ahead ([`BlockCache::prefetch`]); a hash table of every block would cost a
/// cache miss that cannot be hinted. An SST's list stays as long as its highest cached block
/// until the SST is removed ([`BlockCache::remove_sst`]): 16 bytes per block, not charged to
/// the budget (~0.4% of the blocks' bytes at 4 KiB blocks).
type BlockIndex = HashMap<u64, Vec<Option<Entry>>, std::hash::BuildHasherDefault<BlockKeyHasher>>;

/// A cached block as the index holds it: a hit reads only the index (the block is right
/// there) and one bit of `Inner::referenced`, never its slot.
struct Entry {
    slot: usize,
    block: Arc<RecordBatch>,
}

/// A block's place on the clock.
struct Slot {
    key: BlockKey,
    bytes: usize,
}

#[derive(Default)]
struct Inner {
    /// Every cached block, by key.
    index: BlockIndex,
    /// Blocks in `index`.
    entries: usize,
    /// The clock's slots; `None` are free (listed in `free`).
    slots: Vec<Option<Slot>>,
    /// One bit per slot, set by a hit and cleared when the clock hand passes: a block is
    /// evicted when the hand finds it unused since its last pass. Dense (a bit per block),
    /// so setting it on a hit touches memory that stays in the CPU's caches.
    referenced: Vec<u64>,
    free: Vec<usize>,
    hand: usize,
    bytes: usize,
}

impl Inner {
    fn entry(&self, (sst, block): BlockKey) -> Option<&Entry> {
        self.index.get(&sst)?.get(block)?.as_ref()
    }

    fn hit(&mut self, key: BlockKey) -> Option<Arc<RecordBatch>> {
        let entry = self.entry(key)?;
        let (word, bit) = (entry.slot / 64, 1u64 << (entry.slot % 64));
        let block = Arc::clone(&entry.block);
        if let Some(w) = self.referenced.get_mut(word) {
            *w |= bit;
        }
        Some(block)
    }

    /// Reads and clears slot `at`'s referenced bit.
    fn take_referenced(&mut self, at: usize) -> bool {
        let (word, bit) = (at / 64, 1u64 << (at % 64));
        match self.referenced.get_mut(word) {
            Some(w) if *w & bit != 0 => {
                *w &= !bit;
                true
            }
            _ => false,
        }
    }

    fn remove(&mut self, (sst, block): &BlockKey) -> bool {
        let Some(entry) = self.index.get_mut(sst).and_then(|blocks| blocks.get_mut(*block)?.take()) else {
            return false;
        };
        self.free_slot(entry);
        true
    }

    /// Gives back the clock slot of an entry taken out of the index.
    fn free_slot(&mut self, entry: Entry) {
        self.entries -= 1;
        if let Some(slot) = self.slots.get_mut(entry.slot).and_then(Option::take) {
            self.bytes -= slot.bytes;
            self.free.push(entry.slot);
        }
    }

    /// Evicts the first block the hand finds unreferenced (clearing the bits it passes).
    /// False when nothing is cached.
    fn evict_one(&mut self) -> bool {
        if self.entries == 0 {
            return false;
        }
        // Two turns at most: the first clears every bit it passes.
        for _ in 0..2 * self.slots.len() {
            let at = self.hand;
            self.hand = (self.hand + 1) % self.slots.len();
            let Some(Some(slot)) = self.slots.get(at) else { continue };
            let key = slot.key;
            if !self.take_referenced(at) {
                return self.remove(&key);
            }
        }
        unreachable!("invariant: a clock with cached blocks finds one unreferenced within two turns")
    }

    fn add(&mut self, key: BlockKey, block: Arc<RecordBatch>, bytes: usize) {
        let slot = Slot { key, bytes };
        let at = match self.free.pop() {
            Some(at) => {
                self.slots[at] = Some(slot);
                at
            }
            None => {
                self.slots.push(Some(slot));
                self.slots.len() - 1
            }
        };
        if self.referenced.len() <= at / 64 {
            self.referenced.resize(at / 64 + 1, 0);
        }
        self.take_referenced(at);
        let blocks = self.index.entry(key.0).or_default();
        if blocks.len() <= key.1 {
            blocks.resize_with(key.1 + 1, || None);
        }
        debug_assert!(blocks[key.1].is_none(), "invariant: a block is removed before it is added again");
        blocks[key.1] = Some(Entry { slot: at, block });
        self.entries += 1;
        self.bytes += bytes;
    }
}

/// Decoded SST blocks under a byte budget, evicted by CLOCK (second chance): a hit only sets
/// a bit, so the hot path neither reorders nor allocates.
pub struct BlockCache {
    bytes_max: usize,
    inner: RefCell<Inner>,
    hits: Cell<u64>,
    misses: Cell<u64>,
    inserts: Cell<u64>,
    evictions: Cell<u64>,
    namespaces: Cell<u64>,
}

/// Highest block index cached (the index keeps a list of each SST's blocks as long as its
/// highest cached index; an SST has thousands of blocks).
pub const BLOCK_INDEX_MAX: usize = (1 << 20) - 1;

/// Bits of a cache key that hold the SST id; the bits above hold the LSM's namespace.
pub const SST_ID_BITS: u32 = 40;

impl BlockCache {
    /// A cache holding at most `bytes_max` bytes of blocks (0 caches nothing).
    pub fn new(bytes_max: usize) -> Self {
        Self {
            bytes_max,
            inner: RefCell::new(Inner::default()),
            hits: Cell::new(0),
            misses: Cell::new(0),
            inserts: Cell::new(0),
            evictions: Cell::new(0),
            namespaces: Cell::new(0),
        }
    }

    /// A namespace for one LSM sharing this cache: SST ids are unique only within an LSM, so
    /// each LSM keys its blocks by [`cache_key`] of its namespace and the SST id.
    pub fn new_namespace(&self) -> u64 {
        let next = self.namespaces.get() + 1;
        self.namespaces.set(next);
        next
    }

    /// The byte budget.
    pub fn bytes_max(&self) -> usize {
        self.bytes_max
    }

    /// Block `block` of SST `sst`, if cached (counts a hit or a miss).
    pub fn get(&self, sst: u64, block: usize) -> Option<Arc<RecordBatch>> {
        let found = self.inner.borrow_mut().hit((sst, block));
        let counter = if found.is_some() { &self.hits } else { &self.misses };
        counter.set(counter.get() + 1);
        found
    }

    /// Asks the CPU for the index entry [`Self::get`] of (`sst`, `block`) reads.
    pub fn prefetch(&self, sst: u64, block: usize) {
        if let Some(entry) = self.inner.borrow().index.get(&sst).and_then(|blocks| blocks.get(block)) {
            crate::kv::prefetch::prefetch(entry);
        }
    }

    /// Asks the CPU for the block (the `RecordBatch` and its reference count) that
    /// [`Self::get`] of (`sst`, `block`) hands out, when cached. Reads the entry: hint that
    /// first ([`Self::prefetch`]).
    pub fn prefetch_block(&self, sst: u64, block: usize) {
        if let Some(entry) = self.inner.borrow().entry((sst, block)) {
            crate::kv::prefetch::prefetch_arc(&entry.block);
        }
    }

    /// Caches a block (replacing any entry under the same key), evicting blocks to stay
    /// within the budget. A block larger than the whole budget, or past
    /// [`BLOCK_INDEX_MAX`], is not cached.
    pub fn insert(&self, sst: u64, block: usize, batch: Arc<RecordBatch>) {
        let bytes = batch_memory_bytes(&batch);
        let mut inner = self.inner.borrow_mut();
        inner.remove(&(sst, block));
        if bytes > self.bytes_max || block > BLOCK_INDEX_MAX {
            return;
        }
        while inner.bytes + bytes > self.bytes_max && inner.evict_one() {
            self.evictions.set(self.evictions.get() + 1);
        }
        inner.add((sst, block), batch, bytes);
        self.inserts.set(self.inserts.get() + 1);
        debug_assert!(inner.bytes <= self.bytes_max && inner.entries + inner.free.len() == inner.slots.len());
    }

    /// True when `bytes` more fit without evicting anything.
    pub fn has_room(&self, bytes: usize) -> bool {
        self.inner.borrow().bytes + bytes <= self.bytes_max
    }

    /// Caches a block only if it fits without evicting anything (blocks of a freshly written
    /// SST use the free part of the budget, never displacing blocks that are being read).
    /// Returns whether it was cached.
    pub fn insert_if_room(&self, sst: u64, block: usize, batch: Arc<RecordBatch>) -> bool {
        if !self.has_room(batch_memory_bytes(&batch)) {
            return false;
        }
        self.insert(sst, block, batch);
        true
    }

    /// Whether block `block` of SST `sst` is cached (not counted as a hit or a miss, and the
    /// block is not marked as used).
    pub fn contains(&self, sst: u64, block: usize) -> bool {
        self.inner.borrow().entry((sst, block)).is_some()
    }

    /// The indexes of the cached blocks of SST `sst`, ascending (not counted as hits).
    pub fn cached_blocks(&self, sst: u64) -> Vec<usize> {
        let inner = self.inner.borrow();
        let Some(blocks) = inner.index.get(&sst) else { return Vec::new() };
        blocks.iter().enumerate().filter(|(_, e)| e.is_some()).map(|(i, _)| i).collect()
    }

    /// Drops every block of SST `sst` (after compaction deleted its file). Returns how many.
    pub fn remove_sst(&self, sst: u64) -> usize {
        let mut inner = self.inner.borrow_mut();
        let Some(blocks) = inner.index.remove(&sst) else { return 0 };
        let mut removed = 0;
        for entry in blocks.into_iter().flatten() {
            inner.free_slot(entry);
            removed += 1;
        }
        removed
    }

    /// Counters and current size.
    pub fn stats(&self) -> CacheStats {
        let inner = self.inner.borrow();
        CacheStats {
            hits: self.hits.get(),
            misses: self.misses.get(),
            inserts: self.inserts.get(),
            evictions: self.evictions.get(),
            entries: inner.entries,
            bytes: inner.bytes,
        }
    }
}

/// The memory `batch` keeps alive: each distinct underlying allocation once (its capacity),
/// plus the array structs. Columns decoded without copying share one allocation.
pub fn batch_memory_bytes(batch: &RecordBatch) -> usize {
    let mut seen: Vec<usize> = Vec::new();
    let mut bytes = 0usize;
    for column in batch.columns() {
        bytes += data_memory_bytes(&column.to_data(), &mut seen);
    }
    bytes
}

fn data_memory_bytes(data: &ArrayData, seen: &mut Vec<usize>) -> usize {
    let mut bytes = size_of::<ArrayData>();
    let nulls = data.nulls().map(|n| n.buffer());
    for buffer in data.buffers().iter().chain(nulls) {
        bytes += allocation_bytes(buffer, seen);
    }
    for child in data.child_data() {
        bytes += data_memory_bytes(child, seen);
    }
    bytes
}

/// The capacity of `buffer`'s allocation the first time it is seen, else 0. Buffers over
/// foreign memory report no capacity: they are charged their length.
fn allocation_bytes(buffer: &Buffer, seen: &mut Vec<usize>) -> usize {
    let capacity = buffer.capacity();
    if capacity == 0 {
        return buffer.len();
    }
    let at = buffer.data_ptr().as_ptr() as usize;
    if seen.contains(&at) {
        return 0;
    }
    seen.push(at);
    capacity
}

/// The cache key of SST `sst` of the LSM with namespace `namespace`.
pub fn cache_key(namespace: u64, sst: u64) -> u64 {
    debug_assert!(sst < 1 << SST_ID_BITS && namespace < 1 << (64 - SST_ID_BITS));
    (namespace << SST_ID_BITS) | (sst & ((1 << SST_ID_BITS) - 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Int64Array, StringArray};
    use arrow_schema::{DataType, Field, Schema};

    fn batch(rows: i64) -> Arc<RecordBatch> {
        let schema =
            Arc::new(Schema::new(vec![Field::new("a", DataType::Int64, false), Field::new("b", DataType::Utf8, true)]));
        let a = Int64Array::from_iter_values(0..rows);
        let b = StringArray::from_iter((0..rows).map(|i| (i % 3 != 0).then(|| format!("value-{i}"))));
        Arc::new(RecordBatch::try_new(schema, vec![Arc::new(a), Arc::new(b)]).expect("batch"))
    }

    #[test]
    fn evicts_a_block_not_used_since_the_hand_passed() {
        let one = batch_memory_bytes(&batch(100));
        let cache = BlockCache::new(one * 3);
        for i in 0..3 {
            cache.insert(1, i, batch(100));
        }
        assert!(cache.get(1, 0).is_some()); // 0 gets a second chance; 1 is the first unused
        cache.insert(1, 3, batch(100));
        assert!(cache.get(1, 1).is_none());
        assert!(cache.get(1, 0).is_some() && cache.get(1, 2).is_some() && cache.get(1, 3).is_some());
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses, stats.evictions, stats.entries), (4, 1, 1, 3));
        assert!(stats.bytes <= one * 3);
    }

    #[test]
    fn too_large_blocks_are_not_cached_and_replacing_keeps_the_count_right() {
        let cache = BlockCache::new(100);
        cache.insert(1, 0, batch(1000));
        assert_eq!(cache.stats().entries, 0);
        let cache = BlockCache::new(1 << 20);
        cache.insert(1, 0, batch(10));
        cache.insert(1, 0, batch(20));
        assert_eq!(cache.stats().entries, 1);
        assert_eq!(cache.stats().bytes, batch_memory_bytes(&batch(20)));
        let nothing = BlockCache::new(0);
        nothing.insert(1, 0, batch(1));
        assert!(nothing.get(1, 0).is_none());
    }

    #[test]
    fn remove_sst_drops_only_that_sst() {
        let cache = BlockCache::new(1 << 20);
        for sst in [4, 5, 6] {
            for block in [0, 1, BLOCK_INDEX_MAX, BLOCK_INDEX_MAX + 1] {
                cache.insert(sst, block, batch(5));
            }
        }
        assert_eq!(cache.stats().entries, 9, "blocks past the highest index are not cached");
        assert_eq!(cache.remove_sst(5), 3);
        assert_eq!(cache.stats().entries, 6);
        assert!(cache.get(5, 0).is_none() && cache.get(4, BLOCK_INDEX_MAX).is_some() && cache.get(6, 1).is_some());
        let expected = 6 * batch_memory_bytes(&batch(5));
        assert_eq!(cache.stats().bytes, expected);
    }

    #[test]
    fn shared_allocations_are_charged_once() {
        let b = batch(1000);
        let whole = batch_memory_bytes(&b);
        // A slice keeps the whole allocations alive.
        assert_eq!(batch_memory_bytes(&b.slice(0, 10)), whole);
        // Separate allocations: Arrow's own count, up to the array structs.
        assert!(whole.abs_diff(b.get_array_memory_size()) < 512, "{whole} vs {}", b.get_array_memory_size());
    }

    proptest::proptest! {
        /// Random inserts, hits and SST removals against a map of what was inserted last per
        /// key: a hit returns exactly that block, the byte count is the sum of what is cached
        /// and stays within the budget, and the counters add up.
        #[test]
        fn agrees_with_a_map_of_the_last_insert(
            ops in proptest::collection::vec((0u8..3, 0u64..3, 0usize..6, 1i64..40), 1..200),
            budget_blocks in 1usize..8,
        ) {
            let cache = BlockCache::new(budget_blocks * batch_memory_bytes(&batch(20)));
            let mut last: std::collections::HashMap<BlockKey, Arc<RecordBatch>> = std::collections::HashMap::new();
            for (op, sst, block, rows) in ops {
                match op {
                    0 => {
                        let b = batch(rows);
                        cache.insert(sst, block, Arc::clone(&b));
                        last.insert((sst, block), b);
                    }
                    1 => {
                        if let Some(found) = cache.get(sst, block) {
                            proptest::prop_assert!(last.get(&(sst, block)).is_some_and(|b| Arc::ptr_eq(b, &found)));
                        }
                    }
                    _ => {
                        cache.remove_sst(sst);
                        last.retain(|k, _| k.0 != sst);
                    }
                }
                let stats = cache.stats();
                let inner = cache.inner.borrow();
                let charged: usize = inner.slots.iter().flatten().map(|s| s.bytes).sum();
                proptest::prop_assert_eq!(stats.bytes, charged);
                proptest::prop_assert!(stats.bytes <= cache.bytes_max());
                proptest::prop_assert_eq!(stats.entries, inner.slots.iter().flatten().count());
            }
        }
    }
}

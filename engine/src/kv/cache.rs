//! The block cache of a shard: decoded SST blocks under a byte budget, LRU eviction.
//!
//! Single-threaded (it lives on one shard), so interior mutability is a `RefCell`. Entries
//! are keyed by (SST id, block index) and charged [`batch_memory_bytes`]: the memory the
//! decoded block keeps alive. That is not `RecordBatch::get_array_memory_size`, which charges
//! every column the capacity of the whole allocation it points into: a block decoded without
//! copying keeps all its columns in the one buffer read from disk, so that sum would count
//! the block once per buffer (tens of times for a wide table).

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
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

struct Entry {
    block: Arc<RecordBatch>,
    bytes: usize,
    /// Position in the recency order (higher = used more recently).
    tick: u64,
}

#[derive(Default)]
struct Inner {
    entries: BTreeMap<BlockKey, Entry>,
    /// Recency order: tick -> key, oldest first.
    order: BTreeMap<u64, BlockKey>,
    next_tick: u64,
    bytes: usize,
}

impl Inner {
    fn touch(&mut self, key: BlockKey) -> Option<Arc<RecordBatch>> {
        let tick = self.next_tick;
        let entry = self.entries.get_mut(&key)?;
        self.order.remove(&entry.tick);
        entry.tick = tick;
        self.order.insert(tick, key);
        self.next_tick += 1;
        Some(Arc::clone(&entry.block))
    }

    fn remove(&mut self, key: &BlockKey) -> bool {
        let Some(entry) = self.entries.remove(key) else { return false };
        self.order.remove(&entry.tick);
        self.bytes -= entry.bytes;
        true
    }
}

/// Decoded SST blocks under a byte budget, least recently used evicted first.
pub struct BlockCache {
    bytes_max: usize,
    inner: RefCell<Inner>,
    hits: Cell<u64>,
    misses: Cell<u64>,
    inserts: Cell<u64>,
    evictions: Cell<u64>,
    namespaces: Cell<u64>,
}

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
        let found = self.inner.borrow_mut().touch((sst, block));
        let counter = if found.is_some() { &self.hits } else { &self.misses };
        counter.set(counter.get() + 1);
        found
    }

    /// Caches a block (replacing any entry under the same key), evicting the least recently
    /// used blocks to stay within the budget. A block larger than the whole budget is not
    /// cached.
    pub fn insert(&self, sst: u64, block: usize, batch: Arc<RecordBatch>) {
        let bytes = batch_memory_bytes(&batch);
        let mut inner = self.inner.borrow_mut();
        inner.remove(&(sst, block));
        if bytes > self.bytes_max {
            return;
        }
        while inner.bytes + bytes > self.bytes_max {
            let Some((_, oldest)) = inner.order.pop_first() else { break };
            if let Some(entry) = inner.entries.remove(&oldest) {
                inner.bytes -= entry.bytes;
                self.evictions.set(self.evictions.get() + 1);
            }
        }
        let tick = inner.next_tick;
        inner.next_tick += 1;
        inner.order.insert(tick, (sst, block));
        inner.entries.insert((sst, block), Entry { block: batch, bytes, tick });
        inner.bytes += bytes;
        self.inserts.set(self.inserts.get() + 1);
        debug_assert!(inner.bytes <= self.bytes_max && inner.entries.len() == inner.order.len());
    }

    /// Drops every block of SST `sst` (after compaction deleted its file). Returns how many.
    pub fn remove_sst(&self, sst: u64) -> usize {
        let mut inner = self.inner.borrow_mut();
        let keys: Vec<BlockKey> = inner.entries.range((sst, 0)..=(sst, usize::MAX)).map(|(k, _)| *k).collect();
        keys.iter().filter(|k| inner.remove(k)).count()
    }

    /// Counters and current size.
    pub fn stats(&self) -> CacheStats {
        let inner = self.inner.borrow();
        CacheStats {
            hits: self.hits.get(),
            misses: self.misses.get(),
            inserts: self.inserts.get(),
            evictions: self.evictions.get(),
            entries: inner.entries.len(),
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
    fn evicts_least_recently_used_within_budget() {
        let one = batch_memory_bytes(&batch(100));
        let cache = BlockCache::new(one * 3);
        for i in 0..3 {
            cache.insert(1, i, batch(100));
        }
        assert!(cache.get(1, 0).is_some()); // 0 is now the most recent; 1 the oldest
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
            for block in [0, 1, usize::MAX] {
                cache.insert(sst, block, batch(5));
            }
        }
        assert_eq!(cache.remove_sst(5), 3);
        assert_eq!(cache.stats().entries, 6);
        assert!(cache.get(5, 0).is_none() && cache.get(4, usize::MAX).is_some() && cache.get(6, 1).is_some());
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
}

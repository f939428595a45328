//! [`MemIndex`]: the memtable's key index. A hash table maps each encoded key to its newest
//! [`Slot`]; the keys' order is kept beside it as sorted runs.
//!
//! Why not an ordered tree: inserting random keys into a `BTreeMap` of 10^5-10^6 keys
//! descends about five nodes, a cache miss each. Session 11 measured 0.9 µs per key, 22% of
//! the CPU of a 100-row upsert. Here a probe or an insert reads one line of the table (the
//! key's bucket; a batched read hints it ahead, and the upsert's old-row read has just
//! probed it) and, for a key that is present, its entry.
//!
//! Only flushes, snapshots and prefix lookups need the order. New keys go to an unsorted
//! tail; every [`TAIL_ITEMS`] new keys the tail is sorted into a run, and runs of similar
//! size are merged (while the older of the last two is at most twice the newer), up to
//! [`RUN_ITEMS_MAX`] items. Each key is moved O(log n) times, in sequential passes, and no
//! insert moves more than [`RUN_ITEMS_MAX`] items. Runs hold a key's first 8 bytes beside its
//! id, so a merge or a search rarely reads the entry itself. A prefix lookup searches every
//! run and scans the tail; an ordered walk merges the runs.
//!
//! The table is made at the first insert (an idle bucket's memtable holds nothing), sized for
//! the keys the memtable is expected to take (as many as the one before it), and kept at most
//! half full; past that it doubles, rehashing every key once.

use std::cmp::Ordering;

use super::memkey::MemKey;
use super::memtable::Slot;
use super::sst::hash64;
use super::sst::key_prefixes::key_prefix;
use crate::error::{Error, Result};

/// New keys sorted into a run at once.
pub const TAIL_ITEMS: usize = 256;
/// Largest run a merge makes (items of 16 bytes: a 2 MiB merge at most).
pub const RUN_ITEMS_MAX: usize = 1 << 17;
/// Smallest table, in buckets.
const BUCKETS_MIN: usize = 64;
/// Bytes charged per key by [`MemIndex::bytes`].
const KEY_BYTES: usize = size_of::<Entry>() + size_of::<Item>() + 2 * size_of::<u64>();

/// A key's place in a run: its first 8 bytes (see [`key_prefix`]) and its entry.
#[derive(Clone, Copy, Debug)]
struct Item {
    head: u64,
    id: u32,
}

/// A key and its newest slot ([`pack`]ed).
struct Entry {
    key: MemKey,
    slot: u64,
}

const _: () = assert!(size_of::<Entry>() == 32, "two entries per cache line");
const _: () = assert!(size_of::<Item>() == 16);

/// A tombstone's packed slot (a row's write number is below `u32::MAX`: see [`pack`]).
const PACKED_TOMBSTONE: u64 = u64::MAX;

fn pack(slot: Slot) -> u64 {
    match slot {
        Slot::Row { write, row } => (u64::from(write) << 32) | u64::from(row),
        Slot::Tombstone => PACKED_TOMBSTONE,
    }
}

fn unpack(packed: u64) -> Slot {
    match packed {
        PACKED_TOMBSTONE => Slot::Tombstone,
        _ => Slot::Row { write: (packed >> 32) as u32, row: packed as u32 },
    }
}

/// The tag a bucket keeps of a key's hash: its high half, never 0 (0 is an empty bucket).
fn tag_of(hash: u64) -> u32 {
    (hash >> 32) as u32 | 1
}

/// Hash index of a memtable's keys, with their order (see the module docs).
pub struct MemIndex {
    /// 0 = empty; else `tag << 32 | entry id`. A power of two long, at most half full (none
    /// before the first insert).
    buckets: Vec<u64>,
    /// Keys the table is first made for.
    expected_keys: usize,
    entries: Vec<Entry>,
    /// Sorted runs of the keys, older first; with `tail`, every key exactly once.
    runs: Vec<Vec<Item>>,
    /// Keys added since the last run was made, unsorted.
    tail: Vec<Item>,
    /// Bytes of the keys too long to sit in their entry.
    boxed_bytes: usize,
    tail_items: usize,
    run_items_max: usize,
}

impl MemIndex {
    /// An empty index whose table takes `keys` keys before it grows.
    pub fn with_expected_keys(keys: usize) -> Self {
        Self::with_limits(keys, TAIL_ITEMS, RUN_ITEMS_MAX)
    }

    fn with_limits(keys: usize, tail_items: usize, run_items_max: usize) -> Self {
        Self {
            buckets: Vec::new(),
            expected_keys: keys,
            entries: Vec::new(),
            runs: Vec::new(),
            tail: Vec::new(),
            boxed_bytes: 0,
            tail_items: tail_items.max(1),
            run_items_max: run_items_max.max(tail_items),
        }
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no key was inserted.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes of memory the keys take: per key its entry, its run item and two buckets (the
    /// table at its fullest), plus the keys too long for their entry. A table made for more
    /// keys than it holds is not charged for the part not yet used.
    pub fn bytes(&self) -> usize {
        self.entries.len() * KEY_BYTES + self.boxed_bytes
    }

    /// Asks the CPU for the bucket a probe of `hash` reads first.
    pub fn prefetch(&self, hash: u64) {
        if let Some(bucket) = self.buckets.get(hash as usize & self.buckets.len().wrapping_sub(1)) {
            crate::kv::prefetch::prefetch(bucket);
        }
    }

    /// The entry of `key` (whose [`hash64`] is `hash`), or the empty bucket where it would go.
    /// The table must exist.
    fn probe(&self, key: &[u8], hash: u64) -> std::result::Result<usize, usize> {
        let (tag, mask) = (tag_of(hash), self.buckets.len() - 1);
        let mut i = hash as usize & mask;
        loop {
            let bucket = self.buckets[i];
            if bucket == 0 {
                return Err(i);
            }
            if (bucket >> 32) as u32 == tag {
                let id = bucket as u32 as usize;
                if self.entries[id].key.as_slice() == key {
                    return Ok(id);
                }
            }
            i = (i + 1) & mask;
        }
    }

    /// The newest slot of `key` (whose [`hash64`] is `hash`).
    pub fn get(&self, key: &[u8], hash: u64) -> Option<Slot> {
        if self.buckets.is_empty() {
            return None;
        }
        self.probe(key, hash).ok().map(|id| unpack(self.entries[id].slot))
    }

    /// Sets the newest slot of `key` (whose [`hash64`] is `hash`); true when the key is new.
    pub fn insert(&mut self, key: &[u8], hash: u64, slot: Slot) -> Result<bool> {
        if let Slot::Row { write: u32::MAX, .. } = slot {
            return Err(Error::invalid_batch("too many memtable writes"));
        }
        if (self.entries.len() + 1) * 2 > self.buckets.len() {
            self.grow();
        }
        let bucket = match self.probe(key, hash) {
            Ok(id) => {
                self.entries[id].slot = pack(slot);
                return Ok(false);
            }
            Err(bucket) => bucket,
        };
        let id = u32::try_from(self.entries.len()).map_err(|_| Error::invalid_batch("too many memtable keys"))?;
        self.buckets[bucket] = (u64::from(tag_of(hash)) << 32) | u64::from(id);
        let key = MemKey::new(key);
        if let MemKey::Boxed(bytes) = &key {
            self.boxed_bytes += bytes.len();
        }
        self.tail.push(Item { head: key.head(), id });
        self.entries.push(Entry { key, slot: pack(slot) });
        if self.tail.len() >= self.tail_items {
            self.seal_tail();
        }
        Ok(true)
    }

    /// Makes the table (for the expected keys) or doubles it, and puts every key back.
    fn grow(&mut self) {
        if self.buckets.is_empty() {
            self.entries.reserve(self.expected_keys);
            self.tail.reserve(self.tail_items);
        }
        let first = self.expected_keys.saturating_mul(2).max(BUCKETS_MIN).next_power_of_two();
        let len = (self.buckets.len() * 2).max(first);
        let mask = len - 1;
        let mut buckets = vec![0u64; len];
        for (id, entry) in self.entries.iter().enumerate() {
            let hash = hash64(entry.key.as_slice());
            let mut i = hash as usize & mask;
            while buckets[i] != 0 {
                i = (i + 1) & mask;
            }
            buckets[i] = (u64::from(tag_of(hash)) << 32) | id as u64;
        }
        self.buckets = buckets;
    }

    /// Sorts the tail into a run and merges the newest runs while the older of the last two
    /// is at most twice the newer and the merge stays within the largest run.
    fn seal_tail(&mut self) {
        let mut run = std::mem::replace(&mut self.tail, Vec::with_capacity(self.tail_items));
        run.sort_unstable_by(|a, b| self.order(*a, *b));
        self.runs.push(run);
        while let [.., older, newer] = self.runs.as_slice() {
            if older.len() > 2 * newer.len() || older.len() + newer.len() > self.run_items_max {
                break;
            }
            let merged = self.merge(older, newer);
            self.runs.truncate(self.runs.len() - 2);
            self.runs.push(merged);
        }
    }

    fn merge(&self, a: &[Item], b: &[Item]) -> Vec<Item> {
        let mut out = Vec::with_capacity(a.len() + b.len());
        let (mut i, mut j) = (0, 0);
        while i < a.len() && j < b.len() {
            if self.order(b[j], a[i]) == Ordering::Less {
                out.push(b[j]);
                j += 1;
            } else {
                out.push(a[i]);
                i += 1;
            }
        }
        out.extend_from_slice(&a[i..]);
        out.extend_from_slice(&b[j..]);
        out
    }

    fn key(&self, id: u32) -> &[u8] {
        self.entries[id as usize].key.as_slice()
    }

    /// Key order of two items (the head decides unless equal).
    fn order(&self, a: Item, b: Item) -> Ordering {
        a.head.cmp(&b.head).then_with(|| self.key(a.id).cmp(self.key(b.id)))
    }

    /// Order of an item's key against `key` (whose [`key_prefix`] is `head`).
    fn order_to(&self, item: Item, head: u64, key: &[u8]) -> Ordering {
        item.head.cmp(&head).then_with(|| self.key(item.id).cmp(key))
    }

    fn item(&self, item: Item) -> (&[u8], Slot) {
        let entry = &self.entries[item.id as usize];
        (entry.key.as_slice(), unpack(entry.slot))
    }

    /// Keys starting with `prefix`, in order, with their newest slots.
    pub fn prefix(&self, prefix: &[u8]) -> Vec<(&[u8], Slot)> {
        let head = key_prefix(prefix);
        let mut found: Vec<Item> = Vec::new();
        for run in &self.runs {
            let from = run.partition_point(|item| self.order_to(*item, head, prefix) == Ordering::Less);
            found.extend(run[from..].iter().take_while(|item| self.key(item.id).starts_with(prefix)));
        }
        found.extend(self.tail.iter().filter(|item| self.key(item.id).starts_with(prefix)));
        found.sort_unstable_by(|a, b| self.order(*a, *b));
        found.into_iter().map(|item| self.item(item)).collect()
    }

    /// Every key in order, with its newest slot.
    pub fn ordered(&self) -> Ordered<'_> {
        let mut tail = self.tail.clone();
        tail.sort_unstable_by(|a, b| self.order(*a, *b));
        let sources = self.runs.len() + 1;
        Ordered { index: self, tail, at: vec![0; sources] }
    }

    /// Every key with its newest slot, in insertion order.
    pub fn entries(&self) -> impl Iterator<Item = (&[u8], Slot)> + '_ {
        self.entries.iter().map(|e| (e.key.as_slice(), unpack(e.slot)))
    }

    /// Frees up to `n` keys (the newest); the index answers nothing after the first call.
    /// True while keys remain. For freeing a large index a step at a time.
    pub fn release(&mut self, n: usize) -> bool {
        self.buckets = Vec::new();
        self.runs = Vec::new();
        self.tail = Vec::new();
        self.entries.truncate(self.entries.len().saturating_sub(n));
        !self.entries.is_empty()
    }
}

/// Every key of a [`MemIndex`] in order ([`MemIndex::ordered`]): a merge of its runs and its
/// sorted tail.
pub struct Ordered<'a> {
    index: &'a MemIndex,
    tail: Vec<Item>,
    /// Next position in each run, then in the tail.
    at: Vec<usize>,
}

impl<'a> Iterator for Ordered<'a> {
    type Item = (&'a [u8], Slot);

    fn next(&mut self) -> Option<Self::Item> {
        let index = self.index;
        let runs = index.runs.len();
        let mut best: Option<(usize, Item)> = None;
        for (source, &at) in self.at.iter().enumerate() {
            let next = if source < runs { index.runs[source].get(at) } else { self.tail.get(at) };
            if let Some(&item) = next {
                if best.is_none_or(|(_, b)| index.order(item, b) == Ordering::Less) {
                    best = Some((source, item));
                }
            }
        }
        let (source, item) = best?;
        self.at[source] += 1;
        Some(index.item(item))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn slot(n: u32) -> Slot {
        if n % 5 == 4 {
            Slot::Tombstone
        } else {
            Slot::Row { write: n, row: n / 3 }
        }
    }

    #[test]
    fn slots_pack_and_unpack() {
        for s in [Slot::Tombstone, Slot::Row { write: 0, row: 0 }, Slot::Row { write: u32::MAX - 1, row: u32::MAX }] {
            assert_eq!(unpack(pack(s)), s);
        }
        let mut index = MemIndex::with_expected_keys(4);
        assert!(index.insert(b"k", hash64(b"k"), Slot::Row { write: u32::MAX, row: 0 }).is_err());
        assert!(index.is_empty(), "refused insert left nothing");
    }

    proptest::proptest! {
        /// Probes, prefix lookups and the ordered walk agree with a `BTreeMap` through table
        /// growth, runs being made and merged, and long (boxed) keys.
        #[test]
        fn agrees_with_a_map(
            ops in proptest::collection::vec(
                (proptest::collection::vec(0u8..4, 0..26), 0u32..1000),
                1..600,
            ),
            expected in 0usize..40,
            tail_items in 1usize..9,
            run_items_max in 1usize..40,
            probes in proptest::collection::vec(proptest::collection::vec(0u8..4, 0..12), 1..20),
        ) {
            let mut index = MemIndex::with_limits(expected, tail_items, run_items_max);
            let mut oracle: BTreeMap<Vec<u8>, Slot> = BTreeMap::new();
            for (key, n) in &ops {
                let new = index.insert(key, hash64(key), slot(*n)).expect("insert");
                proptest::prop_assert_eq!(new, oracle.insert(key.clone(), slot(*n)).is_none());
            }
            proptest::prop_assert_eq!(index.len(), oracle.len());
            for (key, s) in &oracle {
                proptest::prop_assert_eq!(index.get(key, hash64(key)), Some(*s));
            }
            let walked: Vec<(Vec<u8>, Slot)> = index.ordered().map(|(k, s)| (k.to_vec(), s)).collect();
            let want: Vec<(Vec<u8>, Slot)> = oracle.iter().map(|(k, s)| (k.clone(), *s)).collect();
            proptest::prop_assert_eq!(walked, want);
            for probe in &probes {
                proptest::prop_assert_eq!(index.get(probe, hash64(probe)), oracle.get(probe).copied());
                let got: Vec<(Vec<u8>, Slot)> = index.prefix(probe).into_iter().map(|(k, s)| (k.to_vec(), s)).collect();
                let want: Vec<(Vec<u8>, Slot)> = oracle
                    .range(probe.clone()..)
                    .take_while(|(k, _)| k.starts_with(probe))
                    .map(|(k, s)| (k.clone(), *s))
                    .collect();
                proptest::prop_assert_eq!(got, want);
            }
            let runs_max = index.runs.iter().map(Vec::len).max().unwrap_or(0);
            proptest::prop_assert!(runs_max <= index.run_items_max.max(index.tail_items));
            proptest::prop_assert!(index.len() * 2 <= index.buckets.len());
        }
    }

    #[test]
    fn release_frees_a_step_at_a_time() {
        let mut index = MemIndex::with_expected_keys(0);
        for i in 0u32..100 {
            let key = i.to_be_bytes();
            index.insert(&key, hash64(&key), slot(i)).expect("insert");
        }
        assert!(index.release(60));
        assert!(!index.release(60));
        assert!(index.is_empty());
    }
}

//! [`MemFilter`]: a bloom filter over a memtable's keys with one 64-bit word per key, so a
//! point lookup of a key the memtable does not hold costs one cache miss instead of a descent
//! of the ordered index (several misses in a memtable of 10^5-10^6 keys). When the data is
//! much larger than the memtable, most lookups, and the old-row reads of most upserts, are
//! such misses.
//!
//! A key's hash ([`hash64`](crate::kv::sst::hash64), the one the SSTs' blooms use: a lookup
//! hashes once) picks a word and [`BITS_PER_KEY`] bits in it. At 16 bits of filter per key
//! (the least `memtable::filter_bytes_for` gives a memtable as full as the one before it) a
//! word holds about 4 keys, 22% of its bits are set, and a false positive (a lookup that goes
//! on to the index and finds nothing) takes about 0.3% of absent keys. A memtable with more
//! keys than its filter was sized for only gets "maybe" more often.

/// Bits set per key, all in one word.
const BITS_PER_KEY: u32 = 4;
/// Smallest filter, in 64-bit words.
const WORDS_MIN: usize = 64;

/// A fixed-size, insert-only bloom filter with one word per key.
pub struct MemFilter {
    words: Vec<u64>,
}

impl MemFilter {
    /// A filter of about `bytes` bytes (a power of two words, at least [`WORDS_MIN`]).
    pub fn new(bytes: usize) -> Self {
        let words = (bytes / size_of::<u64>()).max(WORDS_MIN).next_power_of_two();
        Self { words: vec![0; words] }
    }

    /// Bytes of memory the filter takes.
    pub fn bytes(&self) -> usize {
        self.words.len() * size_of::<u64>()
    }

    /// Adds the key whose [`hash64`](crate::kv::sst::hash64) is `hash`.
    pub fn insert_hash(&mut self, hash: u64) {
        let (word, mask) = self.position(hash);
        self.words[word] |= mask;
    }

    /// False only when no key with [`hash64`](crate::kv::sst::hash64) `hash` was inserted (the caller hashes once
    /// for this filter and the SSTs' blooms).
    pub fn may_contain_hash(&self, hash: u64) -> bool {
        let (word, mask) = self.position(hash);
        self.words[word] & mask == mask
    }

    /// Asks the CPU for the word [`Self::may_contain_hash`] of `hash` reads.
    pub fn prefetch_hash(&self, hash: u64) {
        let (word, _) = self.position(hash);
        if let Some(w) = self.words.get(word) {
            crate::kv::prefetch::prefetch(w);
        }
    }

    /// The word and the bits of a key's hash: the word from the high half, each bit from six
    /// bits of the low half.
    fn position(&self, hash: u64) -> (usize, u64) {
        let word = (hash >> 32) as usize & (self.words.len() - 1);
        let mask = (0..BITS_PER_KEY).fold(0u64, |mask, i| mask | 1 << ((hash >> (6 * i)) & 63));
        (word, mask)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::kv::sst::hash64;

    #[test]
    fn inserted_keys_are_always_found() {
        let mut f = MemFilter::new(4096);
        let keys: Vec<Vec<u8>> = (0u32..2000).map(|i| format!("key-{i}").into_bytes()).collect();
        for k in &keys {
            f.insert_hash(hash64(k));
        }
        assert!(keys.iter().all(|k| f.may_contain_hash(hash64(k))));
    }

    #[test]
    fn absent_keys_are_mostly_rejected_at_16_bits_per_key() {
        let n = 50_000u32;
        let mut f = MemFilter::new(n as usize * 16 / 8);
        for i in 0..n {
            f.insert_hash(hash64(&i.to_be_bytes()));
        }
        let false_positives = (n..n + 100_000).filter(|i| f.may_contain_hash(hash64(&i.to_be_bytes()))).count();
        // Expected about 0.3-0.5%; a filter that answered "maybe" for everything gives 100%.
        assert!(false_positives < 1_000, "{false_positives} false positives in 100000");
    }

    #[test]
    fn sizes_are_powers_of_two_words_with_a_minimum() {
        assert_eq!(MemFilter::new(0).bytes(), WORDS_MIN * 8);
        assert_eq!(MemFilter::new(1 << 20).bytes(), 1 << 20);
        assert_eq!(MemFilter::new((1 << 20) + 8).bytes(), 2 << 20);
    }
}

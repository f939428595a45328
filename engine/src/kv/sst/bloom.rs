//! The SST bloom filter: a standard (unblocked) bloom over every key, k probes by double
//! hashing of one 64-bit hash, and the hash itself.
//!
//! At 10 bits per key and k = 7 a standard bloom has a false-positive rate of about 0.82%
//! (a cache-line-blocked one would be faster but lands above 1% at 10 bits per key). The hash
//! is written here rather than taken from a crate because it is part of the file format: it
//! must never change with a dependency upgrade (`ahash`, already in the tree through arrow, is
//! documented as unstable across versions). It is a wyhash-style folded multiply over 8-byte
//! words, about one multiply per 8 key bytes.
//!
//! On disk (`BloomHeader`, 16 bytes, then `bits / 64` little-endian u64 words):
//! `u64 bits | u8 hashes | u8 hash_id (1 = hash64 below) | 6 reserved bytes`. `bits = 0`
//! means no filter: every key may be present.

use zerocopy::little_endian::U64;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

/// Identifies [`hash64`] in the bloom header.
pub const HASH_ID: u8 = 1;
/// Most probes per key.
pub const HASHES_MAX: u8 = 30;

const P0: u64 = 0xa076_1d64_78bd_642f;
const P1: u64 = 0xe703_7ed1_a0b4_28db;
const P2: u64 = 0x8ebc_6af0_9c88_c6e3;
const P3: u64 = 0x5899_65cc_7537_4cc3;

/// 128-bit product of `a` and `b`, folded to 64 bits.
fn fold(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ ((product >> 64) as u64)
}

/// The 64-bit hash of a key (stable: part of the SST format, `hash_id` 1).
pub fn hash64(bytes: &[u8]) -> u64 {
    let mut h = fold(P0 ^ bytes.len() as u64, P1);
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        h = fold(h ^ u64::from_le_bytes(w) ^ P2, P1);
    }
    let tail = words.remainder();
    if !tail.is_empty() {
        let mut w = [0u8; 8];
        for (slot, byte) in w.iter_mut().zip(tail) {
            *slot = *byte;
        }
        h = fold(h ^ u64::from_le_bytes(w) ^ P3, P1 ^ tail.len() as u64);
    }
    fold(h ^ P2, P0)
}

/// The second hash of the double-hashing scheme, odd so every probe differs.
fn second(h: u64) -> u64 {
    let mut z = h ^ P3;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) | 1
}

/// `x` scaled into `0..range` (Lemire's multiply-shift; uses the high bits of `x`).
fn reduce(x: u64, range: u64) -> u64 {
    ((u128::from(x) * u128::from(range)) >> 64) as u64
}

/// The bloom filter header on disk.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug)]
#[repr(C)]
pub(super) struct BloomHeader {
    pub bits: U64,
    pub hashes: u8,
    pub hash_id: u8,
    pub reserved: [u8; 6],
}

const _: () = assert!(size_of::<BloomHeader>() == 16);

/// A bloom filter over key hashes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bloom {
    words: Vec<u64>,
    hashes: u32,
}

impl Bloom {
    /// Probes per key for `bits_per_key`: `round(bits_per_key * ln 2)`, 1..=30 (7 for 10).
    pub fn hashes_for(bits_per_key: u32) -> u8 {
        let k = (f64::from(bits_per_key) * std::f64::consts::LN_2).round();
        k.clamp(1.0, f64::from(HASHES_MAX)) as u8
    }

    /// An empty filter sized for `keys` keys at `bits_per_key` (no filter when either is 0).
    pub fn new(keys: usize, bits_per_key: u32) -> Self {
        if bits_per_key == 0 || keys == 0 {
            return Self { words: Vec::new(), hashes: 0 };
        }
        let bits = (keys as u64).saturating_mul(u64::from(bits_per_key)).max(64);
        Self { words: vec![0; bits.div_ceil(64) as usize], hashes: u32::from(Self::hashes_for(bits_per_key)) }
    }

    /// A filter of the key hashes `key_hashes` at `bits_per_key`.
    pub fn build(key_hashes: &[u64], bits_per_key: u32) -> Self {
        let mut bloom = Self::new(key_hashes.len(), bits_per_key);
        bloom.insert_all(key_hashes);
        bloom
    }

    /// Adds keys by their [`hash64`].
    pub fn insert_all(&mut self, key_hashes: &[u64]) {
        if self.words.is_empty() {
            return;
        }
        for &h in key_hashes {
            self.insert(h);
        }
    }

    /// Size of the filter in bits (0 = no filter).
    pub fn bits(&self) -> u64 {
        self.words.len() as u64 * 64
    }

    /// Probes per key.
    pub fn hashes(&self) -> u32 {
        self.hashes
    }

    fn probes(&self, h: u64) -> impl Iterator<Item = (usize, u64)> {
        let bits = self.bits();
        let step = second(h);
        (0..u64::from(self.hashes)).map(move |i| {
            let bit = reduce(h.wrapping_add(i.wrapping_mul(step)), bits);
            ((bit / 64) as usize, 1u64 << (bit % 64))
        })
    }

    fn insert(&mut self, h: u64) {
        let bits = self.bits();
        let step = second(h);
        for i in 0..u64::from(self.hashes) {
            let bit = reduce(h.wrapping_add(i.wrapping_mul(step)), bits);
            if let Some(w) = self.words.get_mut((bit / 64) as usize) {
                *w |= 1u64 << (bit % 64);
            }
        }
    }

    /// False only when the key whose [`hash64`] is `h` was certainly not added.
    pub fn may_contain_hash(&self, h: u64) -> bool {
        self.words.is_empty() || self.probes(h).all(|(word, mask)| self.words.get(word).is_some_and(|w| w & mask != 0))
    }

    /// Asks the CPU for the words [`Self::may_contain_hash`] of `h` reads (see
    /// [`crate::kv::prefetch`]).
    pub fn prefetch_hash(&self, h: u64) {
        for (word, _) in self.probes(h) {
            if let Some(w) = self.words.get(word) {
                crate::kv::prefetch::prefetch(w);
            }
        }
    }

    /// False only when `key` was certainly not added.
    pub fn may_contain(&self, key: &[u8]) -> bool {
        self.may_contain_hash(hash64(key))
    }

    /// Appends the on-disk form (header + words) to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let header =
            BloomHeader { bits: self.bits().into(), hashes: self.hashes as u8, hash_id: HASH_ID, reserved: [0; 6] };
        out.extend_from_slice(header.as_bytes());
        out.reserve(self.words.len() * 8);
        for w in &self.words {
            out.extend_from_slice(&w.to_le_bytes());
        }
    }

    /// Decodes the on-disk form; the error says what is wrong.
    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        let (header, words) = BloomHeader::read_from_prefix(bytes)
            .map_err(|_| format!("bloom section of {} bytes is too short", bytes.len()))?;
        let bits = header.bits.get();
        if header.hash_id != HASH_ID {
            return Err(format!("unknown bloom hash id {}", header.hash_id));
        }
        if bits % 64 != 0 || bits / 8 != words.len() as u64 {
            return Err(format!("bloom of {bits} bits does not fit its {} bytes of words", words.len()));
        }
        let valid_hashes = if bits == 0 { header.hashes == 0 } else { (1..=HASHES_MAX).contains(&header.hashes) };
        if !valid_hashes {
            return Err(format!("bloom of {bits} bits with {} hashes", header.hashes));
        }
        let words = words
            .chunks_exact(8)
            .map(|w| {
                let mut b = [0u8; 8];
                b.copy_from_slice(w);
                u64::from_le_bytes(b)
            })
            .collect();
        Ok(Self { words, hashes: u32::from(header.hashes) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::sim::SplitMix64;

    fn false_positive_rate(keys: &[Vec<u8>], absent: &[Vec<u8>], bits_per_key: u32) -> f64 {
        let hashes: Vec<u64> = keys.iter().map(|k| hash64(k)).collect();
        let bloom = Bloom::build(&hashes, bits_per_key);
        assert!(keys.iter().all(|k| bloom.may_contain(k)), "a bloom never forgets a key");
        let hits = absent.iter().filter(|k| bloom.may_contain(k)).count();
        hits as f64 / absent.len() as f64
    }

    #[test]
    fn false_positive_rate_at_10_bits_per_key_is_at_most_1_percent() {
        let mut rng = SplitMix64(7);
        let mut random = |len: usize| (0..len).map(|_| rng.next_u64() as u8).collect::<Vec<u8>>();
        // 100k random keys of 4..40 bytes; 100k other random keys (a collision is 2^-32 unlikely).
        let keys: Vec<Vec<u8>> = (0..100_000).map(|i| random(4 + i % 37)).collect();
        let absent: Vec<Vec<u8>> = (0..100_000).map(|i| random(5 + i % 37)).collect();
        let random_rate = false_positive_rate(&keys, &absent, 10);
        // Structured keys: big-endian integers, as an encoded BIGINT key looks.
        let seq: Vec<Vec<u8>> = (0..100_000u64).map(|i| (i * 2).to_be_bytes().to_vec()).collect();
        let seq_absent: Vec<Vec<u8>> = (0..100_000u64).map(|i| (i * 2 + 1).to_be_bytes().to_vec()).collect();
        let seq_rate = false_positive_rate(&seq, &seq_absent, 10);
        // Short keys with a common prefix, as a string key with a tenant prefix looks.
        let prefixed: Vec<Vec<u8>> = (0..100_000).map(|i| format!("tenant-7/user-{i}").into_bytes()).collect();
        let prefixed_absent: Vec<Vec<u8>> =
            (100_000..200_000).map(|i| format!("tenant-7/user-{i}").into_bytes()).collect();
        let prefixed_rate = false_positive_rate(&prefixed, &prefixed_absent, 10);
        println!("bloom FP at 10 bits/key, k=7: random {random_rate:.4}, sequential {seq_rate:.4}, prefixed {prefixed_rate:.4}");
        assert!(random_rate <= 0.01, "random keys: {random_rate}");
        assert!(seq_rate <= 0.01, "sequential keys: {seq_rate}");
        assert!(prefixed_rate <= 0.01, "prefixed keys: {prefixed_rate}");
    }

    #[test]
    fn encodes_and_decodes() {
        let hashes: Vec<u64> = (0..1000u32).map(|i| hash64(&i.to_le_bytes())).collect();
        let bloom = Bloom::build(&hashes, 10);
        assert_eq!(bloom.hashes(), 7);
        assert_eq!(bloom.bits(), 10_048);
        let mut bytes = Vec::new();
        bloom.encode(&mut bytes);
        assert_eq!(Bloom::decode(&bytes), Ok(bloom));
        assert!(Bloom::decode(&bytes[..bytes.len() - 1]).is_err());
        assert!(Bloom::decode(&bytes[..10]).is_err());
        let mut bad = bytes.clone();
        bad[9] = 9;
        assert!(Bloom::decode(&bad).is_err());
    }

    #[test]
    fn no_filter_admits_everything() {
        let bloom = Bloom::build(&[1, 2, 3], 0);
        assert_eq!(bloom.bits(), 0);
        assert!(bloom.may_contain(b"anything"));
        let mut bytes = Vec::new();
        bloom.encode(&mut bytes);
        assert_eq!(bytes.len(), 16);
        assert_eq!(Bloom::decode(&bytes), Ok(bloom));
    }

    #[test]
    fn hash_is_stable() {
        // Part of the file format: these values must never change.
        let values = [hash64(b""), hash64(b"a"), hash64(b"12345678"), hash64(b"123456789")];
        let distinct: std::collections::BTreeSet<_> = values.iter().collect();
        assert_eq!(distinct.len(), 4);
        assert_eq!(values, STABLE);
    }

    const STABLE: [u64; 4] =
        [11_119_800_622_019_502_016, 16_450_818_720_945_750_445, 4_209_168_338_390_029_037, 3_618_264_938_892_167_667];
}

//! Which bucket a key belongs to: Fluss's default bucketing (no lake format, or `lance`).
//!
//! `bucket = hash_i32(hash_bytes(bucket_key)) % bucket_count`, where `bucket_key` is the
//! compacted key of the bucket-key columns ([`super::key`]) and both hashes are Flink's
//! variant of 32-bit Murmur3:
//!
//! - `hash_bytes` starts from seed 42 and mixes each whole little-endian 4-byte word
//!   (`k = rotl(k * C1, 15) * C2; h = rotl(h ^ k, 13) * 5 + 0xE6546B64`, wrapping). Unlike
//!   standard Murmur3, each of the 0..=3 tail bytes is then mixed **on its own** as a full
//!   word (`k = byte`). Last `h ^= len` and the final avalanche `fmix`.
//! - `hash_i32` mixes one word into seed 0 the same way, xors in 4 (the word's length), runs
//!   `fmix`, and returns the absolute value (0 for `i32::MIN`), so the bucket is non-negative.
//!
//! C1 = 0xCC9E2D51, C2 = 0x1B873593, fmix(h) = `h ^= h >> 16; h *= 0x85EBCA6B; h ^= h >> 13;
//! h *= 0xC2B2AE35; h ^= h >> 16`.
//!
//! Paimon and Iceberg tables bucket differently; rill does not support them.

const SEED: u32 = 42;
const C1: u32 = 0xCC9E_2D51;
const C2: u32 = 0x1B87_3593;

/// The bucket of `key_bytes` among `bucket_count` buckets (a count of 0 is treated as 1).
/// Fluss's client rejects empty keys; here an empty key simply hashes like any other.
pub fn bucket_of(key_bytes: &[u8], bucket_count: u32) -> u32 {
    // hash_i32 is never negative, so this equals Java's `%` on ints.
    hash_i32(hash_bytes(key_bytes)) as u32 % bucket_count.max(1)
}

/// Flink's Murmur3 of a byte string with seed 42 and byte-wise tail (Fluss `hashBytes`).
pub fn hash_bytes(bytes: &[u8]) -> i32 {
    let mut words = bytes.chunks_exact(4);
    let mut h = SEED;
    for word in words.by_ref() {
        let k = u32::from_le_bytes(<[u8; 4]>::try_from(word).unwrap_or_default());
        h = mix_h(h, mix_k(k));
    }
    for &byte in words.remainder() {
        h = mix_h(h, mix_k(u32::from(byte)));
    }
    fmix(h ^ bytes.len() as u32) as i32
}

/// Flink's Murmur3 of one i32, made non-negative (Fluss `hashInt` + `abs`).
pub fn hash_i32(value: i32) -> i32 {
    let h = mix_h(0, mix_k(value as u32)) ^ 4;
    let hash = fmix(h) as i32;
    if hash == i32::MIN {
        0
    } else {
        hash.abs()
    }
}

#[inline]
fn mix_k(k: u32) -> u32 {
    k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2)
}

#[inline]
fn mix_h(h: u32, k: u32) -> u32 {
    (h ^ k).rotate_left(13).wrapping_mul(5).wrapping_add(0xE654_6B64)
}

#[inline]
fn fmix(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x85EB_CA6B);
    h ^= h >> 13;
    h = h.wrapping_mul(0xC2B2_AE35);
    h ^ (h >> 16)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// fluss-rs `bucketing::tests::test_default_bucketing` (the first three are also in
    /// fluss-wire.md section 7).
    #[test]
    fn fluss_bucketing_vectors() {
        assert_eq!(bucket_of(&[0x00, 0x0A], 7), 1);
        assert_eq!(bucket_of(&[0x00, 0x0A, 0x0A, 0x0A], 12), 0);
        assert_eq!(bucket_of(b"2bb87d68-baf9-4e64-90f9-f80910419fa6", 16), 6);
        assert_eq!(bucket_of(b"The quick brown fox jumps over the lazy dog", 8), 6);
    }

    /// fluss-rs `util::murmur_hash::tests::test_flink_murmur`.
    #[test]
    fn fluss_murmur_vectors() {
        assert_eq!(hash_bytes(&[]), 0x087F_CD5C);
        assert_eq!(hash_bytes(b"The quick brown fox jumps over the lazy dog"), 0x1BC6_F880);
        assert_eq!(hash_i32(0), 0x2362_F9DE);
        assert_eq!(hash_i32(42), 0x43A4_6E1D);
        assert_eq!(hash_i32(-77), 0x2EEB_27DE);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn buckets_are_in_range(key in proptest::collection::vec(any::<u8>(), 0..64), count in 0u32..100_000) {
            let bucket = bucket_of(&key, count);
            prop_assert!(bucket < count.max(1));
            prop_assert!(hash_i32(hash_bytes(&key)) >= 0);
        }
    }
}

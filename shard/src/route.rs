//! Routing: which shard owns a bucket, and which bucket a key belongs to.
//!
//! `shard_of` is a pure function of (table id, partition id, bucket, shard count), so every
//! thread computes the same owner without asking anyone, and a restart with another shard
//! count simply moves buckets (their directories do not depend on the shard).

/// One splitmix64 step (Steele, Lea, Flood 2014): a bijective 64-bit mixer.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Stand-in for "no partition" in the mix (partition ids are assigned from 0 upward).
const NO_PARTITION: u64 = u64::MAX;

/// The shard owning bucket `bucket` of `table_id` (and partition `partition_id`, if any)
/// among `shards` shards (0 is treated as 1).
///
/// `h = splitmix64(splitmix64(splitmix64(table_id) ^ partition) ^ bucket)`, with partition
/// `u64::MAX` for an unpartitioned table; the shard is `h % shards`. Stable across releases:
/// tests pin its values.
pub fn shard_of(table_id: u64, partition_id: Option<u64>, bucket: u32, shards: usize) -> usize {
    let shards = shards.max(1) as u64;
    let h = splitmix64(splitmix64(splitmix64(table_id) ^ partition_id.unwrap_or(NO_PARTITION)) ^ u64::from(bucket));
    (h % shards) as usize
}

/// The bucket of a row whose encoded bucket key (Fluss's compacted key of the bucket-key
/// columns) is `key_bytes`, among `bucket_count` buckets: exactly what the Fluss clients
/// compute, so rows written here and rows written by a Fluss client meet in one bucket.
pub fn bucket_for_key(key_bytes: &[u8], bucket_count: u32) -> u32 {
    rill_engine::row::bucket_of(key_bytes, bucket_count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_of_is_stable() {
        // Pinned values: changing the function moves data between shards on upgrade.
        let got: Vec<usize> = (0..8).map(|b| shard_of(1, None, b, 4)).collect();
        assert_eq!(got, PINNED_T1_N4);
        assert_eq!(shard_of(7, Some(3), 5, 3), PINNED_T7_P3_B5_N3);
        assert_eq!(shard_of(1, None, 0, 1), 0);
        assert_eq!(shard_of(1, None, 0, 0), 0);
    }

    const PINNED_T1_N4: [usize; 8] = [1, 3, 2, 1, 1, 1, 2, 3];
    const PINNED_T7_P3_B5_N3: usize = 0;

    #[test]
    fn shard_of_spreads_buckets() {
        for shards in [2usize, 3, 4, 8] {
            let mut counts = vec![0usize; shards];
            for table in 1..=16u64 {
                for bucket in 0..64u32 {
                    counts[shard_of(table, None, bucket, shards)] += 1;
                }
            }
            let mean = (16 * 64) / shards;
            for c in &counts {
                assert!(*c > mean * 3 / 4 && *c < mean * 5 / 4, "{shards} shards: {counts:?}");
            }
        }
    }

    #[test]
    fn partition_changes_the_mix() {
        let a: Vec<usize> = (0..32).map(|b| shard_of(1, Some(0), b, 4)).collect();
        let b: Vec<usize> = (0..32).map(|b| shard_of(1, Some(1), b, 4)).collect();
        assert_ne!(a, b);
    }

    #[test]
    fn bucket_for_key_matches_fluss() {
        // Vectors of fluss-rs `bucketing::tests::test_default_bucketing`.
        assert_eq!(bucket_for_key(&[0x00, 0x0A], 7), 1);
        assert_eq!(bucket_for_key(&[0x00, 0x0A, 0x0A, 0x0A], 12), 0);
        assert_eq!(bucket_for_key(b"2bb87d68-baf9-4e64-90f9-f80910419fa6", 16), 6);
        assert_eq!(bucket_for_key(b"abc", 1), 0);
    }
}

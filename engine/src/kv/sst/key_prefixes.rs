//! [`KeyPrefixes`]: the first 8 bytes of each block's last key, searched with few cache misses.
//!
//! A point lookup on data larger than the block cache finds its block in an index that is no
//! longer in the CPU caches either: a plain binary search over 10 000 blocks touches ~14 cache
//! lines, each a miss. Here a sparse copy of every [`FENCE_STRIDE`]-th prefix (a few KiB per
//! SST, so it stays cached) narrows the search to one run of [`FENCE_STRIDE`]
//! prefixes (2 cache lines), and the run of prefixes equal to the key's is found by galloping
//! from its start (usually 0 or 1 long) instead of another search over the whole rest.

/// Prefixes per fence: one run is 128 bytes (two cache lines); the fences of an SST of 64 MiB
/// in 4 KiB blocks take 8 KiB.
pub const FENCE_STRIDE: usize = 16;

/// The first 8 bytes of `key` as a big-endian number, zero padded: ordered like the keys
/// (a smaller number means a smaller key; equal numbers decide nothing).
pub fn key_prefix(key: &[u8]) -> u64 {
    let mut head = [0u8; 8];
    let n = key.len().min(8);
    head[..n].copy_from_slice(&key[..n]);
    u64::from_be_bytes(head)
}

/// The `FENCE_STRIDE + 1` items of `items` from `low` on (fewer at the end): the run a
/// search narrowed by the fences reads.
pub fn run_from<T>(items: &[T], low: usize) -> &[T] {
    let rest = items.get(low..).unwrap_or_default();
    &rest[..rest.len().min(FENCE_STRIDE + 1)]
}

/// Sorted prefixes (of blocks' last keys) and every [`FENCE_STRIDE`]-th of them.
#[derive(Clone, Debug, Default)]
pub struct KeyPrefixes {
    prefixes: Vec<u64>,
    /// `prefixes[j * FENCE_STRIDE]` for each `j`.
    fences: Vec<u64>,
}

impl KeyPrefixes {
    /// The prefixes of `keys`, which must be sorted.
    pub fn new<'a>(keys: impl IntoIterator<Item = &'a [u8]>) -> Self {
        let prefixes: Vec<u64> = keys.into_iter().map(key_prefix).collect();
        debug_assert!(prefixes.is_sorted(), "keys are sorted, so their prefixes are");
        let fences = prefixes.iter().step_by(FENCE_STRIDE).copied().collect();
        Self { prefixes, fences }
    }

    /// Bytes of memory the prefixes and fences take.
    pub fn resident_bytes(&self) -> usize {
        (self.prefixes.len() + self.fences.len()) * size_of::<u64>()
    }

    /// The range of positions whose prefix equals `prefix`; empty (at the position where it
    /// would be) when none does. Same as `partition_point(< prefix)..partition_point(<= prefix)`.
    pub fn equal_range(&self, prefix: u64) -> std::ops::Range<usize> {
        let from = self.lower_bound(prefix);
        from..from + self.equal_run(from, prefix)
    }

    /// Asks the CPU for the run of prefixes [`Self::equal_range`] of `prefix` searches (the
    /// fences it reads first are few and stay cached); returns where the run starts.
    pub fn prefetch(&self, prefix: u64) -> usize {
        let j = self.fences.partition_point(|&p| p < prefix);
        let low = j.saturating_sub(1) * FENCE_STRIDE;
        crate::kv::prefetch::prefetch_slice(run_from(&self.prefixes, low));
        low
    }

    /// The first position whose prefix is not below `prefix` (`len()` when all are).
    fn lower_bound(&self, prefix: u64) -> usize {
        // fences[j - 1] < prefix <= fences[j]: the answer is in ((j - 1) * stride, j * stride].
        let j = self.fences.partition_point(|&p| p < prefix);
        let low = match j {
            0 => 0,
            _ => (j - 1) * FENCE_STRIDE + 1,
        };
        let high = (j * FENCE_STRIDE).min(self.prefixes.len());
        let run = self.prefixes.get(low..high).unwrap_or_default();
        low + run.partition_point(|&p| p < prefix)
    }

    /// How many prefixes from `from` on equal `prefix` (galloping: O(log n) for a long run,
    /// one comparison for none).
    fn equal_run(&self, from: usize, prefix: u64) -> usize {
        let rest = self.prefixes.get(from..).unwrap_or_default();
        // Invariant: rest[..known] all equal `prefix`; the run ends before `known + step`.
        let (mut known, mut step) = (0usize, 1usize);
        while rest.get(known + step - 1).is_some_and(|&p| p == prefix) {
            known += step;
            step *= 2;
        }
        let end = (known + step - 1).min(rest.len());
        known + rest.get(known..end).unwrap_or_default().partition_point(|&p| p == prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn plain(prefixes: &[u64], prefix: u64) -> std::ops::Range<usize> {
        prefixes.partition_point(|&p| p < prefix)..prefixes.partition_point(|&p| p <= prefix)
    }

    #[test]
    fn prefixes_order_like_keys() {
        assert!(key_prefix(b"") < key_prefix(b"\x00\x01"));
        assert!(key_prefix(b"ab") < key_prefix(b"b"));
        assert_eq!(key_prefix(b"abcdefgh1"), key_prefix(b"abcdefgh2"));
        assert_eq!(KeyPrefixes::new([]).equal_range(7), 0..0);
    }

    #[test]
    fn long_runs_of_equal_prefixes() {
        let keys: Vec<Vec<u8>> = (0..1000u32).map(|i| format!("same-pfx{i:05}").into_bytes()).collect();
        let index = KeyPrefixes::new(keys.iter().map(Vec::as_slice));
        assert_eq!(index.equal_range(key_prefix(b"same-pfx")), 0..1000);
        assert_eq!(index.equal_range(key_prefix(b"same-pfy")), 1000..1000);
        assert_eq!(index.equal_range(key_prefix(b"a")), 0..0);
    }

    proptest! {
        /// Any sorted prefixes (with many duplicates) and any probe: the same range as two
        /// plain binary searches.
        #[test]
        fn agrees_with_plain_binary_search(
            mut values in proptest::collection::vec(0u64..400, 0..1500),
            probes in proptest::collection::vec(0u64..420, 1..50),
        ) {
            values.sort_unstable();
            let index = KeyPrefixes {
                fences: values.iter().step_by(FENCE_STRIDE).copied().collect(),
                prefixes: values.clone(),
            };
            for probe in probes.into_iter().chain(values.first().copied()).chain(values.last().copied()) {
                let range = index.equal_range(probe);
                prop_assert_eq!(range.clone(), plain(&values, probe), "probe {}", probe);
                // The hinted run holds where the search lands.
                let hinted = index.prefetch(probe);
                prop_assert!(hinted <= range.start && range.start <= hinted + FENCE_STRIDE, "probe {}", probe);
            }
        }
    }
}

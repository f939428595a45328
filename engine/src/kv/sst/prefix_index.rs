//! A sorted array of 8-byte key prefixes searched in two steps: a sparse copy of every
//! [`STRIDE`]-th entry (small enough to stay in the L1 cache) picks a window of `STRIDE`
//! entries, then the window is searched. A plain binary search over an SST's tens of
//! thousands of block prefixes touches a cache line per step; this touches about three.

/// Entries per window of the sparse level.
pub const STRIDE: usize = 64;

/// Sorted `u64` prefixes with a sparse level.
#[derive(Clone, Debug, Default)]
pub struct PrefixIndex {
    prefixes: Vec<u64>,
    /// `prefixes[STRIDE - 1]`, `prefixes[2 * STRIDE - 1]`, ...: the last entry of each full window.
    sparse: Vec<u64>,
}

impl PrefixIndex {
    /// `prefixes` must be sorted (non-decreasing).
    pub fn new(prefixes: Vec<u64>) -> Self {
        debug_assert!(prefixes.windows(2).all(|w| w[0] <= w[1]), "prefixes out of order");
        let sparse = prefixes.iter().skip(STRIDE - 1).step_by(STRIDE).copied().collect();
        Self { prefixes, sparse }
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        (self.prefixes.len() + self.sparse.len()) * size_of::<u64>()
    }

    /// The first position whose prefix is >= `prefix` (`len()` when none is).
    pub fn lower_bound(&self, prefix: u64) -> usize {
        // Window w holds positions w*STRIDE .. (w+1)*STRIDE; its last entry is sparse[w]. The
        // first window whose last entry is >= prefix holds the answer (or the answer is the
        // start of the partial window after the full ones).
        let window = self.sparse.partition_point(|&p| p < prefix);
        let start = window * STRIDE;
        let end = (start + STRIDE).min(self.prefixes.len());
        start + self.prefixes[start..end].partition_point(|&p| p < prefix)
    }

    /// The positions from `from` on whose prefix equals `prefix` end here (`from` must be
    /// `lower_bound(prefix)`).
    pub fn equal_end(&self, from: usize, prefix: u64) -> usize {
        match self.prefixes.get(from) {
            Some(&p) if p == prefix => from + self.prefixes[from..].partition_point(|&p| p == prefix),
            _ => from,
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn agrees_with_a_plain_binary_search(
            mut prefixes in proptest::collection::vec(0u64..500, 0..600),
            probes in proptest::collection::vec(0u64..520, 1..40),
        ) {
            prefixes.sort_unstable();
            let index = PrefixIndex::new(prefixes.clone());
            for prefix in probes {
                let from = prefixes.partition_point(|&p| p < prefix);
                prop_assert_eq!(index.lower_bound(prefix), from);
                let to = from + prefixes[from..].partition_point(|&p| p == prefix);
                prop_assert_eq!(index.equal_end(from, prefix), to);
            }
        }
    }

    #[test]
    fn edges_of_windows() {
        let prefixes: Vec<u64> = (0..(3 * STRIDE as u64)).map(|i| i * 2).collect();
        let index = PrefixIndex::new(prefixes.clone());
        for probe in [0, 1, 126, 127, 128, 129, 254, 255, 256, 382, 383, 384, 1000] {
            assert_eq!(index.lower_bound(probe), prefixes.partition_point(|&p| p < probe), "probe {probe}");
        }
        assert_eq!(PrefixIndex::new(Vec::new()).lower_bound(5), 0);
    }
}

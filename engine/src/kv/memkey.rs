//! [`MemKey`]: an encoded primary key as the memtable's ordered index stores it.
//!
//! Keys up to [`INLINE_BYTES`] bytes (a BIGINT or INT key, short strings) live inside the
//! index's tree nodes, so a search compares them without following a pointer per key and an
//! insert allocates nothing; longer keys are boxed. Ordered and compared as their bytes, but
//! a comparison first compares the first 8 bytes as one big-endian number (zero padded),
//! which decides almost every comparison without a `memcmp` call. Search the index with a
//! `MemKey` (the `&[u8]` borrow compares with `memcmp`).

use std::borrow::Borrow;
use std::cmp::Ordering;

use super::sst::key_prefixes::key_prefix;

/// Longest key stored inline.
pub const INLINE_BYTES: usize = 22;

/// An encoded key, inline when short.
#[derive(Clone)]
pub enum MemKey {
    Inline { len: u8, bytes: [u8; INLINE_BYTES] },
    Boxed(Box<[u8]>),
}

const _: () = assert!(size_of::<MemKey>() == 24, "as small as the Vec<u8> it replaces");

impl MemKey {
    /// The key `bytes`.
    pub fn new(bytes: &[u8]) -> Self {
        if bytes.len() <= INLINE_BYTES {
            let mut inline = [0u8; INLINE_BYTES];
            inline[..bytes.len()].copy_from_slice(bytes);
            Self::Inline { len: bytes.len() as u8, bytes: inline }
        } else {
            Self::Boxed(bytes.into())
        }
    }

    /// The first 8 bytes as a big-endian number, zero padded (the [`key_prefix`] of its bytes).
    pub fn head(&self) -> u64 {
        match self {
            Self::Inline { bytes, .. } => {
                let mut head = [0u8; 8];
                head.copy_from_slice(&bytes[..8]);
                u64::from_be_bytes(head)
            }
            Self::Boxed(bytes) => key_prefix(bytes),
        }
    }

    /// The key's bytes.
    pub fn as_slice(&self) -> &[u8] {
        match self {
            Self::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Self::Boxed(bytes) => bytes,
        }
    }
}

impl Borrow<[u8]> for MemKey {
    fn borrow(&self) -> &[u8] {
        self.as_slice()
    }
}

impl AsRef<[u8]> for MemKey {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl PartialEq for MemKey {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for MemKey {}

impl PartialOrd for MemKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for MemKey {
    fn cmp(&self, other: &Self) -> Ordering {
        // Inline keys are zero padded, so equal heads with different lengths fall through to
        // the byte comparison, which decides them.
        match self.head().cmp(&other.head()) {
            Ordering::Equal => self.as_slice().cmp(other.as_slice()),
            unequal => unequal,
        }
    }
}

impl std::fmt::Debug for MemKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MemKey({:02x?})", self.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Inline and boxed keys order, compare and read back exactly as their bytes.
        #[test]
        fn orders_as_its_bytes(a in proptest::collection::vec(proptest::num::u8::ANY, 0..40),
                               b in proptest::collection::vec(proptest::num::u8::ANY, 0..40),
                               shared in 0usize..12) {
            // Often a common start (and zero bytes), so heads tie and lengths decide.
            let mut b = b;
            let n = shared.min(a.len()).min(b.len());
            b[..n].copy_from_slice(&a[..n]);
            let (ka, kb) = (MemKey::new(&a), MemKey::new(&b));
            proptest::prop_assert_eq!(ka.as_slice(), a.as_slice());
            proptest::prop_assert_eq!(ka.cmp(&kb), a.cmp(&b));
            proptest::prop_assert_eq!(ka == kb, a == b);
        }
    }
}

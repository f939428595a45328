//! DECIMAL values in the KV formats: the unscaled integer and its two encodings.
//!
//! A DECIMAL(p, s) value is stored as its unscaled integer (123.45 in DECIMAL(10, 2) is 12345).
//! - p <= 18 ("compact"): the unscaled value as an i64, written as a varint of its bit pattern.
//! - p > 18: a varint byte count, then the unscaled value as big-endian two's complement in
//!   the fewest bytes that keep the sign (Java's `BigInteger.toByteArray`): 0 is `[0x00]`,
//!   127 is `[0x7F]`, 128 is `[0x00, 0x80]`, -1 is `[0xFF]`, -129 is `[0xFF, 0x7F]`.
//!
//! Either way the value must have at most p digits; Fluss rejects a value that does not.

use super::varint;

/// Largest precision stored in the compact (i64) form.
pub const COMPACT_PRECISION_MAX: u8 = 18;

/// True when DECIMAL(precision, _) is stored as a varint i64.
pub fn is_compact(precision: u8) -> bool {
    precision <= COMPACT_PRECISION_MAX
}

/// True when `unscaled` has at most `precision` decimal digits.
pub fn fits_precision(unscaled: i128, precision: u8) -> bool {
    // 10^38 is the largest power of ten below i128::MAX; DECIMAL precision is at most 38.
    match 10u128.checked_pow(u32::from(precision)) {
        Some(limit) => unscaled.unsigned_abs() < limit,
        None => true,
    }
}

/// Appends the non-compact form: varint length, then the minimal big-endian bytes.
pub fn put_unscaled_bytes(unscaled: i128, out: &mut Vec<u8>) {
    let be = unscaled.to_be_bytes();
    let len = minimal_len(unscaled);
    let bytes = be.get(be.len() - len..).unwrap_or(&be);
    varint::put_u32(bytes.len() as u32, out);
    out.extend_from_slice(bytes);
}

/// Bytes of the shortest two's-complement form of `v` (1..=16).
fn minimal_len(v: i128) -> usize {
    // Magnitude bits (of v, or of !v for negatives) plus one sign bit, in whole bytes.
    let magnitude = if v < 0 { !v } else { v };
    let bits = 128 - magnitude.leading_zeros() as usize + 1;
    bits.div_ceil(8)
}

/// The value of big-endian two's-complement `bytes`, or `None` if it is empty or does not
/// fit an i128. Redundant sign bytes in front are accepted (other writers may pad).
pub fn from_be_bytes(bytes: &[u8]) -> Option<i128> {
    let (&first, _) = bytes.split_first()?;
    let fill = if first & 0x80 != 0 { 0xFF } else { 0x00 };
    let mut buf = [fill; 16];
    let keep = bytes.len().min(16);
    let (extra, tail) = bytes.split_at(bytes.len() - keep);
    // Extra leading bytes must be pure sign extension of the 16 that remain.
    let tail_fill = if tail.first().is_some_and(|b| b & 0x80 != 0) { 0xFF } else { 0x00 };
    if extra.iter().any(|&b| b != tail_fill) {
        return None;
    }
    buf.get_mut(16 - keep..)?.copy_from_slice(tail);
    Some(i128::from_be_bytes(buf))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn bytes_of(v: i128) -> Vec<u8> {
        let mut out = Vec::new();
        put_unscaled_bytes(v, &mut out);
        out
    }

    #[test]
    fn minimal_bytes_match_java_big_integer() {
        assert_eq!(bytes_of(0), [1, 0x00]);
        assert_eq!(bytes_of(127), [1, 0x7F]);
        assert_eq!(bytes_of(128), [2, 0x00, 0x80]);
        assert_eq!(bytes_of(-1), [1, 0xFF]);
        assert_eq!(bytes_of(-128), [1, 0x80]);
        assert_eq!(bytes_of(-129), [2, 0xFF, 0x7F]);
        assert_eq!(bytes_of(i128::MAX).len(), 17);
        assert_eq!(bytes_of(i128::MIN), [&[16u8, 0x80][..], &[0u8; 15][..]].concat());
    }

    #[test]
    fn precision_limits() {
        assert!(fits_precision(99_999, 5));
        assert!(!fits_precision(100_000, 5));
        assert!(fits_precision(-99_999, 5));
        assert!(!fits_precision(-100_000, 5));
        assert!(fits_precision(0, 1));
        let max38 = 10i128.pow(38) - 1;
        assert!(fits_precision(max38, 38) && fits_precision(-max38, 38));
        assert!(!fits_precision(max38 + 1, 38));
        assert!(!fits_precision(i128::MIN, 38));
    }

    #[test]
    fn padded_and_oversized_inputs() {
        assert_eq!(from_be_bytes(&[]), None);
        assert_eq!(from_be_bytes(&[0x00, 0x00, 0x7F]), Some(127));
        assert_eq!(from_be_bytes(&[0xFF, 0xFF, 0x80]), Some(-128));
        let mut padded = vec![0xFF; 4];
        padded.extend_from_slice(&(-5i128).to_be_bytes());
        assert_eq!(from_be_bytes(&padded), Some(-5));
        let mut too_big = vec![0x01];
        too_big.extend_from_slice(&[0u8; 16]);
        assert_eq!(from_be_bytes(&too_big), None);
        // 17 bytes whose extra byte is 0x00 but whose 16 remaining bytes read as negative.
        let mut sign_flip = vec![0x00, 0x80];
        sign_flip.extend_from_slice(&[0u8; 15]);
        assert_eq!(from_be_bytes(&sign_flip), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn unscaled_bytes_round_trip(v: i128) {
            let out = bytes_of(v);
            let (len, body) = out.split_first().unwrap_or((&0, &[]));
            prop_assert_eq!(*len as usize, body.len());
            prop_assert_eq!(from_be_bytes(body), Some(v));
            // Minimal: dropping the first byte changes the value (or empties it).
            prop_assert_ne!(from_be_bytes(body.get(1..).unwrap_or_default()), Some(v));
        }
    }
}

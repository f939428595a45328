//! Unsigned LEB128 varints, the integer encoding of CompactedRow fields and KV record keys.
//!
//! A value is cut into 7-bit groups, lowest group first. Every byte but the last carries a
//! group with the high bit (0x80) set; the last byte has the high bit clear. So 0..=127 take
//! one byte, 300 = 0b1_0010_1100 is `[0xAC, 0x02]`, and `u32::MAX` is
//! `[0xFF, 0xFF, 0xFF, 0xFF, 0x0F]`. A u32 takes at most 5 bytes, a u64 at most 10.
//!
//! Signed values are written as their two's-complement bit pattern (no zigzag), so a
//! negative i32 always takes 5 bytes and a negative i64 10.
//!
//! Decoding is stricter than Fluss's readers in one way: bits that do not fit the target width
//! (the high nibble of a u32's 5th byte, the top 7 bits of a u64's 10th byte) are an error
//! instead of being dropped. No Fluss writer produces such bytes. Over-long encodings within
//! the byte limit (`[0x80, 0x00]` for 0) are accepted, as Fluss accepts them.

use crate::error::{Error, Result};

/// Most bytes a u32 takes.
pub const U32_BYTES_MAX: usize = 5;
/// Most bytes a u64 takes.
pub const U64_BYTES_MAX: usize = 10;

/// Appends `value` to `out`.
#[inline]
pub fn put_u32(value: u32, out: &mut Vec<u8>) {
    put_u64(u64::from(value), out);
}

/// Appends `value` to `out`.
#[inline]
pub fn put_u64(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7F) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Bytes `value` takes.
#[inline]
pub fn len_u32(value: u32) -> usize {
    len_u64(u64::from(value))
}

/// Bytes `value` takes.
#[inline]
pub fn len_u64(value: u64) -> usize {
    let bits = 64 - value.leading_zeros() as usize;
    bits.div_ceil(7).max(1)
}

/// Reads a u32 starting at `bytes[*pos]` and moves `*pos` past it.
#[inline]
pub fn get_u32(bytes: &[u8], pos: &mut usize) -> Result<u32> {
    let start = *pos;
    let value = get(bytes, pos, U32_BYTES_MAX)?;
    u32::try_from(value).map_err(|_| {
        *pos = start;
        overflow(start, "u32", value)
    })
}

/// Reads a u64 starting at `bytes[*pos]` and moves `*pos` past it.
#[inline]
pub fn get_u64(bytes: &[u8], pos: &mut usize) -> Result<u64> {
    get(bytes, pos, U64_BYTES_MAX)
}

/// Reads at most `max_bytes` groups; `*pos` moves only on success.
fn get(bytes: &[u8], pos: &mut usize, max_bytes: usize) -> Result<u64> {
    let start = *pos;
    let mut value = 0u64;
    for i in 0..max_bytes {
        let at = start + i;
        let Some(&byte) = bytes.get(at) else {
            return Err(Error::invalid_batch(format!(
                "varint starting at byte {start} is cut off at byte {at} (input holds {} bytes)",
                bytes.len()
            )));
        };
        let group = u64::from(byte & 0x7F);
        let shift = 7 * i as u32;
        if shift == 63 && group > 1 {
            return Err(overflow(start, "u64", u64::from(byte)));
        }
        value |= group << shift;
        if byte & 0x80 == 0 {
            *pos = at + 1;
            return Ok(value);
        }
    }
    Err(Error::invalid_batch(format!("varint starting at byte {start} runs past {max_bytes} bytes")))
}

fn overflow(at: usize, width: &str, seen: u64) -> Error {
    Error::invalid_batch(format!("varint at byte {at} does not fit a {width} (saw {seen:#x})"))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn enc64(value: u64) -> Vec<u8> {
        let mut out = Vec::new();
        put_u64(value, &mut out);
        out
    }

    #[test]
    fn golden_bytes() {
        assert_eq!(enc64(0), [0x00]);
        assert_eq!(enc64(127), [0x7F]);
        assert_eq!(enc64(128), [0x80, 0x01]);
        assert_eq!(enc64(300), [0xAC, 0x02]);
        assert_eq!(enc64(u64::from(u32::MAX)), [0xFF, 0xFF, 0xFF, 0xFF, 0x0F]);
        // -1 as an i32 is 5 bytes, as an i64 10 bytes: no zigzag.
        let mut out = Vec::new();
        put_u32(-1i32 as u32, &mut out);
        assert_eq!(out, [0xFF, 0xFF, 0xFF, 0xFF, 0x0F]);
        assert_eq!(enc64(-1i64 as u64), [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]);
    }

    #[test]
    fn rejects_truncation_and_overflow() {
        let mut pos = 0;
        assert!(get_u32(&[0x80, 0x80], &mut pos).is_err());
        assert_eq!(pos, 0, "position moves only on success");
        assert!(get_u32(&[0xFF, 0xFF, 0xFF, 0xFF, 0x1F], &mut 0).is_err(), "bit 32 set");
        assert!(get_u32(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x00], &mut 0).is_err(), "6 bytes");
        assert!(get_u64(&[0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02], &mut 0).is_err());
        assert!(get_u64(&[0x80; 11], &mut 0).is_err());
        assert!(get_u64(&[], &mut 0).is_err());
        let mut pos = 1;
        assert_eq!(get_u32(&[0xAA, 0x80, 0x00, 0x05], &mut pos).ok(), Some(0), "over-long zero is accepted");
        assert_eq!(pos, 3);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn u64_round_trips(value: u64, lead in proptest::collection::vec(any::<u8>(), 0..4)) {
            let mut out = lead.clone();
            put_u64(value, &mut out);
            prop_assert_eq!(out.len() - lead.len(), len_u64(value));
            let mut pos = lead.len();
            prop_assert_eq!(get_u64(&out, &mut pos).ok(), Some(value));
            prop_assert_eq!(pos, out.len());
        }

        #[test]
        fn u32_round_trips(value: u32) {
            let mut out = Vec::new();
            put_u32(value, &mut out);
            prop_assert_eq!(out.len(), len_u32(value));
            let mut pos = 0;
            prop_assert_eq!(get_u32(&out, &mut pos).ok(), Some(value));
            prop_assert_eq!(pos, out.len());
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..16), start in 0usize..20) {
            let mut pos = start;
            if let Ok(v) = get_u64(&bytes, &mut pos) {
                prop_assert!(pos > start && pos <= bytes.len());
                let mut again = Vec::new();
                put_u64(v, &mut again);
                prop_assert!(again.len() <= pos - start);
            }
            let mut pos = start;
            let _ = get_u32(&bytes, &mut pos);
        }
    }
}

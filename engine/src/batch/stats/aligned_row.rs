//! Fluss's AlignedRow (the Flink BinaryRow layout, little-endian): the parts statistics use.
//!
//! A row of `n` fields, offsets from the start of the row:
//!
//! ```text
//! 0        null bits: null_bits_len(n) = ((n + 8 + 63) / 64) * 8 bytes. The first 8 bits are
//!          a header (written 0, ignored on read); field i is null when bit i + 8 is set, that
//!          is byte (i + 8) / 8, bit (i + 8) % 8 counted from the least significant.
//! NB       n slots of 8 bytes, NB = null_bits_len(n). A fixed-width value sits at the low end
//!          of its slot, little-endian, and the slot's other bytes are zero. A null field's
//!          slot is all zero.
//! NB + 8n  variable area: entries appended in field order, each starting on an 8-byte
//!          boundary and zero-padded up to the next one. The row ends after the last entry.
//! ```
//!
//! Slots that point into the variable area hold the little-endian u64
//! `offset << 32 | low`, with `offset` from the row start (below 2^31, so bit 63 is clear) and
//! `low` the byte length (strings) or the nanos of the millisecond (precise timestamps, whose
//! entry is the 8-byte epoch millis). A string of at most 7 bytes lives in its slot instead:
//! bytes `0..len` hold it and byte 7 is `0x80 | len`; bit 63 set is what marks it inline.

use super::invalid as bad;
use crate::error::Result;

/// Header bits in front of the null bits.
const HEADER_BITS: usize = 8;
/// Bytes per field slot, and the alignment of variable-area entries.
const SLOT_BYTES: usize = 8;
/// Longest string kept inside its slot.
const INLINE_MAX_BYTES: usize = 7;
/// Marks an inline string in byte 7 of the slot.
const INLINE_MARK: u8 = 0x80;

/// Size of the null bits (header included) of a row with `fields` fields.
pub(super) fn null_bits_len(fields: usize) -> usize {
    (fields + HEADER_BITS).div_ceil(64) * 8
}

/// Size of the null bits plus the slots: where the variable area starts.
pub(super) fn fixed_len(fields: usize) -> usize {
    null_bits_len(fields) + SLOT_BYTES * fields
}

fn slot_start(fields: usize, field: usize) -> usize {
    null_bits_len(fields) + SLOT_BYTES * field
}

fn pointer(offset: u32, low: u32) -> [u8; SLOT_BYTES] {
    ((u64::from(offset) << 32) | u64::from(low)).to_le_bytes()
}

/// Builds one AlignedRow. Fields may be set in any order, but variable-area entries land in
/// the order they are set: set fields in ascending order to match the Fluss writers' bytes.
pub(super) struct RowWriter {
    bytes: Vec<u8>,
    fields: usize,
}

impl RowWriter {
    /// A row of `fields` fields, all zero (non-null zero values until set).
    pub(super) fn new(fields: usize) -> Self {
        Self { bytes: vec![0; fixed_len(fields)], fields }
    }

    /// Marks `field` null (its slot stays zero).
    pub(super) fn set_null(&mut self, field: usize) {
        debug_assert!(field < self.fields, "field {field} of {}", self.fields);
        let bit = field + HEADER_BITS;
        if let Some(byte) = self.bytes.get_mut(bit / 8) {
            *byte |= 1 << (bit % 8);
        }
    }

    /// Stores a fixed-width value: `value` goes to the low end of the slot, the rest is zero.
    pub(super) fn set_fixed(&mut self, field: usize, value: &[u8]) {
        debug_assert!(value.len() <= SLOT_BYTES);
        let mut slot = [0; SLOT_BYTES];
        if let Some(low) = slot.get_mut(..value.len()) {
            low.copy_from_slice(value);
        }
        self.set_slot(field, slot);
    }

    /// Stores a string: inline when it has at most 7 bytes, else in the variable area.
    pub(super) fn set_string(&mut self, field: usize, value: &[u8]) -> Result<()> {
        if value.len() <= INLINE_MAX_BYTES {
            let mut slot = [0; SLOT_BYTES];
            if let Some(low) = slot.get_mut(..value.len()) {
                low.copy_from_slice(value);
            }
            slot[SLOT_BYTES - 1] = INLINE_MARK | value.len() as u8;
            self.set_slot(field, slot);
            return Ok(());
        }
        let len = u32::try_from(value.len())
            .map_err(|_| bad(format!("a string bound of {} bytes is too long", value.len())))?;
        let offset = self.append(value)?;
        self.set_slot(field, pointer(offset, len));
        Ok(())
    }

    /// Stores a non-compact timestamp: millis in the variable area, nanos in the slot.
    pub(super) fn set_timestamp(&mut self, field: usize, millis: i64, nanos: u32) -> Result<()> {
        debug_assert!(nanos < 1_000_000);
        let offset = self.append(&millis.to_le_bytes())?;
        self.set_slot(field, pointer(offset, nanos));
        Ok(())
    }

    /// The finished row.
    pub(super) fn finish(self) -> Vec<u8> {
        debug_assert!(self.bytes.len() % SLOT_BYTES == 0);
        self.bytes
    }

    fn set_slot(&mut self, field: usize, slot: [u8; SLOT_BYTES]) {
        debug_assert!(field < self.fields, "field {field} of {}", self.fields);
        let start = slot_start(self.fields, field);
        if let Some(dst) = self.bytes.get_mut(start..start + SLOT_BYTES) {
            dst.copy_from_slice(&slot);
        }
    }

    /// Appends a word-aligned, zero-padded entry; returns its offset from the row start.
    fn append(&mut self, value: &[u8]) -> Result<u32> {
        let start = self.bytes.len();
        // Bit 63 of a slot marks inline strings, so an offset must stay below 2^31.
        let offset = u32::try_from(start)
            .ok()
            .filter(|&offset| offset <= i32::MAX as u32)
            .ok_or_else(|| bad(format!("a bound row grew past {} bytes", i32::MAX)))?;
        self.bytes.extend_from_slice(value);
        self.bytes.resize(self.bytes.len().next_multiple_of(SLOT_BYTES), 0);
        Ok(offset)
    }
}

/// Reads one AlignedRow, checking every offset against the row's bytes.
pub(super) struct RowReader<'a> {
    bytes: &'a [u8],
    fields: usize,
    /// "min row" or "max row", for error messages.
    name: &'static str,
}

impl<'a> RowReader<'a> {
    /// Checks that `bytes` holds at least the null bits and slots of `fields` fields.
    pub(super) fn new(bytes: &'a [u8], fields: usize, name: &'static str) -> Result<Self> {
        let fixed = fixed_len(fields);
        if bytes.len() < fixed {
            return Err(bad(format!(
                "{name} has {} bytes, less than the {fixed} of the null bits and slots of {fields} fields",
                bytes.len()
            )));
        }
        Ok(Self { bytes, fields, name })
    }

    /// True when `field`'s null bit is set.
    pub(super) fn is_null(&self, field: usize) -> bool {
        let bit = field + HEADER_BITS;
        self.bytes.get(bit / 8).is_some_and(|byte| byte & (1 << (bit % 8)) != 0)
    }

    /// The 8 raw bytes of `field`'s slot.
    pub(super) fn slot(&self, field: usize) -> Result<[u8; SLOT_BYTES]> {
        let start = slot_start(self.fields, field);
        self.bytes
            .get(start..start + SLOT_BYTES)
            .and_then(|s| <[u8; SLOT_BYTES]>::try_from(s).ok())
            .ok_or_else(|| bad(format!("{} has no slot {field}", self.name)))
    }

    /// The bytes of a string field, inline or in the variable area.
    pub(super) fn string(&self, field: usize) -> Result<&'a [u8]> {
        let slot = self.slot(field)?;
        let mark = slot[SLOT_BYTES - 1];
        if mark & INLINE_MARK != 0 {
            let len = usize::from(mark & !INLINE_MARK);
            return self.inline(field, slot, len);
        }
        let (offset, len) = split_pointer(slot);
        self.var(field, offset, len as usize)
    }

    /// A non-compact timestamp field: (epoch millis, nanos of the millisecond).
    pub(super) fn timestamp(&self, field: usize) -> Result<(i64, u32)> {
        let (offset, nanos) = split_pointer(self.slot(field)?);
        if nanos >= 1_000_000 {
            return Err(bad(format!("{} slot {field}: nano of millisecond {nanos} is not below 1000000", self.name)));
        }
        let millis = self.var(field, offset, SLOT_BYTES)?;
        let millis = <[u8; SLOT_BYTES]>::try_from(millis)
            .map_err(|_| bad(format!("{} slot {field}: short timestamp", self.name)))?;
        Ok((i64::from_le_bytes(millis), nanos))
    }

    fn inline(&self, field: usize, slot: [u8; SLOT_BYTES], len: usize) -> Result<&'a [u8]> {
        if len > INLINE_MAX_BYTES {
            return Err(bad(format!(
                "{} slot {field}: inline string length {len} is over {INLINE_MAX_BYTES}",
                self.name
            )));
        }
        // The inline bytes sit in the slot itself, which lives in `self.bytes`: borrow them
        // from there so the result has the row's lifetime.
        let start = slot_start(self.fields, field);
        debug_assert_eq!(self.bytes.get(start..start + SLOT_BYTES), Some(&slot[..]));
        self.bytes.get(start..start + len).ok_or_else(|| bad(format!("{} has no slot {field}", self.name)))
    }

    /// `len` bytes at `offset` of the variable area, checked to lie inside it.
    fn var(&self, field: usize, offset: u32, len: usize) -> Result<&'a [u8]> {
        let start = offset as usize;
        let end = start.checked_add(len);
        let fixed = fixed_len(self.fields);
        match end {
            Some(end) if start >= fixed && end <= self.bytes.len() => {
                self.bytes.get(start..end).ok_or_else(|| bad(format!("{} slot {field}", self.name)))
            }
            _ => Err(bad(format!(
                "{} slot {field}: {len} bytes at offset {offset} are outside the variable area [{fixed}, {})",
                self.name,
                self.bytes.len()
            ))),
        }
    }
}

/// Splits a pointer slot into (offset, low half).
fn split_pointer(slot: [u8; SLOT_BYTES]) -> (u32, u32) {
    let value = u64::from_le_bytes(slot);
    ((value >> 32) as u32, value as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(bytes: &[u8], fields: usize) -> RowReader<'_> {
        RowReader::new(bytes, fields, "min row").expect("row holds its fixed part")
    }

    #[test]
    fn null_bits_grow_by_words_after_56_fields() {
        assert_eq!(null_bits_len(0), 8);
        assert_eq!(null_bits_len(56), 8);
        assert_eq!(null_bits_len(57), 16);
        assert_eq!(fixed_len(3), 8 + 24);
    }

    #[test]
    fn short_string_is_inline_with_its_mark() {
        let mut row = RowWriter::new(1);
        row.set_string(0, b"abc").expect("string");
        let bytes = row.finish();
        assert_eq!(bytes, [0, 0, 0, 0, 0, 0, 0, 0, b'a', b'b', b'c', 0, 0, 0, 0, 0x83]);
        assert_eq!(reader(&bytes, 1).string(0).expect("string"), b"abc");
    }

    #[test]
    fn seven_bytes_stay_inline_and_eight_spill() {
        let mut row = RowWriter::new(2);
        row.set_string(0, b"1234567").expect("string");
        row.set_string(1, b"12345678").expect("string");
        let bytes = row.finish();
        assert_eq!(bytes.len(), 8 + 16 + 8);
        assert_eq!(bytes[15], 0x87);
        // Slot 1 points at offset 24 with length 8.
        assert_eq!(bytes[16..24], [8, 0, 0, 0, 24, 0, 0, 0]);
        assert_eq!(reader(&bytes, 2).string(0).expect("string"), b"1234567");
        assert_eq!(reader(&bytes, 2).string(1).expect("string"), b"12345678");
    }

    #[test]
    fn long_string_is_padded_to_a_word() {
        let mut row = RowWriter::new(1);
        row.set_string(0, b"abcdefghij").expect("string");
        let bytes = row.finish();
        assert_eq!(bytes.len(), 16 + 16);
        assert_eq!(&bytes[16..32], b"abcdefghij\0\0\0\0\0\0");
    }

    #[test]
    fn null_bit_of_field_zero_is_bit_eight() {
        let mut row = RowWriter::new(60);
        row.set_null(0);
        row.set_null(56);
        let bytes = row.finish();
        assert_eq!((bytes[1], bytes[8]), (1, 1));
        let row = reader(&bytes, 60);
        assert!(row.is_null(0) && row.is_null(56) && !row.is_null(1));
    }

    #[test]
    fn timestamp_splits_millis_and_nanos() {
        let mut row = RowWriter::new(1);
        row.set_timestamp(0, -5, 999_000).expect("timestamp");
        let bytes = row.finish();
        assert_eq!(bytes.len(), 24);
        assert_eq!(reader(&bytes, 1).timestamp(0).expect("timestamp"), (-5, 999_000));
    }

    #[test]
    fn reader_rejects_what_lies_outside_the_row() {
        // Slot 0 claims 9 bytes at offset 16 in a 24-byte row.
        let mut bytes = vec![0u8; 24];
        bytes[8..16].copy_from_slice(&((16u64 << 32) | 9).to_le_bytes());
        assert!(reader(&bytes, 1).string(0).is_err());
        // A pointer into the fixed part is refused too.
        bytes[8..16].copy_from_slice(&8u64.to_le_bytes()); // offset 0, length 8
        assert!(reader(&bytes, 1).string(0).is_err());
        // An inline length over 7, and nanos of a millisecond over 999_999.
        bytes[8..16].copy_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0x88]);
        assert!(reader(&bytes, 1).string(0).is_err());
        bytes[8..16].copy_from_slice(&((16u64 << 32) | 1_000_000).to_le_bytes());
        assert!(reader(&bytes, 1).timestamp(0).is_err());
        // A row shorter than its null bits and slots.
        assert!(RowReader::new(&bytes[..15], 1, "min row").is_err());
    }
}

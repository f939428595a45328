//! The LogRecordBatch header of magic V0, V1 and V2, byte for byte as Fluss defines it.
//!
//! All integers are little-endian. Layouts (offset: field):
//! - V0 (48 bytes): 0 base_offset i64 | 8 length i32 | 12 magic u8 | 13 commit_timestamp i64 |
//!   21 crc u32 | 25 schema_id i16 | 27 attributes u8 | 28 last_offset_delta i32 |
//!   32 writer_id i64 | 40 batch_sequence i32 | 44 record_count i32
//! - V1 (52 bytes): V0 + 48 statistics_length i32
//! - V2 (56 bytes): like V1 with 21 leader_epoch i32 inserted after commit_timestamp; every
//!   later field moves by 4 (crc at 25, schema_id at 29, ..., statistics_length at 52).
//!
//! `length` counts every byte after itself (batch size - 12). The CRC32C covers from
//! schema_id to the end, so base_offset, commit_timestamp and leader_epoch can be set by the
//! log without recomputing it.

use zerocopy::little_endian::{I16, I32, I64, U32};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::error::{Error, Result};

/// Bytes before the `length` field's coverage starts: base_offset (8) + length (4).
pub const LOG_OVERHEAD: usize = 12;
/// Offset of `base_offset` (same in every magic).
pub const BASE_OFFSET_AT: usize = 0;
/// Offset of `length` (same in every magic).
pub const LENGTH_AT: usize = 8;
/// Offset of `magic` (same in every magic).
pub const MAGIC_AT: usize = 12;
/// Offset of `commit_timestamp` (same in every magic).
pub const COMMIT_TIMESTAMP_AT: usize = 13;
/// Offset of V2's `leader_epoch`.
pub const LEADER_EPOCH_AT_V2: usize = 21;
/// Attributes bit: the batch holds append-only records and no change-type vector.
pub const APPEND_ONLY_FLAG: u8 = 0x01;
/// Writer id meaning "no idempotent writer".
pub const NO_WRITER_ID: i64 = -1;
/// Batch sequence meaning "no sequence".
pub const NO_BATCH_SEQUENCE: i32 = -1;

/// The record-batch magic (format version).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Magic {
    V0 = 0,
    V1 = 1,
    V2 = 2,
}

impl Magic {
    /// The newest magic: what rill writes.
    pub const CURRENT: Magic = Magic::V2;

    /// Parses a magic byte.
    pub fn from_byte(byte: u8) -> Result<Self> {
        match byte {
            0 => Ok(Self::V0),
            1 => Ok(Self::V1),
            2 => Ok(Self::V2),
            other => Err(Error::invalid_batch(format!("unknown magic {other}"))),
        }
    }

    /// The header size in bytes.
    pub const fn header_len(self) -> usize {
        match self {
            Self::V0 => size_of::<HeaderV0>(),
            Self::V1 => size_of::<HeaderV1>(),
            Self::V2 => size_of::<HeaderV2>(),
        }
    }

    /// Where the CRC field sits; the CRC covers everything after it.
    pub const fn crc_at(self) -> usize {
        match self {
            Self::V0 | Self::V1 => 21,
            Self::V2 => 25,
        }
    }
}

/// Magic V0 header (48 bytes).
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug)]
#[repr(C)]
pub struct HeaderV0 {
    pub base_offset: I64,
    pub length: I32,
    pub magic: u8,
    pub commit_timestamp: I64,
    pub crc: U32,
    pub schema_id: I16,
    pub attributes: u8,
    pub last_offset_delta: I32,
    pub writer_id: I64,
    pub batch_sequence: I32,
    pub record_count: I32,
}

/// Magic V1 header (52 bytes): V0 + statistics length.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug)]
#[repr(C)]
pub struct HeaderV1 {
    pub v0: HeaderV0,
    pub statistics_length: I32,
}

/// Magic V2 header (56 bytes): V1 with a leader epoch after the commit timestamp.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug)]
#[repr(C)]
pub struct HeaderV2 {
    pub base_offset: I64,
    pub length: I32,
    pub magic: u8,
    pub commit_timestamp: I64,
    pub leader_epoch: I32,
    pub crc: U32,
    pub schema_id: I16,
    pub attributes: u8,
    pub last_offset_delta: I32,
    pub writer_id: I64,
    pub batch_sequence: I32,
    pub record_count: I32,
    pub statistics_length: I32,
}

const _: () = assert!(size_of::<HeaderV0>() == 48);
const _: () = assert!(size_of::<HeaderV1>() == 52);
const _: () = assert!(size_of::<HeaderV2>() == 56);

/// A decoded header, independent of its magic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub base_offset: i64,
    pub length: i32,
    pub magic: Magic,
    pub commit_timestamp: i64,
    /// -1 for magic < 2.
    pub leader_epoch: i32,
    pub crc: u32,
    pub schema_id: i16,
    pub attributes: u8,
    pub last_offset_delta: i32,
    pub writer_id: i64,
    pub batch_sequence: i32,
    pub record_count: i32,
    /// 0 for magic V0.
    pub statistics_length: i32,
}

impl Header {
    /// Reads the header at the start of `bytes` (which may hold more than the header).
    pub fn read(bytes: &[u8]) -> Result<Self> {
        let magic = Magic::from_byte(*bytes.get(MAGIC_AT).ok_or_else(|| too_short(bytes.len(), 13))?)?;
        let need = magic.header_len();
        let head = bytes.get(..need).ok_or_else(|| too_short(bytes.len(), need))?;
        let header = match magic {
            Magic::V0 => from_v0(read_as::<HeaderV0>(head)?, 0),
            Magic::V1 => {
                let h = read_as::<HeaderV1>(head)?;
                from_v0(h.v0, h.statistics_length.get())
            }
            Magic::V2 => from_v2(read_as::<HeaderV2>(head)?),
        };
        debug_assert_eq!(header.magic, magic);
        Ok(header)
    }

    /// True when the batch has no change-type vector (every record is +A).
    pub fn is_append_only(&self) -> bool {
        self.attributes & APPEND_ONLY_FLAG != 0
    }

    /// Total bytes of the batch, header included.
    pub fn batch_len(&self) -> usize {
        self.length as usize + LOG_OVERHEAD
    }

    /// The offset after the batch's last record.
    pub fn next_offset(&self) -> i64 {
        self.base_offset + i64::from(self.last_offset_delta) + 1
    }

    /// Writes this header as V2 into the first 56 bytes of `out`.
    pub fn write_v2(&self, out: &mut [u8]) -> Result<()> {
        let header = HeaderV2 {
            base_offset: self.base_offset.into(),
            length: self.length.into(),
            magic: Magic::V2 as u8,
            commit_timestamp: self.commit_timestamp.into(),
            leader_epoch: self.leader_epoch.into(),
            crc: self.crc.into(),
            schema_id: self.schema_id.into(),
            attributes: self.attributes,
            last_offset_delta: self.last_offset_delta.into(),
            writer_id: self.writer_id.into(),
            batch_sequence: self.batch_sequence.into(),
            record_count: self.record_count.into(),
            statistics_length: self.statistics_length.into(),
        };
        let len = out.len();
        header.write_to_prefix(out).map_err(|_| Error::invalid_batch(format!("{len} bytes cannot hold a V2 header")))
    }
}

fn read_as<T: FromBytes + KnownLayout + Immutable + Unaligned + Copy>(bytes: &[u8]) -> Result<T> {
    T::read_from_bytes(bytes).map_err(|_| too_short(bytes.len(), size_of::<T>()))
}

fn too_short(have: usize, need: usize) -> Error {
    Error::invalid_batch(format!("{have} bytes is shorter than the {need}-byte header"))
}

fn from_v0(h: HeaderV0, statistics_length: i32) -> Header {
    Header {
        base_offset: h.base_offset.get(),
        length: h.length.get(),
        magic: if h.magic == 0 { Magic::V0 } else { Magic::V1 },
        commit_timestamp: h.commit_timestamp.get(),
        leader_epoch: -1,
        crc: h.crc.get(),
        schema_id: h.schema_id.get(),
        attributes: h.attributes,
        last_offset_delta: h.last_offset_delta.get(),
        writer_id: h.writer_id.get(),
        batch_sequence: h.batch_sequence.get(),
        record_count: h.record_count.get(),
        statistics_length,
    }
}

fn from_v2(h: HeaderV2) -> Header {
    Header {
        base_offset: h.base_offset.get(),
        length: h.length.get(),
        magic: Magic::V2,
        commit_timestamp: h.commit_timestamp.get(),
        leader_epoch: h.leader_epoch.get(),
        crc: h.crc.get(),
        schema_id: h.schema_id.get(),
        attributes: h.attributes,
        last_offset_delta: h.last_offset_delta.get(),
        writer_id: h.writer_id.get(),
        batch_sequence: h.batch_sequence.get(),
        record_count: h.record_count.get(),
        statistics_length: h.statistics_length.get(),
    }
}

/// Sets base_offset and commit_timestamp of a stored batch in place (not covered by the CRC).
pub fn stamp(bytes: &mut [u8], base_offset: i64, commit_timestamp: i64) -> Result<()> {
    let head =
        bytes.get_mut(..COMMIT_TIMESTAMP_AT + 8).ok_or_else(|| Error::invalid_batch("batch too short to stamp"))?;
    head[BASE_OFFSET_AT..BASE_OFFSET_AT + 8].copy_from_slice(&base_offset.to_le_bytes());
    head[COMMIT_TIMESTAMP_AT..COMMIT_TIMESTAMP_AT + 8].copy_from_slice(&commit_timestamp.to_le_bytes());
    Ok(())
}

/// Sets the `length` field in place.
pub fn set_length(bytes: &mut [u8], length: i32) -> Result<()> {
    let field = bytes
        .get_mut(LENGTH_AT..LENGTH_AT + 4)
        .ok_or_else(|| Error::invalid_batch("batch too short to set its length"))?;
    field.copy_from_slice(&length.to_le_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Header {
        Header {
            base_offset: 42,
            length: 100,
            magic: Magic::V2,
            commit_timestamp: 1_700_000_000_000,
            leader_epoch: 3,
            crc: 0xDEADBEEF,
            schema_id: 7,
            attributes: APPEND_ONLY_FLAG,
            last_offset_delta: 9,
            writer_id: 11,
            batch_sequence: 5,
            record_count: 10,
            statistics_length: 0,
        }
    }

    #[test]
    fn v2_round_trips_at_the_documented_offsets() {
        let mut bytes = [0u8; 56];
        sample().write_v2(&mut bytes).expect("fits");
        assert_eq!(Header::read(&bytes).expect("reads"), sample());
        assert_eq!(bytes[12], 2);
        assert_eq!(&bytes[25..29], &0xDEADBEEFu32.to_le_bytes());
        assert_eq!(&bytes[29..31], &7i16.to_le_bytes());
        assert_eq!(&bytes[48..52], &10i32.to_le_bytes());
    }

    #[test]
    fn v0_is_read_at_its_offsets() {
        let mut bytes = [0u8; 48];
        bytes[12] = 0;
        bytes[21..25].copy_from_slice(&0x01020304u32.to_le_bytes());
        bytes[25..27].copy_from_slice(&3i16.to_le_bytes());
        bytes[44..48].copy_from_slice(&4i32.to_le_bytes());
        let h = Header::read(&bytes).expect("reads");
        assert_eq!((h.magic, h.crc, h.schema_id, h.record_count, h.leader_epoch), (Magic::V0, 0x01020304, 3, 4, -1));
    }

    #[test]
    fn rejects_short_and_unknown_magic() {
        assert!(Header::read(&[0u8; 10]).is_err());
        let mut bytes = [0u8; 56];
        bytes[12] = 9;
        assert!(Header::read(&bytes).is_err());
        bytes[12] = 2;
        assert!(Header::read(&bytes[..50]).is_err());
    }
}

//! A parsed, bounds-checked view of one stored LogRecordBatch.
//!
//! After the header come, in order: the statistics section (`statistics_length` bytes, V1/V2),
//! the change-type vector (`record_count` bytes, only when the append-only bit is clear), and
//! the Arrow IPC RecordBatch message, which runs to the end of the batch.

use std::ops::Range;

use super::change_type::ChangeType;
use super::crc::crc32c;
use super::header::{Header, LOG_OVERHEAD};
use crate::error::{Error, Result};

/// Most records one batch may claim.
pub const BATCH_RECORDS_MAX: i32 = 1 << 24;

/// One batch's bytes with the ranges of its sections.
#[derive(Clone, Copy, Debug)]
pub struct BatchView<'a> {
    pub header: Header,
    bytes: &'a [u8],
    stats: (usize, usize),
    change_types: (usize, usize),
    ipc: (usize, usize),
}

/// Reads the total size of the batch at the start of `bytes` from its length field, if
/// at least the base offset and length are present.
pub fn peek_batch_len(bytes: &[u8]) -> Option<usize> {
    let field = bytes.get(8..12)?;
    let length = i32::from_le_bytes([field[0], field[1], field[2], field[3]]);
    usize::try_from(length).ok().map(|l| l + LOG_OVERHEAD)
}

impl<'a> BatchView<'a> {
    /// Parses exactly one batch; `bytes` must be the whole batch and nothing more.
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        let header = Header::read(bytes)?;
        let header_len = header.magic.header_len();
        let total = usize::try_from(header.length)
            .ok()
            .map(|l| l + LOG_OVERHEAD)
            .filter(|&t| t >= header_len)
            .ok_or_else(|| Error::invalid_batch(format!("length field {} is too small", header.length)))?;
        if total != bytes.len() {
            return Err(Error::invalid_batch(format!(
                "length field says {total} bytes but the batch has {}",
                bytes.len()
            )));
        }
        check_counts(&header)?;
        let stats_len = usize::try_from(header.statistics_length)
            .map_err(|_| Error::invalid_batch(format!("negative statistics length {}", header.statistics_length)))?;
        let stats = (header_len, header_len + stats_len);
        let ct_len = if header.is_append_only() { 0 } else { header.record_count as usize };
        let change_types = (stats.1, stats.1 + ct_len);
        if change_types.1 > total {
            return Err(Error::invalid_batch(format!(
                "statistics ({stats_len} bytes) and change types ({ct_len} bytes) overrun the {total}-byte batch"
            )));
        }
        let ipc = (change_types.1, total);
        if header.record_count > 0 && ipc.0 == ipc.1 {
            return Err(Error::invalid_batch("batch has records but no Arrow payload"));
        }
        Ok(Self { header, bytes, stats, change_types, ipc })
    }

    /// The whole batch.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Checks the stored CRC32C against the bytes it covers.
    pub fn verify_crc(&self) -> Result<()> {
        let actual = self.compute_crc();
        if actual != self.header.crc {
            return Err(Error::ChecksumMismatch {
                location: format!("batch at offset {}", self.header.base_offset),
                expected: self.header.crc,
                actual,
            });
        }
        Ok(())
    }

    /// The CRC32C over the covered range (schema id to the end).
    pub fn compute_crc(&self) -> u32 {
        let from = self.header.magic.crc_at() + 4;
        self.bytes.get(from..).map_or(0, crc32c)
    }

    /// The statistics section (empty when there is none).
    pub fn stats_bytes(&self) -> &'a [u8] {
        self.slice(self.stats)
    }

    /// The raw change-type vector (empty for append-only batches).
    pub fn change_type_bytes(&self) -> &'a [u8] {
        self.slice(self.change_types)
    }

    /// The change type of every record (+A for every record of an append-only batch).
    pub fn change_types(&self) -> Result<Vec<ChangeType>> {
        if self.header.is_append_only() {
            return Ok(vec![ChangeType::AppendOnly; self.header.record_count as usize]);
        }
        self.change_type_bytes().iter().map(|&b| ChangeType::from_byte(b)).collect()
    }

    /// The Arrow IPC message bytes.
    pub fn ipc_bytes(&self) -> &'a [u8] {
        self.slice(self.ipc)
    }

    /// Byte range of the IPC message within the batch.
    pub fn ipc_range(&self) -> Range<usize> {
        self.ipc.0..self.ipc.1
    }

    /// Byte range of the change-type vector within the batch.
    pub fn change_type_range(&self) -> Range<usize> {
        self.change_types.0..self.change_types.1
    }

    fn slice(&self, (from, to): (usize, usize)) -> &'a [u8] {
        // Ranges were checked against the length in `parse`.
        self.bytes.get(from..to).unwrap_or_default()
    }
}

fn check_counts(header: &Header) -> Result<()> {
    let count = header.record_count;
    if !(0..=BATCH_RECORDS_MAX).contains(&count) {
        return Err(Error::invalid_batch(format!("record count {count} is out of range")));
    }
    let expected_delta = if count == 0 { 0 } else { count - 1 };
    if header.last_offset_delta != expected_delta {
        return Err(Error::invalid_batch(format!(
            "last offset delta {} does not match record count {count}",
            header.last_offset_delta
        )));
    }
    Ok(())
}

//! Segments: `<base offset, 20 digits>.log` files of batches back to back, and the scan that
//! recovers one (CRC check, torn-tail detection, mid-log corruption reports).

use std::rc::Rc;

use super::entry::BatchEntry;
use super::storage::SECTOR_BYTES;
use crate::batch::view::{peek_batch_len, BatchView};
use crate::batch::Magic;
use crate::error::{Error, Result};

/// File name of the segment starting at `base_offset`.
pub fn log_name(base_offset: i64) -> String {
    format!("{base_offset:020}.log")
}

/// File name of the index of the segment starting at `base_offset`.
pub fn index_name(base_offset: i64) -> String {
    format!("{base_offset:020}.index")
}

/// Parses `<20 digits>.log` or `.index` into (base offset, is_log).
pub fn parse_name(name: &str) -> Option<(i64, bool)> {
    let (stem, is_log) = match name.strip_suffix(".log") {
        Some(stem) => (stem, true),
        None => (name.strip_suffix(".index")?, false),
    };
    if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok().map(|base| (base, is_log))
}

/// One segment of a log.
pub struct Segment<F> {
    pub base_offset: i64,
    pub file: Rc<F>,
    /// Durable batches, in offset order.
    pub entries: Vec<BatchEntry>,
    /// Logical size: the end of the last durable batch.
    pub size: u64,
    /// Commit timestamp of the first batch (for rolling by age).
    pub first_timestamp: Option<i64>,
}

impl<F> Segment<F> {
    /// The offset after the segment's last batch.
    pub fn next_offset(&self) -> i64 {
        self.entries.last().map_or(self.base_offset, |e| e.next_offset)
    }

    /// Newest commit timestamp in the segment.
    pub fn max_timestamp(&self) -> Option<i64> {
        self.entries.last().map(|e| e.commit_timestamp)
    }
}

/// How a scan of a segment's bytes ended.
#[derive(Debug, PartialEq, Eq)]
pub enum ScanEnd {
    /// Only zero padding (or nothing) after the last batch.
    Clean,
    /// An incomplete or corrupt batch at `position` with nothing valid after it: a write
    /// that was never acknowledged. The caller truncates it.
    TornTail { position: u64, reason: String },
}

/// A batch found by [`scan`].
pub struct Scanned<'a> {
    pub position: u64,
    pub view: BatchView<'a>,
}

/// Scans the batches of a segment. `bucket`/`segment` name it in errors. A corrupt batch
/// followed by a valid one is an [`Error::Corruption`]; a corrupt tail is a [`ScanEnd::TornTail`].
pub fn scan<'a>(bytes: &'a [u8], base_offset: i64, bucket: &str, segment: &str) -> Result<(Vec<Scanned<'a>>, ScanEnd)> {
    let mut found = Vec::new();
    let mut position = 0usize;
    let mut expected = base_offset;
    loop {
        let rest = &bytes[position..];
        if rest.iter().all(|&b| b == 0) {
            return Ok((found, ScanEnd::Clean));
        }
        match check_batch(rest, expected) {
            Ok(view) => {
                expected = view.header.next_offset();
                position += view.bytes().len();
                found.push(Scanned { position: (position - view.bytes().len()) as u64, view });
            }
            Err(reason) => {
                let valid_after = find_valid_after(bytes, position + 1, expected);
                if let Some((at, offset)) = valid_after.filter(|&(at, _)| !lost_write_between(bytes, position, at)) {
                    return Err(Error::Corruption {
                        bucket: bucket.to_string(),
                        segment: segment.to_string(),
                        offset: expected,
                        position: position as u64,
                        reason: format!("{reason}; a valid batch at offset {offset} (byte {at}) follows"),
                    });
                }
                return Ok((found, ScanEnd::TornTail { position: position as u64, reason }));
            }
        }
    }
}

/// Whether the bad bytes from `position` up to the valid batch at `at` show a write that never
/// reached the disk rather than corrupted data. Sector writes are atomic and a lost sector
/// keeps its old bytes: zeros, from fresh blocks or from the padding written after the last
/// durable batch. So a lost write shows as zeros from `position` to the end of its sector, or
/// as a whole sector of zeros before `at`. A bit flip clears no sector, and a batch header is
/// never zero for 12 bytes (offset, length), so a corrupt batch is read as a lost write only
/// when fewer than 12 bytes of its header end a sector and are zero (its base offset is a
/// multiple of 256): a trade accepted so a crash never looks like corruption. Group commits are pipelined and a
/// disk may persist a later unsynced write without an earlier one, so valid batches after such
/// a gap were never acknowledged (their sync came after the lost write's) and are dropped.
fn lost_write_between(bytes: &[u8], position: usize, at: usize) -> bool {
    let zero = |range: std::ops::Range<usize>| bytes[range].iter().all(|&b| b == 0);
    let first_boundary = (position + 1).next_multiple_of(SECTOR_BYTES).min(at);
    if zero(position..first_boundary) {
        return true;
    }
    (first_boundary..at)
        .step_by(SECTOR_BYTES)
        .take_while(|start| start + SECTOR_BYTES <= at)
        .any(|start| zero(start..start + SECTOR_BYTES))
}

/// Checks that `bytes` starts with a complete, CRC-valid batch whose base offset is `expected`.
fn check_batch(bytes: &[u8], expected: i64) -> std::result::Result<BatchView<'_>, String> {
    let len = peek_batch_len(bytes).ok_or("incomplete batch header")?;
    if len < Magic::V0.header_len() {
        return Err(format!("batch length {len} is below the smallest header"));
    }
    let whole = bytes.get(..len).ok_or_else(|| format!("batch of {len} bytes is cut off at {}", bytes.len()))?;
    let view = BatchView::parse(whole).map_err(|e| e.to_string())?;
    view.verify_crc().map_err(|e| e.to_string())?;
    if view.header.base_offset != expected {
        return Err(format!("base offset {} where {expected} was expected", view.header.base_offset));
    }
    if view.header.record_count == 0 {
        return Err("batch without records".into());
    }
    Ok(view)
}

/// Looks for any valid batch at or after `from` whose base offset is at least `min_offset`.
fn find_valid_after(bytes: &[u8], from: usize, min_offset: i64) -> Option<(usize, i64)> {
    (from..bytes.len().saturating_sub(Magic::V0.header_len())).find_map(|at| {
        let rest = &bytes[at..];
        let magic = *rest.get(12)?;
        if magic > Magic::CURRENT as u8 {
            return None;
        }
        let base = i64::from_le_bytes(rest.get(..8)?.try_into().ok()?);
        if base < min_offset || base > min_offset.saturating_add(1 << 40) {
            return None;
        }
        check_batch(rest, base).ok().map(|_| (at, base))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        assert_eq!(log_name(42), "00000000000000000042.log");
        assert_eq!(parse_name(&log_name(42)), Some((42, true)));
        assert_eq!(parse_name(&index_name(7)), Some((7, false)));
        assert_eq!(parse_name("42.log"), None);
        assert_eq!(parse_name("0000000000000000004x.log"), None);
    }

    #[test]
    fn empty_and_zero_padded_segments_scan_clean() {
        let (found, end) = scan(&[], 0, "b", "s").expect("scan");
        assert!(found.is_empty() && end == ScanEnd::Clean);
        let (found, end) = scan(&[0u8; 4096], 0, "b", "s").expect("scan");
        assert!(found.is_empty() && end == ScanEnd::Clean);
    }

    #[test]
    fn garbage_without_valid_batch_is_a_torn_tail() {
        let (_, end) = scan(&[1u8; 100], 0, "b", "s").expect("scan");
        assert!(matches!(end, ScanEnd::TornTail { position: 0, .. }));
    }
}

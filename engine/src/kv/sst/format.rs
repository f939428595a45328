//! The fixed-size structures of an SST file and the block index codec. Byte layout in
//! `docs/format-sst.md`; every integer is little-endian.

use zerocopy::little_endian::{I16, I64, U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::batch::crc::crc32c;
use crate::batch::Compression;
use crate::schema::Column;

/// Magic at the start of the footer.
pub const SST_MAGIC: [u8; 4] = *b"RLST";
/// Version of the SST format.
pub const SST_VERSION: u16 = 1;
/// Size of the footer, which fills the last bytes of the file.
pub const FOOTER_LEN: usize = size_of::<Footer>();
/// Data blocks are IPC messages whose metadata and body buffers are padded to
/// [`block_alignment`] bytes, and they start at multiples of it, so a block read into (or
/// sliced from) a buffer aligned to it keeps every Arrow buffer aligned for its type. SSTs
/// written before 2026-12-07 used 64 (arrow-rs's default); readers accept any, since the IPC
/// metadata records every buffer's offset.
pub const BLOCK_ALIGNMENT: usize = 8;

/// The IPC padding of the data blocks of an SST with columns `arrow`: [`BLOCK_ALIGNMENT`],
/// or 16 when a column's values are 16 bytes wide (DECIMAL is Arrow's `Decimal128`, which
/// arrow-rs decodes in place only from 16-byte-aligned buffers; it copies others).
pub fn block_alignment(arrow: &arrow_schema::Schema) -> usize {
    use arrow_schema::{DataType, IntervalUnit};
    let wide = arrow.fields().iter().any(|f| {
        matches!(
            f.data_type(),
            DataType::Decimal128(..) | DataType::Decimal256(..) | DataType::Interval(IntervalUnit::MonthDayNano)
        )
    });
    if wide {
        16
    } else {
        BLOCK_ALIGNMENT
    }
}

/// The footer: the last [`FOOTER_LEN`] bytes of the file.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct Footer {
    pub magic: [u8; 4],
    pub version: U16,
    /// Table columns stored in the SST (the Arrow schema has two more: `_key`, `_tombstone`).
    pub column_count: U16,
    pub schema_id: I16,
    /// 0 = none, 1 = LZ4_FRAME, 2 = ZSTD (informational: each IPC message names its codec).
    pub compression: u8,
    pub reserved: u8,
    /// [`schema_crc`] of the stored columns' types.
    pub schema_crc: U32,
    /// Must equal the id in the file name.
    pub id: U64,
    pub covers_log_offset: I64,
    pub rows: U64,
    pub tombstones: U64,
    pub block_count: U32,
    pub index_crc: U32,
    /// End of the data blocks; the index starts here.
    pub data_len: U64,
    pub index_offset: U64,
    pub index_len: U64,
    pub bloom_offset: U64,
    pub bloom_len: U64,
    pub stats_offset: U64,
    pub stats_len: U64,
    pub bloom_crc: U32,
    pub stats_crc: U32,
    pub reserved2: U32,
    /// CRC32C of the footer's bytes before this field.
    pub footer_crc: U32,
}

/// One block of the index (followed, after all entries, by the keys).
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct BlockEntry {
    pub offset: U64,
    pub len: U32,
    pub rows: U32,
    pub tombstones: U32,
    /// CRC32C of the block's `len` bytes.
    pub crc: U32,
    pub first_key_len: U32,
    pub last_key_len: U32,
    /// Bytes of this block's statistics blob in the statistics section (0 = none collected).
    pub stats_len: U32,
    pub reserved: U32,
}

const _: () = assert!(size_of::<Footer>() == 128);
const _: () = assert!(size_of::<BlockEntry>() == 40);

impl Footer {
    /// The footer's bytes with `footer_crc` set.
    pub fn seal(mut self) -> Self {
        self.footer_crc = crc32c(&self.as_bytes()[..FOOTER_LEN - 4]).into();
        self
    }

    /// Checks magic, version and CRC.
    pub fn check(&self) -> Result<(), String> {
        if self.magic != SST_MAGIC {
            return Err(format!("footer magic {:02x?} is not {:02x?}", self.magic, SST_MAGIC));
        }
        let actual = crc32c(&self.as_bytes()[..FOOTER_LEN - 4]);
        if actual != self.footer_crc.get() {
            return Err(format!(
                "footer CRC32C mismatch: stored {:#010x}, computed {actual:#010x}",
                self.footer_crc.get()
            ));
        }
        if self.version.get() != SST_VERSION {
            return Err(format!("unknown SST version {} (this build reads {SST_VERSION})", self.version.get()));
        }
        Ok(())
    }
}

/// The footer's code for a compression.
pub fn compression_code(compression: Compression) -> u8 {
    match compression {
        Compression::None => 0,
        Compression::Lz4Frame => 1,
        Compression::Zstd => 2,
    }
}

/// CRC32C of the stored columns' types (not names or nullability: a rename or a relaxed NOT
/// NULL does not change how a block decodes), so a reader whose schema changed a stored
/// column's type fails cleanly instead of misreading the bytes.
pub fn schema_crc(columns: &[Column]) -> u32 {
    let text: String = columns.iter().map(|c| format!("{}\u{1f}", c.data_type)).collect();
    crc32c(text.as_bytes())
}

/// A block as the index describes it, in memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockInfo {
    pub offset: u64,
    pub len: u32,
    pub rows: u32,
    pub tombstones: u32,
    pub crc: u32,
    pub first_key: Vec<u8>,
    pub last_key: Vec<u8>,
    pub stats_len: u32,
}

impl BlockInfo {
    /// The byte position after the block.
    pub fn end(&self) -> u64 {
        self.offset + u64::from(self.len)
    }
}

/// Encodes the block index: the entries, then each block's first and last key.
pub fn encode_index(blocks: &[BlockInfo], out: &mut Vec<u8>) {
    for b in blocks {
        let entry = BlockEntry {
            offset: b.offset.into(),
            len: b.len.into(),
            rows: b.rows.into(),
            tombstones: b.tombstones.into(),
            crc: b.crc.into(),
            first_key_len: (b.first_key.len() as u32).into(),
            last_key_len: (b.last_key.len() as u32).into(),
            stats_len: b.stats_len.into(),
            reserved: 0.into(),
        };
        out.extend_from_slice(entry.as_bytes());
    }
    for b in blocks {
        out.extend_from_slice(&b.first_key);
        out.extend_from_slice(&b.last_key);
    }
}

/// Decodes a block index of `count` blocks and checks it is self-consistent: blocks in file
/// order within `data_len`, non-empty, keys ordered within and across blocks, and the keys
/// ending exactly at the end of the section. The error says what is wrong.
pub fn decode_index(bytes: &[u8], count: usize, data_len: u64) -> Result<Vec<BlockInfo>, String> {
    let table_len = count.checked_mul(size_of::<BlockEntry>()).ok_or("block count overflows")?;
    let (table, mut keys) =
        bytes.split_at_checked(table_len).ok_or_else(|| format!("{count} index entries overrun the section"))?;
    let mut take = |len: u32, what: &str, i: usize| -> Result<Vec<u8>, String> {
        let (key, rest) = keys
            .split_at_checked(len as usize)
            .ok_or_else(|| format!("{what} key of block {i} ({len} bytes) overruns the index"))?;
        keys = rest;
        Ok(key.to_vec())
    };
    let mut blocks: Vec<BlockInfo> = Vec::with_capacity(count);
    let mut next_offset = 0u64;
    for (i, raw) in table.chunks_exact(size_of::<BlockEntry>()).enumerate() {
        let e = BlockEntry::read_from_bytes(raw).map_err(|_| format!("index entry {i} is short"))?;
        let block = BlockInfo {
            offset: e.offset.get(),
            len: e.len.get(),
            rows: e.rows.get(),
            tombstones: e.tombstones.get(),
            crc: e.crc.get(),
            first_key: take(e.first_key_len.get(), "first", i)?,
            last_key: take(e.last_key_len.get(), "last", i)?,
            stats_len: e.stats_len.get(),
        };
        check_block(&block, i, next_offset, data_len, blocks.last())?;
        next_offset = block.end();
        blocks.push(block);
    }
    if !keys.is_empty() {
        return Err(format!("{} bytes left after the index keys", keys.len()));
    }
    Ok(blocks)
}

fn check_block(
    b: &BlockInfo,
    i: usize,
    min_offset: u64,
    data_len: u64,
    previous: Option<&BlockInfo>,
) -> Result<(), String> {
    if b.offset < min_offset || b.len == 0 || b.end() > data_len {
        return Err(format!(
            "block {i} at {} of {} bytes is out of place (previous ends at {min_offset}, data ends at {data_len})",
            b.offset, b.len
        ));
    }
    if b.rows == 0 || b.tombstones > b.rows {
        return Err(format!("block {i} has {} rows and {} tombstones", b.rows, b.tombstones));
    }
    let keys_fit = if b.rows == 1 { b.first_key == b.last_key } else { b.first_key < b.last_key };
    if !keys_fit {
        return Err(format!("block {i} of {} rows: first and last key are out of order", b.rows));
    }
    if previous.is_some_and(|p| p.last_key >= b.first_key) {
        return Err(format!("block {i}: first key is not after the previous block's last key"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(offset: u64, first: &[u8], last: &[u8]) -> BlockInfo {
        BlockInfo {
            offset,
            len: 100,
            rows: 3,
            tombstones: 1,
            crc: 0xDEAD_BEEF,
            first_key: first.to_vec(),
            last_key: last.to_vec(),
            stats_len: 12,
        }
    }

    #[test]
    fn index_round_trips() {
        let blocks = vec![block(0, b"a", b"c"), block(104, b"d", b"dz"), block(208, b"e\xff", b"f")];
        let mut bytes = Vec::new();
        encode_index(&blocks, &mut bytes);
        assert_eq!(bytes.len(), 3 * 40 + 1 + 1 + 1 + 2 + 2 + 1);
        assert_eq!(decode_index(&bytes, 3, 308), Ok(blocks.clone()));
        assert_eq!(decode_index(&[], 0, 0), Ok(Vec::new()));
        // Truncated, extra bytes, wrong count, blocks past the data.
        assert!(decode_index(&bytes[..bytes.len() - 1], 3, 308).is_err());
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode_index(&longer, 3, 308).is_err());
        assert!(decode_index(&bytes, 4, 308).is_err());
        assert!(decode_index(&bytes, 3, 307).is_err());
    }

    #[test]
    fn index_rejects_unordered_keys_and_overlapping_blocks() {
        for blocks in [
            vec![block(0, b"a", b"c"), block(104, b"c", b"d")],
            vec![block(0, b"b", b"a")],
            vec![block(0, b"a", b"b"), block(50, b"c", b"d")],
        ] {
            let mut bytes = Vec::new();
            encode_index(&blocks, &mut bytes);
            assert!(decode_index(&bytes, blocks.len(), 1000).is_err(), "{blocks:?}");
        }
    }

    #[test]
    fn footer_round_trips_and_detects_damage() {
        let footer = Footer {
            magic: SST_MAGIC,
            version: SST_VERSION.into(),
            column_count: 3.into(),
            schema_id: 2.into(),
            compression: 0,
            reserved: 0,
            schema_crc: 7.into(),
            id: 42.into(),
            covers_log_offset: 1234.into(),
            rows: 10.into(),
            tombstones: 2.into(),
            block_count: 1.into(),
            index_crc: 1.into(),
            data_len: 4000.into(),
            index_offset: 4000.into(),
            index_len: 50.into(),
            bloom_offset: 4050.into(),
            bloom_len: 40.into(),
            stats_offset: 4090.into(),
            stats_len: 0.into(),
            bloom_crc: 2.into(),
            stats_crc: 3.into(),
            reserved2: 0.into(),
            footer_crc: 0.into(),
        }
        .seal();
        let bytes = footer.as_bytes().to_vec();
        let back = Footer::read_from_bytes(&bytes).expect("128 bytes");
        assert_eq!(back, footer);
        assert_eq!(back.check(), Ok(()));
        for at in 0..FOOTER_LEN {
            let mut bad = bytes.clone();
            bad[at] ^= 0x10;
            let damaged = Footer::read_from_bytes(&bad).expect("128 bytes");
            assert!(damaged.check().is_err(), "flip at byte {at} went unnoticed");
        }
    }
}

#[cfg(test)]
mod alignment_tests {
    use arrow_schema::{DataType, Field, Schema};

    use super::block_alignment;

    #[test]
    fn blocks_pad_to_16_only_with_16_byte_values() {
        let plain = Schema::new(vec![Field::new("a", DataType::Int64, false), Field::new("b", DataType::Utf8, true)]);
        assert_eq!(block_alignment(&plain), 8);
        let decimal = Schema::new(vec![
            Field::new("a", DataType::Int64, false),
            Field::new("d", DataType::Decimal128(20, 2), true),
        ]);
        assert_eq!(block_alignment(&decimal), 16);
    }
}

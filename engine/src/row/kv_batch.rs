//! KvRecordBatch: the batch of key/value upserts and deletes a Fluss client sends in PutKv.
//!
//! All integers are little-endian. Header, 28 bytes:
//!
//! | offset | width | field | |
//! |---|---|---|---|
//! | 0 | 4 | length i32 | bytes after this field (total - 4) |
//! | 4 | 1 | magic u8 | 0 |
//! | 5 | 4 | crc u32 | CRC32C of bytes [9, end) |
//! | 9 | 2 | schema_id i16 | schema of every value; >= 0 |
//! | 11 | 1 | attributes u8 | 0 (no attribute is defined) |
//! | 12 | 8 | writer_id i64 | idempotent writer, -1 for none |
//! | 20 | 4 | batch_sequence i32 | per writer and bucket, -1 for none |
//! | 24 | 4 | record_count i32 | records that follow |
//!
//! Then `record_count` records, back to back, each:
//!
//! ```text
//! [length i32: bytes after this field][key length varint][key][value: the rest]
//! ```
//! The value is a CompactedRow with no schema-id prefix; **an empty value is a delete**.
//!
//! [`KvBatch::parse`] checks everything up front (length, magic, CRC, schema id, attributes,
//! every record's bounds, no bytes left over), so iterating the records cannot fail. Limits:
//! keys are 1..=[`KEY_BYTES_MAX`] bytes (Fluss never writes an empty key), and a batch holds at
//! most [`RECORDS_MAX`] records. [`KvBatchBuilder`] writes the same bytes as fluss-rs's
//! `KvRecordBatchBuilder`.

use zerocopy::little_endian::{I16, I32, I64, U32};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::cursor::Cursor;
use super::varint;
use crate::batch::crc::crc32c;
use crate::error::{Error, Result};

/// The only KvRecordBatch magic.
pub const KV_MAGIC: u8 = 0;
/// Header bytes.
pub const KV_HEADER_LEN: usize = 28;
/// The CRC covers the batch from this offset (the schema id) to the end.
pub const KV_CRC_FROM: usize = 9;
/// Longest key accepted, in bytes.
pub const KEY_BYTES_MAX: usize = 64 * 1024;
/// Most records one batch may hold.
pub const RECORDS_MAX: usize = 1 << 20;
/// Writer id meaning "no idempotent writer".
pub const NO_WRITER_ID: i64 = -1;
/// Batch sequence meaning "no sequence".
pub const NO_BATCH_SEQUENCE: i32 = -1;

/// The 28-byte header as laid out on the wire.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug)]
#[repr(C)]
struct KvHeader {
    length: I32,
    magic: u8,
    crc: U32,
    schema_id: I16,
    attributes: u8,
    writer_id: I64,
    batch_sequence: I32,
    record_count: I32,
}

const _: () = assert!(size_of::<KvHeader>() == KV_HEADER_LEN);

/// One record of a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KvRecord<'a> {
    /// The encoded key.
    pub key: &'a [u8],
    /// The CompactedRow, or `None` for a delete.
    pub value: Option<&'a [u8]>,
}

/// A checked KvRecordBatch borrowed from its bytes.
#[derive(Clone, Debug)]
pub struct KvBatch<'a> {
    header: KvHeader,
    records: &'a [u8],
}

impl<'a> KvBatch<'a> {
    /// Checks `bytes`, which must be exactly one batch.
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        let (header, records) = KvHeader::read_from_prefix(bytes).map_err(|_| {
            Error::invalid_batch(format!(
                "KvRecordBatch of {} bytes is shorter than its {KV_HEADER_LEN}-byte header",
                bytes.len()
            ))
        })?;
        check_header(&header, bytes)?;
        let batch = Self { header, records };
        let mut cursor = Cursor::new(records);
        for index in 0..batch.record_count() {
            read_record(&mut cursor).map_err(|e| record_error(index, e))?;
        }
        if cursor.remaining() != 0 {
            return Err(Error::invalid_batch(format!(
                "KvRecordBatch has {} bytes after its {} records",
                cursor.remaining(),
                batch.record_count()
            )));
        }
        Ok(batch)
    }

    /// The schema id of every value.
    pub fn schema_id(&self) -> i16 {
        self.header.schema_id.get()
    }

    /// The attributes byte (always 0).
    pub fn attributes(&self) -> u8 {
        self.header.attributes
    }

    /// The writer id, or [`NO_WRITER_ID`].
    pub fn writer_id(&self) -> i64 {
        self.header.writer_id.get()
    }

    /// The batch sequence, or [`NO_BATCH_SEQUENCE`].
    pub fn batch_sequence(&self) -> i32 {
        self.header.batch_sequence.get()
    }

    /// The stored (and verified) CRC32C.
    pub fn crc(&self) -> u32 {
        self.header.crc.get()
    }

    /// Records in the batch.
    pub fn record_count(&self) -> usize {
        usize::try_from(self.header.record_count.get()).unwrap_or(0)
    }

    /// The records in order.
    pub fn records(&self) -> KvRecords<'a> {
        KvRecords { cursor: Cursor::new(self.records), remaining: self.record_count() }
    }
}

fn check_header(header: &KvHeader, bytes: &[u8]) -> Result<()> {
    let length = header.length.get();
    if usize::try_from(length).ok().and_then(|l| l.checked_add(4)) != Some(bytes.len()) {
        return Err(Error::invalid_batch(format!(
            "KvRecordBatch length field says {length} + 4 bytes but the input holds {}",
            bytes.len()
        )));
    }
    if header.magic != KV_MAGIC {
        return Err(Error::invalid_batch(format!("KvRecordBatch magic {} is not {KV_MAGIC}", header.magic)));
    }
    let covered = bytes.get(KV_CRC_FROM..).unwrap_or_default();
    let (stored, computed) = (header.crc.get(), crc32c(covered));
    if stored != computed {
        return Err(Error::ChecksumMismatch { location: "KvRecordBatch".into(), expected: stored, actual: computed });
    }
    let problem = match (header.schema_id.get(), header.attributes, header.record_count.get()) {
        (id, _, _) if id < 0 => format!("schema id {id} is negative"),
        (_, attributes, _) if attributes != 0 => format!("attributes {attributes:#04x} are not 0"),
        (_, _, count) if !usize::try_from(count).is_ok_and(|c| c <= RECORDS_MAX) => {
            format!("record count {count} is outside 0..={RECORDS_MAX}")
        }
        _ => return Ok(()),
    };
    Err(Error::invalid_batch(format!("KvRecordBatch {problem}")))
}

fn read_record<'a>(cursor: &mut Cursor<'a>) -> Result<KvRecord<'a>> {
    let length = i32::from_le_bytes(cursor.array("record length")?);
    let length =
        usize::try_from(length).map_err(|_| Error::invalid_batch(format!("record length {length} is negative")))?;
    let mut body = Cursor::new(cursor.take(length, "record")?);
    let key_len = body.var_u32("key length")? as usize;
    if key_len == 0 || key_len > KEY_BYTES_MAX {
        return Err(Error::invalid_batch(format!("key length {key_len} is outside 1..={KEY_BYTES_MAX}")));
    }
    let key = body.take(key_len, "key")?;
    let value = body.take(body.remaining(), "value")?;
    Ok(KvRecord { key, value: (!value.is_empty()).then_some(value) })
}

fn record_error(index: usize, e: Error) -> Error {
    match e {
        Error::InvalidBatch { reason } => Error::invalid_batch(format!("KvRecordBatch record {index}: {reason}")),
        other => other,
    }
}

/// The records of a [`KvBatch`], in order.
#[derive(Clone, Debug)]
pub struct KvRecords<'a> {
    cursor: Cursor<'a>,
    remaining: usize,
}

impl<'a> Iterator for KvRecords<'a> {
    type Item = KvRecord<'a>;

    fn next(&mut self) -> Option<KvRecord<'a>> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let record = read_record(&mut self.cursor);
        debug_assert!(record.is_ok(), "records were checked by KvBatch::parse");
        record.ok()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.remaining))
    }
}

/// Builds a KvRecordBatch, byte for byte as fluss-rs's `KvRecordBatchBuilder` does.
#[derive(Clone, Debug)]
pub struct KvBatchBuilder {
    bytes: Vec<u8>,
    records: usize,
    schema_id: i16,
    writer_id: i64,
    batch_sequence: i32,
}

impl KvBatchBuilder {
    /// An empty batch whose values are rows of schema `schema_id` (must be >= 0), with no writer.
    pub fn new(schema_id: i16) -> Self {
        debug_assert!(schema_id >= 0, "schema ids are not negative");
        Self {
            bytes: vec![0; KV_HEADER_LEN],
            records: 0,
            schema_id,
            writer_id: NO_WRITER_ID,
            batch_sequence: NO_BATCH_SEQUENCE,
        }
    }

    /// Sets the idempotent writer id and batch sequence.
    pub fn set_writer_state(&mut self, writer_id: i64, batch_sequence: i32) {
        self.writer_id = writer_id;
        self.batch_sequence = batch_sequence;
    }

    /// Appends an upsert (`Some(row)`) or a delete (`None`; `Some(&[])` writes the same bytes).
    pub fn append(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<()> {
        if key.is_empty() || key.len() > KEY_BYTES_MAX {
            return Err(Error::invalid_batch(format!("key of {} bytes is outside 1..={KEY_BYTES_MAX}", key.len())));
        }
        if self.records >= RECORDS_MAX {
            return Err(Error::invalid_batch(format!("a KvRecordBatch holds at most {RECORDS_MAX} records")));
        }
        let value = value.unwrap_or_default();
        let body = varint::len_u32(key.len() as u32) + key.len() + value.len();
        let total = self.bytes.len() + 4 + body;
        let body = i32::try_from(body).ok().filter(|_| i32::try_from(total - 4).is_ok()).ok_or_else(|| {
            Error::invalid_batch(format!("a KvRecordBatch of {total} bytes would not fit an i32 length"))
        })?;
        self.bytes.extend_from_slice(&body.to_le_bytes());
        varint::put_u32(key.len() as u32, &mut self.bytes);
        self.bytes.extend_from_slice(key);
        self.bytes.extend_from_slice(value);
        self.records += 1;
        Ok(())
    }

    /// Records appended so far.
    pub fn record_count(&self) -> usize {
        self.records
    }

    /// Bytes of the batch if finished now.
    pub fn size_in_bytes(&self) -> usize {
        self.bytes.len()
    }

    /// The batch bytes: header (with length and CRC) followed by the records.
    pub fn finish(mut self) -> Vec<u8> {
        let header = KvHeader {
            // Both fit: append keeps the total within i32 and the count within RECORDS_MAX.
            length: I32::new((self.bytes.len() - 4) as i32),
            magic: KV_MAGIC,
            crc: U32::new(0),
            schema_id: I16::new(self.schema_id),
            attributes: 0,
            writer_id: I64::new(self.writer_id),
            batch_sequence: I32::new(self.batch_sequence),
            record_count: I32::new(self.records as i32),
        };
        if let Some(head) = self.bytes.get_mut(..KV_HEADER_LEN) {
            head.copy_from_slice(header.as_bytes());
        }
        let crc = crc32c(self.bytes.get(KV_CRC_FROM..).unwrap_or_default());
        if let Some(field) = self.bytes.get_mut(5..KV_CRC_FROM) {
            field.copy_from_slice(&crc.to_le_bytes());
        }
        debug_assert!(KvBatch::parse(&self.bytes).is_ok(), "a built batch parses");
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use proptest::prelude::*;

    use super::*;

    fn sample() -> Vec<u8> {
        let mut builder = KvBatchBuilder::new(3);
        builder.set_writer_state(7, 1);
        builder.append(&[0x01], Some(&[0x00, 0x02])).unwrap();
        builder.append(&[0x02], None).unwrap();
        builder.finish()
    }

    /// Rewrites the CRC after a header edit, so the check under test is the one that fails.
    fn fix_crc(bytes: &mut [u8]) {
        let crc = crc32c(&bytes[KV_CRC_FROM..]);
        bytes[5..9].copy_from_slice(&crc.to_le_bytes());
    }

    #[test]
    fn golden_bytes() {
        let bytes = sample();
        let crc = crc32c(&bytes[KV_CRC_FROM..]).to_le_bytes();
        #[rustfmt::skip]
        let expected: Vec<u8> = [
            &[38, 0, 0, 0][..],          // length: 42 - 4
            &[0],                        // magic
            &crc,
            &[3, 0],                     // schema id
            &[0],                        // attributes
            &[7, 0, 0, 0, 0, 0, 0, 0],   // writer id
            &[1, 0, 0, 0],               // batch sequence
            &[2, 0, 0, 0],               // record count
            &[4, 0, 0, 0, 1, 0x01, 0x00, 0x02], // upsert: length 4, key length 1, key, value
            &[2, 0, 0, 0, 1, 0x02],      // delete: no value bytes
        ].concat();
        assert_eq!(bytes, expected);
        let batch = KvBatch::parse(&bytes).unwrap();
        assert_eq!((batch.schema_id(), batch.attributes(), batch.writer_id(), batch.batch_sequence()), (3, 0, 7, 1));
        let records: Vec<_> = batch.records().collect();
        assert_eq!(
            records,
            [KvRecord { key: &[0x01], value: Some(&[0x00, 0x02]) }, KvRecord { key: &[0x02], value: None }]
        );
        let empty = KvBatchBuilder::new(0).finish();
        assert_eq!(empty.len(), KV_HEADER_LEN);
        let empty = KvBatch::parse(&empty).unwrap();
        assert_eq!((empty.writer_id(), empty.batch_sequence(), empty.records().count()), (-1, -1, 0));
    }

    #[test]
    fn every_header_check_fires() {
        let good = sample();
        let fails = |edit: &dyn Fn(&mut Vec<u8>), needle: &str| {
            let mut bytes = good.clone();
            edit(&mut bytes);
            let err = KvBatch::parse(&bytes).unwrap_err().to_string();
            assert!(err.contains(needle), "expected '{needle}' in: {err}");
        };
        fails(&|b| b.truncate(27), "shorter than");
        fails(&|b| b.push(0), "length field");
        fails(&|b| b[0] = 39, "length field");
        fails(&|b| b[0..4].copy_from_slice(&(-1i32).to_le_bytes()), "length field");
        fails(&|b| b[4] = 1, "magic");
        fails(&|b| b[30] ^= 1, "CRC32C");
        fails(
            &|b| {
                b[10] = 0x80;
                fix_crc(b)
            },
            "schema id",
        );
        fails(
            &|b| {
                b[11] = 1;
                fix_crc(b)
            },
            "attributes",
        );
        fails(
            &|b| {
                b[24..28].copy_from_slice(&(-1i32).to_le_bytes());
                fix_crc(b)
            },
            "record count",
        );
        fails(
            &|b| {
                b[24..28].copy_from_slice(&(RECORDS_MAX as i32 + 1).to_le_bytes());
                fix_crc(b)
            },
            "record count",
        );
        fails(
            &|b| {
                b[24] = 3;
                fix_crc(b)
            },
            "record 2",
        );
        fails(
            &|b| {
                b[24] = 1;
                fix_crc(b)
            },
            "after its 1 records",
        );
        fails(
            &|b| {
                b[32] = 0;
                fix_crc(b)
            },
            "key length 0",
        );
        fails(
            &|b| {
                b[32] = 5;
                fix_crc(b)
            },
            "needs 5 bytes",
        );
        fails(
            &|b| {
                b[28..32].copy_from_slice(&(-2i32).to_le_bytes());
                fix_crc(b)
            },
            "negative",
        );
        fails(
            &|b| {
                b[28] = 40;
                fix_crc(b)
            },
            "record 0",
        );
    }

    #[test]
    fn key_limits() {
        let mut builder = KvBatchBuilder::new(1);
        assert!(builder.append(&[], Some(&[1])).is_err());
        assert!(builder.append(&vec![7; KEY_BYTES_MAX + 1], None).is_err());
        builder.append(&vec![7; KEY_BYTES_MAX], Some(&[0])).unwrap();
        assert_eq!(builder.record_count(), 1);
        let bytes = builder.finish();
        assert_eq!(KvBatch::parse(&bytes).unwrap().records().next().map(|r| r.key.len()), Some(KEY_BYTES_MAX));
        // A record whose varint key length says one byte too many.
        let mut long = KvBatchBuilder::new(1);
        long.append(&vec![7; KEY_BYTES_MAX], None).unwrap();
        let mut bytes = long.finish();
        let at = KV_HEADER_LEN + 4;
        let mut varint = Vec::new();
        varint::put_u32(KEY_BYTES_MAX as u32 + 1, &mut varint);
        assert_eq!(varint.len(), 3);
        bytes[at..at + 3].copy_from_slice(&varint);
        fix_crc(&mut bytes);
        assert!(KvBatch::parse(&bytes).unwrap_err().to_string().contains("outside 1..="));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn built_batches_round_trip(
            records in proptest::collection::vec(
                (proptest::collection::vec(any::<u8>(), 1..40), proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40))),
                0..20,
            ),
            schema_id in 0i16..=i16::MAX,
            writer in any::<(i64, i32)>(),
        ) {
            let mut builder = KvBatchBuilder::new(schema_id);
            builder.set_writer_state(writer.0, writer.1);
            for (key, value) in &records {
                builder.append(key, value.as_deref()).unwrap();
            }
            let bytes = builder.finish();
            let batch = KvBatch::parse(&bytes).unwrap();
            prop_assert_eq!((batch.schema_id(), batch.writer_id(), batch.batch_sequence()), (schema_id, writer.0, writer.1));
            prop_assert_eq!(batch.record_count(), records.len());
            for (got, (key, value)) in batch.records().zip(&records) {
                prop_assert_eq!(got.key, &key[..]);
                prop_assert_eq!(got.value, value.as_deref().filter(|v| !v.is_empty()));
            }
            for cut in 0..bytes.len() {
                prop_assert!(KvBatch::parse(&bytes[..cut]).is_err());
            }
        }

        #[test]
        fn random_and_mutated_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..120), at: usize, xor: u8, fix: bool) {
            let _ = KvBatch::parse(&bytes);
            let mut mutated = sample();
            let at = at % mutated.len();
            mutated[at] ^= xor;
            if fix {
                fix_crc(&mut mutated);
            }
            if let Ok(batch) = KvBatch::parse(&mutated) {
                prop_assert_eq!(batch.records().count(), batch.record_count());
            }
        }
    }
}

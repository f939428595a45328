//! Builds magic-V2 batches from Arrow record batches (what rill writes for its own batches:
//! changelogs, embedded appends).

use arrow_array::RecordBatch;
use arrow_ipc::writer::{write_message, DictionaryTracker, IpcDataGenerator, IpcWriteContext, IpcWriteOptions};
use arrow_ipc::CompressionType;

use super::change_type::ChangeType;
use super::crc::crc32c;
use super::header::{Header, Magic, APPEND_ONLY_FLAG, LOG_OVERHEAD, NO_BATCH_SEQUENCE, NO_WRITER_ID};
use super::stats;
use crate::error::{Error, Result};
use crate::schema::Schema;

/// Arrow IPC body compression, as Fluss's `table.log.arrow.compression.type`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Compression {
    None,
    Lz4Frame,
    /// ZSTD at level 3 (the only level Fluss clients accept).
    #[default]
    Zstd,
}

impl Compression {
    /// Parses the Fluss property value (NONE, LZ4_FRAME, ZSTD).
    pub fn from_property(value: &str) -> Result<Self> {
        match value.to_ascii_uppercase().as_str() {
            "NONE" => Ok(Self::None),
            "LZ4_FRAME" => Ok(Self::Lz4Frame),
            "ZSTD" => Ok(Self::Zstd),
            other => Err(Error::Parse {
                input: other.to_string(),
                position: 0,
                reason: "compression must be NONE, LZ4_FRAME or ZSTD".into(),
            }),
        }
    }

    fn arrow(self) -> Option<CompressionType> {
        match self {
            Self::None => None,
            Self::Lz4Frame => Some(CompressionType::LZ4_FRAME),
            Self::Zstd => Some(CompressionType::ZSTD),
        }
    }
}

/// How to build a batch.
#[derive(Clone, Debug)]
pub struct BuildOptions {
    pub compression: Compression,
    /// `NO_WRITER_ID` for none.
    pub writer_id: i64,
    /// `NO_BATCH_SEQUENCE` for none.
    pub batch_sequence: i32,
    /// Write the statistics section for the columns whose type carries statistics.
    pub statistics: bool,
}

impl Default for BuildOptions {
    fn default() -> Self {
        Self {
            compression: Compression::default(),
            writer_id: NO_WRITER_ID,
            batch_sequence: NO_BATCH_SEQUENCE,
            statistics: true,
        }
    }
}

/// Encodes `batch` as one magic-V2 LogRecordBatch with base offset 0 and commit timestamp 0
/// (the log sets both at append). `change_types` = `None` builds an append-only batch.
pub fn build(
    schema: &Schema,
    batch: &RecordBatch,
    change_types: Option<&[ChangeType]>,
    options: &BuildOptions,
) -> Result<Vec<u8>> {
    check_schema(schema, batch)?;
    let rows = i32::try_from(batch.num_rows())
        .map_err(|_| Error::invalid_batch(format!("{} rows do not fit a batch", batch.num_rows())))?;
    if let Some(types) = change_types {
        if types.len() != batch.num_rows() {
            return Err(Error::invalid_batch(format!("{} change types for {} rows", types.len(), batch.num_rows())));
        }
    }
    let mut stats_bytes = Vec::new();
    if options.statistics {
        stats::encode(schema, &stats::compute(schema, batch)?, &mut stats_bytes)?;
    }
    let header_len = Magic::V2.header_len();
    let mut out = vec![0u8; header_len];
    out.extend_from_slice(&stats_bytes);
    if let Some(types) = change_types {
        out.extend(types.iter().map(|&t| t as u8));
    }
    encode_ipc(batch, options.compression, &mut out)?;
    let mut header = Header {
        base_offset: 0,
        length: i32::try_from(out.len() - LOG_OVERHEAD)
            .map_err(|_| Error::invalid_batch(format!("batch of {} bytes is too large", out.len())))?,
        magic: Magic::V2,
        commit_timestamp: 0,
        leader_epoch: 0,
        crc: 0,
        schema_id: schema.id,
        attributes: if change_types.is_none() { APPEND_ONLY_FLAG } else { 0 },
        last_offset_delta: if rows == 0 { 0 } else { rows - 1 },
        writer_id: options.writer_id,
        batch_sequence: options.batch_sequence,
        record_count: rows,
        statistics_length: stats_bytes.len() as i32,
    };
    header.write_v2(&mut out)?;
    // The CRC covers the header from schema_id on, so it is computed after writing those fields.
    header.crc = crc32c(&out[Magic::V2.crc_at() + 4..]);
    header.write_v2(&mut out)?;
    Ok(out)
}

thread_local! {
    static WRITE_CONTEXT: std::cell::RefCell<IpcWriteContext> = std::cell::RefCell::new(IpcWriteContext::default());
}

/// Appends the IPC RecordBatch message (no schema message) for `batch` to `out`, its metadata
/// and body buffers padded to 64 bytes (arrow-rs's default).
pub fn encode_ipc(batch: &RecordBatch, compression: Compression, out: &mut Vec<u8>) -> Result<()> {
    encode_ipc_aligned(batch, compression, 64, out)
}

/// [`encode_ipc`] with the metadata and each body buffer padded to `alignment` bytes (8, 16,
/// 32 or 64; 8 is the Arrow format's minimum and what Arrow Java writes).
pub fn encode_ipc_aligned(
    batch: &RecordBatch,
    compression: Compression,
    alignment: usize,
    out: &mut Vec<u8>,
) -> Result<()> {
    let options = IpcWriteOptions::try_new(alignment, false, arrow_ipc::MetadataVersion::V5)
        .and_then(|o| o.try_with_compression(compression.arrow()))
        .map_err(|e| Error::arrow("choosing the alignment and compression", e))?;
    let mut tracker = DictionaryTracker::new(false);
    // The context keeps the ZSTD compressor between batches (one per thread: a shard's).
    let (dictionaries, encoded) = WRITE_CONTEXT
        .with_borrow_mut(|context| IpcDataGenerator::default().encode(batch, &mut tracker, &options, context))
        .map_err(|e| Error::arrow("encoding the Arrow batch", e))?;
    if !dictionaries.is_empty() {
        return Err(Error::UnsupportedType { type_name: "dictionary-encoded column".into() });
    }
    write_message(out, encoded, &options).map_err(|e| Error::arrow("writing the Arrow message", e))?;
    Ok(())
}

/// Checks that an Arrow batch has exactly the table schema's columns (count, types, nullability).
pub fn check_schema(schema: &Schema, batch: &RecordBatch) -> Result<()> {
    let expected = schema.to_arrow();
    let actual = batch.schema();
    let describe = |s: &arrow_schema::Schema| {
        s.fields().iter().map(|f| format!("{}: {}", f.name(), f.data_type())).collect::<Vec<_>>().join(", ")
    };
    let same = expected.fields().len() == actual.fields().len()
        && expected.fields().iter().zip(actual.fields().iter()).all(|(e, a)| {
            e.data_type() == a.data_type() && (e.is_nullable() || !a.is_nullable() || a_has_no_nulls(batch, a.name()))
        });
    if !same {
        return Err(Error::SchemaMismatch {
            bucket: String::from("-"),
            expected: format!("schema {} [{}]", schema.id, describe(&expected)),
            actual: format!("[{}]", describe(&actual)),
        });
    }
    Ok(())
}

fn a_has_no_nulls(batch: &RecordBatch, name: &str) -> bool {
    batch.column_by_name(name).is_some_and(|c| c.null_count() == 0)
}

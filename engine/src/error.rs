//! The engine's error type: structured variants that say what, where and the values seen.

use std::fmt;

/// Result alias used across the engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything the engine can report. Corruption and bad input are errors; only a broken
/// invariant panics.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A table descriptor or schema is invalid.
    InvalidSchema { table: String, reason: String },
    /// A data type the engine does not (yet) support.
    UnsupportedType { type_name: String },
    /// A type string or property did not parse.
    Parse { input: String, position: usize, reason: String },
    /// A batch's bytes are malformed (bad length, bad magic, truncated).
    InvalidBatch { reason: String },
    /// A batch's CRC does not match its bytes.
    ChecksumMismatch { location: String, expected: u32, actual: u32 },
    /// A batch does not match the table schema it claims.
    SchemaMismatch { bucket: String, expected: String, actual: String },
    /// A batch is larger than the configured limit.
    BatchTooLarge { bucket: String, bytes: usize, limit_bytes: usize },
    /// A batch holds no records.
    EmptyBatch { bucket: String },
    /// A read asked for an offset outside `[start, end]`.
    OffsetOutOfRange { bucket: String, offset: i64, start: i64, end: i64 },
    /// A writer's batch sequence skipped ahead.
    OutOfOrderSequence { bucket: String, writer_id: i64, expected: i32, received: i32 },
    /// A writer's batch sequence went backwards further than the retry window.
    DuplicateSequence { bucket: String, writer_id: i64, sequence: i32, last_sequence: i32 },
    /// Stored data is corrupt somewhere other than a torn tail.
    Corruption { bucket: String, segment: String, offset: i64, position: u64, reason: String },
    /// A predicate did not parse or does not fit the schema.
    Predicate { reason: String },
    /// Arrow refused to encode or decode.
    Arrow { context: String, source: arrow_schema::ArrowError },
    /// The storage backend failed.
    Io { context: String, source: std::io::Error },
    /// A write to a table is invalid (partial update without the key, a key over the size
    /// limit, a null version column, ...); nothing was changed.
    InvalidWrite { table: String, reason: String },
    /// The log was closed or poisoned by an earlier I/O failure.
    LogClosed { bucket: String, reason: String },
    /// A compaction could not run or be installed (its reserved SST ids ran out, its inputs
    /// changed while it ran elsewhere, the shard running it went away).
    Compaction { bucket: String, reason: String },
}

impl Error {
    /// Wraps an I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io { context: context.into(), source }
    }
    /// Wraps an Arrow error with what was being done.
    pub fn arrow(context: impl Into<String>, source: arrow_schema::ArrowError) -> Self {
        Self::Arrow { context: context.into(), source }
    }
    /// A malformed-batch error.
    pub fn invalid_batch(reason: impl Into<String>) -> Self {
        Self::InvalidBatch { reason: reason.into() }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidSchema { table, reason } => write!(f, "invalid table '{table}': {reason}"),
            Self::UnsupportedType { type_name } => {
                write!(f, "unsupported data type {type_name} (nested types come later)")
            }
            Self::Parse { input, position, reason } => {
                write!(f, "cannot parse '{input}' at position {position}: {reason}")
            }
            Self::InvalidBatch { reason } => write!(f, "invalid record batch: {reason}"),
            Self::ChecksumMismatch { location, expected, actual } => write!(
                f,
                "CRC32C mismatch at {location}: stored {expected:#010x}, computed {actual:#010x}"
            ),
            Self::SchemaMismatch { bucket, expected, actual } => write!(
                f,
                "batch for bucket {bucket} does not match the table schema: expected {expected}, got {actual}"
            ),
            Self::BatchTooLarge { bucket, bytes, limit_bytes } => write!(
                f,
                "batch of {bytes} bytes for bucket {bucket} is over the limit of {limit_bytes} bytes"
            ),
            Self::EmptyBatch { bucket } => write!(f, "empty batch for bucket {bucket}"),
            Self::OffsetOutOfRange { bucket, offset, start, end } => write!(
                f,
                "offset {offset} is out of range for bucket {bucket} (log holds [{start}, {end}))"
            ),
            Self::OutOfOrderSequence { bucket, writer_id, expected, received } => write!(
                f,
                "out-of-order sequence for writer {writer_id} on bucket {bucket}: expected {expected}, received {received}"
            ),
            Self::DuplicateSequence { bucket, writer_id, sequence, last_sequence } => write!(
                f,
                "sequence {sequence} of writer {writer_id} on bucket {bucket} is older than the retry window (last {last_sequence})"
            ),
            Self::Corruption { bucket, segment, offset, position, reason } => write!(
                f,
                "corruption in bucket {bucket}, segment {segment}, at offset {offset} (byte {position}): {reason}"
            ),
            Self::Predicate { reason } => write!(f, "predicate error: {reason}"),
            Self::Arrow { context, source } => write!(f, "arrow error while {context}: {source}"),
            Self::Io { context, source } => write!(f, "I/O error while {context}: {source}"),
            Self::InvalidWrite { table, reason } => write!(f, "invalid write to table {table}: {reason}"),
            Self::LogClosed { bucket, reason } => write!(f, "log of bucket {bucket} is closed: {reason}"),
            Self::Compaction { bucket, reason } => write!(f, "compaction of bucket {bucket}: {reason}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Arrow { source, .. } => Some(source),
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

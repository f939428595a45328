//! The shard crate's error type: the engine's errors plus what routing, the catalog and the
//! runtime can report, each saying what, where and the values seen.

use std::fmt;

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything the embedding API can report.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The storage engine refused (bad batch, schema mismatch, I/O, corruption, ...).
    Engine(rill_engine::Error),
    /// No table has this name.
    UnknownTable { name: String },
    /// A table with this name already exists.
    TableExists { name: String },
    /// No database has this name.
    UnknownDatabase { name: String },
    /// A database with this name already exists.
    DatabaseExists { name: String },
    /// The database still holds these tables (drop them first, or drop with `cascade`).
    DatabaseNotEmpty { name: String, tables: Vec<String> },
    /// A database or table name breaks the naming rules.
    InvalidName { name: String, reason: String },
    /// Another open `Rill` (in this process or another) holds the data directory's lock.
    DataDirLocked { dir: String },
    /// The table exists but has no such bucket.
    UnknownBucket { table: String, bucket: u32, bucket_count: u32 },
    /// A log-table operation was sent to a primary-key table.
    NotALogTable { name: String },
    /// A primary-key operation was sent to a log table.
    NotAPrimaryKeyTable { name: String },
    /// The request is malformed for this table (key columns, predicate, projection, ...).
    InvalidRequest { table: String, reason: String },
    /// A feature this slice does not have yet (partitioned tables, ...).
    Unsupported { what: String },
    /// The shard has shut down (or its thread died): the request was not executed.
    ShardGone { shard: usize },
    /// A task on the shard panicked (a bug): the shard stopped serving; this request and
    /// every later one for the shard fail with this error until the `Rill` is reopened
    /// (recovery replays the durable logs).
    ShardPanicked { shard: usize, message: String },
    /// The KV snapshot was closed or expired (not pulled for `SNAPSHOT_IDLE_MS_MAX`).
    SnapshotGone { shard: usize, id: u64 },
    /// The shard holds `SNAPSHOTS_OPEN_MAX_PER_SHARD` snapshots already: finish or drop some.
    TooManySnapshots { shard: usize, open: usize, limit: usize },
    /// The shard's request queue is full (`queue_depth_max`): retry later.
    QueueFull { shard: usize },
    /// The shard's memtables stayed over `memtable_bytes_max_per_shard` for
    /// `write_stall_ms_max` (flushing cannot keep up, or fails: `flush_error`); the write was
    /// not executed.
    WriteStalled {
        shard: usize,
        memtable_bytes: usize,
        budget_bytes: usize,
        waited_ms: u64,
        flush_error: Option<String>,
    },
    /// The partitioned table has no partition with this name (Fluss error 36,
    /// PartitionNotExists).
    UnknownPartition { table: String, partition: String },
    /// A partition with this name already exists (Fluss error 42, PartitionAlreadyExists).
    PartitionExists { table: String, partition: String },
    /// A partition spec or value does not fit the table's partition keys (Fluss error 43,
    /// PartitionSpecInvalid).
    InvalidPartitionSpec { table: String, reason: String },
    /// Creating the partitions would take the table over its cap (Fluss error 45,
    /// PartitionMaxNum).
    TooManyPartitions { table: String, partitions: usize, partitions_max: usize },
    /// The operation needs a partition (or a partitioned variant of the call) on a partitioned
    /// table.
    PartitionRequired { table: String, operation: String },
    /// A partition was named for a table that is not partitioned (Fluss error 37,
    /// TableNotPartitioned).
    NotPartitioned { table: String },
    /// The catalog file is unreadable or malformed.
    Catalog { path: String, reason: String },
    /// A file-system operation outside the engine failed.
    Io { context: String, source: std::io::Error },
    /// The runtime could not be started (executor, socket pair, configuration).
    Runtime { reason: String },
}

impl Error {
    /// Wraps an I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io { context: context.into(), source }
    }
}

impl From<rill_engine::Error> for Error {
    fn from(e: rill_engine::Error) -> Self {
        Self::Engine(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Engine(e) => write!(f, "{e}"),
            Self::UnknownTable { name } => write!(f, "unknown table '{name}'"),
            Self::TableExists { name } => write!(f, "table '{name}' already exists"),
            Self::UnknownDatabase { name } => write!(f, "unknown database '{name}'"),
            Self::DatabaseExists { name } => write!(f, "database '{name}' already exists"),
            Self::DatabaseNotEmpty { name, tables } => write!(
                f,
                "database '{name}' is not empty: it holds {} table(s) ({}); drop them first or drop it with cascade",
                tables.len(),
                tables.join(", ")
            ),
            Self::InvalidName { name, reason } => write!(f, "invalid name '{name}': {reason}"),
            Self::DataDirLocked { dir } => write!(
                f,
                "data directory {dir} is already in use: another open Rill (in this process or another) holds its LOCK file"
            ),
            Self::UnknownBucket { table, bucket, bucket_count } => {
                write!(f, "table '{table}' has no bucket {bucket} (it has {bucket_count})")
            }
            Self::NotALogTable { name } => {
                write!(f, "table '{name}' is a primary-key table: use upsert/delete/lookup, not append/scan")
            }
            Self::NotAPrimaryKeyTable { name } => {
                write!(f, "table '{name}' is a log table: use append/scan, not upsert/delete/lookup")
            }
            Self::InvalidRequest { table, reason } => write!(f, "invalid request for table '{table}': {reason}"),
            Self::Unsupported { what } => write!(f, "{what} are not supported yet"),
            Self::ShardGone { shard } => write!(f, "shard {shard} has shut down"),
            Self::ShardPanicked { shard, message } => write!(
                f,
                "shard {shard} stopped after a task panicked ({message}); reopen the Rill to recover its buckets"
            ),
            Self::SnapshotGone { shard, id } => {
                write!(f, "KV snapshot {id} on shard {shard} is gone (closed, or expired after going unread)")
            }
            Self::TooManySnapshots { shard, open, limit } => {
                write!(f, "shard {shard} holds {open} open KV snapshots, the limit is {limit}; finish or drop some")
            }
            Self::QueueFull { shard } => write!(f, "the request queue of shard {shard} is full; retry later"),
            Self::WriteStalled { shard, memtable_bytes, budget_bytes, waited_ms, flush_error } => {
                write!(
                    f,
                    "write stalled on shard {shard}: its memtables hold {memtable_bytes} bytes, over the \
                     {budget_bytes}-byte budget (memtable_bytes_max_per_shard), after waiting {waited_ms} ms \
                     for flushes"
                )?;
                match flush_error {
                    Some(e) => write!(f, "; the last flush failed: {e}"),
                    None => write!(f, "; flushing is not keeping up, retry later"),
                }
            }
            Self::UnknownPartition { table, partition } => {
                write!(f, "table '{table}' has no partition '{partition}'")
            }
            Self::PartitionExists { table, partition } => {
                write!(f, "partition '{partition}' of table '{table}' already exists")
            }
            Self::InvalidPartitionSpec { table, reason } => {
                write!(f, "invalid partition spec for table '{table}': {reason}")
            }
            Self::TooManyPartitions { table, partitions, partitions_max } => write!(
                f,
                "table '{table}' would have {partitions} partitions, over its cap of {partitions_max} \
                 (partitions_per_table_max)"
            ),
            Self::PartitionRequired { table, operation } => write!(
                f,
                "table '{table}' is partitioned: {operation} needs a partition (use the *_partition variant)"
            ),
            Self::NotPartitioned { table } => write!(f, "table '{table}' is not partitioned: name no partition"),
            Self::Catalog { path, reason } => write!(f, "catalog {path}: {reason}"),
            Self::Io { context, source } => write!(f, "I/O error while {context}: {source}"),
            Self::Runtime { reason } => write!(f, "runtime: {reason}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Engine(e) => Some(e),
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

//! Limits and policies of one bucket's log.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::schema::Schema;

/// Configuration of a [`super::Log`]. Every limit has a unit in its name.
#[derive(Clone, Debug)]
pub struct LogConfig {
    /// Name used in errors and logs (e.g. `db.table/p0/b3`).
    pub bucket: String,
    /// The schemas batches may name, by schema id.
    pub schemas: BTreeMap<i16, Arc<Schema>>,
    /// Roll to a new segment when the active one would grow past this.
    pub segment_bytes_max: u64,
    /// Roll when the active segment's first batch is older than this.
    pub segment_age_ms_max: i64,
    /// Delete the oldest sealed segments while the log is larger than this.
    pub retention_bytes_max: Option<u64>,
    /// Delete sealed segments whose newest batch is older than this.
    pub retention_ms_max: Option<i64>,
    /// Largest batch accepted by `append`.
    pub batch_bytes_max: usize,
    /// Forget an idempotent writer after this long without a write.
    pub writer_idle_expiry_ms: i64,
    /// Most idempotent writers remembered per bucket (the least recently used is dropped).
    pub writers_max: usize,
    /// Fully decode each appended Arrow payload before accepting it (UTF-8, offsets, lengths),
    /// on the appender's path. Off by default, as in Fluss, whose server checks the batch
    /// header, CRC and layout but not the Arrow values; the structure (field nodes and buffers
    /// against the schema) is always checked; statistics missing from a batch are computed
    /// later (see `stats_backlog_bytes_max`).
    pub validate_payload: bool,
    /// Statistics missing from appended batches (Fluss V0 batches) are computed off the append
    /// path: the batch is acknowledged first and queued, and `Log::fill_pending_stats` (called
    /// by the owner's background work) computes them; until then a read cannot skip that
    /// batch. Past this many queued bytes the writer computes them itself while the group's
    /// write is in flight (so the queue never grows without bound), and a segment is never
    /// sealed with statistics missing.
    pub stats_backlog_bytes_max: usize,
    /// How far ahead of the active segment's data `Log::zero_fill_step` (background work)
    /// keeps it written with zeros while groups are small (at most 64 KiB). On ext4 and XFS a
    /// write into preallocated but never written space must change the extent's state, so
    /// its sync commits the journal; a write over written blocks syncs with a cache flush
    /// alone (docs/operations.md has the measurements). Costs writing the log's bytes twice
    /// while writes are small (the zeros in 256 KiB writes). 0 turns it off (the default).
    pub zero_fill_bytes: u64,
}

impl LogConfig {
    /// Defaults for a bucket holding `schema`.
    pub fn new(bucket: impl Into<String>, schema: Schema) -> Self {
        let mut schemas = BTreeMap::new();
        schemas.insert(schema.id, Arc::new(schema));
        Self {
            bucket: bucket.into(),
            schemas,
            segment_bytes_max: 256 << 20,
            segment_age_ms_max: 7 * 24 * 3600 * 1000,
            retention_bytes_max: None,
            retention_ms_max: Some(7 * 24 * 3600 * 1000),
            batch_bytes_max: 16 << 20,
            writer_idle_expiry_ms: 7 * 24 * 3600 * 1000,
            writers_max: 10_000,
            validate_payload: false,
            stats_backlog_bytes_max: 16 << 20,
            zero_fill_bytes: 0,
        }
    }
}

//! rill-shard: the thread-per-core runtime, the catalog and the embedding API (issue 4,
//! first slice).
//!
//! - [`route`]: which shard owns a bucket (`shard_of`), which bucket a key belongs to.
//! - [`runtime`]: `N` glommio shards fed from any thread through bounded queues + wake-ups.
//! - [`catalog`]: databases, tables by name and the partitions of partitioned tables,
//!   persisted in `catalog.json`, published as snapshots; auto-partitioning by time unit;
//!   every schema of a table by id, and Fluss's table and schema JSON.
//! - [`partition_key`]: which types can be partition keys and how their values are written
//!   (Fluss's partition names: values in key order joined by `$`).
//! - [`Rill`]: the cloneable handle with blocking and async methods: DDL (create / drop /
//!   list databases; create / drop / list / describe tables; `add_columns`: schema evolution
//!   by nullable columns at the end, old rows read with them null), append / scan / scan_iter / list_offsets on log tables, upsert /
//!   delete / update_columns / lookup / prefix_lookup on primary-key tables; `bucket_stats`.
//! - Background maintenance per shard (flush, compaction, garbage collection, log retention)
//!   in the background task queue, and a memtable budget per shard: writes over it wait for
//!   flushes (bounded by `write_stall_ms_max`, then `Error::WriteStalled`).
//! - KV snapshot scans ([`Rill::kv_snapshot`], [`KvSnapshotIter`]): the rows of a primary-key
//!   table streamed per pull, each bucket consistent at the changelog offset it reports.
//! - Changelog subscriptions ([`Rill::subscribe`], [`Subscription`]): the next batches at or
//!   after an offset, waiting on the shard (no polling) for new data, bounded.
//! - Idempotent writers ([`Rill::new_writer_id`], [`WriterSeq`], `append_idempotent`,
//!   `upsert_idempotent`, `delete_idempotent`): a retried batch is not applied twice.
//! - A panicking request stops its shard: callers get `Error::ShardPanicked` instead of
//!   hanging (see docs/embedding.md).
//!
//! - Partitioned tables: each partition has its own buckets (`tables/<table id>/p<partition
//!   id>/b<bucket>/`, owned by `shard_of(table, Some(partition), bucket, n)`); writes and lookups
//!   find each row's partition from its values; `*_partition` reads name one; `scan_table`
//!   prunes partitions with a predicate; `run_auto_partitioning` runs a round now at
//!   `RillConfig::clock`'s time (shard 0 also runs one every `auto_partition_check_interval_ms`).
//! - Schema evolution: `add_columns` appends nullable columns (the schema id grows); rows
//!   written under older schemas read back with nulls in the new columns.
//!
//! Not in this slice: a block-cache budget beyond its fixed size, catching panics of
//! background maintenance tasks.
//!
//! ```no_run
//! use rill_shard::{Rill, RillConfig};
//! let rill = Rill::open(RillConfig::new("/tmp/rill").with_shards(2))?;
//! println!("{} tables", rill.list_tables().len());
//! rill.shutdown();
//! # Ok::<(), rill_shard::Error>(())
//! ```

mod api;
mod bucket;
mod bucket_lsm;
pub mod catalog;
mod civil;
pub mod config;
pub mod dir_lock;
pub mod error;
mod keys;
pub mod partition_key;
pub mod route;
pub mod runtime;
mod scan;
pub mod table_props;

pub use api::{
    AppendInfo, BucketStats, KvSnapshotIter, OnShard, PartitionAppend, Rill, ScanIter, SnapshotOffset, TableScan,
    WriteInfo, SCAN_ITER_BYTES_MAX, SNAPSHOT_PULL_BYTES_MAX,
};
pub use api::{Subscription, SUBSCRIBE_READ_BYTES_MAX, SUBSCRIBE_WAIT_MS_DEFAULT, SUBSCRIBE_WAIT_MS_MAX};
pub use api::{WriterSeq, WRITER_ID_BLOCK};
pub use catalog::{
    AutoPartitionChanges, CatalogSnapshot, DatabaseInfo, PartitionInfo, TableInfo, TableKind, DEFAULT_DATABASE,
};
pub use config::{Clock, RillConfig};
pub use error::{Error, Result};
pub use rill_engine::log::OffsetSpec;
pub use route::{bucket_for_key, shard_of};
pub use scan::ScanResult;

//! Recovery of a primary-key bucket: replay the changelog the SSTs do not cover into the
//! memtable (+I/+U put the row, -D deletes the key, -U is skipped).

use std::sync::Arc;

use arrow_buffer::Buffer;

use crate::batch::{BatchView, ChangeType};
use crate::error::{Error, Result};
use crate::kv::tree::Lsm;
use crate::log::{Log, OffsetSpec, Storage};
use crate::row::key::encode_key;
use crate::schema::evolution::decode_as;
use crate::schema::Schema;

/// Bytes read from the log per step of the replay.
const REPLAY_READ_BYTES: usize = 4 << 20;

/// Replays `log` from the LSM's covered offset to its end.
pub async fn replay<S: Storage + Clone>(
    log: &Log<S>,
    lsm: &Lsm<S>,
    schema: &Arc<Schema>,
    key_columns: &[usize],
) -> Result<()> {
    let start = lsm.covered_offset();
    let end = log.list_offset(OffsetSpec::Latest);
    if start < log.list_offset(OffsetSpec::Earliest) && start < end {
        return Err(Error::Corruption {
            bucket: log.config().bucket.clone(),
            segment: String::from("-"),
            offset: start,
            position: 0,
            reason: "the changelog the LSM needs for recovery was deleted".into(),
        });
    }
    let mut offset = start;
    while offset < end {
        let read = log.read(offset, REPLAY_READ_BYTES, None).await?;
        for stored in &read.batches {
            apply_batch(log, lsm, schema, key_columns, &stored.bytes, stored.next_offset)?;
        }
        offset = read.next_offset;
    }
    Ok(())
}

fn apply_batch<S: Storage + Clone>(
    log: &Log<S>,
    lsm: &Lsm<S>,
    schema: &Arc<Schema>,
    key_columns: &[usize],
    bytes: &Buffer,
    next: i64,
) -> Result<()> {
    let view = BatchView::parse(bytes.as_slice())?;
    let kinds = view.change_types()?;
    // A batch written under an older schema comes back with the added columns null.
    let rows = decode_as(bytes, &log.config().schemas, schema, &log.config().bucket)?;
    let mut keys = Vec::with_capacity(rows.num_rows());
    let mut deleted = Vec::with_capacity(rows.num_rows());
    let mut keep = Vec::with_capacity(rows.num_rows());
    for (i, kind) in kinds.iter().enumerate() {
        if *kind == ChangeType::UpdateBefore {
            continue;
        }
        let mut key = Vec::new();
        encode_key(schema, key_columns, rows.columns(), i, &mut key)?;
        keys.push(key);
        deleted.push(*kind == ChangeType::Delete);
        keep.push(i as u32);
    }
    let indices = arrow_array::UInt32Array::from(keep);
    let picked = arrow_select::take::take_record_batch(&rows, &indices)
        .map_err(|e| Error::arrow("replaying the changelog", e))?;
    lsm.apply(&keys, &deleted, &picked, next)
}

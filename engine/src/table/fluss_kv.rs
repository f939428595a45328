//! The Fluss client's KV path: writes arrive as a KvRecordBatch (compacted keys, CompactedRow
//! values, an empty value = delete), lookups answer `[i16 LE schema id][CompactedRow]`.

use std::sync::Arc;

use arrow_array::{new_null_array, Array, ArrayRef, RecordBatch};
use arrow_schema::Schema as ArrowSchema;
use arrow_select::interleave::interleave;

use super::pk::{KvWrite, PkTable, WriteResult};
use crate::error::{Error, Result};
use crate::log::Storage;
use crate::row::{encode_lookup_value, encode_row, KvBatch, RowDecoder};

impl<S: Storage + Clone> PkTable<S> {
    /// Applies a Fluss KvRecordBatch (as the client sends it in PutKv); `target_columns` is
    /// the request's partial-update column list (`None` = all columns).
    pub async fn write_kv_batch(&self, bytes: &[u8], target_columns: Option<Vec<usize>>) -> Result<WriteResult> {
        let batch = KvBatch::parse(bytes)?;
        // A batch written under an older schema (a client that has not seen the change yet)
        // decodes under that schema; its rows get null in the columns added since.
        let latest = &self.descriptor().schema;
        let config = self.log().config();
        let schema = crate::schema::evolution::schema_of(&config.schemas, batch.schema_id(), &config.bucket)?;
        let mut decoder = RowDecoder::new(schema)?;
        let mut keys = Vec::with_capacity(batch.record_count());
        let mut picks = Vec::with_capacity(batch.record_count());
        let mut deleted = Vec::with_capacity(batch.record_count());
        for record in batch.records() {
            keys.push(record.key.to_vec());
            match record.value {
                Some(value) => {
                    picks.push((0, decoder.len()));
                    decoder.append(value)?;
                    deleted.push(false);
                }
                None => {
                    picks.push((1, 0));
                    deleted.push(true);
                }
            }
        }
        let values = crate::schema::evolution::widen(decoder.finish(), latest)?;
        let rows = with_null_rows(&values, &picks)?;
        let write = KvWrite {
            keys,
            rows,
            deleted,
            target_columns,
            writer_id: batch.writer_id(),
            batch_sequence: batch.batch_sequence(),
        };
        self.write(write).await
    }

    /// Looks keys up and answers each as Fluss's lookup value (`None` = not found).
    pub async fn lookup_fluss(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>> {
        let found = self.lookup(keys).await?;
        let schema = &self.descriptor().schema;
        let mut row_at = 0;
        let mut out = Vec::with_capacity(keys.len());
        let mut row = Vec::new();
        for hit in found.found {
            if !hit {
                out.push(None);
                continue;
            }
            row.clear();
            encode_row(schema, found.rows.columns(), row_at, &mut row)?;
            row_at += 1;
            let mut value = Vec::with_capacity(row.len() + 2);
            encode_lookup_value(schema.id, &row, &mut value);
            out.push(Some(value));
        }
        Ok(out)
    }
}

/// A batch with the decoded rows at `(0, i)` picks and an all-null row at `(1, 0)` picks
/// (deletes carry no value), in a schema whose columns are all nullable.
fn with_null_rows(values: &RecordBatch, picks: &[(usize, usize)]) -> Result<RecordBatch> {
    let fields: Vec<_> = values.schema().fields().iter().map(|f| f.as_ref().clone().with_nullable(true)).collect();
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(fields.len());
    for (i, field) in fields.iter().enumerate() {
        let null_row = new_null_array(field.data_type(), 1);
        let sources: [&dyn Array; 2] = [values.column(i).as_ref(), null_row.as_ref()];
        columns.push(interleave(&sources, picks).map_err(|e| Error::arrow("assembling a KV batch", e))?);
    }
    RecordBatch::try_new(Arc::new(ArrowSchema::new(fields)), columns)
        .map_err(|e| Error::arrow("assembling a KV batch", e))
}

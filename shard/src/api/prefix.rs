//! Prefix lookup: the rows of a primary-key table whose key starts with given values of the
//! bucket key, when the bucket key is a leading part of the primary key (then all such rows
//! live in one bucket and their keys share a byte prefix).

use crate::runtime::block_on;
use arrow_array::RecordBatch;
use rill_engine::row::encode_key;
use rill_engine::table::pk::physical_key;

use super::Rill;
use crate::api::partition_route::split_existing;
use crate::catalog::TableKind;
use crate::error::{Error, Result};
use crate::keys::widen;
use crate::route::bucket_for_key;

impl Rill {
    /// For each row of `prefixes` (the bucket-key columns, by name, in key order; for a
    /// partitioned table plus the partition-key columns, in any order), the rows whose primary
    /// key starts with it, in key order (within its partition).
    pub async fn prefix_lookup_async(&self, table: &str, prefixes: RecordBatch) -> Result<Vec<RecordBatch>> {
        let info = self.table(table)?;
        if info.kind() != TableKind::PrimaryKey {
            return Err(Error::NotAPrimaryKeyTable { name: table.to_string() });
        }
        let desc = &info.descriptor;
        let invalid = |reason: String| Error::InvalidRequest { table: table.to_string(), reason };
        let bucket_key = desc.effective_bucket_key();
        let bucket_columns: Vec<usize> = bucket_key.iter().filter_map(|n| desc.schema.index_of(n)).collect();
        if physical_key(desc)?.get(..bucket_columns.len()) != Some(&bucket_columns[..]) {
            return Err(invalid(format!("prefix lookup needs a bucket key {bucket_key:?} that leads the primary key")));
        }
        let given: Vec<String> = prefixes.schema().fields().iter().map(|f| f.name().clone()).collect();
        let mut wanted = bucket_key.clone();
        wanted.extend(desc.partition_keys.iter().cloned());
        let (mut sorted_given, mut sorted_wanted) = (given.clone(), wanted.clone());
        sorted_given.sort();
        sorted_wanted.sort();
        let matches = if info.is_partitioned() { sorted_given == sorted_wanted } else { given == bucket_key };
        if !matches {
            return Err(invalid(format!("prefix columns must be {wanted:?}, got {given:?}")));
        }
        let (wide, _) = widen(desc, &prefixes)?;
        let mut calls = Vec::with_capacity(prefixes.num_rows());
        // Prefixes of partitions that do not exist find nothing.
        for slice in split_existing(&self.catalog(), &info, &wide)? {
            let partition = slice.partition_id();
            for (row, &position) in slice.positions.iter().enumerate() {
                let mut prefix = Vec::new();
                encode_key(&desc.schema, &bucket_columns, slice.rows.columns(), row, &mut prefix)?;
                let bucket = bucket_for_key(&prefix, desc.bucket_count);
                let shard = self.owner_in(&info, partition, bucket)?;
                let info = std::sync::Arc::clone(&info);
                let call = self.inner.runtime.call(shard, move |ctx| async move {
                    let open = ctx.bucket_in(&info, partition, bucket).await?;
                    Ok(open.pk()?.prefix_lookup(&prefix).await?)
                });
                calls.push((position, call));
            }
        }
        let empty = RecordBatch::new_empty(desc.schema.to_arrow());
        let mut out = vec![empty; prefixes.num_rows()];
        for (position, call) in calls {
            let found = call.await?;
            if let Some(slot) = out.get_mut(position as usize) {
                *slot = found;
            }
        }
        Ok(out)
    }

    /// Blocking [`Self::prefix_lookup_async`].
    pub fn prefix_lookup(&self, table: &str, prefixes: RecordBatch) -> Result<Vec<RecordBatch>> {
        block_on(self.prefix_lookup_async(table, prefixes))
    }
}

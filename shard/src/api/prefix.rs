//! Prefix lookup: the rows of a primary-key table whose key starts with given values of the
//! bucket key, when the bucket key is a leading part of the primary key (then all such rows
//! live in one bucket and their keys share a byte prefix).

use crate::runtime::block_on;
use arrow_array::RecordBatch;
use rill_engine::row::encode_key;
use rill_engine::table::pk::physical_key;

use super::Rill;
use crate::catalog::TableKind;
use crate::error::{Error, Result};
use crate::keys::widen;
use crate::route::bucket_for_key;

impl Rill {
    /// For each row of `prefixes` (the bucket-key columns, by name, in key order), the rows
    /// whose primary key starts with it, in key order.
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
        if given != bucket_key {
            return Err(invalid(format!("prefix columns must be {bucket_key:?}, got {given:?}")));
        }
        let (wide, _) = widen(desc, &prefixes)?;
        let mut calls = Vec::with_capacity(prefixes.num_rows());
        for row in 0..prefixes.num_rows() {
            let mut prefix = Vec::new();
            encode_key(&desc.schema, &bucket_columns, wide.columns(), row, &mut prefix)?;
            let bucket = bucket_for_key(&prefix, desc.bucket_count);
            let shard = self.owner(&info, bucket)?;
            let info = std::sync::Arc::clone(&info);
            calls.push(self.inner.runtime.call(shard, move |ctx| async move {
                let open = ctx.bucket(&info, bucket)?;
                Ok(open.pk()?.prefix_lookup(&prefix).await?)
            }));
        }
        let mut out = Vec::with_capacity(calls.len());
        for call in calls {
            out.push(call.await?);
        }
        Ok(out)
    }

    /// Blocking [`Self::prefix_lookup_async`].
    pub fn prefix_lookup(&self, table: &str, prefixes: RecordBatch) -> Result<Vec<RecordBatch>> {
        block_on(self.prefix_lookup_async(table, prefixes))
    }
}

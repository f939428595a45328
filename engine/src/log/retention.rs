//! Retention (delete the oldest sealed segments by size and age) and closing.

use std::rc::Rc;

use tracing::info;

use super::segment::{index_name, log_name};
use super::storage::{Storage, StorageFile};
use super::Log;
use crate::error::Result;

impl<S: Storage> Log<S> {
    /// Deletes sealed segments beyond the size limit or older than the age limit (never the
    /// active one). Returns how many were deleted.
    pub async fn enforce_retention(&self) -> Result<usize> {
        let now = (self.clock)();
        let doomed: Vec<i64> = {
            let mut state = self.state.borrow_mut();
            let mut total = state.size_bytes();
            let mut count = 0;
            for segment in &state.segments[..state.segments.len() - 1] {
                let over_size = self.config.retention_bytes_max.is_some_and(|max| total > max);
                let too_old = match (self.config.retention_ms_max, segment.max_timestamp()) {
                    (Some(max_ms), Some(ts)) => now - ts > max_ms,
                    _ => false,
                };
                if !(over_size || too_old) {
                    break;
                }
                total -= segment.size;
                count += 1;
            }
            let removed: Vec<_> = state.segments.drain(..count).collect();
            state.start_offset = state.active().base_offset.min(state.segments[0].base_offset);
            removed.iter().map(|s| s.base_offset).collect()
        };
        for &base in &doomed {
            self.storage.remove(&log_name(base)).await?;
            self.storage.remove(&index_name(base)).await.ok();
            info!(bucket = %self.config.bucket, segment = base, "deleted by retention");
        }
        if !doomed.is_empty() {
            self.storage.sync_dir().await?;
        }
        Ok(doomed.len())
    }

    /// Waits for staged appends to become durable, then closes every segment file.
    pub async fn close(self) -> Result<()> {
        let staged = self.state.borrow().staged_offset;
        let flushed = self.wait_durable(staged).await;
        let segments = std::mem::take(&mut self.state.borrow_mut().segments);
        for segment in segments {
            if let Ok(file) = Rc::try_unwrap(segment.file) {
                file.close().await?;
            }
        }
        flushed
    }
}

//! Waiting for new data: a reader at the end of the log sleeps until a commit moves the high
//! watermark past its offset (no polling; woken by the group commit's notify).

use super::storage::Storage;
use super::Log;

impl<S: Storage> Log<S> {
    /// Resolves once the high watermark is beyond `offset` (a record at `offset` is durable
    /// and readable), or at once if the log stopped accepting writes (`poisoned`). Add a
    /// timeout around it: it waits as long as nothing is appended.
    pub async fn wait_beyond(&self, offset: i64) {
        loop {
            let wake = {
                let state = self.state.borrow();
                if state.durable_offset > offset || state.poisoned.is_some() {
                    return;
                }
                // Registered before the state borrow ends: a commit after the check wakes it.
                self.committed.wait()
            };
            wake.await;
        }
    }
}

//! The end of one bounded step of background work (a flush or compaction chunk, a slice of
//! a bloom filter, a batch of frees): the executor gets the core back.
//!
//! Yielding the task is not enough on glommio: a task that wakes itself stays in its task
//! queue, and the executor keeps running that queue until its preempt timer fires (100 ms by
//! default), so a ready foreground request would wait behind every step of a compaction.
//! Yielding the task queue makes the scheduler pick the next queue by its shares (a shard's
//! foreground queue first when it has work). Outside a glommio executor (tests on
//! `futures_lite::future::block_on`) this is a plain task yield.

/// Ends a step of background work (see the module docs).
pub async fn end_of_step() {
    glommio::executor().yield_task_queue_now().await;
}

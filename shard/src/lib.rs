//! rill-shard: thread-per-core runtime (issue 3/6).

//! The log model test, generic over the storage backend: random appends (concurrent, some
//! from an idempotent writer), crashes, clean restarts, fault injection and retries, checked
//! against a `Vec` of the batches the log acknowledged.
#![allow(dead_code, clippy::unwrap_used)]

use std::future::Future;
use std::pin::Pin;

use proptest::prelude::*;
use rill_engine::log::{AppendInfo, Log, OffsetSpec, Storage};

use super::{batch_bytes, config, join_all, stable_part, ticking_clock};

/// Writer id used by the idempotent appends.
pub const WRITER: i64 = 7;

#[derive(Clone, Debug)]
pub enum Op {
    Append { rows: usize, concurrent: usize, idempotent: bool },
    Crash,
    Restart,
    Faults(bool),
    Retry,
    Check,
}

pub fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (1usize..40, 1usize..4, any::<bool>()).prop_map(|(rows, concurrent, idempotent)| Op::Append { rows, concurrent, idempotent }),
        1 => Just(Op::Crash),
        1 => Just(Op::Restart),
        1 => any::<bool>().prop_map(Op::Faults),
        1 => Just(Op::Retry),
        1 => Just(Op::Check),
    ]
}

#[derive(Clone, Debug)]
struct Sent {
    bytes: Vec<u8>,
    rows: i64,
    sequence: Option<i32>,
}

/// What a backend must offer the model.
pub trait Backend {
    type S: Storage;
    fn storage(&self) -> Self::S;
    /// Throws away what was not synced (or does nothing on a real disk).
    fn crash(&self);
    fn set_faults(&self, on: bool);
}

pub struct Model {
    /// Acknowledged (or recovered) batches, in offset order.
    log: Vec<Sent>,
    /// Sent but not acknowledged, in send order.
    unacked: Vec<Sent>,
    /// Idempotent batches to send again.
    retry: Vec<Sent>,
    next_id: i64,
    next_sequence: i32,
}

impl Model {
    pub fn new() -> Self {
        Self { log: Vec::new(), unacked: Vec::new(), retry: Vec::new(), next_id: 0, next_sequence: 0 }
    }

    fn end_offset(&self) -> i64 {
        self.log.iter().map(|s| s.rows).sum()
    }
}

async fn open<B: Backend>(backend: &B, clock_start: i64) -> Log<B::S> {
    backend.set_faults(false);
    Log::open(backend.storage(), config(), ticking_clock(clock_start)).await.unwrap()
}

/// Runs `ops` and checks the log against the model after every reopen and at the end.
pub async fn run<B: Backend>(backend: &B, ops: &[Op]) {
    let mut model = Model::new();
    let mut clock = 1_000_000;
    let mut log = open(backend, clock).await;
    for op in ops {
        clock += 10_000;
        match op {
            Op::Append { rows, concurrent, idempotent } => {
                append(&log, &mut model, *rows, *concurrent, *idempotent).await;
            }
            Op::Crash => {
                drop(log);
                backend.crash();
                log = reopen(backend, &mut model, clock).await;
            }
            Op::Restart => {
                let closed = log.close().await;
                if closed.is_err() {
                    backend.crash();
                }
                log = reopen(backend, &mut model, clock).await;
            }
            Op::Faults(on) => backend.set_faults(*on),
            Op::Retry => {
                if log.poisoned().is_some() {
                    drop(log);
                    backend.crash();
                    log = reopen(backend, &mut model, clock).await;
                }
                retry(&log, &mut model).await;
            }
            Op::Check => {
                if log.poisoned().is_none() {
                    check(&log, &model.log).await;
                }
            }
        }
    }
    drop(log);
    backend.crash();
    let log = reopen(backend, &mut model, clock + 10_000).await;
    check(&log, &model.log).await;
}

async fn append<S: Storage>(log: &Log<S>, model: &mut Model, rows: usize, concurrent: usize, idempotent: bool) {
    let mut sent = Vec::new();
    for _ in 0..concurrent {
        let writer = (idempotent && model.retry.is_empty()).then(|| {
            let seq = model.next_sequence;
            model.next_sequence += 1;
            seq
        });
        let bytes = batch_bytes(model.next_id, rows, writer.map(|s| (WRITER, s)));
        model.next_id += rows as i64;
        sent.push(Sent { bytes, rows: rows as i64, sequence: writer });
    }
    let futures: Vec<Pin<Box<dyn Future<Output = _> + '_>>> =
        sent.iter().map(|s| Box::pin(log.append(s.bytes.clone())) as Pin<Box<dyn Future<Output = _>>>).collect();
    let results = join_all(futures).await;
    for (s, result) in sent.into_iter().zip(results) {
        match result {
            Ok(info) => acknowledge(model, s, info),
            Err(_) => {
                if s.sequence.is_some() {
                    model.retry.push(s.clone());
                }
                model.unacked.push(s);
            }
        }
    }
}

fn acknowledge(model: &mut Model, sent: Sent, info: AppendInfo) {
    assert!(model.unacked.is_empty(), "an append succeeded after an earlier one failed without a reopen");
    assert!(!info.duplicate);
    assert_eq!(info.base_offset, model.end_offset(), "offsets must be contiguous");
    assert_eq!(info.next_offset, info.base_offset + sent.rows);
    model.log.push(sent);
}

async fn retry<S: Storage>(log: &Log<S>, model: &mut Model) {
    let queue = std::mem::take(&mut model.retry);
    for (n, s) in queue.iter().cloned().enumerate() {
        let info = match log.append(s.bytes.clone()).await {
            Ok(info) => info,
            Err(_) => {
                // Faults are on: keep the rest for a later retry, in order.
                model.retry = queue[n..].to_vec();
                let lost = queue[n..].iter().filter(|q| !model.log.iter().any(|m| m.bytes == q.bytes));
                model.unacked.extend(lost.cloned().collect::<Vec<_>>());
                return;
            }
        };
        let mut at = 0;
        let original = model.log.iter().find(|m| {
            let found = m.sequence == s.sequence && m.bytes == s.bytes;
            if !found {
                at += m.rows;
            }
            found
        });
        match original {
            Some(_) => {
                assert!(info.duplicate, "a retried batch that survived must be a duplicate");
                assert_eq!(info.base_offset, at, "a duplicate is answered with its original offsets");
            }
            None => {
                assert!(!info.duplicate, "a retried batch that was lost must be appended");
                acknowledge(model, s, info);
            }
        }
    }
}

async fn reopen<B: Backend>(backend: &B, model: &mut Model, clock: i64) -> Log<B::S> {
    let log = open(backend, clock).await;
    let stored = read_all(&log).await;
    let lens = |v: &mut dyn Iterator<Item = usize>| v.collect::<Vec<_>>();
    let which: Vec<String> = stored
        .iter()
        .map(|b| {
            let a = model.log.iter().position(|s| stable_part(&s.bytes) == stable_part(b));
            let u = model.unacked.iter().position(|s| stable_part(&s.bytes) == stable_part(b));
            format!("{a:?}/{u:?}")
        })
        .collect();
    let summary = format!(
        "which {which:?} seqs {:?}/{:?} stored {:?}, acknowledged {:?}, unacknowledged {:?}",
        model.log.iter().map(|s| s.sequence).collect::<Vec<_>>(),
        model.unacked.iter().map(|s| s.sequence).collect::<Vec<_>>(),
        lens(&mut stored.iter().map(Vec::len)),
        lens(&mut model.log.iter().map(|s| s.bytes.len())),
        lens(&mut model.unacked.iter().map(|s| s.bytes.len()))
    );
    assert!(stored.len() >= model.log.len(), "lost acknowledged batches: {summary}");
    let acknowledged = model.log.len();
    for (i, bytes) in stored.iter().enumerate() {
        let expected = match model.log.get(i) {
            Some(s) => s,
            None => {
                let extra = i - acknowledged;
                let s = model.unacked.get(extra).expect("a batch that was never sent appeared");
                model.log.push(s.clone());
                &model.log[i]
            }
        };
        assert!(stable_part(bytes) == stable_part(&expected.bytes), "batch {i} differs: {summary}");
    }
    model.unacked.clear();
    check(&log, &model.log).await;
    log
}

async fn read_all<S: Storage>(log: &Log<S>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut offset = log.list_offset(OffsetSpec::Earliest);
    let end = log.list_offset(OffsetSpec::Latest);
    let mut expected_base = offset;
    while offset < end {
        let r = log.read(offset, 8 * 1024, None).await.unwrap();
        for b in &r.batches {
            assert_eq!(b.base_offset, expected_base, "offsets must be contiguous");
            expected_base = b.next_offset;
            out.push(b.bytes.as_slice().to_vec());
        }
        assert!(r.next_offset > offset, "reads must make progress");
        offset = r.next_offset;
    }
    out
}

async fn check<S: Storage>(log: &Log<S>, expected: &[Sent]) {
    let stored = read_all(log).await;
    assert_eq!(stored.len(), expected.len(), "batch count");
    for (i, (bytes, s)) in stored.iter().zip(expected).enumerate() {
        assert!(stable_part(bytes) == stable_part(&s.bytes), "batch {i} differs");
    }
    let end: i64 = expected.iter().map(|s| s.rows).sum();
    assert_eq!(log.list_offset(OffsetSpec::Latest), end);
}

//! One-key lookups from other threads through reusable call slots.
//!
//! A [`Rill::lookup`](crate::Rill::lookup) of one key is the call whose latency matters most,
//! and most of its cost beyond the shard's own work was memory crossing cores: a boxed
//! closure, a oneshot channel, `Arc` reference counts bumped on one core and dropped on the
//! other, the key's allocations. Each shard's mailbox therefore owns `POINT_SLOTS` slots
//! (created once, never freed while the shard lives). A caller claims a free slot, writes the
//! table id, bucket and encoded key into it (inline up to 32 bytes, else in the slot's key
//! buffer) and rings the slot's doorbell bit (`doorbell.rs`); the shard looks the key up and
//! lends the caller the columns holding the row (clones into the slot's reusable vector) and
//! the row's index; the caller spins on the slot's state word (a cache line of its own), takes
//! the answer and slices the one-row batch out on its own thread (`point_rows.rs`). Nothing
//! the shard allocates for a call is freed by the caller, or the other way round. With every
//! slot busy, or when the shard cannot answer this way (the bucket is not open as named: a
//! dropped table, a schema change, ...), the caller takes the general path, which has the
//! full error handling.
//!
//! States: `FREE` -(caller claims)-> `CLAIMED` -(shard answers)-> `DONE` -(caller takes)->
//! `FREE`; a caller that gives up (a dropped future) moves `CLAIMED` to `ABANDONED`, and the
//! shard's answer then frees the slot instead.

use std::cell::Cell;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use futures_lite::future::BoxedLocal;
use futures_lite::FutureExt;

use arrow_array::{ArrayRef, RecordBatch};

use super::mailbox::Mailbox;
use super::ShardContext;
use crate::catalog::TableInfo;
use crate::error::Result;

/// Call slots per shard: one-key lookups in flight at once through slots (more go the
/// general way).
pub(crate) const POINT_SLOTS: usize = 64;
/// Keys up to this length travel inside the slot (on the cache lines the call moves anyway);
/// the shard copies them into a key buffer of its own.
const KEY_INLINE_BYTES: usize = 32;
/// A slot keeps its key buffer between calls up to this capacity.
pub(crate) const KEY_CAPACITY_KEPT: usize = 1024;

/// `Call::key_len` of a key that is not inline (past `key_inline`'s end: no inline slice has
/// this length).
const KEY_NOT_INLINE: u8 = u8::MAX;
const _: () = assert!(KEY_INLINE_BYTES < KEY_NOT_INLINE as usize);
// The request (up to the end of the inline key) fits a cache line after the mutex's 8 bytes.
const _: () = assert!(std::mem::offset_of!(Call, key_inline) + KEY_INLINE_BYTES <= 56);

const FREE: u8 = 0;
const CLAIMED: u8 = 1;
const DONE: u8 = 2;
const ABANDONED: u8 = 3;

/// What a caller gets.
#[derive(Debug)]
pub(crate) enum PointReply {
    /// The row (empty when missing) and whether the key was found.
    Row { rows: RecordBatch, found: bool },
    /// The bucket is not open on the shard as the slot named it (a dropped table, a bucket
    /// reopening after a schema change, ...): the general path decides, with this key.
    Fallback { key: Vec<u8> },
}

/// What the shard's lookup found: whether the key was found (its columns and row index are
/// then in the request), or `None` when this path cannot answer (the bucket is not open there
/// under the schema the caller named).
pub(crate) type Found = Option<bool>;

/// What the shard writes into the slot.
#[derive(Debug)]
enum Answer {
    Row { found: bool },
    Fallback,
}

/// What the shard takes from a slot: the request, and the slot's key buffer and column vector
/// (lent to the shard until [`PointSlot::finish`]).
pub(crate) struct Request {
    table_id: u64,
    bucket: u32,
    schema_id: i16,
    key: Vec<u8>,
    /// The table's columns of the batch holding the found row (emptied by the shard: the
    /// previous answer's clones are dropped on the shard).
    columns: Vec<ArrayRef>,
    /// The found row's index in `columns`.
    row: usize,
}

/// A call's request and answer. `repr(C)`, request first: what a caller writes for a call with
/// a short key (ids, inline key) shares the cache line of the mutex word, so the shard takes one
/// line from the caller's core for it (Rust's own field order put the key two lines away).
#[repr(C)]
#[derive(Default)]
struct Call {
    table_id: u64,
    bucket: u32,
    /// The schema the caller decodes the row with; the shard answers only in that schema.
    schema_id: i16,
    /// How many bytes of `key_inline` are the key, or `KEY_NOT_INLINE` (then `key` holds it).
    key_len: u8,
    key_inline: [u8; KEY_INLINE_BYTES],
    /// The key buffer: written by the shard (from `key_inline`) or, for a long key, by the
    /// caller.
    key: Vec<u8>,
    /// The found row: row `row` of `columns`, in schema `schema_id` (written by the shard,
    /// read by the caller; the shard drops the clones when it takes the next request).
    columns: Vec<ArrayRef>,
    row: usize,
    reply: Option<Result<Answer>>,
    /// Woken when the answer is written (set only by a caller about to wait).
    waker: Option<Waker>,
}

/// An answer taken out of its slot (under the slot's lock), before the caller builds the row.
enum Taken {
    /// The found row of `table`, sliced out of the lent columns (or none: not found).
    Row {
        table: Arc<TableInfo>,
        row: Option<Vec<ArrayRef>>,
    },
    Fallback {
        key: Vec<u8>,
    },
    Failed(crate::error::Error),
}

impl Call {
    /// Caller side: takes the answer to a request for `table`; a found row is sliced out of
    /// the lent columns (the slices share the columns' buffers; the clones stay for the shard
    /// to drop).
    fn take_reply(&mut self, table: Option<Arc<TableInfo>>) -> Taken {
        match (self.reply.take(), table) {
            (Some(Ok(Answer::Row { found })), Some(table)) => {
                let row = found.then(|| self.columns.iter().map(|c| c.slice(self.row, 1)).collect());
                Taken::Row { table, row }
            }
            (Some(Err(e)), _) => Taken::Failed(e),
            // Fallback, or (never) an answer to a request without its table: the general
            // path decides.
            _ => Taken::Fallback { key: self.key.clone() },
        }
    }
}

/// One slot, alone on its cache lines: the state word the caller spins on has a line of its
/// own, so the shard's writes of the answer (lock, fields, unlock) do not bounce it; the
/// shard writes it once, last.
#[repr(C, align(128))]
#[derive(Default)]
pub(crate) struct PointSlot {
    flags: Flags,
    call: Mutex<Call>,
}

#[repr(align(64))]
#[derive(Default)]
struct Flags {
    state: AtomicU8,
    /// The caller left a waker in the call and waits on it (SeqCst, paired with `state`: the
    /// shard sets DONE then looks here, the caller sets this then looks at the state).
    waiting: AtomicBool,
}

impl PointSlot {
    fn call(&self) -> MutexGuard<'_, Call> {
        // Nothing panics while holding the lock; recover the data should that ever change.
        self.call.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Moves the slot from FREE to CLAIMED, if it is free (looked at first: a busy slot's line
    /// is not written).
    fn try_claim(&self) -> bool {
        let state = &self.flags.state;
        state.load(Ordering::Relaxed) == FREE
            && state.compare_exchange(FREE, CLAIMED, Ordering::Acquire, Ordering::Relaxed).is_ok()
    }

    /// Shard side: the request, with the slot's key (in the key buffer) and column vector
    /// (empty).
    fn take_request(&self) -> Request {
        let mut call = self.call();
        let mut key = std::mem::take(&mut call.key);
        if let Some(inline) = call.key_inline.get(..usize::from(call.key_len)) {
            key.clear();
            if key.capacity() > KEY_CAPACITY_KEPT {
                key = Vec::new();
            }
            key.extend_from_slice(inline);
        }
        let mut columns = std::mem::take(&mut call.columns);
        columns.clear();
        Request { table_id: call.table_id, bucket: call.bucket, schema_id: call.schema_id, key, columns, row: 0 }
    }

    /// Shard side: stores the answer (the row in `request`'s columns, which go back to the
    /// slot with the key buffer) and wakes a waiting caller (frees the slot if the caller gave
    /// up).
    fn finish(&self, request: Option<Request>, reply: Result<Found>) {
        {
            let mut call = self.call();
            if let Some(Request { key, columns, row, .. }) = request {
                call.key = key;
                call.columns = columns;
                call.row = row;
            }
            call.reply = Some(reply.map(|r| match r {
                Some(found) => Answer::Row { found },
                None => Answer::Fallback,
            }));
        }
        let flags = &self.flags;
        if flags.state.compare_exchange(CLAIMED, DONE, Ordering::SeqCst, Ordering::Acquire).is_ok() {
            if flags.waiting.load(Ordering::SeqCst) {
                // By reference: the waker's reference count stays with the caller.
                if let Some(waker) = &self.call().waker {
                    waker.wake_by_ref();
                }
            }
        } else {
            // The caller gave up: the answer goes, the slot is free.
            let answer = self.call().reply.take();
            drop(answer);
            flags.state.store(FREE, Ordering::Release);
        }
    }
}

/// The slots of one shard.
pub(crate) struct PointSlots {
    slots: Box<[PointSlot]>,
}

thread_local! {
    /// The slot this thread tried first last time (its own, usually).
    static HINT: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// Spreads threads over the slots.
static NEXT_HINT: AtomicU32 = AtomicU32::new(0);

impl PointSlots {
    pub(crate) fn new() -> Self {
        Self { slots: (0..POINT_SLOTS).map(|_| PointSlot::default()).collect() }
    }

    /// Caller side: claims a free slot (none free: `None`).
    pub(crate) fn claim(&self) -> Option<Ticket<'_>> {
        let mut hint = HINT.get();
        if hint >= self.slots.len() {
            hint = NEXT_HINT.fetch_add(1, Ordering::Relaxed) as usize % self.slots.len();
        }
        for step in 0..self.slots.len() {
            let index = (hint + step) % self.slots.len();
            let Some(slot) = self.slots.get(index) else { continue };
            if slot.try_claim() {
                slot.flags.waiting.store(false, Ordering::Relaxed);
                HINT.set(index);
                return Some(Ticket { slot, index: index as u32, stage: Stage::Writing, table: None });
            }
        }
        None
    }

    /// Shard side: drops the column clones that free slots keep from their last answers, so
    /// that a slot no caller uses keeps no block or memtable chunk alive. A slot a caller
    /// claims meanwhile is skipped (the caller takes the next one).
    pub(crate) fn sweep(&self) {
        for slot in self.slots.iter() {
            if slot.try_claim() {
                slot.call().columns.clear();
                slot.flags.state.store(FREE, Ordering::Release);
            }
        }
    }

    /// Shard side: answers slot `index` with an error (its request was dropped unserved).
    pub(crate) fn fail(&self, index: u32, error: crate::error::Error) {
        if let Some(slot) = self.slots.get(index as usize) {
            slot.finish(None, Err(error));
        }
    }

    fn get(&self, index: u32) -> Option<&PointSlot> {
        self.slots.get(index as usize)
    }
}

/// A claimed slot, caller side. Dropping it before the answer gives the slot up (the
/// shard's answer frees it).
pub(crate) struct Ticket<'a> {
    slot: &'a PointSlot,
    index: u32,
    stage: Stage,
    /// The table the request names, as the caller's catalog has it (its schema decodes the
    /// answer; the reference count stays on the caller's thread).
    table: Option<Arc<TableInfo>>,
}

/// Where a ticket's call is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Being written: the shard knows nothing of it (dropping frees the slot).
    Writing,
    /// In the queue or on the shard: only the shard's answer frees the slot.
    Queued,
    /// The answer was taken and the slot freed (it may belong to another call already).
    Taken,
}

impl Ticket<'_> {
    /// The slot's index, to queue.
    pub(crate) fn index(&self) -> u32 {
        self.index
    }

    /// Writes the request: `key` (encoded) of bucket `bucket` of `table`, answered in
    /// `table`'s schema (the slot keeps its key buffer between calls).
    pub(crate) fn request(&mut self, table: &Arc<TableInfo>, bucket: u32, key: &[u8]) {
        let mut call = self.slot.call();
        if let (Ok(len), Some(inline)) = (u8::try_from(key.len()), call.key_inline.get_mut(..key.len())) {
            inline.copy_from_slice(key);
            call.key_len = len;
        } else {
            call.key_len = KEY_NOT_INLINE;
            call.key.clear();
            if call.key.capacity() > KEY_CAPACITY_KEPT {
                call.key = Vec::new();
            }
            call.key.extend_from_slice(key);
        }
        call.table_id = table.id;
        call.schema_id = table.descriptor.schema.id;
        call.bucket = bucket;
        drop(call);
        self.table = Some(Arc::clone(table));
    }

    /// Marks the request queued (from now on only the shard's answer frees the slot).
    pub(crate) fn queued(&mut self) {
        self.stage = Stage::Queued;
    }

    /// True once the answer is there (no waker involved: for spinning).
    pub(crate) fn is_done(&self) -> bool {
        self.slot.flags.state.load(Ordering::Acquire) == DONE
    }

    /// Takes the answer if it is there, else leaves `waker` to be woken by it.
    fn poll_answer(&mut self, waker: &Waker) -> Poll<Result<PointReply>> {
        if self.stage != Stage::Queued {
            return Poll::Ready(Err(crate::error::Error::Runtime {
                reason: "a call slot polled after its answer".into(),
            }));
        }
        let flags = &self.slot.flags;
        if !self.is_done() {
            {
                let mut call = self.slot.call();
                if !call.waker.as_ref().is_some_and(|w| w.will_wake(waker)) {
                    call.waker = Some(waker.clone());
                }
            }
            flags.waiting.store(true, Ordering::SeqCst);
            // The shard sets DONE, then looks at `waiting`: it wakes us or we see DONE.
            if flags.state.load(Ordering::SeqCst) != DONE {
                return Poll::Pending;
            }
        }
        let slot = self.slot;
        let mut call = slot.call();
        let taken = call.take_reply(self.table.take());
        self.release(call);
        Poll::Ready(match taken {
            // Built after the slot is free: the shard may be waiting for its lock.
            Taken::Row { table, row } => {
                let found = row.is_some();
                super::point_rows::one_row(&table, row).map(|rows| PointReply::Row { rows, found })
            }
            Taken::Failed(e) => Err(e),
            Taken::Fallback { key } => Ok(PointReply::Fallback { key }),
        })
    }

    /// Drops the answer unread (nothing built) and frees the slot.
    fn discard(&mut self) {
        let slot = self.slot;
        let mut call = slot.call();
        drop(call.reply.take());
        self.release(call);
    }

    /// Clears the waker, unlocks the call and frees the slot (its answer taken).
    fn release(&mut self, mut call: MutexGuard<'_, Call>) {
        call.waker = None;
        drop(call);
        let flags = &self.slot.flags;
        flags.waiting.store(false, Ordering::Relaxed);
        flags.state.store(FREE, Ordering::Release);
        self.stage = Stage::Taken;
    }
}

impl Future for Ticket<'_> {
    type Output = Result<PointReply>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let waker = cx.waker();
        self.poll_answer(waker)
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        match self.stage {
            Stage::Taken => return,
            Stage::Writing => {
                self.slot.flags.state.store(FREE, Ordering::Release);
                return;
            }
            Stage::Queued => {}
        }
        let state = &self.slot.flags.state;
        if state.compare_exchange(CLAIMED, ABANDONED, Ordering::AcqRel, Ordering::Acquire).is_err() {
            // Answered meanwhile: drop the answer (nothing built) and free the slot.
            self.discard();
        }
    }
}

/// Shard side: the work of queued slot `index`. The guard answers `ShardGone` (or
/// `ShardPanicked`) should the work be dropped before it answered, polled or not.
pub(crate) fn job(ctx: Rc<ShardContext>, mailbox: Arc<Mailbox>, index: u32) -> BoxedLocal<()> {
    let guard = Unanswered { mailbox, index, armed: true };
    Box::pin(async move {
        let mut guard = guard;
        let Some(slot) = guard.mailbox.points().get(index) else { return };
        let mut request = slot.take_request();
        let outcome = AssertUnwindSafe(lookup(&ctx, &mut request)).catch_unwind().await;
        if matches!(outcome, Ok(Ok(Some(_)))) {
            ctx.note_point_answered();
        }
        let reply = outcome.unwrap_or_else(|payload| Err(super::panicked(&guard.mailbox, payload.as_ref())));
        guard.armed = false;
        slot.finish(Some(request), reply);
    })
}

/// Looks the request's key up in its bucket of an unpartitioned table, if open here under the
/// schema the caller named, and leaves a found row's columns and index in the request.
async fn lookup(ctx: &ShardContext, request: &mut Request) -> Result<Found> {
    let Some(open) = ctx.bucket_by_id((request.table_id, None, request.bucket)) else {
        return Ok(None);
    };
    let table = open.pk()?;
    if table.descriptor().schema.id != request.schema_id {
        return Ok(None);
    }
    let Some((batch, row)) = table.lsm().get(&request.key).await? else {
        return Ok(Some(false));
    };
    request.columns.extend(batch.columns().iter().cloned());
    request.row = row;
    Ok(Some(true))
}

struct Unanswered {
    mailbox: Arc<Mailbox>,
    index: u32,
    armed: bool,
}

impl Drop for Unanswered {
    fn drop(&mut self) {
        if self.armed {
            self.mailbox.points().fail(self.index, self.mailbox.gone());
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use arrow_array::Int64Array;
    use rill_engine::schema::{Column, DataType, Schema, TableDescriptor};

    use super::*;
    use crate::error::Error;

    /// Table `id` with one BIGINT column `column` (its key), schema `schema_id`.
    fn table(id: u64, column: &str, schema_id: i16) -> Arc<TableInfo> {
        let schema = Schema { id: schema_id, columns: vec![Column::not_null(column, DataType::BigInt)] };
        let mut descriptor = TableDescriptor::log_table("t", schema.clone());
        descriptor.primary_key = vec![column.to_string()];
        let schemas = [(schema_id, Arc::new(schema))].into_iter().collect();
        Arc::new(TableInfo { id, descriptor, created_ms: 0, modified_ms: 0, schemas })
    }

    fn state(slots: &PointSlots, index: u32) -> u8 {
        slots.get(index).unwrap().flags.state.load(Ordering::SeqCst)
    }

    /// The shard's side of a ticket for `table`: answers it with the row `value` (the second
    /// row of a column, lent as the shard does) or with `reply`.
    fn answer(
        slots: &PointSlots,
        ticket: &mut Ticket<'_>,
        table: &Arc<TableInfo>,
        value: Option<i64>,
        reply: Result<Found>,
    ) -> Poll<Result<PointReply>> {
        ticket.request(table, 1, b"key");
        ticket.queued();
        let slot = slots.get(ticket.index()).unwrap();
        let mut request = slot.take_request();
        assert_eq!((request.table_id, request.schema_id), (table.id, table.descriptor.schema.id));
        assert!(request.columns.is_empty(), "the column vector comes empty");
        if let Some(value) = value {
            request.columns.push(Arc::new(Int64Array::from(vec![0, value, 0])));
            request.row = 1;
        }
        slot.finish(Some(request), reply);
        assert!(ticket.is_done());
        ticket.poll_answer(Waker::noop())
    }

    fn value_of(rows: &RecordBatch) -> i64 {
        rows.column(0).as_any().downcast_ref::<Int64Array>().unwrap().value(0)
    }

    #[test]
    fn a_sweep_drops_what_free_slots_keep_and_skips_claimed_ones() {
        let slots = PointSlots::new();
        let info = table(7, "id", 0);
        let mut ticket = slots.claim().unwrap();
        let Poll::Ready(Ok(PointReply::Row { found: true, .. })) =
            answer(&slots, &mut ticket, &info, Some(5), Ok(Some(true)))
        else {
            panic!("no row")
        };
        let index = ticket.index();
        drop(ticket);
        let kept = |slots: &PointSlots| slots.get(index).unwrap().call().columns.len();
        assert_eq!(kept(&slots), 1, "the lent columns stay after the answer");
        let held = slots.claim().unwrap();
        assert_eq!(held.index(), index, "a thread starts at its last slot");
        slots.sweep();
        assert_eq!(kept(&slots), 1, "a claimed slot is skipped");
        drop(held);
        slots.sweep();
        assert_eq!((kept(&slots), state(&slots, index)), (0, FREE));
    }

    #[test]
    fn slots_run_out_and_unqueued_tickets_give_theirs_back() {
        let slots = PointSlots::new();
        let mut held: Vec<Ticket<'_>> = (0..POINT_SLOTS).map(|_| slots.claim().unwrap()).collect();
        assert!(slots.claim().is_none(), "every slot is claimed");
        let index = held.pop().unwrap().index();
        assert_eq!(state(&slots, index), FREE, "a ticket never queued frees its slot");
        assert_eq!(slots.claim().unwrap().index(), index);
    }

    #[test]
    fn an_abandoned_call_keeps_its_slot_until_the_shard_answers() {
        let slots = PointSlots::new();
        let mut ticket = slots.claim().unwrap();
        ticket.request(&table(1, "id", 0), 0, b"k");
        ticket.queued();
        let index = ticket.index();
        drop(ticket);
        assert_eq!(state(&slots, index), ABANDONED, "the shard may still be writing the answer");
        slots.fail(index, Error::ShardGone { shard: 0 });
        assert_eq!(state(&slots, index), FREE, "the answer to nobody frees the slot");
        assert!(slots.get(index).unwrap().call().reply.is_none(), "and is not kept for the next call");
        const _: () = assert!(std::mem::offset_of!(PointSlot, call) >= 64, "the state has a line of its own");
        // Answered, then dropped unread: freed at once.
        let mut ticket = slots.claim().unwrap();
        ticket.queued();
        slots.get(ticket.index()).unwrap().finish(None, Err(Error::ShardGone { shard: 0 }));
        let index = ticket.index();
        drop(ticket);
        assert_eq!(state(&slots, index), FREE);
    }

    #[test]
    fn answers_are_decoded_in_the_schema_the_request_named() {
        let slots = PointSlots::new();
        let first_table = table(7, "id", 0);
        let mut ticket = slots.claim().unwrap();
        let Poll::Ready(Ok(PointReply::Row { rows, found: true })) =
            answer(&slots, &mut ticket, &first_table, Some(5), Ok(Some(true)))
        else {
            panic!("no row")
        };
        drop(ticket);
        assert_eq!((rows.num_rows(), value_of(&rows)), (1, 5));
        assert_eq!(rows.schema(), first_table.descriptor.schema.to_arrow());
        // The slot's column vector is reused: the next answer is its own row only.
        let other = table(8, "other", 3);
        let mut ticket = slots.claim().unwrap();
        let Poll::Ready(Ok(PointReply::Row { rows, found: true })) =
            answer(&slots, &mut ticket, &other, Some(-6), Ok(Some(true)))
        else {
            panic!("no row")
        };
        drop(ticket);
        assert_eq!((rows.num_rows(), value_of(&rows)), (1, -6));
        assert_eq!(rows.schema().field(0).name(), "other");
        let mut ticket = slots.claim().unwrap();
        let Poll::Ready(Ok(PointReply::Row { rows, found: false })) =
            answer(&slots, &mut ticket, &other, None, Ok(Some(false)))
        else {
            panic!("a missing key is an empty answer")
        };
        assert_eq!((rows.num_rows(), rows.schema()), (0, other.descriptor.schema.to_arrow()));
    }

    #[test]
    fn a_bucket_not_open_sends_the_caller_the_general_way_with_its_key() {
        let slots = PointSlots::new();
        let long = [7u8; KEY_INLINE_BYTES + 9];
        let info = table(3, "id", 2);
        for sent in [&b"the key"[..], &long[..], &b""[..], &[1u8; KEY_INLINE_BYTES][..]] {
            let mut ticket = slots.claim().unwrap();
            ticket.request(&info, 2, sent);
            ticket.queued();
            let slot = slots.get(ticket.index()).unwrap();
            let request = slot.take_request();
            assert_eq!(
                (request.table_id, request.bucket, request.schema_id, request.key.as_slice()),
                (3, 2, 2, sent),
                "the shard reads the request sent"
            );
            slot.finish(Some(request), Ok(None));
            let Poll::Ready(Ok(PointReply::Fallback { key })) = ticket.poll_answer(Waker::noop()) else {
                panic!("no fallback")
            };
            assert_eq!(key, sent);
        }
    }
}

//! The way into a shard from any thread: a bounded lock-free queue plus a wake-up. One-key
//! lookups skip the queue: they ring a doorbell bit of their call slot ([`super::point`]).
//!
//! The shard's serving task parks on the mailbox with its own glommio `Waker` registered in
//! an `AtomicWaker`; a sender pushes its request and wakes that waker. Waking a glommio task
//! from a foreign thread is handled by glommio itself: the waker goes onto the executor's
//! foreign-wake channel, and an eventfd is written only if the executor sleeps. While the
//! executor spins before parking (`RillConfig::shard_spin_us`) it sees the wake without any
//! system call on either side.
//!
//! Wakes coalesce: a sender wakes only when no wake is pending; the shard clears the flag
//! before it re-checks the queue and the doorbell and parks, so a request pushed after that
//! check always wakes it (both sides use SeqCst).

use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::task::Poll;

use atomic_waker::AtomicWaker;
use crossbeam_queue::ArrayQueue;

use super::doorbell::Doorbell;
use super::point::{PointSlots, Ticket};
use super::Request;
use crate::error::{Error, Result};

/// What the shard takes from its mailbox.
pub(crate) enum Job {
    /// A closure to run (from the queue).
    Call(Request),
    /// A one-key lookup waiting in call slot `index` ([`super::point`], rung on the doorbell).
    Point(u32),
}

/// The sending side of one shard's queue, shared by every thread.
pub(crate) struct Mailbox {
    shard: usize,
    queue: ArrayQueue<Request>,
    /// Call slots of one-key lookups, and the bits that say which are queued.
    points: PointSlots,
    doorbell: Doorbell,
    wake_pending: AtomicBool,
    closed: AtomicBool,
    /// Set (once) when a task on the shard panicked: the shard stopped serving.
    panicked: OnceLock<String>,
    waker: AtomicWaker,
}

impl Mailbox {
    /// A mailbox of `depth` requests.
    pub(crate) fn new(shard: usize, depth: usize) -> Self {
        Self {
            shard,
            queue: ArrayQueue::new(depth.max(1)),
            points: PointSlots::new(),
            doorbell: Doorbell::default(),
            wake_pending: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            panicked: OnceLock::new(),
            waker: AtomicWaker::new(),
        }
    }

    /// Queues a request and wakes the shard; never blocks.
    pub(crate) fn push(&self, request: Request) -> Result<()> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(self.gone());
        }
        self.queue.push(request).map_err(|_| Error::QueueFull { shard: self.shard })?;
        self.sent()
    }

    /// Rings the one-key lookup written into `ticket`'s slot and wakes the shard.
    pub(crate) fn push_point(&self, ticket: &mut Ticket<'_>) -> Result<()> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(self.gone());
        }
        self.doorbell.ring(ticket.index());
        ticket.queued();
        self.sent()
    }

    /// The call slots of one-key lookups.
    pub(crate) fn points(&self) -> &PointSlots {
        &self.points
    }

    /// After a request went in: wakes the shard, unless it closed meanwhile.
    fn sent(&self) -> Result<()> {
        if self.closed.load(Ordering::SeqCst) {
            // Closed while pushing: the shard may have drained for the last time already.
            // Dropping the requests drops their reply senders, so callers see ShardGone.
            self.drain();
            return Err(self.gone());
        }
        self.wake();
        Ok(())
    }

    /// Drops every queued request (their callers get `ShardGone`).
    pub(crate) fn drain(&self) {
        while let Some(job) = self.pop() {
            if let Job::Point(index) = job {
                self.points.fail(index, self.gone());
            }
        }
    }

    fn wake(&self) {
        // The load keeps the flag's line shared while a wake is pending (a spinning shard
        // does not clear it): only the first sender after the shard cleared it writes.
        if !self.wake_pending.load(Ordering::SeqCst) && !self.wake_pending.swap(true, Ordering::SeqCst) {
            self.waker.wake();
        }
    }

    /// Shard side: takes the next request, if any. Rung slots are taken all at once and
    /// served first; between two such batches one queued request goes (neither kind starves).
    pub(crate) fn pop(&self) -> Option<Job> {
        if let Some(index) = self.doorbell.next_taken() {
            return Some(Job::Point(index));
        }
        if let Some(request) = self.queue.pop() {
            return Some(Job::Call(request));
        }
        self.doorbell.take().map(Job::Point)
    }

    /// Shard side, before parking: clears the wake flag; true if the queue is still empty
    /// (then the shard may park: any later push wakes it).
    pub(crate) fn prepare_sleep(&self) -> bool {
        self.wake_pending.store(false, Ordering::SeqCst);
        std::sync::atomic::fence(Ordering::SeqCst);
        self.is_empty()
    }

    /// Shard side: resolves once a request is queued or the mailbox is closed. Call after
    /// [`Self::prepare_sleep`] returned true.
    pub(crate) async fn wait(&self) {
        poll_fn(|cx| {
            self.waker.register(cx.waker());
            if !self.is_empty() || self.is_closed() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
    }

    /// Refuses further requests and wakes the shard so it sees the shutdown.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.wake_pending.store(true, Ordering::SeqCst);
        self.waker.wake();
    }

    /// Shard side: a task panicked. Records the first panic's message and closes the
    /// mailbox, so queued and later requests fail with `ShardPanicked` instead of waiting
    /// for a shard that no longer serves.
    pub(crate) fn poison(&self, message: String) {
        let _ = self.panicked.set(message);
        self.close();
    }

    /// Why a request cannot run here: `ShardPanicked` after a panic, else `ShardGone`.
    pub(crate) fn gone(&self) -> Error {
        match self.panicked.get() {
            Some(message) => Error::ShardPanicked { shard: self.shard, message: message.clone() },
            None => Error::ShardGone { shard: self.shard },
        }
    }

    /// True once a task on the shard panicked.
    pub(crate) fn is_poisoned(&self) -> bool {
        self.panicked.get().is_some()
    }

    /// The shard this mailbox feeds.
    pub(crate) fn shard(&self) -> usize {
        self.shard
    }

    /// True when no request is queued and no call slot rung.
    pub(crate) fn is_empty(&self) -> bool {
        self.doorbell.is_quiet() && self.queue.is_empty()
    }

    /// True once closed.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::future::Future;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;
    use std::task::{Context, Wake, Waker};

    use super::*;

    fn request() -> Request {
        Box::new(|_ctx| Box::pin(async {}))
    }

    #[derive(Default)]
    struct CountingWaker(AtomicUsize);

    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Registers `counter` as the shard's waker, as the serving task does before parking.
    fn park(mailbox: &Mailbox, counter: &Arc<CountingWaker>) -> bool {
        let waker = Waker::from(Arc::clone(counter));
        let mut cx = Context::from_waker(&waker);
        let mut wait = std::pin::pin!(mailbox.wait());
        wait.as_mut().poll(&mut cx).is_ready()
    }

    #[test]
    fn full_queue_refuses_and_wakes_coalesce() {
        let counter = Arc::new(CountingWaker::default());
        let mailbox = Mailbox::new(3, 2);
        assert!(mailbox.prepare_sleep());
        assert!(!park(&mailbox, &counter), "nothing queued: the shard parks");
        mailbox.push(request()).unwrap();
        mailbox.push(request()).unwrap();
        assert!(matches!(mailbox.push(request()), Err(Error::QueueFull { shard: 3 })));
        assert_eq!(counter.0.load(Ordering::SeqCst), 1, "two pushes, one wake");
        assert!(mailbox.pop().is_some());
        assert!(!mailbox.prepare_sleep(), "one request is still queued");
        assert!(mailbox.pop().is_some());
        assert!(mailbox.prepare_sleep());
        assert!(!park(&mailbox, &counter));
        mailbox.push(request()).unwrap();
        assert_eq!(counter.0.load(Ordering::SeqCst), 2, "a push after prepare_sleep wakes again");
        assert!(park(&mailbox, &counter), "a queued request ends the wait");
    }

    #[test]
    fn closed_mailbox_refuses_wakes_and_drops_queued_requests() {
        let counter = Arc::new(CountingWaker::default());
        let mailbox = Mailbox::new(0, 4);
        let (tx, mut rx) = futures_channel::oneshot::channel::<()>();
        mailbox
            .push(Box::new(move |_ctx| {
                Box::pin(async move {
                    let _ = tx.send(());
                })
            }))
            .unwrap();
        mailbox.drain();
        assert!(mailbox.prepare_sleep());
        assert!(!park(&mailbox, &counter));
        mailbox.close();
        assert_eq!(counter.0.load(Ordering::SeqCst), 1, "closing wakes the parked shard");
        assert!(park(&mailbox, &counter), "a closed mailbox ends the wait");
        assert!(matches!(mailbox.push(request()), Err(Error::ShardGone { shard: 0 })));
        assert!(rx.try_recv().is_err(), "the dropped request's caller sees a cancelled reply");
    }

    #[test]
    fn rung_call_slots_wake_the_shard_and_fail_when_drained() {
        let counter = Arc::new(CountingWaker::default());
        let mailbox = Mailbox::new(2, 4);
        assert!(mailbox.prepare_sleep());
        assert!(!park(&mailbox, &counter));
        let mut first = mailbox.points().claim().unwrap();
        mailbox.push_point(&mut first).unwrap();
        assert_eq!(counter.0.load(Ordering::SeqCst), 1, "ringing wakes the parked shard");
        assert!(!mailbox.prepare_sleep(), "a rung slot keeps the shard awake");
        mailbox.push(request()).unwrap();
        assert!(matches!(mailbox.pop(), Some(Job::Call(_))), "a queued request between batches");
        assert!(matches!(mailbox.pop(), Some(Job::Point(i)) if i == first.index()));
        assert!(mailbox.pop().is_none());
        let mut second = mailbox.points().claim().unwrap();
        mailbox.push_point(&mut second).unwrap();
        mailbox.close();
        mailbox.drain();
        let mut cx = Context::from_waker(Waker::noop());
        let answer = std::pin::Pin::new(&mut second).poll(&mut cx);
        assert!(matches!(answer, Poll::Ready(Err(Error::ShardGone { shard: 2 }))), "{answer:?}");
        assert!(matches!(
            mailbox.push_point(&mut mailbox.points().claim().unwrap()),
            Err(Error::ShardGone { shard: 2 })
        ));
    }
}

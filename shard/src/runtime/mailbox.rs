//! The way into a shard from any thread: a bounded lock-free queue plus a wake-up.
//!
//! glommio has no API to wake an executor from a foreign thread, so each shard owns one end
//! of a Unix socket pair and awaits it through glommio; a sender pushes its request and then
//! writes one byte to the other end. Wakes coalesce: a sender writes only when no wake is
//! pending; the shard clears the flag before it re-checks the queue and sleeps, so a request
//! pushed after that check always writes its byte (both sides use SeqCst).

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use crossbeam_queue::ArrayQueue;

use super::Request;
use crate::error::{Error, Result};

/// The sending side of one shard's queue, shared by every thread.
pub(crate) struct Mailbox {
    shard: usize,
    queue: ArrayQueue<Request>,
    wake_pending: AtomicBool,
    closed: AtomicBool,
    /// Set (once) when a task on the shard panicked: the shard stopped serving.
    panicked: OnceLock<String>,
    waker: UnixStream,
}

impl Mailbox {
    /// A mailbox of `depth` requests; `waker` is the caller end of the socket pair.
    pub(crate) fn new(shard: usize, depth: usize, waker: UnixStream) -> Self {
        Self {
            shard,
            queue: ArrayQueue::new(depth.max(1)),
            wake_pending: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            panicked: OnceLock::new(),
            waker,
        }
    }

    /// Queues a request and wakes the shard; never blocks.
    pub(crate) fn push(&self, request: Request) -> Result<()> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(self.gone());
        }
        self.queue.push(request).map_err(|_| Error::QueueFull { shard: self.shard })?;
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
        while self.queue.pop().is_some() {}
    }

    fn wake(&self) {
        if !self.wake_pending.swap(true, Ordering::SeqCst) {
            // WouldBlock means the socket already holds unread wake bytes: the shard will wake.
            let _ = (&self.waker).write(&[1]);
        }
    }

    /// Shard side: takes the next request, if any.
    pub(crate) fn pop(&self) -> Option<Request> {
        self.queue.pop()
    }

    /// Shard side, before sleeping: clears the wake flag; true if the queue is still empty
    /// (then the shard may sleep: any later push writes a wake byte).
    pub(crate) fn prepare_sleep(&self) -> bool {
        self.wake_pending.store(false, Ordering::SeqCst);
        std::sync::atomic::fence(Ordering::SeqCst);
        self.queue.is_empty()
    }

    /// Refuses further requests and wakes the shard so it sees the shutdown.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.wake();
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

    /// True once closed.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// The shard this mailbox feeds.
    pub(crate) fn shard(&self) -> usize {
        self.shard
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::io::Read;

    use super::*;

    fn request() -> Request {
        Box::new(|_ctx| Box::pin(async {}))
    }

    #[test]
    fn full_queue_refuses_and_wakes_coalesce() {
        let (caller, mut shard) = UnixStream::pair().unwrap();
        caller.set_nonblocking(true).unwrap();
        shard.set_nonblocking(true).unwrap();
        let mailbox = Mailbox::new(3, 2, caller);
        mailbox.push(request()).unwrap();
        mailbox.push(request()).unwrap();
        assert!(matches!(mailbox.push(request()), Err(Error::QueueFull { shard: 3 })));
        let mut buf = [0u8; 16];
        assert_eq!(shard.read(&mut buf).unwrap(), 1, "two pushes, one wake byte");
        assert!(mailbox.pop().is_some());
        assert!(!mailbox.prepare_sleep(), "one request is still queued");
        assert!(mailbox.pop().is_some());
        assert!(mailbox.prepare_sleep());
        mailbox.push(request()).unwrap();
        assert_eq!(shard.read(&mut buf).unwrap(), 1, "a push after prepare_sleep wakes again");
    }

    #[test]
    fn closed_mailbox_refuses_and_drops_queued_requests() {
        let (caller, _shard) = UnixStream::pair().unwrap();
        caller.set_nonblocking(true).unwrap();
        let mailbox = Mailbox::new(0, 4, caller);
        let (tx, mut rx) = futures_channel::oneshot::channel::<()>();
        mailbox
            .push(Box::new(move |_ctx| {
                Box::pin(async move {
                    let _ = tx.send(());
                })
            }))
            .unwrap();
        mailbox.close();
        assert!(matches!(mailbox.push(request()), Err(Error::ShardGone { shard: 0 })));
        mailbox.drain();
        assert!(rx.try_recv().is_err(), "the dropped request's caller sees a cancelled reply");
    }
}

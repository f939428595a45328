//! A first-come, first-served turn for the writes of one bucket (single-threaded, cancel-safe).
//!
//! A primary-key write reads old rows, merges and stages its changelog in the log. Reading an
//! old row from an SST suspends the write; without a turn a later write could plan meanwhile
//! on the same old row (an aggregation would lose an increment) or reach the log first (an
//! idempotent writer's next batch would be refused as out of order). The turn spans planning
//! and staging only: group commit (the sync) stays pipelined.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::poll_fn;
use std::task::{Poll, Waker};

/// Writers most waiting for the turn at once: a broken invariant beyond this (callers bound
/// their in-flight writes far below it).
const WAITERS_MAX: usize = 1 << 20;

/// FIFO turn: [`WriteTurn::acquire`] resolves in call order; dropping a waiting future leaves
/// the queue.
#[derive(Default)]
pub(crate) struct WriteTurn {
    held: Cell<bool>,
    next_ticket: Cell<u64>,
    waiting: RefCell<VecDeque<(u64, Option<Waker>)>>,
}

/// Holds the turn until dropped.
pub(crate) struct TurnGuard<'a> {
    turn: &'a WriteTurn,
}

impl WriteTurn {
    /// Waits for the turn (immediately when nobody holds it or waits for it).
    pub(crate) async fn acquire(&self) -> TurnGuard<'_> {
        if !self.held.get() && self.waiting.borrow().is_empty() {
            self.held.set(true);
            return TurnGuard { turn: self };
        }
        let ticket = self.next_ticket.get();
        self.next_ticket.set(ticket.wrapping_add(1));
        {
            let mut waiting = self.waiting.borrow_mut();
            assert!(waiting.len() < WAITERS_MAX, "more than {WAITERS_MAX} writes wait for one bucket");
            waiting.push_back((ticket, None));
        }
        let mut leave = Leave { turn: self, ticket, served: false };
        poll_fn(|cx| {
            let mut waiting = self.waiting.borrow_mut();
            if !self.held.get() && waiting.front().is_some_and(|(t, _)| *t == ticket) {
                waiting.pop_front();
                self.held.set(true);
                leave.served = true;
                return Poll::Ready(());
            }
            if let Some((_, waker)) = waiting.iter_mut().find(|(t, _)| *t == ticket) {
                match waker {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => *waker = Some(cx.waker().clone()),
                }
            }
            Poll::Pending
        })
        .await;
        TurnGuard { turn: self }
    }

    /// Wakes the first waiter when the turn is free.
    fn wake_next(&self) {
        if self.held.get() {
            return;
        }
        let waker = self.waiting.borrow_mut().front_mut().and_then(|(_, w)| w.take());
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl Drop for TurnGuard<'_> {
    fn drop(&mut self) {
        self.turn.held.set(false);
        self.turn.wake_next();
    }
}

/// Takes a cancelled waiter out of the queue (and passes the turn on if it was next).
struct Leave<'a> {
    turn: &'a WriteTurn,
    ticket: u64,
    served: bool,
}

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        if self.served {
            return;
        }
        self.turn.waiting.borrow_mut().retain(|(t, _)| *t != self.ticket);
        self.turn.wake_next();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::future::Future;
    use std::pin::Pin;
    use std::rc::Rc;
    use std::task::{Context, Poll};

    use super::*;

    fn noop_cx() -> Context<'static> {
        Context::from_waker(Waker::noop())
    }

    type Acq<'a> = Pin<Box<dyn Future<Output = TurnGuard<'a>> + 'a>>;

    #[test]
    fn turns_are_served_in_call_order() {
        let turn = WriteTurn::default();
        let order = Rc::new(RefCell::new(Vec::new()));
        let mut cx = noop_cx();
        let first = futures_lite::future::block_on(turn.acquire());
        let mut waiters: Vec<Acq<'_>> = (0..3).map(|_| Box::pin(turn.acquire()) as Acq<'_>).collect();
        for w in &mut waiters {
            assert!(w.as_mut().poll(&mut cx).is_pending());
        }
        drop(first);
        // Polled in reverse: only the first caller can take the turn.
        for round in 0..3 {
            for (i, w) in waiters.iter_mut().enumerate().rev() {
                if order.borrow().contains(&i) {
                    continue;
                }
                if let Poll::Ready(guard) = w.as_mut().poll(&mut cx) {
                    order.borrow_mut().push(i);
                    assert_eq!(i, round);
                    drop(guard);
                }
            }
        }
        assert_eq!(*order.borrow(), vec![0, 1, 2]);
    }

    #[test]
    fn a_cancelled_waiter_passes_the_turn_on() {
        let turn = WriteTurn::default();
        let mut cx = noop_cx();
        let held = futures_lite::future::block_on(turn.acquire());
        let mut a: Acq<'_> = Box::pin(turn.acquire());
        let mut b: Acq<'_> = Box::pin(turn.acquire());
        assert!(a.as_mut().poll(&mut cx).is_pending() && b.as_mut().poll(&mut cx).is_pending());
        drop(held);
        drop(a);
        assert!(b.as_mut().poll(&mut cx).is_ready(), "the next waiter is served once the first leaves");
        assert!(turn.waiting.borrow().is_empty());
    }

    #[test]
    fn a_free_turn_is_taken_at_once_and_held_until_dropped() {
        let turn = WriteTurn::default();
        let mut cx = noop_cx();
        let g = futures_lite::future::block_on(turn.acquire());
        let mut next: Acq<'_> = Box::pin(turn.acquire());
        assert!(next.as_mut().poll(&mut cx).is_pending());
        assert!(next.as_mut().poll(&mut cx).is_pending(), "still held");
        drop(g);
        assert!(next.as_mut().poll(&mut cx).is_ready());
    }
}

//! Futures written by hand: what `async` writes for you, and the one rule it keeps for you.
//!
//! A future is a value with a `poll` method. Nothing happens when it is created; each `poll`
//! runs it until it has to wait, and then it returns `Pending` — *after* arranging for someone
//! to call the waker in `cx` when waiting is over. That arrangement is the rule: a future that
//! returns `Pending` and arranges nothing is never polled again, and whoever awaits it waits
//! forever. `async fn` keeps the rule for you, because it only returns `Pending` when a future
//! it awaits did, and that one arranged the wake.

use std::pin::Pin;
use std::task::{Context, Poll};

use async_channel::Receiver;
use futures_lite::Stream;

// ANCHOR: sum
/// The sum of everything received on `from` until it closes. By hand, this is
///
/// ```text
/// async fn sum(from: Receiver<u64>) -> u64 {
///     let mut total = 0;
///     while let Ok(n) = from.recv().await {
///         total += n;
///     }
///     total
/// }
/// ```
///
/// The compiler turns that `async fn` into an enum like [`SumState`]: one variant per place it
/// can be suspended, holding what lives across that `.await`, plus `Done`.
pub struct Sum {
    state: SumState,
}

enum SumState {
    /// Suspended at the `.await` in the loop, with the running total. The receiver is boxed
    /// and pinned: async-channel's `Receiver` is not `Unpin` (it may hold a registration that
    /// points into itself), and `Box::pin` is the safe way to poll such a thing from a struct.
    Receiving {
        from: Pin<Box<Receiver<u64>>>,
        total: u64,
    },
    /// Returned its output: polling again is a bug in the caller.
    Done,
}

impl Sum {
    pub fn new(from: Receiver<u64>) -> Self {
        Sum {
            state: SumState::Receiving {
                from: Box::pin(from),
                total: 0,
            },
        }
    }
}

impl Future for Sum {
    type Output = u64;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u64> {
        // `Sum` is `Unpin` (its only field that cares is behind a `Box`, which moving `Sum`
        // does not move), so the pin lets us have a plain `&mut` to it. A future that is not
        // `Unpin` could not do this without `unsafe`.
        let this = &mut *self;
        loop {
            match &mut this.state {
                SumState::Receiving { from, total } => match from.as_mut().poll_next(cx) {
                    Poll::Ready(Some(n)) => *total += n,
                    Poll::Ready(None) => {
                        let total = *total;
                        this.state = SumState::Done;
                        return Poll::Ready(total);
                    }
                    // The channel kept a clone of `cx.waker()` and calls it on the next send
                    // or on close: the wake is arranged, so `Pending` is allowed.
                    Poll::Pending => return Poll::Pending,
                },
                SumState::Done => panic!("`Sum` polled after it returned its output"),
            }
        }
    }
}
// ANCHOR_END: sum

// ANCHOR: countdown
/// Ready on its `n + 1`-th poll. Each `Pending` wakes itself first (`wake_by_ref`), so the
/// executor polls it again at once: this is `yield_now`, the polite way to give other tasks a
/// turn, and the way to watch the polls being counted.
pub struct Countdown(pub u32);

impl Future for Countdown {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 == 0 {
            return Poll::Ready(());
        }
        self.0 -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
// ANCHOR_END: countdown

// ANCHOR: forgetful
/// BROKEN ON PURPOSE: returns `Pending` and arranges no wake. Nothing will ever poll it again;
/// an executor that waits for a wake waits forever. (A hand-written future that forgets to
/// register the waker on one path looks exactly like this, on that path.)
pub struct Forgetful;

impl Future for Forgetful {
    type Output = ();

    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        Poll::Pending
    }
}
// ANCHOR_END: forgetful

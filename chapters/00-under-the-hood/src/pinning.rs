//! `Pin`, seen through the executor: why `poll` takes `Pin<&mut Self>`, and the two safe ways
//! to get one (`pin!` on the stack, `Box::pin` on the heap; the executor uses both).

use std::pin::pin;
use std::task::{Context, Poll, Waker};

// ANCHOR: pin
/// An `async` block that keeps a reference to its own local across an `.await` must not move
/// once polled (the reference would point at the old place), so it is not `Unpin`, and safe
/// code cannot poll it through a plain `&mut` — the compiler says so:
///
/// ```compile_fail,E0277
/// use std::pin::Pin;
/// let mut future = async {
///     let local = 1;
///     let borrowed = &local;
///     std::future::ready(()).await;
///     *borrowed
/// };
/// let _ = Pin::new(&mut future); // error[E0277]: `{async block}` cannot be unpinned
/// ```
///
/// Pinned where it stands, it can be polled: `pin!` moves it into this frame and promises it
/// stays there. This is what `block_on` does with its future; a task, which the queue moves
/// around, is pinned on the heap with `Box::pin` instead.
pub fn poll_once<F: Future>(future: F) -> Poll<F::Output> {
    let mut future = pin!(future);
    future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
}
// ANCHOR_END: pin

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_future_that_borrows_itself_is_polled_once_pinned() {
        let future = async {
            let local = 1;
            let borrowed = &local;
            std::future::ready(()).await;
            *borrowed
        };
        assert_eq!(poll_once(future), Poll::Ready(1));
        assert_eq!(poll_once(crate::hand_written::Forgetful), Poll::Pending);
    }
}

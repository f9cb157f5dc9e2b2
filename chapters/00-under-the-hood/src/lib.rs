//! # Chapter 0 — under the hood
//!
//! What the other chapters assume: what a future is, what a waker and an executor do, and why
//! `Pin` is in the signature of `poll`. Four files, read in this order:
//!
//! - [`hand_written`]: futures written by hand — a state machine like the one `async fn`
//!   compiles to ([`hand_written::Sum`]), one that yields ([`hand_written::Countdown`]), and
//!   one that breaks the one rule ([`hand_written::Forgetful`]);
//! - [`executor`]: a `block_on` executor of about a hundred lines: a run queue, tasks, wakers
//!   that are `Arc<Task>`s sending themselves back into the queue;
//! - [`on_one_thread`]: chapter 1's pipeline — its very stages — on that executor, on one
//!   thread, with the reference's report;
//! - [`pinning`]: why `poll` takes `Pin<&mut Self>`, and the executor's two safe ways to pin.
//!
//! Why no `course::Chapter`: a chapter descriptor is four variants of one pipeline, and this
//! chapter has one executor and no variants. The tour and the workshop have nothing to run here;
//! `cargo test -p ch00-under-the-hood` is how it is run.
#![forbid(unsafe_code)]

pub mod executor;
pub mod hand_written;
pub mod on_one_thread;
pub mod pinning;

pub use executor::{Executor, JoinHandle, Spawner, Stalled, Stats};

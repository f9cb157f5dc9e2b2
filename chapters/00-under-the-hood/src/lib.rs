//! # Chapter 0 — under the hood
//!
//! What the other chapters assume: what a future is, what a waker and an executor do, and why
//! `Pin` is in the signature of `poll`. Three files, read in this order:
//!
//! - [`hand_written`]: futures written by hand — a state machine like the one `async fn`
//!   compiles to ([`hand_written::Sum`]), one that yields ([`hand_written::Countdown`]), and
//!   one that breaks the one rule ([`hand_written::Forgetful`]);
//! - [`executor`]: a `block_on` executor of about a hundred lines: a run queue, tasks, wakers
//!   that are `Arc<Task>`s sending themselves back into the queue;
//! - [`on_one_thread`]: chapter 1's pipeline — its very stages — on that executor, on one
//!   thread, with the reference's report.
//!
//! Why no `course::Chapter`: a chapter descriptor is four variants of one pipeline, and this
//! chapter has one executor and no variants. The tour and the workshop have nothing to run here;
//! `cargo test -p ch00-under-the-hood` is how it is run.
//!
//! ## Pin, seen through the executor
//!
//! `poll` takes `self: Pin<&mut Self>`: a promise that the future will not move again. An
//! `async` block that holds a reference to one of its own locals across an `.await` needs it —
//! moving the future would leave that reference pointing at the old place — so such a future is
//! not `Unpin`, and safe code cannot poll it through a plain `&mut`:
//!
//! ```compile_fail,E0277
//! use std::pin::Pin;
//! let mut future = async {
//!     let local = 1;
//!     let borrowed = &local;
//!     std::future::ready(()).await;
//!     *borrowed
//! };
//! let _ = Pin::new(&mut future); // error[E0277]: `{async block}` cannot be unpinned
//! ```
//!
//! The executor pins in the two places a future can live: `block_on`'s future on its own stack
//! (`std::pin::pin!`: it stays in that frame until it is done), each task on the heap
//! (`Box::pin`: the queue moves the `Arc<Task>` around, the boxed future stays put). Both are
//! safe; neither needs `unsafe`. A future that is `Unpin` — [`hand_written::Sum`], whose one
//! field that cares (async-channel's `Receiver`) it keeps in a `Box::pin` — can be pinned
//! anywhere with `Pin::new(&mut it)`, because moving it is harmless.
#![forbid(unsafe_code)]

pub mod executor;
pub mod hand_written;
pub mod on_one_thread;

pub use executor::{Executor, JoinHandle, Spawner, Stalled, Stats};

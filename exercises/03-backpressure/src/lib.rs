//! # Exercise 03 — a queue that stays small (chapter 3)
//!
//! The source reads batches much faster than the sink can write them. Between them is an
//! unbounded channel, so every batch the sink has not got to yet waits in memory: on a big
//! input, the whole input. Make the source slow down to the sink's pace: at most `capacity`
//! batches may wait.
//!
//! 1. **tokio** — `run_tokio`. (~7 min)
//! 2. **smol** — `run_smol`. (~7 min)
//!
//! The harness measures the queue itself: it counts the batches the [`Source`] hands out and
//! the ones the [`Sink`] takes, and the sink starts only once the source has finished (or after
//! a second, if it cannot). Every batch must come from the source and go through the sink.
//!
//! Check: `cargo test -p ex03-backpressure` (or `cargo run --release -- check 03`).
//! Stuck: `cargo run --release -- hint 03`. Don't change the harness or the checks.
#![forbid(unsafe_code)]

use ch03_backpressure::exercise::{Batch, Sink, Source};
use pipeline::Aggregator;

// ANCHOR: task_tokio
// TODO(1): nothing slows the source down.
pub async fn run_tokio(source: Source, capacity: usize, sink: Sink) -> Aggregator {
    let _ = capacity; // TODO(1): use it
    let (to_sink, mut from_source) = tokio::sync::mpsc::unbounded_channel::<Batch>();
    tokio::spawn(async move {
        for batch in source {
            if to_sink.send(batch).is_err() {
                break;
            }
        }
    });
    let mut aggregator = Aggregator::new();
    while let Some(batch) = from_source.recv().await {
        aggregator.add_batch(sink.write_tokio(batch).await);
    }
    aggregator
}
// ANCHOR_END: task_tokio

// ANCHOR: task_smol
// TODO(2): the same on smol.
pub async fn run_smol(
    executor: &smol::Executor<'static>,
    source: Source,
    capacity: usize,
    sink: Sink,
) -> Aggregator {
    let _ = capacity; // TODO(2): use it
    let (to_sink, from_source) = smol::channel::unbounded::<Batch>();
    executor
        .spawn(async move {
            for batch in source {
                if to_sink.send(batch).await.is_err() {
                    break;
                }
            }
        })
        .detach();
    let mut aggregator = Aggregator::new();
    while let Ok(batch) = from_source.recv().await {
        aggregator.add_batch(sink.write_smol(batch).await);
    }
    aggregator
}
// ANCHOR_END: task_smol

// The checks: one file, shared with the solution crate (its `tests` folder links to this one).
#[cfg(test)]
#[path = "../tests/checks.rs"]
mod checks;

//! # Exercise 05 — put a limit on the fan-out (chapter 5)
//!
//! The registry takes a few milliseconds per look-up and refuses requests past its capacity
//! (32 at once). The two functions below start a look-up for every reading at once, so the
//! registry refuses most of them. Give each a limit: at most `limit` look-ups in flight, and
//! `limit` of them kept busy — when one look-up is slow, the others' slots go on.
//!
//! 1. **tokio** — `enrich_all_tokio`: the tasks may stay tasks; a `tokio::sync::Semaphore`
//!    is the usual tool. Hold the permit for as long as the look-up runs. (~8 min)
//! 2. **smol** — `enrich_all_smol`: do it without spawning at all: `futures::StreamExt` has
//!    `buffer_unordered` and `for_each_concurrent`. (~7 min)
//! 3. **stop** — `enrich_until_stopped_async_std` and `enrich_until_stopped_smol`: the same
//!    bounded fan-out, with spawned tasks, that must stop taking readings when asked. The
//!    two are written alike and break differently: dropping an async-std `JoinHandle` lets its
//!    task run on unobserved, dropping a smol `Task` cancels it. On a stop, nothing may be
//!    left running and nothing taken may be lost. (~10 min)
//!
//! The readings, the look-ups and the runs are the harness's (`ch05_unbounded_spawning::exercise`).
//!
//! Check: `cargo test -p ex05-unbounded-spawning` (or `cargo run --release -- check 05`).
//! Stuck: `cargo run --release -- hint 05`. Don't change the harness or the checks.
#![forbid(unsafe_code)]

use std::collections::VecDeque;
use std::sync::Arc;

use ch05_unbounded_spawning::exercise::{
    Records, Stop, lookup_async_std, lookup_smol, lookup_tokio,
};
use ch05_unbounded_spawning::registry::SlowRegistry;
use pipeline::{Aggregator, Progress};
use smol::Executor;

// ANCHOR: task_tokio
// TODO(1): every reading gets its task at once. Allow at most `limit` look-ups in flight.
pub async fn enrich_all_tokio(
    records: Records,
    registry: Arc<SlowRegistry>,
    limit: usize,
    progress: &Progress,
) -> Aggregator {
    let _ = limit; // TODO(1): use it
    let mut tasks = Vec::new();
    for record in records {
        let registry = Arc::clone(&registry);
        tasks.push(tokio::spawn(async move {
            lookup_tokio(record, &registry).await
        }));
    }
    let mut aggregator = Aggregator::new();
    for task in tasks {
        aggregator.add(task.await.expect("a look-up task panicked"));
        progress.add(1);
    }
    aggregator
}
// ANCHOR_END: task_tokio

// ANCHOR: task_smol
// TODO(2): the same on smol, and this time without spawning a task per reading.
pub async fn enrich_all_smol(
    executor: &Executor<'static>,
    records: Records,
    registry: Arc<SlowRegistry>,
    limit: usize,
    progress: &Progress,
) -> Aggregator {
    let _ = limit; // TODO(2): use it (and if you end up not needing `executor`, call it `_executor`)
    let mut tasks = Vec::new();
    for record in records {
        let registry = Arc::clone(&registry);
        tasks.push(executor.spawn(async move { lookup_smol(record, &registry).await }));
    }
    let mut aggregator = Aggregator::new();
    for task in tasks {
        aggregator.add(task.await);
        progress.add(1);
    }
    aggregator
}
// ANCHOR_END: task_smol

// ANCHOR: task_stop_async_std
// TODO(3): when the stop comes, this returns at once, and the look-ups in flight are dropped
// with their handles. What does dropping an async-std `JoinHandle` do to its task? What
// happens to the readings those tasks had taken?
pub async fn enrich_until_stopped_async_std(
    mut records: Records,
    registry: Arc<SlowRegistry>,
    limit: usize,
    stop: Stop,
    progress: &Progress,
) -> Aggregator {
    let mut in_flight = VecDeque::new();
    let mut aggregator = Aggregator::new();
    loop {
        if stop.requested() {
            return aggregator; // stopped: report what we have
        }
        let Some(record) = records.next() else { break };
        if in_flight.len() == limit {
            let oldest: async_std::task::JoinHandle<_> = in_flight.pop_front().expect("limit > 0");
            aggregator.add(oldest.await);
            progress.add(1);
        }
        let registry = Arc::clone(&registry);
        in_flight.push_back(async_std::task::spawn(async move {
            lookup_async_std(record, &registry).await
        }));
    }
    for task in in_flight {
        aggregator.add(task.await);
        progress.add(1);
    }
    aggregator
}
// ANCHOR_END: task_stop_async_std

// ANCHOR: task_stop_smol
// TODO(4): the same loop on smol. What does dropping a smol `Task` do?
pub async fn enrich_until_stopped_smol(
    executor: &Executor<'static>,
    mut records: Records,
    registry: Arc<SlowRegistry>,
    limit: usize,
    stop: Stop,
    progress: &Progress,
) -> Aggregator {
    let mut in_flight = VecDeque::new();
    let mut aggregator = Aggregator::new();
    loop {
        if stop.requested() {
            return aggregator; // stopped: report what we have
        }
        let Some(record) = records.next() else { break };
        if in_flight.len() == limit {
            let oldest: smol::Task<_> = in_flight.pop_front().expect("limit > 0");
            aggregator.add(oldest.await);
            progress.add(1);
        }
        let registry = Arc::clone(&registry);
        in_flight.push_back(executor.spawn(async move { lookup_smol(record, &registry).await }));
    }
    for task in in_flight {
        aggregator.add(task.await);
        progress.add(1);
    }
    aggregator
}
// ANCHOR_END: task_stop_smol

// The checks: one file, shared with the solution crate (its `tests` folder links to this one).
#[cfg(test)]
#[path = "../tests/checks.rs"]
mod checks;

//! # Exercise 05 — put a limit on the fan-out (chapter 5): SOLUTION
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

// ANCHOR: solution_tokio
/// At most `limit` look-ups in flight: a task takes a permit before it starts and gives it back
/// when its look-up is done. `acquire_owned` waits while all permits are out (backpressure).
pub async fn enrich_all_tokio(
    records: Records,
    registry: Arc<SlowRegistry>,
    limit: usize,
    progress: &Progress,
) -> Aggregator {
    let permits = Arc::new(tokio::sync::Semaphore::new(limit));
    let mut tasks = tokio::task::JoinSet::new();
    let mut aggregator = Aggregator::new();
    for record in records {
        let permit = Arc::clone(&permits)
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let registry = Arc::clone(&registry);
        tasks.spawn(async move {
            let enriched = lookup_tokio(record, &registry).await;
            drop(permit); // only now may the next look-up start
            enriched
        });
        while let Some(done) = tasks.try_join_next() {
            aggregator.add(done.expect("a look-up task panicked"));
            progress.add(1);
        }
    }
    while let Some(done) = tasks.join_next().await {
        aggregator.add(done.expect("a look-up task panicked"));
        progress.add(1);
    }
    aggregator
}
// ANCHOR_END: solution_tokio

// ANCHOR: solution_smol
/// At most `limit` look-ups polled at once, inside this one task: no spawning, no permits.
pub async fn enrich_all_smol(
    _executor: &Executor<'static>,
    records: Records,
    registry: Arc<SlowRegistry>,
    limit: usize,
    progress: &Progress,
) -> Aggregator {
    use futures::stream::{self, StreamExt};
    let registry = &*registry;
    let mut enriched = stream::iter(records)
        .map(|record| lookup_smol(record, registry))
        .buffer_unordered(limit);
    let mut aggregator = Aggregator::new();
    while let Some(record) = enriched.next().await {
        aggregator.add(record);
        progress.add(1);
    }
    aggregator
}
// ANCHOR_END: solution_smol

// ANCHOR: solution_stop_async_std
/// On a stop, take no more readings, but finish every look-up already started and count it:
/// `break` to the loop below that awaits the handles. Returning with them in flight would leave
/// them running unobserved (async-std: dropping a `JoinHandle` detaches the task)
/// and lose their readings.
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
            break; // take no more; the look-ups in flight are finished below
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
// ANCHOR_END: solution_stop_async_std

// ANCHOR: solution_stop_smol
/// The same fix as async-std's, for the opposite reason: dropping a smol `Task` cancels it, so
/// returning with tasks in flight would silently cancel the look-ups they had started and lose
/// their readings. On a stop, `break` and await them all.
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
            break; // take no more; the look-ups in flight are finished below
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
// ANCHOR_END: solution_stop_smol

// The checks: one file, shared with the solution crate (its `tests` folder links to this one).
#[cfg(test)]
#[path = "../tests/checks.rs"]
mod checks;

//! # Exercise 02 — from one look-up at a time to Little's limit (chapter 2): SOLUTION
//!
//! The enrich stage looks each reading up in a registry that takes 15–60 ms to answer. The two
//! functions below wait for one look-up before they start the next: Little's law with `C = 1`,
//! one look-up per mean latency, however many the registry could take at once. Keep `limit`
//! look-ups in flight, and hand the answers back complete and **in input order** (the next
//! stage numbers the windows by it).
//!
//! 1. **tokio** — `enrich_all_tokio`: with tasks (`lookups` is an `Arc`, so a task can own a
//!    handle to it). (~10 min)
//! 2. **smol** — `enrich_all_smol`: this time without spawning anything. (~8 min)
//!
//! A limit is a number to reach, and to keep: one look-up in the checks is slow, and the others
//! must go on around it. The checks count what is in flight; they time nothing.
//!
//! Check: `cargo test -p ex02-waiting-well` (or `cargo run --release -- check 02`).
//! Stuck: `cargo run --release -- hint 02`. Don't change the checks; the look-ups and their
//! probes are the chapter crate's (`ch02_waiting_well::exercise`).
#![forbid(unsafe_code)]

use std::sync::{Arc, Mutex, PoisonError};

use ch02_waiting_well::exercise::Lookups;
use pipeline::{Enriched, Reading};

// ANCHOR: solution_tokio
/// Chapter 2's shape: `limit` workers share one queue of numbered readings; each takes the
/// next, waits out its look-up, and repeats, so `limit` are in flight until the queue runs dry,
/// whatever any one look-up takes. Each answer carries its reading's number, and goes back to
/// that place at the end: the look-ups finish in any order, the answers come out in input order.
pub async fn enrich_all_tokio(
    readings: Vec<Reading>,
    lookups: Arc<Lookups>,
    limit: usize,
) -> Vec<Enriched> {
    let total = readings.len();
    let queue = Arc::new(Mutex::new(readings.into_iter().enumerate()));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..limit {
        let (queue, lookups) = (Arc::clone(&queue), Arc::clone(&lookups));
        workers.spawn(async move {
            let mut answered = Vec::new();
            loop {
                // Its own statement, so the guard is dropped at the `;`, before the `.await`.
                let next = queue.lock().unwrap_or_else(PoisonError::into_inner).next();
                let Some((place, reading)) = next else { break };
                answered.push((place, lookups.look_up_tokio(reading).await));
            }
            answered
        });
    }
    let mut answers = Vec::with_capacity(total);
    while let Some(answered) = workers.join_next().await {
        answers.extend(answered.expect("a look-up worker panicked"));
    }
    in_input_order(answers)
}
// ANCHOR_END: solution_tokio

// ANCHOR: solution_smol
/// No tasks: `buffer_unordered` polls up to `limit` look-ups at once inside this one future and
/// starts the next as soon as any one is done. (`buffered` would keep the order, but it starts
/// the next look-up only when the oldest is done: one slow look-up stalls the window.)
pub async fn enrich_all_smol(
    readings: Vec<Reading>,
    lookups: &Lookups,
    limit: usize,
) -> Vec<Enriched> {
    use futures::stream::{self, StreamExt};
    let answers = stream::iter(readings.into_iter().enumerate())
        .map(|(place, reading)| async move { (place, lookups.look_up_smol(reading).await) })
        .buffer_unordered(limit)
        .collect()
        .await;
    in_input_order(answers)
}
// ANCHOR_END: solution_smol

/// The answers, each put back at its reading's place.
fn in_input_order(mut answers: Vec<(usize, Enriched)>) -> Vec<Enriched> {
    answers.sort_unstable_by_key(|(place, _)| *place);
    answers.into_iter().map(|(_, answer)| answer).collect()
}

// The checks: one file, shared with the solution crate (its `tests` folder links to this one).
#[cfg(test)]
#[path = "../tests/checks.rs"]
mod checks;

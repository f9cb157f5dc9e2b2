//! # Exercise 02 — from one look-up at a time to Little's limit (chapter 2)
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

use std::sync::Arc;

use ch02_waiting_well::exercise::Lookups;
use pipeline::{Enriched, Reading};

// ANCHOR: task_tokio
// TODO(1): one look-up at a time. Keep `limit` in flight; answers in the order of `readings`.
pub async fn enrich_all_tokio(
    readings: Vec<Reading>,
    lookups: Arc<Lookups>,
    limit: usize,
) -> Vec<Enriched> {
    let _ = limit; // TODO(1): use it
    let mut enriched = Vec::with_capacity(readings.len());
    for reading in readings {
        enriched.push(lookups.look_up_tokio(reading).await);
    }
    enriched
}
// ANCHOR_END: task_tokio

// ANCHOR: task_smol
// TODO(2): the same on smol's timer, without spawning a task.
pub async fn enrich_all_smol(
    readings: Vec<Reading>,
    lookups: &Lookups,
    limit: usize,
) -> Vec<Enriched> {
    let _ = limit; // TODO(2): use it
    let mut enriched = Vec::with_capacity(readings.len());
    for reading in readings {
        enriched.push(lookups.look_up_smol(reading).await);
    }
    enriched
}
// ANCHOR_END: task_smol

// The checks: one file, shared with the solution crate (its `tests` folder links to this one).
#[cfg(test)]
#[path = "../tests/checks.rs"]
mod checks;

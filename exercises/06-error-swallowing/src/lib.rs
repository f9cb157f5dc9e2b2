//! # Exercise 06 — nothing lost without a word (chapter 6)
//!
//! The registry fails for some sensors and panics for one reading (the seeded fault plan
//! from `instruments`). The code below "works": it finishes and returns `Ok`. But readings vanish.
//!
//! 1. **`enrich_batch`** — every reading must come out of it: accepted, or rejected with its
//!    reason. A failed look-up is a rejection (`enrich_with` does it); a *panicking* look-up
//!    must cost that one reading, rejected as `LookupError::Panicked`. (~5 min)
//! 2. **tokio** — `enrich_all_tokio`: nobody joins the tasks, so if one dies, its readings are
//!    gone and the function still returns `Ok`. Join every task; a task that panicked must
//!    make the function return `Err(PipelineError::StagePanicked { .. })`. (~7 min)
//! 3. **smol** — `enrich_all_smol`: the same. Careful: awaiting a smol task that panicked
//!    re-raises the panic in the awaiter. (~7 min)
//! 4. **writer** — `write_all_tokio`: the batches go through a channel to a writer task, and
//!    the writer can fail (disk full) or panic. As shipped, the producer shrugs off every
//!    failed send and never asks the writer how it ended: it returns `Ok` with nothing
//!    written. Stop when the writer is gone, and return *its* error, the real reason. (~8 min)
//!
//! The runs, the fault plan and the writer are the harness's (`ch06_error_swallowing::exercise`).
//!
//! Check: `cargo test -p ex06-error-swallowing` (or `cargo run --release -- check 06`).
//! Stuck: `cargo run --release -- hint 06`. Don't change the harness or the checks.
#![forbid(unsafe_code)]

use std::sync::Arc;

use ch06_error_swallowing::exercise::{BatchWork, BatchWriter, Batches, WRITE_QUEUE};
use ch06_error_swallowing::lookup::batches;
use instruments::FaultPlan;
use pipeline::{Aggregator, Enriched, Parsed, PipelineError, Registry, enrich_with};
use smol::Executor;

// ANCHOR: task_batch
// TODO(1): a failed look-up makes the reading vanish, and a panicking one takes the caller down.
pub fn enrich_batch(
    batch: Vec<Parsed>,
    registry: &dyn Registry,
    plan: &FaultPlan,
) -> Vec<Enriched> {
    let mut enriched = Vec::new();
    for parsed in batch {
        match parsed {
            Err(rejection) => enriched.push(Err(rejection)),
            Ok(reading) => {
                if let Ok(info) = plan.lookup(registry, &reading) {
                    enriched.push(enrich_with(reading, Ok(info)));
                }
            }
        }
    }
    enriched
}
// ANCHOR_END: task_batch

// ANCHOR: task_tokio
// TODO(2): nobody hears of a task that dies. Join every task, and turn a panic into an error.
pub async fn enrich_all_tokio(
    parts: Vec<Vec<Parsed>>,
    work: BatchWork,
    batch_size: usize,
) -> Result<Aggregator, PipelineError> {
    let (results, mut received) = tokio::sync::mpsc::unbounded_channel();
    for part in parts {
        let (results, work) = (results.clone(), Arc::clone(&work));
        tokio::spawn(async move {
            for batch in batches(part, batch_size) {
                results.send(work(batch)).ok();
            }
        });
    }
    drop(results);
    let mut aggregator = Aggregator::new();
    while let Some(enriched) = received.recv().await {
        aggregator.add_batch(enriched);
    }
    Ok(aggregator)
}
// ANCHOR_END: task_tokio

// ANCHOR: task_smol
// TODO(3): the same on smol. Awaiting a task that panicked re-raises the panic.
pub async fn enrich_all_smol(
    executor: &Executor<'static>,
    parts: Vec<Vec<Parsed>>,
    work: BatchWork,
    batch_size: usize,
) -> Result<Aggregator, PipelineError> {
    let (results, received) = smol::channel::unbounded();
    for part in parts {
        let (results, work) = (results.clone(), Arc::clone(&work));
        executor
            .spawn(async move {
                for batch in batches(part, batch_size) {
                    results.send(work(batch)).await.ok();
                }
            })
            .detach();
    }
    drop(results);
    let mut aggregator = Aggregator::new();
    while let Ok(enriched) = received.recv().await {
        aggregator.add_batch(enriched);
    }
    Ok(aggregator)
}
// ANCHOR_END: task_smol

// ANCHOR: task_writer
// TODO(4): every failed send is shrugged off, and how the writer ended is never asked. When
// the writer is gone, a send fails: stop there. Then the writer's handle says why it stopped.
pub async fn write_all_tokio(
    batches: Batches,
    mut writer: BatchWriter,
) -> Result<(), PipelineError> {
    let (to_writer, mut from_producer) = tokio::sync::mpsc::channel::<Vec<Enriched>>(WRITE_QUEUE);
    let writing = tokio::spawn(async move {
        while let Some(batch) = from_producer.recv().await {
            writer.write(batch)?;
        }
        Ok::<(), PipelineError>(())
    });
    for batch in batches {
        let _ = to_writer.send(batch).await;
    }
    drop(to_writer);
    let _ = writing.await;
    Ok(())
}
// ANCHOR_END: task_writer

// The checks: one file, shared with the solution crate (its `tests` folder links to this one).
#[cfg(test)]
#[path = "../tests/checks.rs"]
mod checks;

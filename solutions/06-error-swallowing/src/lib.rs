//! # Exercise 06 — nothing lost without a word (chapter 6): SOLUTION
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

// ANCHOR: solution_batch
/// Every reading comes out. A failed look-up becomes a rejection with its reason; a panicking
/// one is caught at the reading and rejected as "look-up panicked".
pub fn enrich_batch(
    batch: Vec<Parsed>,
    registry: &dyn Registry,
    plan: &FaultPlan,
) -> Vec<Enriched> {
    batch
        .into_iter()
        .map(|parsed| {
            let reading = parsed?;
            let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                plan.lookup(registry, &reading)
            }))
            .unwrap_or(Err(pipeline::LookupError::Panicked));
            enrich_with(reading, found)
        })
        .collect()
}
// ANCHOR_END: solution_batch

// ANCHOR: solution_tokio
/// Every task in a `JoinSet`, each returning its share's aggregate through its handle; a panic
/// comes back as a `JoinError`.
pub async fn enrich_all_tokio(
    parts: Vec<Vec<Parsed>>,
    work: BatchWork,
    batch_size: usize,
) -> Result<Aggregator, PipelineError> {
    let mut tasks = tokio::task::JoinSet::new();
    for part in parts {
        let work = Arc::clone(&work);
        tasks.spawn(async move {
            let mut aggregator = Aggregator::new();
            for batch in batches(part, batch_size) {
                aggregator.add_batch(work(batch));
            }
            aggregator
        });
    }
    let mut aggregator = Aggregator::new();
    while let Some(joined) = tasks.join_next().await {
        let part = joined.map_err(|e| PipelineError::StagePanicked {
            stage: "enrich",
            message: e.to_string(),
        })?;
        aggregator.merge(part);
    }
    Ok(aggregator)
}
// ANCHOR_END: solution_tokio

// ANCHOR: solution_smol
/// Every task kept and awaited under `catch_unwind`, because awaiting a smol task that
/// panicked re-raises the panic here.
pub async fn enrich_all_smol(
    executor: &Executor<'static>,
    parts: Vec<Vec<Parsed>>,
    work: BatchWork,
    batch_size: usize,
) -> Result<Aggregator, PipelineError> {
    use futures::FutureExt;
    let mut tasks = Vec::new();
    for part in parts {
        let work = Arc::clone(&work);
        tasks.push(executor.spawn(async move {
            let mut aggregator = Aggregator::new();
            for batch in batches(part, batch_size) {
                aggregator.add_batch(work(batch));
            }
            aggregator
        }));
    }
    let mut aggregator = Aggregator::new();
    for task in tasks {
        let part = std::panic::AssertUnwindSafe(task)
            .catch_unwind()
            .await
            .map_err(|payload| PipelineError::StagePanicked {
                stage: "enrich",
                message: pipeline::panic_message(&*payload),
            })?;
        aggregator.merge(part);
    }
    Ok(aggregator)
}
// ANCHOR_END: solution_smol

// ANCHOR: solution_writer
/// A failed send means the writer has dropped its end: it is gone, and sending more is
/// pointless, so stop. Whatever the sends said, the writer's handle has the real story: its own
/// error (disk full), or the panic that killed it.
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
        if to_writer.send(batch).await.is_err() {
            break; // the writer is gone; its handle says why
        }
    }
    drop(to_writer);
    writing.await.map_err(|e| PipelineError::StagePanicked {
        stage: "write",
        message: e.to_string(),
    })?
}
// ANCHOR_END: solution_writer

// The checks: one file, shared with the solution crate (its `tests` folder links to this one).
#[cfg(test)]
#[path = "../tests/checks.rs"]
mod checks;

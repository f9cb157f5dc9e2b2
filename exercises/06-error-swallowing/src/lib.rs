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
//!
//! Check: `cargo test -p ex06-error-swallowing` (or `cargo run --release -- check 06`).
//! Stuck: `cargo run --release -- hint 06`. Don't change the harness or the checks.
#![forbid(unsafe_code)]

use std::sync::Arc;

use ch06_error_swallowing::lookup::batches;
use instruments::FaultPlan;
use pipeline::{
    Aggregator, Config, Enriched, Input, Parsed, PipelineError, Registry, Report, Work,
    enrich_with, finish,
};
use smol::Executor;

/// The enrich stage's work on one batch, as the tasks below call it. (The checks swap in a
/// version with a bug that panics outside the look-up, to see whether anyone notices.)
pub type BatchWork = Arc<dyn Fn(Vec<Parsed>) -> Vec<Enriched> + Send + Sync>;

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

// ---------------------------------------------------------------------------------------------
// The harness. You should not need to change anything below.
// ---------------------------------------------------------------------------------------------

/// Which runtime a run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    Tokio,
    Smol,
}

/// The pipeline with your enrich stage: `work` is your `enrich_batch` unless the checks swap
/// in another.
pub fn run_with(
    runtime: Runtime,
    input: &Input,
    cfg: &Config,
    work: BatchWork,
) -> Result<Report, PipelineError> {
    cfg.validate()?;
    let sink = cfg.sink.open()?;
    let Work { lines_read, parts } = Work::split(input, cfg, cfg.worker_threads);
    let aggregator = match runtime {
        Runtime::Tokio => {
            runtimes::tokio_runtime(cfg)?.block_on(enrich_all_tokio(parts, work, cfg.batch_size))?
        }
        Runtime::Smol => {
            runtimes::with_smol_executor(cfg.worker_threads, "ex06-smol-worker", |executor| {
                smol::block_on(enrich_all_smol(executor, parts, work, cfg.batch_size))
            })?
        }
    };
    finish(lines_read, aggregator, sink)
}

/// Your `enrich_batch` against `cfg.registry` under `plan`.
pub fn your_work(cfg: &Config, plan: &FaultPlan) -> BatchWork {
    let (registry, plan) = (Arc::clone(&cfg.registry), plan.clone());
    Arc::new(move |batch| enrich_batch(batch, &*registry, &plan))
}

// The checks: one file, shared with the solution crate (its `tests` folder links to this one).
#[cfg(test)]
#[path = "../tests/checks.rs"]
mod checks;

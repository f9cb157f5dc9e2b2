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

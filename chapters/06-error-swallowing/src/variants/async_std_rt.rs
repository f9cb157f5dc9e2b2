//! Chapter 6, **async-std** variant: `task::spawn` with the handles dropped (broken), or every
//! `JoinHandle` awaited under `catch_unwind`, since awaiting a panicked task re-raises (fixed).
//!
//! async-std is discontinued (RUSTSEC-2025-0052); it stays here as the real case of ecosystem
//! lock-in. New code should use smol, which async-std was built on.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use async_std::channel;
use async_std::task;
use futures::FutureExt;

use instruments::{FaultPlan, Signals};
use pipeline::{
    Aggregator, Config, Input, Parsed, PipelineError, Registry, Report, Work, panic_message,
};

use crate::Handles;
use crate::lookup::{batches, enrich_guarded, enrich_swallowing};
use crate::outcome::{Outcome, dead_letter_path, deliver, deliver_swallowing};

/// The fixed pipeline without faults, for the tour and the tests.
pub fn run(input: &Input, cfg: &Config) -> Result<Report, PipelineError> {
    run_with(Handles::Joined, input, cfg, &FaultPlan::none()).map(|outcome| outcome.report)
}

/// FIXED, under the demo's fault plan.
pub fn fixed_swallowed_errors(
    input: &Input,
    cfg: &Config,
    _signals: &Signals,
) -> Result<Report, PipelineError> {
    run_with(Handles::Joined, input, cfg, &crate::demo_plan(input)).map(|outcome| outcome.report)
}

/// BROKEN ON PURPOSE, under the demo's fault plan.
pub fn broken_swallowed_errors(
    input: &Input,
    cfg: &Config,
    _signals: &Signals,
) -> Result<Report, PipelineError> {
    run_with(Handles::Dropped, input, cfg, &crate::demo_plan(input)).map(|outcome| outcome.report)
}

/// The pipeline under `plan`, its tasks' handles dropped (broken) or joined (fixed).
pub fn run_with(
    handles: Handles,
    input: &Input,
    cfg: &Config,
    plan: &FaultPlan,
) -> Result<Outcome, PipelineError> {
    cfg.validate()?;
    let (sink, ledger) = plan.sink(cfg.sink.open()?);
    let Work { lines_read, parts } = Work::split(input, cfg, cfg.worker_threads);
    let (registry, plan) = (Arc::clone(&cfg.registry), Arc::new(plan.clone()));
    match handles {
        // BROKEN ON PURPOSE: fire-and-forget tasks, swallowed errors.
        Handles::Dropped => {
            let aggregator = task::block_on(enrich_detached(parts, registry, plan, cfg.batch_size));
            Ok(deliver_swallowing(lines_read, aggregator, sink, &ledger))
        }
        // FIXED: every task joined, every failure accounted for.
        Handles::Joined => {
            let aggregator = task::block_on(enrich_joined(parts, registry, plan, cfg.batch_size))?;
            let dead_letters = dead_letter_path(&cfg.sink);
            deliver(
                lines_read,
                aggregator,
                sink,
                &ledger,
                dead_letters.as_deref(),
            )
        }
    }
}

// ANCHOR: broken
/// BROKEN ON PURPOSE: each task's handle is dropped on the spot, which in async-std *detaches*
/// the task. If it panics, the panic is printed and heard of by nobody; its sender is dropped
/// as it unwinds, so the loop below ends normally.
async fn enrich_detached(
    parts: Vec<Vec<Parsed>>,
    registry: Arc<dyn Registry>,
    plan: Arc<FaultPlan>,
    batch_size: usize,
) -> Aggregator {
    let (results, received) = channel::unbounded();
    for part in parts {
        let (results, registry, plan) = (results.clone(), Arc::clone(&registry), Arc::clone(&plan));
        task::spawn(async move {
            for batch in batches(part, batch_size) {
                let enriched = enrich_swallowing(batch, &*registry, &plan);
                results.send(enriched).await.ok(); // nobody would hear of a failure anyway
            }
        });
    }
    drop(results);
    let mut aggregator = Aggregator::new();
    while let Ok(enriched) = received.recv().await {
        aggregator.add_batch(enriched);
    }
    aggregator
}
// ANCHOR_END: broken

// ANCHOR: fixed
/// FIXED: every `JoinHandle` is kept and awaited; each returns its share's aggregate — the
/// handle is the channel for the result *and* for the failure. Awaiting a task that panicked
/// re-raises the panic in the awaiter, so the await runs under `catch_unwind`.
async fn enrich_joined(
    parts: Vec<Vec<Parsed>>,
    registry: Arc<dyn Registry>,
    plan: Arc<FaultPlan>,
    batch_size: usize,
) -> Result<Aggregator, PipelineError> {
    let mut tasks = Vec::new();
    for part in parts {
        let (registry, plan) = (Arc::clone(&registry), Arc::clone(&plan));
        tasks.push(task::spawn(async move {
            let mut aggregator = Aggregator::new();
            for batch in batches(part, batch_size) {
                aggregator.add_batch(enrich_guarded(batch, &*registry, &plan));
            }
            aggregator
        }));
    }
    let mut aggregator = Aggregator::new();
    for task in tasks {
        let joined = AssertUnwindSafe(task).catch_unwind().await;
        aggregator.merge(joined.map_err(stage_failed)?);
    }
    Ok(aggregator)
}
// ANCHOR_END: fixed

fn stage_failed(payload: Box<dyn std::any::Any + Send>) -> PipelineError {
    PipelineError::StagePanicked {
        stage: "enrich",
        message: panic_message(&*payload),
    }
}

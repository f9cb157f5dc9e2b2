//! Chapter 6, **smol** variant: `spawn(..).detach()` (broken — merely dropping a smol `Task`
//! would cancel it), or every `Task` awaited under `catch_unwind`, since awaiting a panicked
//! task re-raises (fixed).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt;
use smol::Executor;
use smol::channel;

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
            let aggregator =
                runtimes::with_smol_executor(cfg.worker_threads, "ch06-smol-worker", |ex| {
                    Ok(smol::block_on(enrich_detached(
                        ex,
                        parts,
                        registry,
                        plan,
                        cfg.batch_size,
                    )))
                })?;
            Ok(deliver_swallowing(lines_read, aggregator, sink, &ledger))
        }
        // FIXED: every task joined, every failure accounted for.
        Handles::Joined => {
            let aggregator =
                runtimes::with_smol_executor(cfg.worker_threads, "ch06-smol-worker", |ex| {
                    smol::block_on(enrich_joined(ex, parts, registry, plan, cfg.batch_size))
                })?;
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
/// BROKEN ON PURPOSE: each task is `detach`ed — smol's way to fire and forget, since dropping
/// a `Task` cancels it. A detached task that panics is gone without a word; its sender is
/// dropped as it unwinds, so the loop below ends normally.
async fn enrich_detached(
    executor: &Executor<'static>,
    parts: Vec<Vec<Parsed>>,
    registry: Arc<dyn Registry>,
    plan: Arc<FaultPlan>,
    batch_size: usize,
) -> Aggregator {
    let (results, received) = channel::unbounded();
    for part in parts {
        let (results, registry, plan) = (results.clone(), Arc::clone(&registry), Arc::clone(&plan));
        executor
            .spawn(async move {
                for batch in batches(part, batch_size) {
                    let enriched = enrich_swallowing(batch, &*registry, &plan);
                    results.send(enriched).await.ok(); // nobody would hear of a failure anyway
                }
            })
            .detach();
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
/// FIXED: every `Task` is kept and awaited; each returns its share's aggregate — the task is
/// the channel for the result *and* for the failure. Awaiting a task that panicked re-raises
/// the panic in the awaiter, so the await runs under `catch_unwind`.
async fn enrich_joined(
    executor: &Executor<'static>,
    parts: Vec<Vec<Parsed>>,
    registry: Arc<dyn Registry>,
    plan: Arc<FaultPlan>,
    batch_size: usize,
) -> Result<Aggregator, PipelineError> {
    let mut tasks = Vec::new();
    for part in parts {
        let (registry, plan) = (Arc::clone(&registry), Arc::clone(&plan));
        tasks.push(executor.spawn(async move {
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

//! Chapter 6, **tokio** variant: `tokio::spawn` with the handles dropped (broken), or a
//! `JoinSet` whose every task is joined, a panic coming back as a `JoinError` (fixed).

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use instruments::{FaultPlan, Signals};
use pipeline::{Aggregator, Config, Input, Parsed, PipelineError, Registry, Report, Work};
use runtimes::tokio_joined;

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
    let runtime = runtimes::tokio_runtime(cfg)?;
    match handles {
        // BROKEN ON PURPOSE: fire-and-forget tasks, swallowed errors.
        Handles::Dropped => {
            let aggregator =
                runtime.block_on(enrich_detached(parts, registry, plan, cfg.batch_size));
            Ok(deliver_swallowing(lines_read, aggregator, sink, &ledger))
        }
        // FIXED: every task joined, every failure accounted for.
        Handles::Joined => {
            let aggregator =
                runtime.block_on(enrich_joined(parts, registry, plan, cfg.batch_size))?;
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
/// BROKEN ON PURPOSE: each task's handle is dropped on the spot, which in tokio *detaches* the
/// task: it runs on, and if it panics, the panic is caught by the runtime, printed, and heard
/// of by nobody. Its sender is dropped as it unwinds, so the loop below ends normally.
async fn enrich_detached(
    parts: Vec<Vec<Parsed>>,
    registry: Arc<dyn Registry>,
    plan: Arc<FaultPlan>,
    batch_size: usize,
) -> Aggregator {
    let (results, mut received) = mpsc::unbounded_channel();
    for part in parts {
        let (results, registry, plan) = (results.clone(), Arc::clone(&registry), Arc::clone(&plan));
        tokio::spawn(async move {
            for batch in batches(part, batch_size) {
                let enriched = enrich_swallowing(batch, &*registry, &plan);
                results.send(enriched).ok(); // nobody would hear of a failure anyway
            }
        });
    }
    drop(results);
    let mut aggregator = Aggregator::new();
    while let Some(enriched) = received.recv().await {
        aggregator.add_batch(enriched);
    }
    aggregator
}
// ANCHOR_END: broken

// ANCHOR: fixed
/// FIXED: the tasks live in a `JoinSet`, and each returns its share's aggregate through its
/// handle — the handle is the channel for the result *and* for the failure. A panic that
/// escapes a task anyway (a bug outside the guarded look-up) comes back as a `JoinError`.
async fn enrich_joined(
    parts: Vec<Vec<Parsed>>,
    registry: Arc<dyn Registry>,
    plan: Arc<FaultPlan>,
    batch_size: usize,
) -> Result<Aggregator, PipelineError> {
    let mut tasks = JoinSet::new();
    for part in parts {
        let (registry, plan) = (Arc::clone(&registry), Arc::clone(&plan));
        tasks.spawn(async move {
            let mut aggregator = Aggregator::new();
            for batch in batches(part, batch_size) {
                aggregator.add_batch(enrich_guarded(batch, &*registry, &plan));
            }
            aggregator
        });
    }
    let mut aggregator = Aggregator::new();
    while let Some(joined) = tasks.join_next().await {
        aggregator.merge(tokio_joined("enrich", joined)?);
    }
    Ok(aggregator)
}
// ANCHOR_END: fixed

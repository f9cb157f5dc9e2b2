//! Chapter 6, **sync** variant: `thread::spawn` with the handles dropped (broken), or scoped
//! threads whose every `join()` is checked, a panic coming back as `Err(payload)` (fixed).

use std::sync::Arc;
use std::sync::mpsc;
use std::thread;

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

/// The pipeline under `plan`, its threads' handles dropped (broken) or joined (fixed).
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
        // BROKEN ON PURPOSE: fire-and-forget threads, swallowed errors.
        Handles::Dropped => {
            let aggregator = enrich_detached(parts, registry, plan, cfg.batch_size);
            Ok(deliver_swallowing(lines_read, aggregator, sink, &ledger))
        }
        // FIXED: every thread joined, every failure accounted for.
        Handles::Joined => {
            let aggregator = enrich_joined(parts, registry, plan, cfg.batch_size)?;
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
/// BROKEN ON PURPOSE: each thread's `JoinHandle` is dropped on the spot, which detaches the
/// thread. If it panics, the default hook prints the message to stderr and the thread is gone;
/// its sender is dropped as it unwinds, so the loop below ends normally.
fn enrich_detached(
    parts: Vec<Vec<Parsed>>,
    registry: Arc<dyn Registry>,
    plan: Arc<FaultPlan>,
    batch_size: usize,
) -> Aggregator {
    let (results, received) = mpsc::channel();
    for part in parts {
        let (results, registry, plan) = (results.clone(), Arc::clone(&registry), Arc::clone(&plan));
        thread::spawn(move || {
            for batch in batches(part, batch_size) {
                let enriched = enrich_swallowing(batch, &*registry, &plan);
                results.send(enriched).ok(); // nobody would hear of a failure anyway
            }
        });
    }
    drop(results);
    let mut aggregator = Aggregator::new();
    for enriched in received {
        aggregator.add_batch(enriched);
    }
    aggregator
}
// ANCHOR_END: broken

// ANCHOR: fixed
/// FIXED: scoped threads, each returning its share's aggregate through its handle — the
/// handle is the channel for the result *and* for the failure. A panic that escapes a thread
/// anyway (a bug outside the guarded look-up) comes back from `join()` as `Err(payload)`.
fn enrich_joined(
    parts: Vec<Vec<Parsed>>,
    registry: Arc<dyn Registry>,
    plan: Arc<FaultPlan>,
    batch_size: usize,
) -> Result<Aggregator, PipelineError> {
    thread::scope(|s| {
        let mut tasks = Vec::new();
        for part in parts {
            let (registry, plan) = (Arc::clone(&registry), Arc::clone(&plan));
            let task = thread::Builder::new()
                .name("ch06-enrich".into())
                .spawn_scoped(s, move || {
                    let mut aggregator = Aggregator::new();
                    for batch in batches(part, batch_size) {
                        aggregator.add_batch(enrich_guarded(batch, &*registry, &plan));
                    }
                    aggregator
                })
                .map_err(|source| PipelineError::Start {
                    what: "an enrich thread",
                    source,
                })?;
            tasks.push(task);
        }
        let mut aggregator = Aggregator::new();
        for task in tasks {
            aggregator.merge(task.join().map_err(stage_failed)?);
        }
        Ok(aggregator)
    })
}
// ANCHOR_END: fixed

fn stage_failed(payload: Box<dyn std::any::Any + Send>) -> PipelineError {
    PipelineError::StagePanicked {
        stage: "enrich",
        message: panic_message(&*payload),
    }
}

//! tokio's runtime metrics, read while the pipeline runs: how many workers, how many tasks are
//! alive, how deep the global queue is.
//!
//! `Handle::metrics()` returns a `RuntimeMetrics`; these three readings are stable API (no
//! `tokio_unstable` flag), cheap (a few atomic loads), and answer the first profiling questions:
//! is the runtime the size I think, are tasks piling up (alive tasks growing without bound is
//! chapter 5's explosion), and is work waiting for a worker (a deep global queue means tasks
//! are spawned faster than workers pick them up, or a worker is blocked — chapter 8).
//!
//! The sampler is a task of its own on an interval, beside the pipeline: it reads, it never
//! waits on the pipeline, and it stops when the pipeline's handle is ready.

use std::time::Duration;

use pipeline::{Config, Input, PipelineError, Report};
use tokio::runtime::{Handle, RuntimeMetrics};

use crate::Setup;
use crate::variants::tokio_rt::run_async;

// ANCHOR: runtime_metrics
/// One reading of a runtime's metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuntimeSample {
    /// Worker threads: fixed when the runtime was built.
    pub workers: usize,
    /// Tasks spawned and not yet finished.
    pub alive_tasks: usize,
    /// Tasks waiting in the global (injection) queue for a worker to take them.
    pub global_queue_depth: usize,
}

impl RuntimeSample {
    pub fn of(metrics: &RuntimeMetrics) -> RuntimeSample {
        RuntimeSample {
            workers: metrics.num_workers(),
            alive_tasks: metrics.num_alive_tasks(),
            global_queue_depth: metrics.global_queue_depth(),
        }
    }
}

/// Runs the chapter's tokio pipeline as a task and samples the runtime every `every` until it
/// is done: once right after the spawn, then on each tick.
pub fn run_sampled(
    input: &Input,
    cfg: &Config,
    setup: &Setup,
    every: Duration,
) -> Result<(Report, Vec<RuntimeSample>), PipelineError> {
    let runtime = runtimes::tokio_runtime(cfg)?;
    let (input, cfg, setup) = (input.clone(), cfg.clone(), setup.clone());
    runtime.block_on(async move {
        let mut pipeline = tokio::spawn(async move { run_async(&input, &cfg, &setup).await });
        let metrics = Handle::current().metrics();
        let mut samples = vec![RuntimeSample::of(&metrics)];
        let mut ticks = tokio::time::interval(every);
        let report = loop {
            tokio::select! {
                joined = &mut pipeline => break joined,
                _ = ticks.tick() => samples.push(RuntimeSample::of(&metrics)),
            }
        };
        Ok((runtimes::tokio_joined("pipeline", report)??, samples))
    })
}
// ANCHOR_END: runtime_metrics

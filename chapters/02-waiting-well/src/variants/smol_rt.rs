//! Chapter 2, **smol** variant: `cfg.concurrency` tasks on a `smol::Executor` driven by
//! `cfg.worker_threads` threads of our own. Each waits for its look-up with `smol::Timer`: the
//! task is parked and its thread runs another task meanwhile.
//!
//! smol's timer is async-io's, which wakes close to the deadline (on Linux, a timerfd: not
//! rounded to a millisecond).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_lite::FutureExt;
use smol::{Executor, Timer};

use instruments::Gauge;
use pipeline::{
    Aggregator, Config, Enriched, Input, PipelineError, Registry, Report, Work, enrich, finish,
    joined,
};

use crate::registry::latency;
use crate::{LOOKUPS_IN_FLIGHT, WorkQueue};

// ANCHOR: run
/// Runs the pipeline with `cfg.concurrency` look-ups in flight.
pub fn run(input: &Input, cfg: &Config) -> Result<Report, PipelineError> {
    run_watched(input, cfg, &Gauge::new(LOOKUPS_IN_FLIGHT))
}

/// The same, entering `in_flight` for every look-up it waits on.
pub fn run_watched(
    input: &Input,
    cfg: &Config,
    in_flight: &Gauge,
) -> Result<Report, PipelineError> {
    cfg.validate()?;
    let sink = cfg.sink.open()?;
    let Work { lines_read, parts } = Work::split(input, cfg, 1);
    let queue = Arc::new(WorkQueue::new(parts.into_iter().flatten().collect()));
    let aggregator = runtimes::with_smol_executor(cfg.worker_threads, "ch02-smol", |executor| {
        smol::block_on(enrich_concurrently(
            executor,
            queue,
            Arc::clone(&cfg.registry),
            in_flight.clone(),
            cfg.concurrency,
        ))
    })?;
    finish(lines_read, aggregator, sink)
}
// ANCHOR_END: run

// ANCHOR: look_up
/// One look-up: wait out the registry's latency — parking this task — then take the answer.
async fn look_up(registry: &dyn Registry, in_flight: &Gauge, record: pipeline::Parsed) -> Enriched {
    let reading = record?;
    let _in_flight = in_flight.enter();
    Timer::after(latency(reading.line)).await;
    enrich(registry, reading)
}
// ANCHOR_END: look_up

// ANCHOR: fan_out
/// Starts `concurrency` workers on `executor`, waits for all of them, merges what they
/// aggregated.
pub async fn enrich_concurrently(
    executor: &Executor<'static>,
    queue: Arc<WorkQueue>,
    registry: Arc<dyn Registry>,
    in_flight: Gauge,
    concurrency: usize,
) -> Result<Aggregator, PipelineError> {
    let mut workers = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        // A task must own what it uses ('static): each gets its own handles (cheap `Arc`s).
        let (queue, registry, in_flight) =
            (Arc::clone(&queue), Arc::clone(&registry), in_flight.clone());
        // A panicking smol task re-raises its panic in the awaiter: catch it instead. (And
        // every task is awaited: dropping a smol `Task` would cancel it.)
        workers.push(
            executor.spawn(
                AssertUnwindSafe(async move { worker(&queue, &*registry, &in_flight).await })
                    .catch_unwind(),
            ),
        );
    }
    let mut total = Aggregator::new();
    for worker in workers {
        total.merge(joined("enrich", worker.await.map(Ok))?);
    }
    Ok(total)
}

/// One worker: takes the next reading, looks it up, until the queue is empty.
async fn worker(queue: &WorkQueue, registry: &dyn Registry, in_flight: &Gauge) -> Aggregator {
    let mut aggregator = Aggregator::new();
    while let Some(record) = queue.next() {
        aggregator.add(look_up(registry, in_flight, record).await);
    }
    aggregator
}
// ANCHOR_END: fan_out

//! Chapter 2, **tokio** variant: `cfg.concurrency` tasks on a runtime with `cfg.worker_threads`
//! worker threads. Each waits for its look-up with `tokio::time::sleep`: the task is parked and
//! its worker thread runs another task meanwhile.
//!
//! `C` look-ups in flight cost `C` tasks: a few hundred bytes each, no kernel object, no
//! context switch. What limits it is the worker threads' CPU time (every wake-up is work) — and,
//! in a real system, what the registry can take. tokio's timer works at millisecond granularity
//! and rounds deadlines up, so each sleep lasts up to about 1 ms longer than asked: see
//! `registry.rs`.

use std::sync::Arc;

use instruments::Gauge;
use pipeline::{
    Aggregator, Config, Enriched, Input, PipelineError, Registry, Report, Work, enrich, finish,
};
use runtimes::tokio_joined;

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
    let runtime = runtimes::tokio_runtime(cfg)?;
    let aggregator = runtime.block_on(enrich_concurrently(
        queue,
        Arc::clone(&cfg.registry),
        in_flight.clone(),
        cfg.concurrency,
    ))?;
    finish(lines_read, aggregator, sink)
}
// ANCHOR_END: run

// ANCHOR: look_up
/// One look-up: wait out the registry's latency — parking this task — then take the answer.
async fn look_up(registry: &dyn Registry, in_flight: &Gauge, record: pipeline::Parsed) -> Enriched {
    let reading = record?;
    let _in_flight = in_flight.enter();
    tokio::time::sleep(latency(reading.line)).await;
    enrich(registry, reading)
}
// ANCHOR_END: look_up

// ANCHOR: fan_out
/// Starts `concurrency` workers, waits for all of them, merges what they aggregated. Runs on
/// any tokio runtime.
pub async fn enrich_concurrently(
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
        workers.push(tokio::spawn(async move {
            worker(&queue, &*registry, &in_flight).await
        }));
    }
    let mut total = Aggregator::new();
    for worker in workers {
        total.merge(tokio_joined("enrich", worker.await)?);
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

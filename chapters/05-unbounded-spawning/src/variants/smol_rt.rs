//! Chapter 5, **smol** variant: a task per reading on the executor (broken), or
//! `for_each_concurrent` (fixed): at most `limit` look-ups at once, all inside one task.

use std::cell::RefCell;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{self, StreamExt};
use smol::{Executor, Timer};

use instruments::{Gauge, Signals};
use pipeline::{
    Aggregator, Config, Enriched, Input, Parsed, PipelineError, Progress, Report, Work,
    enrich_with, finish,
};

use crate::registry::{REGISTRY_LATENCY, SlowRegistry, TASKS_IN_FLIGHT};

/// The fixed pipeline, for the tour and the tests.
pub fn run(input: &Input, cfg: &Config) -> Result<Report, PipelineError> {
    fixed_unbounded_spawn(input, cfg, &Signals::new(&crate::WATCH))
}

/// FIXED: at most `cfg.concurrency` look-ups in flight.
pub fn fixed_unbounded_spawn(
    input: &Input,
    cfg: &Config,
    signals: &Signals,
) -> Result<Report, PipelineError> {
    pipeline(Limit::Bounded, input, cfg, signals, REGISTRY_LATENCY)
}

/// BROKEN ON PURPOSE: a task per reading, all at once.
pub fn broken_unbounded_spawn(
    input: &Input,
    cfg: &Config,
    signals: &Signals,
) -> Result<Report, PipelineError> {
    broken_unbounded_spawn_with_latency(input, cfg, signals, REGISTRY_LATENCY)
}

/// The broken pipeline against a registry with the given latency (the tests use a long one, so
/// that the outcome cannot depend on how fast this machine spawns).
pub fn broken_unbounded_spawn_with_latency(
    input: &Input,
    cfg: &Config,
    signals: &Signals,
    latency: Duration,
) -> Result<Report, PipelineError> {
    pipeline(Limit::Unbounded, input, cfg, signals, latency)
}

#[derive(Debug, Clone, Copy)]
enum Limit {
    Unbounded,
    Bounded,
}

fn pipeline(
    limit: Limit,
    input: &Input,
    cfg: &Config,
    signals: &Signals,
    latency: Duration,
) -> Result<Report, PipelineError> {
    cfg.validate()?;
    let sink = cfg.sink.open()?;
    let Work { lines_read, parts } = Work::split(input, cfg, 1);
    let records = parts.into_iter().flatten().collect();
    let registry = Arc::new(SlowRegistry::new(
        Arc::clone(&cfg.registry),
        latency,
        signals,
    ));
    let in_flight = signals.gauge(TASKS_IN_FLIGHT).clone();
    let aggregator =
        runtimes::with_smol_executor(cfg.worker_threads, "ch05-smol-worker", |executor| {
            smol::block_on(async {
                match limit {
                    Limit::Unbounded => {
                        enrich_unbounded(executor, records, registry, in_flight, &cfg.progress)
                            .await
                    }
                    Limit::Bounded => {
                        enrich_bounded(records, registry, in_flight, cfg.concurrency, &cfg.progress)
                            .await
                    }
                }
            })
        })?;
    finish(lines_read, aggregator, sink)
}

// ANCHOR: enrich_one
/// One look-up: the registry may refuse it; if not, wait out its latency, then take the answer.
async fn enrich_one(record: Parsed, registry: &SlowRegistry) -> Enriched {
    let reading = record?;
    let found = match registry.admit() {
        Ok(ticket) => {
            Timer::after(registry.latency()).await;
            ticket.answer(&reading.sensor_id)
        }
        Err(refused) => Err(refused),
    };
    enrich_with(reading, found)
}
// ANCHOR_END: enrich_one

// ANCHOR: broken
/// BROKEN ON PURPOSE: the loop never waits, so every reading's task is in flight at once.
async fn enrich_unbounded(
    executor: &Executor<'static>,
    records: Vec<Parsed>,
    registry: Arc<SlowRegistry>,
    in_flight: Gauge,
    progress: &Progress,
) -> Result<Aggregator, PipelineError> {
    let mut tasks = Vec::with_capacity(records.len());
    for record in records {
        let (registry, in_flight) = (Arc::clone(&registry), in_flight.enter());
        tasks.push(executor.spawn(async move {
            let enriched = enrich_one(record, &registry).await;
            drop(in_flight);
            enriched
        }));
    }
    let mut aggregator = Aggregator::new();
    for task in tasks {
        aggregator.add(task.await);
        progress.add(1);
    }
    Ok(aggregator)
}
// ANCHOR_END: broken

// ANCHOR: fixed
/// FIXED: `for_each_concurrent(limit, ..)` runs at most `limit` look-ups at once and starts the
/// next only when one finishes. They all run inside this one task, so the aggregator needs no
/// lock: a `RefCell`, borrowed only between `.await`s, is enough.
async fn enrich_bounded(
    records: Vec<Parsed>,
    registry: Arc<SlowRegistry>,
    in_flight: Gauge,
    limit: usize,
    progress: &Progress,
) -> Result<Aggregator, PipelineError> {
    let aggregator = RefCell::new(Aggregator::new());
    let (registry, in_flight, results) = (&*registry, &in_flight, &aggregator);
    stream::iter(records)
        .for_each_concurrent(limit, |record| async move {
            let _in_flight = in_flight.enter();
            let enriched = enrich_one(record, registry).await;
            results.borrow_mut().add(enriched);
            progress.add(1);
        })
        .await;
    Ok(aggregator.into_inner())
}
// ANCHOR_END: fixed

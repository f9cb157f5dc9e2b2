//! Chapter 5, **tokio** variant: a task per reading (broken), or a `Semaphore` permit per task
//! with the tasks in a `JoinSet` that is reaped as they finish (fixed).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use instruments::{Gauge, Signals};
use pipeline::{
    Aggregator, Config, Enriched, Input, Parsed, PipelineError, Progress, Report, Work,
    enrich_with, finish,
};
use runtimes::tokio_joined;

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
    let runtime = runtimes::tokio_runtime(cfg)?;
    let aggregator = runtime.block_on(async {
        match limit {
            Limit::Unbounded => enrich_unbounded(records, registry, in_flight, &cfg.progress).await,
            Limit::Bounded => {
                enrich_bounded(records, registry, in_flight, cfg.concurrency, &cfg.progress).await
            }
        }
    })?;
    finish(lines_read, aggregator, sink)
}

// ANCHOR: enrich_one
/// One look-up: the registry may refuse it; if not, wait out its latency, then take the answer.
async fn enrich_one(record: Parsed, registry: &SlowRegistry) -> Enriched {
    let reading = record?;
    let found = match registry.admit() {
        Ok(ticket) => {
            tokio::time::sleep(registry.latency()).await;
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
    records: Vec<Parsed>,
    registry: Arc<SlowRegistry>,
    in_flight: Gauge,
    progress: &Progress,
) -> Result<Aggregator, PipelineError> {
    let mut tasks = Vec::with_capacity(records.len());
    for record in records {
        let (registry, in_flight) = (Arc::clone(&registry), in_flight.enter());
        tasks.push(tokio::spawn(async move {
            let enriched = enrich_one(record, &registry).await;
            drop(in_flight);
            enriched
        }));
    }
    let mut aggregator = Aggregator::new();
    for task in tasks {
        aggregator.add(tokio_joined("enrich", task.await)?);
        progress.add(1);
    }
    Ok(aggregator)
}
// ANCHOR_END: broken

// ANCHOR: fixed
/// FIXED: a task needs a permit before it is spawned, and there are only `limit` permits, so
/// the loop waits while `limit` look-ups are in flight (backpressure). Finished tasks are
/// reaped as the loop goes, so the `JoinSet` stays at about `limit` tasks too (a task that has
/// given its permit back may not have been reaped yet).
async fn enrich_bounded(
    records: Vec<Parsed>,
    registry: Arc<SlowRegistry>,
    in_flight: Gauge,
    limit: usize,
    progress: &Progress,
) -> Result<Aggregator, PipelineError> {
    let permits = Arc::new(Semaphore::new(limit));
    let mut tasks = JoinSet::new();
    let mut aggregator = Aggregator::new();
    for record in records {
        let permit = Arc::clone(&permits)
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let (registry, in_flight) = (Arc::clone(&registry), in_flight.enter());
        tasks.spawn(async move {
            let enriched = enrich_one(record, &registry).await;
            drop(in_flight); // leave the gauge before the permit lets the next task in
            drop(permit);
            enriched
        });
        while let Some(done) = tasks.try_join_next() {
            aggregator.add(tokio_joined("enrich", done)?);
            progress.add(1);
        }
    }
    while let Some(done) = tasks.join_next().await {
        aggregator.add(tokio_joined("enrich", done)?);
        progress.add(1);
    }
    Ok(aggregator)
}
// ANCHOR_END: fixed

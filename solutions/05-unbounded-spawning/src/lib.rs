//! # Exercise 05 — put a limit on the fan-out (chapter 5): SOLUTION
//!
//! The registry takes a few milliseconds per look-up and refuses requests past its capacity
//! (32 at once). The two functions below start a look-up for every reading at once, so the
//! registry refuses most of them. Give each a limit: at most `limit` look-ups in flight.
//!
//! 1. **tokio** — `enrich_all_tokio`: the tasks may stay tasks; a `tokio::sync::Semaphore`
//!    is the usual tool. Hold the permit for as long as the look-up runs. (~10 min)
//! 2. **smol** — `enrich_all_smol`: do it without spawning at all: `futures::StreamExt` has
//!    `buffer_unordered` and `for_each_concurrent`. (~10 min)
//!
//! Check: `cargo test -p ex05-unbounded-spawning` (or `cargo run --release -- check 05`).
//! Stuck: `cargo run --release -- hint 05`. Don't change the harness or the checks.
#![forbid(unsafe_code)]

use std::sync::Arc;

use ch05_unbounded_spawning::registry::{REGISTRY_LATENCY, SlowRegistry, TASKS_IN_FLIGHT};
use instruments::{InFlight, Signals};
use pipeline::{
    Aggregator, Config, Enriched, Input, Parsed, PipelineError, Progress, Report, Work,
    enrich_with, finish,
};
use smol::Executor;

/// A reading on its way through the enrich stage. It counts as in flight from the moment your
/// code takes it out of `records` until its look-up is done.
pub struct Record {
    parsed: Parsed,
    _in_flight: InFlight,
}

/// The readings, handed out one at a time, as your code asks for them.
pub type Records = Box<dyn Iterator<Item = Record> + Send>;

/// One look-up, on tokio's timer: the registry may refuse it; if not, wait, then answer.
pub async fn lookup_tokio(record: Record, registry: &SlowRegistry) -> Enriched {
    let Record { parsed, _in_flight } = record;
    let reading = parsed?;
    let found = match registry.admit() {
        Ok(ticket) => {
            tokio::time::sleep(registry.latency()).await;
            ticket.answer(&reading.sensor_id)
        }
        Err(refused) => Err(refused),
    };
    enrich_with(reading, found)
}

/// One look-up, on smol's timer.
pub async fn lookup_smol(record: Record, registry: &SlowRegistry) -> Enriched {
    let Record { parsed, _in_flight } = record;
    let reading = parsed?;
    let found = match registry.admit() {
        Ok(ticket) => {
            smol::Timer::after(registry.latency()).await;
            ticket.answer(&reading.sensor_id)
        }
        Err(refused) => Err(refused),
    };
    enrich_with(reading, found)
}

// ANCHOR: solution_tokio
/// At most `limit` look-ups in flight: a task takes a permit before it starts and gives it back
/// when its look-up is done. `acquire_owned` waits while all permits are out (backpressure).
pub async fn enrich_all_tokio(
    records: Records,
    registry: Arc<SlowRegistry>,
    limit: usize,
    progress: &Progress,
) -> Aggregator {
    let permits = Arc::new(tokio::sync::Semaphore::new(limit));
    let mut tasks = tokio::task::JoinSet::new();
    let mut aggregator = Aggregator::new();
    for record in records {
        let permit = Arc::clone(&permits)
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let registry = Arc::clone(&registry);
        tasks.spawn(async move {
            let enriched = lookup_tokio(record, &registry).await;
            drop(permit); // only now may the next look-up start
            enriched
        });
        while let Some(done) = tasks.try_join_next() {
            aggregator.add(done.expect("a look-up task panicked"));
            progress.add(1);
        }
    }
    while let Some(done) = tasks.join_next().await {
        aggregator.add(done.expect("a look-up task panicked"));
        progress.add(1);
    }
    aggregator
}
// ANCHOR_END: solution_tokio

// ANCHOR: solution_smol
/// At most `limit` look-ups polled at once, inside this one task: no spawning, no permits.
pub async fn enrich_all_smol(
    _executor: &Executor<'static>,
    records: Records,
    registry: Arc<SlowRegistry>,
    limit: usize,
    progress: &Progress,
) -> Aggregator {
    use futures::stream::{self, StreamExt};
    let registry = &*registry;
    let mut enriched = stream::iter(records)
        .map(|record| lookup_smol(record, registry))
        .buffer_unordered(limit);
    let mut aggregator = Aggregator::new();
    while let Some(record) = enriched.next().await {
        aggregator.add(record);
        progress.add(1);
    }
    aggregator
}
// ANCHOR_END: solution_smol

// ---------------------------------------------------------------------------------------------
// The harness. You should not need to change anything below.
// ---------------------------------------------------------------------------------------------

/// tokio: a multi-thread runtime with `cfg.worker_threads` workers.
pub fn run_tokio(input: &Input, cfg: &Config, signals: &Signals) -> Result<Report, PipelineError> {
    let (sink, lines_read, parsed, registry) = prepare(input, cfg, signals)?;
    let in_flight = signals.gauge(TASKS_IN_FLIGHT).clone();
    let records: Records = Box::new(parsed.into_iter().map(move |parsed| Record {
        parsed,
        _in_flight: in_flight.enter(),
    }));
    let runtime = runtimes::tokio_runtime(cfg)?;
    let aggregator = runtime.block_on(enrich_all_tokio(
        records,
        registry,
        cfg.concurrency,
        &cfg.progress,
    ));
    finish(lines_read, aggregator, sink)
}

/// smol: an `Executor` driven by `cfg.worker_threads` threads.
pub fn run_smol(input: &Input, cfg: &Config, signals: &Signals) -> Result<Report, PipelineError> {
    let (sink, lines_read, parsed, registry) = prepare(input, cfg, signals)?;
    let in_flight = signals.gauge(TASKS_IN_FLIGHT).clone();
    let records: Records = Box::new(parsed.into_iter().map(move |parsed| Record {
        parsed,
        _in_flight: in_flight.enter(),
    }));
    let aggregator =
        runtimes::with_smol_executor(cfg.worker_threads, "ex05-smol-worker", |executor| {
            Ok(smol::block_on(enrich_all_smol(
                executor,
                records,
                registry,
                cfg.concurrency,
                &cfg.progress,
            )))
        })?;
    finish(lines_read, aggregator, sink)
}

type Prepared = (Box<dyn pipeline::Sink>, u64, Vec<Parsed>, Arc<SlowRegistry>);

fn prepare(input: &Input, cfg: &Config, signals: &Signals) -> Result<Prepared, PipelineError> {
    cfg.validate()?;
    let sink = cfg.sink.open()?;
    let Work { lines_read, parts } = Work::split(input, cfg, 1);
    let records = parts.into_iter().flatten().collect();
    let registry = Arc::new(SlowRegistry::new(
        Arc::clone(&cfg.registry),
        REGISTRY_LATENCY,
        signals,
    ));
    Ok((sink, lines_read, records, registry))
}

// The checks: one file, shared with the solution crate (its `tests` folder links to this one).
#[cfg(test)]
#[path = "../tests/checks.rs"]
mod checks;

//! Chapter 11, **async-std** variant: one task per stage on async-std's global executor,
//! bounded `async_std::channel`s, time from an injected [`Clock`].
//!
//! async-std is discontinued upstream (RUSTSEC-2025-0052); it is here, pinned, as the legacy
//! comparison. Its timers are real time and cannot be paused, so the look-up takes its time from
//! a [`Clock`] it is handed, and builds its timeout from the clock's sleep
//! ([`crate::clock::timeout`]). Spans are carried into tasks with `.instrument(span)`, as in
//! tokio: `tracing` does not care which executor polls the future.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use async_std::channel::{Receiver, Sender, bounded};
use async_std::task::{self, JoinHandle};
use futures_lite::FutureExt;
use tracing::{Instrument, debug, info_span, instrument, warn};

use pipeline::{
    Aggregator, Config, Enriched, Input, LookupError, Parsed, PipelineError, Progress, Reading,
    Report, SensorInfo, enrich_with, finish, joined, parse_batch,
};

use crate::clock::{self, Clock, SystemClock};
use crate::registry::{FlakyRegistry, Retry};
use crate::{Context, Setup, first_line, joined_stages, trace_rejection};

/// The chapter's pipeline on the real clock.
pub fn run(input: &Input, cfg: &Config) -> Result<Report, PipelineError> {
    run_with(input, cfg, &Setup::chapter())
}

// ANCHOR: run
/// Runs the pipeline on async-std's global executor, inside the `pipeline` span, blocking the
/// calling thread until done.
pub fn run_with(input: &Input, cfg: &Config, setup: &Setup) -> Result<Report, PipelineError> {
    cfg.validate()?;
    let span = info_span!("pipeline", variant = "async-std");
    task::block_on(run_async(input, cfg, setup, Arc::new(SystemClock::new())).instrument(span))
}

/// The pipeline: three tasks, two bounded channels.
pub async fn run_async(
    input: &Input,
    cfg: &Config,
    setup: &Setup,
    clock: Arc<dyn Clock>,
) -> Result<Report, PipelineError> {
    cfg.validate()?;
    let output = cfg.sink.open()?;
    let registry = Arc::new(setup.registry(cfg));
    let (parsed_tx, parsed_rx) = bounded(cfg.channel_capacity);
    let (enriched_tx, enriched_rx) = bounded(cfg.channel_capacity);

    let source = spawn(
        setup.context,
        "source",
        source(
            input.clone(),
            cfg.batch_size,
            cfg.progress.clone(),
            parsed_tx,
        ),
    );
    let enrich = spawn(
        setup.context,
        "enrich",
        enrich(registry, setup.retry, clock, parsed_rx, enriched_tx),
    );
    let aggregate = spawn(setup.context, "aggregate", aggregate(enriched_rx));
    let (lines_read, aggregator) = joined_stages(
        join("source", source).await,
        join("enrich", enrich).await,
        join("aggregate", aggregate).await,
    )?;
    finish(lines_read, aggregator, output)
}
// ANCHOR_END: run

/// Reads and parses the input in batches; returns how many lines it read.
async fn source(
    input: Input,
    batch_size: usize,
    progress: Progress,
    out: Sender<Vec<Parsed>>,
) -> Result<u64, PipelineError> {
    let mut lines_read = 0;
    for batch in input.batches(batch_size) {
        lines_read += batch.len() as u64;
        progress.add(batch.len());
        out.send(parse_batch(batch))
            .await
            .map_err(|_| PipelineError::closed("source"))?;
    }
    Ok(lines_read)
}

// ANCHOR: enrich
/// Looks every reading up, one batch (and one `batch` span) at a time.
async fn enrich(
    registry: Arc<FlakyRegistry>,
    retry: Retry,
    clock: Arc<dyn Clock>,
    input: Receiver<Vec<Parsed>>,
    out: Sender<Vec<Enriched>>,
) -> Result<(), PipelineError> {
    while let Ok(batch) = input.recv().await {
        let span = info_span!(
            "batch",
            first_line = first_line(&batch),
            lines = batch.len()
        );
        let enriched = enrich_batch(&registry, &retry, &*clock, batch)
            .instrument(span)
            .await;
        out.send(enriched)
            .await
            .map_err(|_| PipelineError::closed("enrich"))?;
    }
    Ok(())
}

async fn enrich_batch(
    registry: &FlakyRegistry,
    retry: &Retry,
    clock: &dyn Clock,
    batch: Vec<Parsed>,
) -> Vec<Enriched> {
    let mut enriched = Vec::with_capacity(batch.len());
    for parsed in batch {
        let record = match parsed {
            Ok(reading) => {
                let found = lookup(registry, retry, clock, &reading).await;
                enrich_with(reading, found)
            }
            Err(rejection) => Err(rejection),
        };
        trace_rejection(&record);
        enriched.push(record);
    }
    enriched
}
// ANCHOR_END: enrich

// ANCHOR: lookup
/// One reading's look-up: up to `retry.attempts` calls, each under a timeout on `clock`, a
/// doubling backoff in between. Every wait is on `clock`, so a test can run it on a manual one.
#[instrument(level = "debug", name = "lookup", skip_all,
             fields(sensor = %reading.sensor_id, line = reading.line))]
pub async fn lookup(
    registry: &FlakyRegistry,
    retry: &Retry,
    clock: &dyn Clock,
    reading: &Reading,
) -> Result<SensorInfo, LookupError> {
    for attempt in 1..=retry.attempts {
        if attempt > 1 {
            let backoff = retry.backoff(attempt - 1);
            debug!(attempt, backoff_ms = backoff.as_millis() as u64, "retrying");
            clock.sleep(backoff).await;
        }
        debug!(attempt, "attempt");
        match clock::timeout(
            clock,
            retry.timeout,
            call(registry, clock, reading, attempt),
        )
        .await
        {
            Ok(answer) => {
                debug!(attempt, "answered");
                return answer;
            }
            Err(_elapsed) => warn!(attempt, "timed out"),
        }
    }
    warn!(attempt = retry.attempts, "gave up");
    Err(LookupError::TimedOut)
}

/// One call: the registry takes its latency to answer. Dropped if the timeout fires first.
async fn call(
    registry: &FlakyRegistry,
    clock: &dyn Clock,
    reading: &Reading,
    attempt: u32,
) -> Result<SensorInfo, LookupError> {
    let latency = registry.latency(reading, attempt);
    if !latency.is_zero() {
        clock.sleep(latency).await;
    }
    registry.answer(reading)
}
// ANCHOR_END: lookup

/// Collects every record; the windows are complete only once the input is.
async fn aggregate(input: Receiver<Vec<Enriched>>) -> Result<Aggregator, PipelineError> {
    let mut aggregator = Aggregator::new();
    while let Ok(batch) = input.recv().await {
        aggregator.add_batch(batch);
    }
    Ok(aggregator)
}

// ANCHOR: spawn
type StageHandle<T> = JoinHandle<std::thread::Result<Result<T, PipelineError>>>;

/// Starts a stage as a task whose panic is caught, inside its `stage` span.
fn spawn<T: Send + 'static>(
    context: Context,
    stage: &'static str,
    work: impl Future<Output = Result<T, PipelineError>> + Send + 'static,
) -> StageHandle<T> {
    let work = AssertUnwindSafe(work).catch_unwind();
    match context {
        // Created here, where `pipeline` is current; entered on every poll of the task.
        Context::Carried => task::spawn(work.instrument(info_span!("stage", stage))),
        // BROKEN ON PURPOSE: the task is polled with no current span.
        Context::Dropped => task::spawn(work),
    }
}
// ANCHOR_END: spawn

/// Waits for a stage; a caught panic becomes an error.
async fn join<T>(stage: &'static str, handle: StageHandle<T>) -> Result<T, PipelineError> {
    joined(stage, handle.await)
}

//! Chapter 11, **tokio** variant: one task per stage on a multi-thread runtime, bounded
//! `tokio::sync::mpsc` channels, time from `tokio::time`.
//!
//! Compared with `sync.rs`: a task, like a thread, starts with no current span, and a task
//! runs on whichever worker thread polls it, so entering a span with a guard would be wrong
//! (the guard would stay on the thread across an `.await`). `.instrument(span)` enters the span
//! on every poll and leaves it at every `.await`. No clock is injected: tokio's own clock can
//! be paused in tests (`#[tokio::test(start_paused = true)]`), and `tokio::time::timeout` drops
//! a call that takes too long.

use std::sync::Arc;

use tokio::sync::mpsc::{Receiver, Sender, channel};
use tokio::task::JoinHandle;
use tracing::{Instrument, debug, info_span, instrument, warn};

use pipeline::{
    Aggregator, Config, Enriched, Input, LookupError, Parsed, PipelineError, Progress, Reading,
    Report, SensorInfo, enrich_with, finish, parse_batch,
};
use runtimes::tokio_joined;

use crate::registry::{FlakyRegistry, Retry};
use crate::{Context, Setup, first_line, joined_stages, trace_rejection};

/// The chapter's pipeline on the real clock.
pub fn run(input: &Input, cfg: &Config) -> Result<Report, PipelineError> {
    run_with(input, cfg, &Setup::chapter())
}

// ANCHOR: run
/// Builds a multi-thread runtime and runs the pipeline on it, inside the `pipeline` span.
pub fn run_with(input: &Input, cfg: &Config, setup: &Setup) -> Result<Report, PipelineError> {
    cfg.validate()?;
    let runtime = runtimes::tokio_runtime(cfg)?;
    let span = info_span!("pipeline", variant = "tokio");
    runtime.block_on(run_async(input, cfg, setup).instrument(span))
}

/// The pipeline: three tasks, two bounded channels.
pub async fn run_async(
    input: &Input,
    cfg: &Config,
    setup: &Setup,
) -> Result<Report, PipelineError> {
    cfg.validate()?;
    let output = cfg.sink.open()?;
    let registry = Arc::new(setup.registry(cfg));
    let (parsed_tx, parsed_rx) = channel(cfg.channel_capacity);
    let (enriched_tx, enriched_rx) = channel(cfg.channel_capacity);

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
        enrich(registry, setup.retry, parsed_rx, enriched_tx),
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
    mut input: Receiver<Vec<Parsed>>,
    out: Sender<Vec<Enriched>>,
) -> Result<(), PipelineError> {
    while let Some(batch) = input.recv().await {
        let span = info_span!(
            "batch",
            first_line = first_line(&batch),
            lines = batch.len()
        );
        let enriched = enrich_batch(&registry, &retry, batch)
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
    batch: Vec<Parsed>,
) -> Vec<Enriched> {
    let mut enriched = Vec::with_capacity(batch.len());
    for parsed in batch {
        let record = match parsed {
            Ok(reading) => {
                let found = lookup(registry, retry, &reading).await;
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
/// One reading's look-up: up to `retry.attempts` calls, each under `tokio::time::timeout`, a
/// doubling backoff in between. On a paused runtime, every wait here takes no real time.
#[instrument(level = "debug", name = "lookup", skip_all,
             fields(sensor = %reading.sensor_id, line = reading.line))]
pub async fn lookup(
    registry: &FlakyRegistry,
    retry: &Retry,
    reading: &Reading,
) -> Result<SensorInfo, LookupError> {
    for attempt in 1..=retry.attempts {
        if attempt > 1 {
            let backoff = retry.backoff(attempt - 1);
            debug!(attempt, backoff_ms = backoff.as_millis() as u64, "retrying");
            tokio::time::sleep(backoff).await;
        }
        debug!(attempt, "attempt");
        match tokio::time::timeout(retry.timeout, call(registry, reading, attempt)).await {
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
    reading: &Reading,
    attempt: u32,
) -> Result<SensorInfo, LookupError> {
    let latency = registry.latency(reading, attempt);
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    registry.answer(reading)
}
// ANCHOR_END: lookup

/// Collects every record; the windows are complete only once the input is.
async fn aggregate(mut input: Receiver<Vec<Enriched>>) -> Result<Aggregator, PipelineError> {
    let mut aggregator = Aggregator::new();
    while let Some(batch) = input.recv().await {
        aggregator.add_batch(batch);
    }
    Ok(aggregator)
}

// ANCHOR: spawn
type StageHandle<T> = JoinHandle<Result<T, PipelineError>>;

/// Starts a stage as a task, inside its `stage` span.
fn spawn<T: Send + 'static>(
    context: Context,
    stage: &'static str,
    work: impl Future<Output = Result<T, PipelineError>> + Send + 'static,
) -> StageHandle<T> {
    match context {
        // Created here, where `pipeline` is current; entered on every poll of the task.
        Context::Carried => tokio::spawn(work.instrument(info_span!("stage", stage))),
        // BROKEN ON PURPOSE: the task is polled with no current span.
        Context::Dropped => tokio::spawn(work),
    }
}
// ANCHOR_END: spawn

/// Waits for a stage: its own result, or the panic or cancellation that ended it, as an error.
async fn join<T>(stage: &'static str, handle: StageHandle<T>) -> Result<T, PipelineError> {
    tokio_joined(stage, handle.await)?
}

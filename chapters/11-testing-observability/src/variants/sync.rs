//! Chapter 11, **sync** variant: one OS thread per stage, bounded `std::sync::mpsc` channels,
//! time from an injected [`Clock`].
//!
//! A span is "current" per thread: a new thread starts with none. `spawn` creates the stage's
//! span while the pipeline's is current (so `pipeline` is its parent) and enters it on the new
//! thread (`in_scope`). A blocking call cannot be cancelled from outside, so the registry call
//! is given its timeout, as a blocking socket is given a read timeout, and gives up by itself.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::{self, Scope, ScopedJoinHandle};

use tracing::{debug, info_span, instrument, warn};

use pipeline::{
    Aggregator, Config, Enriched, Input, LookupError, Parsed, PipelineError, Progress, Reading,
    Report, SensorInfo, enrich_with, finish, joined, parse_batch,
};

use crate::clock::{Clock, Elapsed, SystemClock};
use crate::registry::{FlakyRegistry, Retry};
use crate::{Context, Setup, first_line, joined_stages, trace_rejection};

/// The chapter's pipeline on the real clock.
pub fn run(input: &Input, cfg: &Config) -> Result<Report, PipelineError> {
    run_with(input, cfg, &Setup::chapter())
}

// ANCHOR: run
/// Runs the pipeline: three threads, two bounded channels, all inside the `pipeline` span.
pub fn run_with(input: &Input, cfg: &Config, setup: &Setup) -> Result<Report, PipelineError> {
    cfg.validate()?;
    let output = cfg.sink.open()?;
    let registry = setup.registry(cfg);
    let clock = SystemClock::new();
    let (parsed_tx, parsed_rx) = sync_channel(cfg.channel_capacity);
    let (enriched_tx, enriched_rx) = sync_channel(cfg.channel_capacity);

    info_span!("pipeline", variant = "sync").in_scope(|| {
        let (lines_read, aggregator) = thread::scope(|s| {
            let source = spawn(s, setup.context, "source", || {
                source(input, cfg.batch_size, &cfg.progress, parsed_tx)
            })?;
            let enrich = spawn(s, setup.context, "enrich", || {
                enrich(&registry, &setup.retry, &clock, parsed_rx, enriched_tx)
            })?;
            let aggregate = spawn(s, setup.context, "aggregate", || aggregate(enriched_rx))?;
            joined_stages(
                join("source", source),
                join("enrich", enrich),
                join("aggregate", aggregate),
            )
        })?;
        finish(lines_read, aggregator, output)
    })
}
// ANCHOR_END: run

/// Reads and parses the input in batches; returns how many lines it read.
fn source(
    input: &Input,
    batch_size: usize,
    progress: &Progress,
    out: SyncSender<Vec<Parsed>>,
) -> Result<u64, PipelineError> {
    let mut lines_read = 0;
    for batch in input.batches(batch_size) {
        lines_read += batch.len() as u64;
        progress.add(batch.len());
        out.send(parse_batch(batch))
            .map_err(|_| PipelineError::closed("source"))?;
    }
    Ok(lines_read)
}

// ANCHOR: enrich
/// Looks every reading up, one batch (and one `batch` span) at a time.
fn enrich(
    registry: &FlakyRegistry,
    retry: &Retry,
    clock: &dyn Clock,
    input: Receiver<Vec<Parsed>>,
    out: SyncSender<Vec<Enriched>>,
) -> Result<(), PipelineError> {
    for batch in input {
        let span = info_span!(
            "batch",
            first_line = first_line(&batch),
            lines = batch.len()
        );
        let enriched = span.in_scope(|| enrich_batch(registry, retry, clock, batch));
        out.send(enriched)
            .map_err(|_| PipelineError::closed("enrich"))?;
    }
    Ok(())
}

fn enrich_batch(
    registry: &FlakyRegistry,
    retry: &Retry,
    clock: &dyn Clock,
    batch: Vec<Parsed>,
) -> Vec<Enriched> {
    let mut enriched = Vec::with_capacity(batch.len());
    for parsed in batch {
        let record = match parsed {
            Ok(reading) => {
                let found = lookup(registry, retry, clock, &reading);
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
/// One reading's look-up: up to `retry.attempts` calls, each with `retry.timeout`, a doubling
/// backoff in between. Every wait is on `clock`, so a test can run it on a manual one.
#[instrument(level = "debug", name = "lookup", skip_all,
             fields(sensor = %reading.sensor_id, line = reading.line))]
pub fn lookup(
    registry: &FlakyRegistry,
    retry: &Retry,
    clock: &dyn Clock,
    reading: &Reading,
) -> Result<SensorInfo, LookupError> {
    for attempt in 1..=retry.attempts {
        if attempt > 1 {
            let backoff = retry.backoff(attempt - 1);
            debug!(attempt, backoff_ms = backoff.as_millis() as u64, "retrying");
            clock.sleep_blocking(backoff);
        }
        debug!(attempt, "attempt");
        match call(registry, clock, reading, attempt, retry.timeout) {
            Ok(answer) => {
                debug!(attempt, "answered");
                return answer;
            }
            Err(Elapsed) => warn!(attempt, "timed out"),
        }
    }
    warn!(attempt = retry.attempts, "gave up");
    Err(LookupError::TimedOut)
}

/// One blocking call with a read timeout: it waits at most `timeout` for the answer.
fn call(
    registry: &FlakyRegistry,
    clock: &dyn Clock,
    reading: &Reading,
    attempt: u32,
    timeout: std::time::Duration,
) -> Result<Result<SensorInfo, LookupError>, Elapsed> {
    let latency = registry.latency(reading, attempt);
    if latency > timeout {
        clock.sleep_blocking(timeout);
        return Err(Elapsed);
    }
    if !latency.is_zero() {
        clock.sleep_blocking(latency);
    }
    Ok(registry.answer(reading))
}
// ANCHOR_END: lookup

/// Collects every record; the windows are complete only once the input is.
fn aggregate(input: Receiver<Vec<Enriched>>) -> Result<Aggregator, PipelineError> {
    let mut aggregator = Aggregator::new();
    for batch in input {
        aggregator.add_batch(batch);
    }
    Ok(aggregator)
}

// ANCHOR: spawn
/// Starts a stage on its own named thread, inside its `stage` span.
fn spawn<'scope, T: Send + 'scope>(
    scope: &'scope Scope<'scope, '_>,
    context: Context,
    stage: &'static str,
    work: impl FnOnce() -> Result<T, PipelineError> + Send + 'scope,
) -> Result<ScopedJoinHandle<'scope, Result<T, PipelineError>>, PipelineError> {
    let thread = thread::Builder::new().name(format!("ch11-{stage}"));
    let started = match context {
        // Created here, where `pipeline` is current; entered there, on the new thread.
        Context::Carried => {
            let span = info_span!("stage", stage);
            thread.spawn_scoped(scope, move || span.in_scope(work))
        }
        // BROKEN ON PURPOSE: the new thread has no current span.
        Context::Dropped => thread.spawn_scoped(scope, work),
    };
    started.map_err(|source| PipelineError::Start {
        what: "a stage thread",
        source,
    })
}
// ANCHOR_END: spawn

/// Waits for a stage; a panic comes back from `join` as `Err(payload)` and becomes an error.
fn join<T>(
    stage: &'static str,
    handle: ScopedJoinHandle<'_, Result<T, PipelineError>>,
) -> Result<T, PipelineError> {
    joined(stage, handle.join())
}

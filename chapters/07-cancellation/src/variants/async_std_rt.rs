//! Chapter 7, **async-std** variant: `async_std::future::timeout` on every look-up attempt; a
//! channel that is closed on stop, which the source `race`s against its send, so a stop ends
//! the source and the closed channels drain the rest (fixed); or a `race` that drops the whole
//! pipeline (broken).
//!
//! async-std is discontinued upstream (RUSTSEC-2025-0052); it is here as the legacy comparison.
//! A dropped async-std `JoinHandle` detaches its task, like tokio's, but there is no runtime to
//! drop: the broken pipeline's tasks run on in the global executor, working for nobody, until
//! they finish.

use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_std::channel::{Receiver, Sender, bounded as channel};
use async_std::prelude::FutureExt as _;
use async_std::task::{self, JoinHandle};
use futures::FutureExt as _;
use futures::stream::{self, StreamExt};

use instruments::Signals;
use pipeline::{
    Aggregator, Config, Enriched, Input, LookupError, Parsed, PipelineError, Progress, Reading,
    Report, SensorInfo, enrich_with, joined, parse_batch,
};

use crate::checkpoint::{self, Checkpoint, End, RunEnd, SourceEnd, Stages};
use crate::registry::{HANG, LOOKUP_TIMEOUT, MAX_ATTEMPTS, PlannedRegistry};
use crate::{Controls, OnStop, Shutdown};

/// The fixed pipeline, never stopped: for the tour and the tests.
pub fn run(input: &Input, cfg: &Config) -> Result<Report, PipelineError> {
    let controls = Controls::new(Shutdown::new());
    pipeline(input, cfg, &controls, Checkpoint::start(input))?.finished()
}

/// Runs until the input ends or `controls.shutdown` is triggered, then writes a checkpoint to
/// `checkpoint`. FIXED with [`OnStop::Drain`]: a stopped run drains what it has handed on
/// first. BROKEN ON PURPOSE with [`OnStop::DropPipeline`]: on a stop it drops the pipeline and
/// checkpoints what the source read.
pub fn run_with(
    on_stop: OnStop,
    input: &Input,
    cfg: &Config,
    controls: &Controls,
    checkpoint: &Path,
) -> Result<RunEnd, PipelineError> {
    let pipeline: checkpoint::Pipeline = match on_stop {
        OnStop::DropPipeline => broken_pipeline,
        OnStop::Drain => pipeline,
    };
    checkpoint::run_until_stopped(pipeline, input, cfg, controls, checkpoint)
}

/// Continues from the checkpoint at `checkpoint`, until the end or the next stop.
pub fn resume_from(
    input: &Input,
    cfg: &Config,
    controls: &Controls,
    checkpoint: &Path,
) -> Result<RunEnd, PipelineError> {
    checkpoint::resume_from(pipeline, input, cfg, controls, checkpoint)
}

/// The live demo, fixed: stop, resume, the resumed run's report.
pub fn fixed_lost_on_shutdown(
    input: &Input,
    cfg: &Config,
    signals: &Signals,
) -> Result<Report, PipelineError> {
    crate::stop_and_resume(
        run_with,
        OnStop::Drain,
        resume_from,
        false,
        input,
        cfg,
        signals,
    )
}

/// The live demo, broken: stop (dropping the pipeline), resume, the resumed run's report.
pub fn broken_lost_on_shutdown(
    input: &Input,
    cfg: &Config,
    signals: &Signals,
) -> Result<Report, PipelineError> {
    crate::stop_and_resume(
        run_with,
        OnStop::DropPipeline,
        resume_from,
        true,
        input,
        cfg,
        signals,
    )
}

// ANCHOR: pipeline
/// FIXED: three tasks and two bounded channels. The stop reaches only the source (through a
/// channel that is closed on stop); when the source returns, its channel closes, the enrich
/// task drains what is left and ends, then the aggregate task. Joining all three means
/// everything handed on has been aggregated, so the checkpoint is exact.
fn pipeline(
    input: &Input,
    cfg: &Config,
    controls: &Controls,
    start: Checkpoint,
) -> Result<End, PipelineError> {
    cfg.validate()?;
    let sink = cfg.sink.open()?;
    let registry = Arc::new(controls.registry(cfg));
    let _released = registry.release_when_done();
    // Nothing is ever sent on it: closing it is the signal, and every receiver sees it.
    let (stop, stopped) = channel::<()>(1);
    controls.shutdown.on_trigger(move || {
        stop.close();
    });
    let Checkpoint {
        next_line,
        aggregator,
        ..
    } = start;
    let stages = task::block_on(async {
        let (lines_tx, lines_rx) = channel(cfg.channel_capacity);
        let (enriched_tx, enriched_rx) = channel(cfg.channel_capacity);
        let source = spawn(source(
            input.clone(),
            next_line,
            cfg.batch_size,
            cfg.progress.clone(),
            stopped,
            lines_tx,
        ));
        let enrich = spawn(enrich(
            Arc::clone(&registry),
            cfg.concurrency,
            lines_rx,
            enriched_tx,
        ));
        let aggregate = spawn(aggregate(aggregator, enriched_rx));
        Stages {
            source: join("source", source).await,
            enrich: join("enrich", enrich).await,
            aggregate: join("aggregate", aggregate).await,
        }
    });
    checkpoint::conclude(input, next_line, stages, sink)
}
// ANCHOR_END: pipeline

// ANCHOR: source
/// Hands on batches from `next_line` until the input ends or the stop comes; returns how many
/// lines it handed on. async-std's `race` polls the stop first: once the channel is closed,
/// `recv` fails at once and no further batch goes out, even into a channel with room. That
/// order is async-std's alone: futures-lite's `race` polls its two futures in a random order,
/// so a send with room could still win; `or` (smol's variant) keeps the stop first.
async fn source(
    input: Input,
    next_line: u64,
    batch_size: usize,
    progress: Progress,
    stopped: Receiver<()>,
    out: Sender<Vec<Parsed>>,
) -> Result<SourceEnd, PipelineError> {
    let mut handed_on = 0;
    for batch in input.batches_from(next_line + 1, batch_size) {
        let lines = batch.len();
        let stop = async {
            let _ = stopped.recv().await;
            None
        };
        let send = async { Some(out.send(parse_batch(batch)).await) };
        match stop.race(send).await {
            None => return Ok(SourceEnd::Stopped { handed_on }),
            Some(sent) => sent.map_err(|_| PipelineError::closed("source"))?,
        }
        handed_on += lines as u64;
        progress.add(lines);
    }
    Ok(SourceEnd::Finished { handed_on })
}
// ANCHOR_END: source

// ANCHOR: stages
/// Looks up a batch's readings, at most `concurrency` at once, and hands the batch on. It
/// ends when its input channel is closed *and empty*: that is the drain.
async fn enrich(
    registry: Arc<PlannedRegistry>,
    concurrency: usize,
    input: Receiver<Vec<Parsed>>,
    out: Sender<Vec<Enriched>>,
) -> Result<(), PipelineError> {
    while let Ok(batch) = input.recv().await {
        let enriched = stream::iter(batch)
            .map(|parsed| enrich_one(&registry, parsed))
            .buffer_unordered(concurrency)
            .collect()
            .await;
        out.send(enriched)
            .await
            .map_err(|_| PipelineError::closed("enrich"))?;
    }
    Ok(())
}

/// Adds every batch to the aggregator it started from (a checkpoint's, when resumed).
async fn aggregate(
    mut aggregator: Aggregator,
    input: Receiver<Vec<Enriched>>,
) -> Result<Aggregator, PipelineError> {
    while let Ok(batch) = input.recv().await {
        aggregator.add_batch(batch);
    }
    Ok(aggregator)
}
// ANCHOR_END: stages

// ANCHOR: lookup
/// One reading through the registry.
async fn enrich_one(registry: &PlannedRegistry, parsed: Parsed) -> Enriched {
    let reading = parsed?;
    if let Some(gate) = registry.stop_point(reading.line) {
        gate.passed().await; // the tests' stop point holds this reading (broken runs only)
    }
    let found = lookup(registry, &reading).await;
    enrich_with(reading, found)
}

/// At most `MAX_ATTEMPTS` attempts of `LOOKUP_TIMEOUT` each, with a backoff between them. When
/// the timeout fires, the attempt's future is dropped at its `.await`: the call is cancelled.
pub async fn lookup(
    registry: &PlannedRegistry,
    reading: &Reading,
) -> Result<SensorInfo, LookupError> {
    for attempt in 0..MAX_ATTEMPTS {
        if attempt > 0 {
            task::sleep(registry.backoff(reading.line, attempt)).await;
        }
        match async_std::future::timeout(LOOKUP_TIMEOUT, call(registry, reading, attempt)).await {
            Ok(found) => return found,
            Err(_timed_out) => registry.timed_out(),
        }
    }
    Err(LookupError::TimedOut)
}

/// The registry's side of one attempt: an answer at once, or nothing for an hour.
async fn call(
    registry: &PlannedRegistry,
    reading: &Reading,
    attempt: u32,
) -> Result<SensorInfo, LookupError> {
    if registry.hangs(reading.line, attempt) {
        let _hung = registry.hang_begins();
        task::sleep(HANG).await;
    }
    registry.answer(&reading.sensor_id)
}
// ANCHOR_END: lookup

// ANCHOR: broken
/// BROKEN ON PURPOSE: races the pipeline against the stop with `race`. On a stop, the pipeline
/// future is dropped where it stands (its tasks detach and run on, for nobody), and the
/// checkpoint takes the source's *read* offset with the aggregator as it is. Everything in
/// between — a batch in a channel, a batch in its look-ups — is marked done and never
/// aggregated.
fn broken_pipeline(
    input: &Input,
    cfg: &Config,
    controls: &Controls,
    start: Checkpoint,
) -> Result<End, PipelineError> {
    cfg.validate()?;
    let sink = cfg.sink.open()?;
    let registry = Arc::new(controls.registry(cfg));
    let _released = registry.release_when_done();
    let (stop, stopped) = channel::<()>(1);
    controls.shutdown.on_trigger(move || {
        stop.close();
    });
    let next_line = start.next_line;
    let read = Arc::new(AtomicU64::new(0));
    let state = Arc::new(Mutex::new(start.aggregator));
    let end = task::block_on(async {
        let (lines_tx, lines_rx) = channel(cfg.channel_capacity);
        let (enriched_tx, enriched_rx) = channel(cfg.channel_capacity);
        let source = spawn(naive_source(
            input.clone(),
            next_line,
            cfg.batch_size,
            cfg.progress.clone(),
            Arc::clone(&read),
            lines_tx,
        ));
        let enrich = spawn(enrich(
            Arc::clone(&registry),
            cfg.concurrency,
            lines_rx,
            enriched_tx,
        ));
        let aggregate = spawn(aggregate_into(Arc::clone(&state), enriched_rx));
        let pipeline = async {
            let stages = Stages {
                source: join("source", source).await,
                enrich: join("enrich", enrich).await,
                aggregate: join("aggregate", aggregate).await.map(|()| taken(&state)),
            };
            checkpoint::conclude(input, next_line, stages, sink)
        };
        let stop = async {
            let _ = stopped.recv().await;
            Ok(End::Stopped(Checkpoint::new(
                input,
                next_line + read.load(Ordering::SeqCst),
                state.lock().expect("never poisoned").clone(),
            )))
        };
        pipeline.race(stop).await
    });
    controls.shutdown.acted();
    end
}

/// BROKEN ON PURPOSE: counts a batch as read before handing it on — the offset a naive
/// shutdown saves, like a consumer that commits an offset when it polls, not when it is done.
async fn naive_source(
    input: Input,
    next_line: u64,
    batch_size: usize,
    progress: Progress,
    read: Arc<AtomicU64>,
    out: Sender<Vec<Parsed>>,
) -> Result<SourceEnd, PipelineError> {
    let mut handed_on = 0;
    for batch in input.batches_from(next_line + 1, batch_size) {
        let lines = batch.len();
        read.fetch_add(lines as u64, Ordering::SeqCst);
        out.send(parse_batch(batch))
            .await
            .map_err(|_| PipelineError::closed("source"))?;
        handed_on += lines as u64;
        progress.add(lines);
    }
    Ok(SourceEnd::Finished { handed_on })
}

/// The aggregator kept where the stop handler can reach it.
async fn aggregate_into(
    state: Arc<Mutex<Aggregator>>,
    input: Receiver<Vec<Enriched>>,
) -> Result<(), PipelineError> {
    while let Ok(batch) = input.recv().await {
        state.lock().expect("never poisoned").add_batch(batch);
    }
    Ok(())
}
// ANCHOR_END: broken

/// The aggregator out of its cell, once every stage has ended.
fn taken(state: &Mutex<Aggregator>) -> Aggregator {
    std::mem::take(&mut *state.lock().expect("never poisoned"))
}

type StageHandle<T> = JoinHandle<std::thread::Result<Result<T, PipelineError>>>;

/// Starts a stage as a task whose panic is caught, so that awaiting it cannot re-raise it.
fn spawn<T: Send + 'static>(
    stage: impl Future<Output = Result<T, PipelineError>> + Send + 'static,
) -> StageHandle<T> {
    task::spawn(AssertUnwindSafe(stage).catch_unwind())
}

/// Waits for a stage; a caught panic becomes an error.
async fn join<T>(stage: &'static str, handle: StageHandle<T>) -> Result<T, PipelineError> {
    joined(stage, handle.await)
}

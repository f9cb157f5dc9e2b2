//! Chapter 7, **sync** variant: a look-up attempt runs on a thread of its own and the caller
//! waits for it with `recv_timeout`; a stop sets an `AtomicBool` that the source checks between
//! batches, and the closing channels drain the rest (fixed); or the driver stops waiting for
//! its threads and abandons them (broken).

use std::panic;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle, Scope, ScopedJoinHandle};
use std::time::Duration;

use instruments::Signals;
use pipeline::{
    Aggregator, Config, Enriched, Input, LookupError, Parsed, PipelineError, Progress, Reading,
    Report, SensorInfo, enrich_with, joined, parse_batch,
};

use crate::checkpoint::{self, Checkpoint, End, RunEnd, SourceEnd, Stages};
use crate::registry::{LOOKUP_TIMEOUT, MAX_ATTEMPTS, PlannedRegistry};
use crate::{Controls, OnStop, Shutdown};

/// The fixed pipeline, never stopped: for the tour and the tests.
pub fn run(input: &Input, cfg: &Config) -> Result<Report, PipelineError> {
    let controls = Controls::new(Shutdown::new());
    pipeline(input, cfg, &controls, Checkpoint::start(input))?.finished()
}

/// Runs until the input ends or `controls.shutdown` is triggered, then writes a checkpoint to
/// `checkpoint`. FIXED with [`OnStop::Drain`]: a stopped run drains what it has handed on
/// first. BROKEN ON PURPOSE with [`OnStop::DropPipeline`]: on a stop it abandons its threads and
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

/// The live demo, broken: stop (abandoning the threads), resume, the resumed run's report.
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
/// FIXED: three scoped threads and two bounded channels. The stop reaches only the source
/// (through an `AtomicBool`); when the source returns, its channel closes, the enrich thread
/// drains what is left and ends, then the aggregate thread. The scope joins all three, so
/// everything handed on has been aggregated and the checkpoint is exact.
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
    let stop = Arc::new(AtomicBool::new(false));
    controls.shutdown.on_trigger({
        let stop = Arc::clone(&stop);
        move || stop.store(true, Ordering::SeqCst)
    });
    let Checkpoint {
        next_line,
        aggregator,
        ..
    } = start;
    let (lines_tx, lines_rx) = sync_channel(cfg.channel_capacity);
    let (enriched_tx, enriched_rx) = sync_channel(cfg.channel_capacity);
    let stages = thread::scope(|s| {
        let source = spawn(s, "source", || {
            source(
                input,
                next_line,
                cfg.batch_size,
                &cfg.progress,
                &stop,
                lines_tx,
            )
        })?;
        let enrich = spawn(s, "enrich", || {
            enrich(&registry, cfg.concurrency, lines_rx, enriched_tx)
        })?;
        let aggregate = spawn(s, "aggregate", || aggregate(aggregator, enriched_rx))?;
        Ok(Stages {
            source: joined("source", source.join()),
            enrich: joined("enrich", enrich.join()),
            aggregate: joined("aggregate", aggregate.join()),
        })
    })?;
    checkpoint::conclude(input, next_line, stages, sink)
}
// ANCHOR_END: pipeline

// ANCHOR: source
/// Hands on batches from `next_line` until the input ends or the stop comes; returns how many
/// lines it handed on. The flag is checked between batches: a thread blocked in `send` cannot
/// see it until the send completes, so the stop takes effect at the next batch.
fn source(
    input: &Input,
    next_line: u64,
    batch_size: usize,
    progress: &Progress,
    stop: &AtomicBool,
    out: SyncSender<Vec<Parsed>>,
) -> Result<SourceEnd, PipelineError> {
    let mut handed_on = 0;
    for batch in input.batches_from(next_line + 1, batch_size) {
        if stop.load(Ordering::SeqCst) {
            return Ok(SourceEnd::Stopped { handed_on });
        }
        let lines = batch.len();
        out.send(parse_batch(batch))
            .map_err(|_| PipelineError::closed("source"))?;
        handed_on += lines as u64;
        progress.add(lines);
    }
    Ok(SourceEnd::Finished { handed_on })
}
// ANCHOR_END: source

// ANCHOR: stages
/// Looks up a batch's readings, at most `concurrency` at once (the batch dealt out to that many
/// scoped threads), and hands the batch on. It ends when its input channel is closed *and
/// empty*: that is the drain.
fn enrich(
    registry: &Arc<PlannedRegistry>,
    concurrency: usize,
    input: Receiver<Vec<Parsed>>,
    out: SyncSender<Vec<Enriched>>,
) -> Result<(), PipelineError> {
    for batch in input {
        let parts = deal(batch, concurrency);
        let enriched = thread::scope(|s| {
            let workers: Vec<_> = parts
                .into_iter()
                .map(|part| {
                    s.spawn(move || {
                        let part = part.into_iter();
                        part.map(|parsed| enrich_one(registry, parsed))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|worker| worker.join().unwrap_or_else(|e| panic::resume_unwind(e)))
                .collect()
        });
        out.send(enriched)
            .map_err(|_| PipelineError::closed("enrich"))?;
    }
    Ok(())
}

/// Adds every batch to the aggregator it started from (a checkpoint's, when resumed).
fn aggregate(
    mut aggregator: Aggregator,
    input: Receiver<Vec<Enriched>>,
) -> Result<Aggregator, PipelineError> {
    for batch in input {
        aggregator.add_batch(batch);
    }
    Ok(aggregator)
}
// ANCHOR_END: stages

/// `batch` dealt round-robin into at most `parts` non-empty parts.
fn deal(batch: Vec<Parsed>, parts: usize) -> Vec<Vec<Parsed>> {
    let count = parts.clamp(1, batch.len().max(1));
    let mut dealt: Vec<Vec<Parsed>> = (0..count).map(|_| Vec::new()).collect();
    for (i, parsed) in batch.into_iter().enumerate() {
        dealt[i % count].push(parsed);
    }
    dealt
}

// ANCHOR: lookup
/// One reading through the registry.
fn enrich_one(registry: &Arc<PlannedRegistry>, parsed: Parsed) -> Enriched {
    let reading = parsed?;
    if let Some(gate) = registry.stop_point(reading.line) {
        gate.wait(); // the tests' stop point holds this reading (broken runs only)
    }
    let found = lookup(registry, &reading);
    enrich_with(reading, found)
}

/// At most `MAX_ATTEMPTS` attempts of `LOOKUP_TIMEOUT` each, with a backoff between them.
/// Blocking code cannot be interrupted, only left behind: each attempt runs on a thread of its
/// own, and the caller waits for its answer no longer than the timeout. A thread whose call
/// hangs stays blocked; the registry keeps it, and the end of the run releases and joins it.
pub fn lookup(
    registry: &Arc<PlannedRegistry>,
    reading: &Reading,
) -> Result<SensorInfo, LookupError> {
    for attempt in 0..MAX_ATTEMPTS {
        if attempt > 0 {
            thread::sleep(registry.backoff(reading.line, attempt));
        }
        let (report, reports) = sync_channel(2);
        let thread = {
            let (registry, reading) = (Arc::clone(registry), reading.clone());
            thread::spawn(move || {
                let found = call(&registry, &reading, attempt, &report);
                let _ = report.send(Some(found));
            })
        };
        // The clock starts when the call does, not when the OS gets round to the new thread.
        let _under_way = reports.recv();
        match reports.recv_timeout(LOOKUP_TIMEOUT) {
            Ok(Some(found)) => {
                let _ = thread.join(); // it has answered: it is ending
                return found;
            }
            Err(RecvTimeoutError::Timeout) => {
                registry.timed_out();
                registry.abandon(thread); // perhaps blocked in `call` for good
            }
            Ok(None) | Err(RecvTimeoutError::Disconnected) => return Err(LookupError::Panicked),
        }
    }
    Err(LookupError::TimedOut)
}

/// The registry's side of one attempt: an answer at once, or a blocking call that does not
/// return until the run releases it. It tells the caller when it is under way.
fn call(
    registry: &PlannedRegistry,
    reading: &Reading,
    attempt: u32,
    report: &SyncSender<Option<Result<SensorInfo, LookupError>>>,
) -> Result<SensorInfo, LookupError> {
    let hung = registry
        .hangs(reading.line, attempt)
        .then(|| registry.hang_begins());
    let _ = report.send(None); // under way
    if hung.is_some() {
        registry.block_until_released();
    }
    registry.answer(&reading.sensor_id)
}
// ANCHOR_END: lookup

// ANCHOR: broken
/// BROKEN ON PURPOSE: the stages run on detached threads, and the driver waits for whichever
/// comes first, the end of the pipeline or the stop. On a stop it takes the source's *read*
/// offset with the aggregator as it is, and returns: its threads are abandoned mid-flight.
/// Everything between the two — a batch in a channel, a batch in its look-ups — is marked done
/// and never aggregated.
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
    let stop = Arc::new(AtomicBool::new(false));
    controls.shutdown.on_trigger({
        let stop = Arc::clone(&stop);
        move || stop.store(true, Ordering::SeqCst)
    });
    let next_line = start.next_line;
    let read = Arc::new(AtomicU64::new(0));
    let state = Arc::new(Mutex::new(start.aggregator));
    let (lines_tx, lines_rx) = sync_channel(cfg.channel_capacity);
    let (enriched_tx, enriched_rx) = sync_channel(cfg.channel_capacity);
    let source = detached("source", {
        let (input, progress, read) = (input.clone(), cfg.progress.clone(), Arc::clone(&read));
        let batch_size = cfg.batch_size;
        move || naive_source(&input, next_line, batch_size, &progress, &read, lines_tx)
    })?;
    let enrich = detached("enrich", {
        let (registry, concurrency) = (Arc::clone(&registry), cfg.concurrency);
        move || enrich(&registry, concurrency, lines_rx, enriched_tx)
    })?;
    let aggregate = detached("aggregate", {
        let state = Arc::clone(&state);
        move || aggregate_into(&state, enriched_rx)
    })?;
    while !aggregate.is_finished() {
        if stop.load(Ordering::SeqCst) {
            let checkpoint = Checkpoint::new(
                input,
                next_line + read.load(Ordering::SeqCst),
                state.lock().expect("never poisoned").clone(),
            );
            controls.shutdown.acted();
            return Ok(End::Stopped(checkpoint)); // the stage threads are left running
        }
        thread::sleep(Duration::from_millis(1));
    }
    controls.shutdown.acted();
    let stages = Stages {
        source: joined("source", source.join()),
        enrich: joined("enrich", enrich.join()),
        aggregate: joined("aggregate", aggregate.join()).map(|()| taken(&state)),
    };
    checkpoint::conclude(input, next_line, stages, sink)
}

/// BROKEN ON PURPOSE: counts a batch as read before handing it on — the offset a naive
/// shutdown saves, like a consumer that commits an offset when it polls, not when it is done.
fn naive_source(
    input: &Input,
    next_line: u64,
    batch_size: usize,
    progress: &Progress,
    read: &AtomicU64,
    out: SyncSender<Vec<Parsed>>,
) -> Result<SourceEnd, PipelineError> {
    let mut handed_on = 0;
    for batch in input.batches_from(next_line + 1, batch_size) {
        let lines = batch.len();
        read.fetch_add(lines as u64, Ordering::SeqCst);
        out.send(parse_batch(batch))
            .map_err(|_| PipelineError::closed("source"))?;
        handed_on += lines as u64;
        progress.add(lines);
    }
    Ok(SourceEnd::Finished { handed_on })
}

/// The aggregator kept where the stop handler can reach it.
fn aggregate_into(
    state: &Mutex<Aggregator>,
    input: Receiver<Vec<Enriched>>,
) -> Result<(), PipelineError> {
    for batch in input {
        state.lock().expect("never poisoned").add_batch(batch);
    }
    Ok(())
}
// ANCHOR_END: broken

/// The aggregator out of its cell, once every stage has ended.
fn taken(state: &Mutex<Aggregator>) -> Aggregator {
    std::mem::take(&mut *state.lock().expect("never poisoned"))
}

/// Starts a stage on its own named, scoped thread.
fn spawn<'scope, T: Send + 'scope>(
    scope: &'scope Scope<'scope, '_>,
    stage: &'static str,
    work: impl FnOnce() -> Result<T, PipelineError> + Send + 'scope,
) -> Result<ScopedJoinHandle<'scope, Result<T, PipelineError>>, PipelineError> {
    thread::Builder::new()
        .name(format!("ch07-{stage}"))
        .spawn_scoped(scope, work)
        .map_err(|source| PipelineError::Start {
            what: "a stage thread",
            source,
        })
}

/// Starts a stage on its own named thread that nobody has to join (the broken pipeline).
fn detached<T: Send + 'static>(
    stage: &'static str,
    work: impl FnOnce() -> Result<T, PipelineError> + Send + 'static,
) -> Result<JoinHandle<Result<T, PipelineError>>, PipelineError> {
    thread::Builder::new()
        .name(format!("ch07-{stage}"))
        .spawn(work)
        .map_err(|source| PipelineError::Start {
            what: "a stage thread",
            source,
        })
}

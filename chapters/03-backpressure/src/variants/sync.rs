//! Chapter 3, **sync** variant: a source thread and a sink thread joined by a
//! `std::sync::mpsc` channel: `channel()`, unbounded (broken), or `sync_channel(capacity)`
//! (fixed), whose `send` blocks the source thread while the channel is full.
//!
//! std's two channels share their `Receiver`; only the sending half differs (`Sender` never
//! blocks, `SyncSender` does), so only the source sees which one it has.

use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender, TrySendError};
use std::thread::{self, Scope, ScopedJoinHandle};

use instruments::Signals;
use pipeline::{
    Aggregator, Config, Input, LineBatch, PipelineError, Progress, Registry, Report, enrich_batch,
    finish, joined, parse_batch,
};

use crate::{QUEUE_LENGTH, Queue, QueueMeter, write_time};

// ANCHOR: run
/// The fixed pipeline, for the tour and the tests.
pub fn run(input: &Input, cfg: &Config) -> Result<Report, PipelineError> {
    fixed_unbounded_queue(input, cfg, &Signals::new(&crate::WATCH))
}

/// FIXED: a bounded channel; the source waits for the sink.
pub fn fixed_unbounded_queue(
    input: &Input,
    cfg: &Config,
    signals: &Signals,
) -> Result<Report, PipelineError> {
    pipeline(Queue::Bounded, input, cfg, signals)
}

/// BROKEN ON PURPOSE: an unbounded channel; the queue grows with the input.
pub fn broken_unbounded_queue(
    input: &Input,
    cfg: &Config,
    signals: &Signals,
) -> Result<Report, PipelineError> {
    pipeline(Queue::Unbounded, input, cfg, signals)
}

fn pipeline(
    queue: Queue,
    input: &Input,
    cfg: &Config,
    signals: &Signals,
) -> Result<Report, PipelineError> {
    cfg.validate()?;
    let output = cfg.sink.open()?;
    let meter = QueueMeter::new(signals.gauge(QUEUE_LENGTH));
    let (out, batches) = channel(queue, cfg.channel_capacity);
    let (start_sink, sink_may_start) = mpsc::channel::<()>();
    thread::scope(|s| {
        let source = spawn(s, "source", || {
            source(input, cfg.batch_size, out, &meter, start_sink)
        })?;
        let sink = spawn(s, "sink", || {
            sink(
                &*cfg.registry,
                batches,
                &meter,
                sink_may_start,
                &cfg.progress,
            )
        })?;
        match (join("source", source), join("sink", sink)) {
            (Ok(lines_read), Ok(aggregator)) => finish(lines_read, aggregator, output),
            (source, sink) => Err(pipeline::cause_of([source.err(), sink.err()])),
        }
    })
}
// ANCHOR_END: run

// ANCHOR: channel
/// The sending half: std's unbounded and bounded channels have different types.
enum Out {
    Unbounded(Sender<LineBatch>),
    Bounded(SyncSender<LineBatch>),
}

fn channel(queue: Queue, capacity: usize) -> (Out, Receiver<LineBatch>) {
    match queue {
        // BROKEN ON PURPOSE: no capacity, so `send` never waits.
        Queue::Unbounded => {
            let (tx, rx) = mpsc::channel();
            (Out::Unbounded(tx), rx)
        }
        // FIXED: at most `capacity` batches; `send` blocks while the channel is full.
        Queue::Bounded => {
            let (tx, rx) = mpsc::sync_channel(capacity);
            (Out::Bounded(tx), rx)
        }
    }
}
// ANCHOR_END: channel

// ANCHOR: source
/// Reads the input in batches and sends them as fast as the channel takes them. Dropping
/// `start_sink` lets the sink start: at the end, or as soon as the channel is full.
fn source(
    input: &Input,
    batch_size: usize,
    out: Out,
    meter: &QueueMeter,
    start_sink: Sender<()>,
) -> Result<u64, PipelineError> {
    let mut start_sink = Some(start_sink);
    let mut lines_read = 0;
    for batch in input.batches(batch_size) {
        lines_read += batch.len() as u64;
        send(&out, batch, &mut start_sink)?;
        meter.sent();
    }
    Ok(lines_read)
}

/// An unbounded channel takes the batch at once, however many wait. A bounded one that is full
/// makes the source wait for room — backpressure — and the source, which can go no further,
/// lets the sink start.
fn send(
    out: &Out,
    batch: LineBatch,
    start_sink: &mut Option<Sender<()>>,
) -> Result<(), PipelineError> {
    let closed = PipelineError::closed("source");
    match out {
        Out::Unbounded(tx) => tx.send(batch).map_err(|_| closed),
        Out::Bounded(tx) => match tx.try_send(batch) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(batch)) => {
                start_sink.take();
                tx.send(batch).map_err(|_| closed)
            }
            Err(TrySendError::Disconnected(_)) => Err(closed),
        },
    }
}
// ANCHOR_END: source

// ANCHOR: sink
/// Starts once the source can go no further, then takes one batch after another: parse,
/// enrich, aggregate, and write, which takes 1–3 ms a batch. Progress counts lines done here.
fn sink(
    registry: &dyn Registry,
    batches: Receiver<LineBatch>,
    meter: &Arc<QueueMeter>,
    may_start: Receiver<()>,
    progress: &Progress,
) -> Result<Aggregator, PipelineError> {
    let _ = may_start.recv(); // returns once the source has dropped its end
    let mut queue = meter.reader();
    let mut aggregator = Aggregator::new();
    loop {
        queue.about_to_take();
        let Ok(batch) = batches.recv() else { break };
        let lines = batch.len();
        aggregator.add_batch(enrich_batch(registry, parse_batch(batch)));
        thread::sleep(write_time(queue.taken())); // the write
        progress.add(lines);
    }
    Ok(aggregator)
}
// ANCHOR_END: sink

/// Starts a stage on its own named thread.
fn spawn<'scope, T: Send + 'scope>(
    scope: &'scope Scope<'scope, '_>,
    stage: &'static str,
    work: impl FnOnce() -> Result<T, PipelineError> + Send + 'scope,
) -> Result<ScopedJoinHandle<'scope, Result<T, PipelineError>>, PipelineError> {
    thread::Builder::new()
        .name(format!("ch03-{stage}"))
        .spawn_scoped(scope, work)
        .map_err(|source| PipelineError::Start {
            what: "a stage thread",
            source,
        })
}

/// Waits for a stage; a panic becomes an error naming it.
fn join<T>(
    stage: &'static str,
    handle: ScopedJoinHandle<'_, Result<T, PipelineError>>,
) -> Result<T, PipelineError> {
    joined(stage, handle.join())
}

//! Chapter 3, **async-std** variant: a source task and a sink task on async-std's global
//! executor, joined by an `async_std::channel` (async-channel): `unbounded()` (broken) or
//! `bounded(capacity)` (fixed), whose `send(..).await` parks the source task while the channel
//! is full.
//!
//! async-channel's unbounded and bounded channels have the same types, so nothing but the
//! constructor differs. async-std is discontinued upstream (RUSTSEC-2025-0052): the legacy
//! comparison.
//!
//! The hybrid pipeline (`hybrid`) puts a sync CPU stage between an async source and an async
//! sink, on async-std's blocking pool, with `recv_blocking` and `send_blocking` on its side.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use async_std::channel::{Receiver, Sender, TrySendError, bounded, unbounded};
use async_std::task::{self, JoinHandle};
use futures_lite::FutureExt;

use instruments::Signals;
use pipeline::{
    Aggregator, Config, Enriched, Input, LineBatch, PipelineError, Progress, Registry, Report,
    enrich_batch, finish, joined, parse_batch,
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
    task::block_on(async {
        let (out, batches) = channel(queue, cfg.channel_capacity);
        let (start_sink, sink_may_start) = bounded::<()>(1);
        let source = spawn(source(
            input.clone(),
            cfg.batch_size,
            out,
            Arc::clone(&meter),
            start_sink,
        ));
        let sink = spawn(sink(
            Arc::clone(&cfg.registry),
            batches,
            Arc::clone(&meter),
            sink_may_start,
            cfg.progress.clone(),
        ));
        match (join("source", source).await, join("sink", sink).await) {
            (Ok(lines_read), Ok(aggregator)) => finish(lines_read, aggregator, output),
            (source, sink) => Err(pipeline::cause_of([source.err(), sink.err()])),
        }
    })
}
// ANCHOR_END: run

// ANCHOR: channel
/// async-channel's unbounded and bounded channels have the same types.
type Out = Sender<LineBatch>;
type In = Receiver<LineBatch>;

fn channel(queue: Queue, capacity: usize) -> (Out, In) {
    match queue {
        // BROKEN ON PURPOSE: no capacity, so `send` never waits.
        Queue::Unbounded => unbounded(),
        // FIXED: at most `capacity` batches; `send` waits while the channel is full.
        Queue::Bounded => bounded(capacity),
    }
}
// ANCHOR_END: channel

// ANCHOR: source
/// Reads the input in batches and sends them as fast as the channel takes them. Dropping
/// `start_sink` lets the sink start: at the end, or as soon as the channel is full.
async fn source(
    input: Input,
    batch_size: usize,
    out: Out,
    meter: Arc<QueueMeter>,
    start_sink: Sender<()>,
) -> Result<u64, PipelineError> {
    let mut start_sink = Some(start_sink);
    let mut lines_read = 0;
    for batch in input.batches(batch_size) {
        lines_read += batch.len() as u64;
        send(&out, batch, &mut start_sink).await?;
        meter.sent();
    }
    Ok(lines_read)
}

/// An unbounded channel takes the batch at once, however many wait. A bounded one that is full
/// makes the source wait for room — backpressure — and the source, which can go no further,
/// lets the sink start.
async fn send(
    out: &Out,
    batch: LineBatch,
    start_sink: &mut Option<Sender<()>>,
) -> Result<(), PipelineError> {
    let closed = PipelineError::closed("source");
    match out.try_send(batch) {
        Ok(()) => Ok(()),
        Err(TrySendError::Full(batch)) => {
            start_sink.take();
            out.send(batch).await.map_err(|_| closed)
        }
        Err(TrySendError::Closed(_)) => Err(closed),
    }
}
// ANCHOR_END: source

// ANCHOR: sink
/// Starts once the source can go no further, then takes one batch after another: parse,
/// enrich, aggregate, and write, which takes 1–3 ms a batch. Progress counts lines done here.
async fn sink(
    registry: Arc<dyn Registry>,
    batches: In,
    meter: Arc<QueueMeter>,
    may_start: Receiver<()>,
    progress: Progress,
) -> Result<Aggregator, PipelineError> {
    let _ = may_start.recv().await; // returns once the source has dropped its end
    let mut queue = meter.reader();
    let mut aggregator = Aggregator::new();
    loop {
        queue.about_to_take();
        let Ok(batch) = batches.recv().await else {
            break;
        };
        let lines = batch.len();
        aggregator.add_batch(enrich_batch(&*registry, parse_batch(batch)));
        task::sleep(write_time(queue.taken())).await; // the write
        progress.add(lines);
    }
    Ok(aggregator)
}
// ANCHOR_END: sink

// ANCHOR: hybrid
/// A hybrid pipeline: an async source, a sync CPU stage (parse and enrich) on async-std's
/// blocking pool, an async sink, joined by two bounded channels — async → sync, then
/// sync → async.
pub fn hybrid(input: &Input, cfg: &Config) -> Result<Report, PipelineError> {
    cfg.validate()?;
    let output = cfg.sink.open()?;
    task::block_on(async {
        let (lines_tx, lines_rx) = bounded(cfg.channel_capacity);
        let (enriched_tx, enriched_rx) = bounded(cfg.channel_capacity);
        let source = spawn(async_source(input.clone(), cfg.batch_size, lines_tx));
        let registry = Arc::clone(&cfg.registry);
        // Not `task::spawn`: the CPU stage blocks its thread, so it gets one of its own from
        // the blocking pool, and the executor's threads stay free for the async stages.
        let cpu = task::spawn_blocking(move || {
            catch_unwind(AssertUnwindSafe(|| {
                sync_cpu_stage(&*registry, lines_rx, enriched_tx)
            }))
        });
        let sink = spawn(async_sink(enriched_rx, cfg.progress.clone()));
        let (source, cpu) = (join("source", source).await, join("cpu", cpu).await);
        match (source, cpu, join("sink", sink).await) {
            (Ok(lines_read), Ok(()), Ok(aggregator)) => finish(lines_read, aggregator, output),
            (source, cpu, sink) => Err(pipeline::cause_of([source.err(), cpu.err(), sink.err()])),
        }
    })
}

/// Async side of the async → sync channel: `send(..).await` parks this task while it is full.
async fn async_source(
    input: Input,
    batch_size: usize,
    out: Sender<LineBatch>,
) -> Result<u64, PipelineError> {
    let mut lines_read = 0;
    for batch in input.batches(batch_size) {
        lines_read += batch.len() as u64;
        out.send(batch)
            .await
            .map_err(|_| PipelineError::closed("source"))?;
    }
    Ok(lines_read)
}

/// The sync stage, on a thread that may block: `recv_blocking` waits for the async source,
/// `send_blocking` waits for room towards the async sink. (On an executor thread they would
/// block it, and every task queued behind it, without a word.)
fn sync_cpu_stage(
    registry: &dyn Registry,
    input: Receiver<LineBatch>,
    out: Sender<Vec<Enriched>>,
) -> Result<(), PipelineError> {
    while let Ok(batch) = input.recv_blocking() {
        out.send_blocking(enrich_batch(registry, parse_batch(batch)))
            .map_err(|_| PipelineError::closed("cpu"))?;
    }
    Ok(())
}

/// Async side of the sync → async channel: `recv().await` parks this task while it is empty.
async fn async_sink(
    input: Receiver<Vec<Enriched>>,
    progress: Progress,
) -> Result<Aggregator, PipelineError> {
    let mut aggregator = Aggregator::new();
    let mut written = 0;
    while let Ok(batch) = input.recv().await {
        let lines = batch.len();
        aggregator.add_batch(batch);
        written += 1;
        task::sleep(write_time(written)).await; // the write
        progress.add(lines);
    }
    Ok(aggregator)
}
// ANCHOR_END: hybrid

type StageHandle<T> = JoinHandle<std::thread::Result<Result<T, PipelineError>>>;

/// Starts a stage as a task whose panic is caught, so that awaiting it cannot re-raise it.
fn spawn<T: Send + 'static>(
    stage: impl Future<Output = Result<T, PipelineError>> + Send + 'static,
) -> StageHandle<T> {
    task::spawn(AssertUnwindSafe(stage).catch_unwind())
}

/// Waits for a stage; a caught panic becomes an error naming it.
async fn join<T>(stage: &'static str, handle: StageHandle<T>) -> Result<T, PipelineError> {
    joined(stage, handle.await)
}

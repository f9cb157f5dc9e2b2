//! Chapter 3, **tokio** variant: a source task and a sink task joined by a `tokio::sync::mpsc`
//! channel: `unbounded_channel()` (broken) or `channel(capacity)` (fixed), whose
//! `send(..).await` parks the source task while the channel is full.
//!
//! tokio's unbounded and bounded channels are different types on both ends (and the unbounded
//! `send` is not even `async`: it never waits), so both ends get a small enum here.
//!
//! The hybrid pipeline (`hybrid`) puts a sync CPU stage between an async source and an async
//! sink, on tokio's blocking pool, with `blocking_recv` and `blocking_send` on its side.

use std::sync::Arc;

use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::mpsc::{self, Receiver, Sender, UnboundedReceiver, UnboundedSender};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use instruments::Signals;
use pipeline::{
    Aggregator, Config, Enriched, Input, LineBatch, PipelineError, Progress, Registry, Report,
    enrich_batch, finish, parse_batch,
};
use runtimes::tokio_joined;

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
    let runtime = runtimes::tokio_runtime(cfg)?;
    runtime.block_on(async {
        let (out, batches) = channel(queue, cfg.channel_capacity);
        let (start_sink, sink_may_start) = oneshot::channel::<()>();
        let source = tokio::spawn(source(
            input.clone(),
            cfg.batch_size,
            out,
            Arc::clone(&meter),
            start_sink,
        ));
        let sink = tokio::spawn(sink(
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
/// The two halves: tokio's unbounded and bounded channels have different types.
enum Out {
    Unbounded(UnboundedSender<LineBatch>),
    Bounded(Sender<LineBatch>),
}

enum In {
    Unbounded(UnboundedReceiver<LineBatch>),
    Bounded(Receiver<LineBatch>),
}

fn channel(queue: Queue, capacity: usize) -> (Out, In) {
    match queue {
        // BROKEN ON PURPOSE: no capacity, so `send` never waits.
        Queue::Unbounded => {
            let (tx, rx) = mpsc::unbounded_channel();
            (Out::Unbounded(tx), In::Unbounded(rx))
        }
        // FIXED: at most `capacity` batches; `send` waits while the channel is full.
        Queue::Bounded => {
            let (tx, rx) = mpsc::channel(capacity);
            (Out::Bounded(tx), In::Bounded(rx))
        }
    }
}

impl In {
    async fn recv(&mut self) -> Option<LineBatch> {
        match self {
            In::Unbounded(rx) => rx.recv().await,
            In::Bounded(rx) => rx.recv().await,
        }
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
    start_sink: oneshot::Sender<()>,
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
    start_sink: &mut Option<oneshot::Sender<()>>,
) -> Result<(), PipelineError> {
    let closed = PipelineError::closed("source");
    match out {
        Out::Unbounded(tx) => tx.send(batch).map_err(|_| closed),
        Out::Bounded(tx) => match tx.try_send(batch) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(batch)) => {
                start_sink.take();
                tx.send(batch).await.map_err(|_| closed)
            }
            Err(TrySendError::Closed(_)) => Err(closed),
        },
    }
}
// ANCHOR_END: source

// ANCHOR: sink
/// Starts once the source can go no further, then takes one batch after another: parse,
/// enrich, aggregate, and write, which takes 1–3 ms a batch. Progress counts lines done here.
async fn sink(
    registry: Arc<dyn Registry>,
    mut batches: In,
    meter: Arc<QueueMeter>,
    may_start: oneshot::Receiver<()>,
    progress: Progress,
) -> Result<Aggregator, PipelineError> {
    let _ = may_start.await; // returns once the source has dropped its end
    let mut queue = meter.reader();
    let mut aggregator = Aggregator::new();
    loop {
        queue.about_to_take();
        let Some(batch) = batches.recv().await else {
            break;
        };
        let lines = batch.len();
        aggregator.add_batch(enrich_batch(&*registry, parse_batch(batch)));
        tokio::time::sleep(write_time(queue.taken())).await; // the write
        progress.add(lines);
    }
    Ok(aggregator)
}
// ANCHOR_END: sink

// ANCHOR: hybrid
/// A hybrid pipeline: an async source, a sync CPU stage (parse and enrich) on tokio's blocking
/// pool, an async sink, joined by two bounded channels — async → sync, then sync → async.
pub fn hybrid(input: &Input, cfg: &Config) -> Result<Report, PipelineError> {
    cfg.validate()?;
    let output = cfg.sink.open()?;
    let runtime = runtimes::tokio_runtime(cfg)?;
    runtime.block_on(async {
        let (lines_tx, lines_rx) = mpsc::channel(cfg.channel_capacity);
        let (enriched_tx, enriched_rx) = mpsc::channel(cfg.channel_capacity);
        let source = tokio::spawn(async_source(input.clone(), cfg.batch_size, lines_tx));
        let registry = Arc::clone(&cfg.registry);
        // Not `tokio::spawn`: the CPU stage blocks its thread, so it gets one of its own from
        // the blocking pool, and the runtime's workers stay free for the async stages.
        let cpu =
            tokio::task::spawn_blocking(move || sync_cpu_stage(&*registry, lines_rx, enriched_tx));
        let sink = tokio::spawn(async_sink(enriched_rx, cfg.progress.clone()));
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

/// The sync stage, on a thread that may block: `blocking_recv` waits for the async source,
/// `blocking_send` waits for room towards the async sink. (Both panic if called on a runtime
/// thread: tokio will not let them block a worker.)
fn sync_cpu_stage(
    registry: &dyn Registry,
    mut input: Receiver<LineBatch>,
    out: Sender<Vec<Enriched>>,
) -> Result<(), PipelineError> {
    while let Some(batch) = input.blocking_recv() {
        out.blocking_send(enrich_batch(registry, parse_batch(batch)))
            .map_err(|_| PipelineError::closed("cpu"))?;
    }
    Ok(())
}

/// Async side of the sync → async channel: `recv().await` parks this task while it is empty.
async fn async_sink(
    mut input: Receiver<Vec<Enriched>>,
    progress: Progress,
) -> Result<Aggregator, PipelineError> {
    let mut aggregator = Aggregator::new();
    let mut written = 0;
    while let Some(batch) = input.recv().await {
        let lines = batch.len();
        aggregator.add_batch(batch);
        written += 1;
        tokio::time::sleep(write_time(written)).await; // the write
        progress.add(lines);
    }
    Ok(aggregator)
}
// ANCHOR_END: hybrid

type StageHandle<T> = JoinHandle<Result<T, PipelineError>>;

/// Waits for a stage: its own result, or the panic or cancellation that ended it, as an error.
async fn join<T>(stage: &'static str, handle: StageHandle<T>) -> Result<T, PipelineError> {
    tokio_joined(stage, handle.await)?
}

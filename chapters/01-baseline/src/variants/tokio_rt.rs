//! Chapter 1, **tokio** variant: one task per stage on a multi-thread runtime, bounded
//! `tokio::sync::mpsc` channels.
//!
//! Compared with `sync.rs`: stages are `async fn`s, `send`/`recv` are `.await`ed instead of
//! blocking a thread, and spawned tasks must own what they use (`'static`), so each stage gets
//! its own clone of the input, the registry handle and the progress counter (all cheap `Arc`s).
//!
//! Blocking calls that remain, on purpose, to keep the baseline simple: `run_async` creates the
//! output file, and the sink task writes through a `BufWriter` (a real `write` only every 8 KiB)
//! and ends with an fsync. Each is short, but each blocks a worker thread while it runs; chapter 8
//! shows what that costs and moves such work to `spawn_blocking`.

use std::sync::Arc;

use tokio::sync::mpsc::{Receiver, Sender, channel};
use tokio::task::JoinHandle;

use pipeline::{
    Aggregator, Config, Enriched, Input, LineBatch, Parsed, PipelineError, Progress, Registry,
    Report, Sink, StageResults, Tally, WindowSummary, enrich_batch, panic_message, parse_batch,
};

// ANCHOR: run
/// Builds a multi-thread runtime with `cfg.worker_threads` workers and runs the pipeline on it.
pub fn run(input: &Input, cfg: &Config) -> Result<Report, PipelineError> {
    cfg.validate()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cfg.worker_threads)
        .thread_name("ch01-tokio-worker")
        .enable_all()
        .build()
        .map_err(|source| PipelineError::Start {
            what: "the tokio runtime",
            source,
        })?;
    runtime.block_on(run_async(input, cfg))
}

/// The pipeline: five tasks, four bounded channels. Runs on any tokio runtime.
pub async fn run_async(input: &Input, cfg: &Config) -> Result<Report, PipelineError> {
    cfg.validate()?;
    let output = cfg.sink.open()?;
    let (lines_tx, lines_rx) = channel(cfg.channel_capacity);
    let (parsed_tx, parsed_rx) = channel(cfg.channel_capacity);
    let (enriched_tx, enriched_rx) = channel(cfg.channel_capacity);
    let (windows_tx, windows_rx) = channel(cfg.channel_capacity);

    let source = spawn(source(
        input.clone(),
        cfg.batch_size,
        cfg.progress.clone(),
        lines_tx,
    ));
    let parse = spawn(parse(lines_rx, parsed_tx));
    let enrich = spawn(enrich(Arc::clone(&cfg.registry), parsed_rx, enriched_tx));
    let aggregate = spawn(aggregate(enriched_rx, windows_tx));
    let sink = spawn(sink(output, windows_rx));

    StageResults {
        source: join("source", source).await,
        parse: join("parse", parse).await,
        enrich: join("enrich", enrich).await,
        aggregate: join("aggregate", aggregate).await,
        sink: join("sink", sink).await,
    }
    .into_report()
}
// ANCHOR_END: run

// ANCHOR: stages
/// Reads the input in batches; returns how many lines it read.
pub async fn source(
    input: Input,
    batch_size: usize,
    progress: Progress,
    out: Sender<LineBatch>,
) -> Result<u64, PipelineError> {
    let mut lines_read = 0;
    for batch in input.batches(batch_size) {
        lines_read += batch.len() as u64;
        progress.add(batch.len());
        out.send(batch)
            .await
            .map_err(|_| PipelineError::closed("source"))?;
    }
    Ok(lines_read)
}

pub async fn parse(
    mut input: Receiver<LineBatch>,
    out: Sender<Vec<Parsed>>,
) -> Result<(), PipelineError> {
    while let Some(batch) = input.recv().await {
        out.send(parse_batch(batch))
            .await
            .map_err(|_| PipelineError::closed("parse"))?;
    }
    Ok(())
}

pub async fn enrich(
    registry: Arc<dyn Registry>,
    mut input: Receiver<Vec<Parsed>>,
    out: Sender<Vec<Enriched>>,
) -> Result<(), PipelineError> {
    while let Some(batch) = input.recv().await {
        out.send(enrich_batch(&*registry, batch))
            .await
            .map_err(|_| PipelineError::closed("enrich"))?;
    }
    Ok(())
}

/// Needs every record before any window is complete, then hands the windows on in order.
pub async fn aggregate(
    mut input: Receiver<Vec<Enriched>>,
    out: Sender<WindowSummary>,
) -> Result<Tally, PipelineError> {
    let mut aggregator = Aggregator::new();
    while let Some(batch) = input.recv().await {
        aggregator.add_batch(batch);
    }
    let (windows, tally) = aggregator.finish();
    for window in windows {
        out.send(window)
            .await
            .map_err(|_| PipelineError::closed("aggregate"))?;
    }
    Ok(tally)
}

/// Writes every window; returns what it wrote, which is what the report shows.
pub async fn sink(
    mut output: Box<dyn Sink>,
    mut input: Receiver<WindowSummary>,
) -> Result<Vec<WindowSummary>, PipelineError> {
    let mut written = Vec::new();
    while let Some(window) = input.recv().await {
        output.write(&window)?;
        written.push(window);
    }
    output.finish()?;
    Ok(written)
}
// ANCHOR_END: stages

// ANCHOR: join
type StageHandle<T> = JoinHandle<Result<T, PipelineError>>;

/// Starts a stage as a task. No wrapping needed: tokio catches a task's panic itself.
fn spawn<T: Send + 'static>(
    stage: impl Future<Output = Result<T, PipelineError>> + Send + 'static,
) -> StageHandle<T> {
    tokio::spawn(stage)
}

/// Waits for a stage; a panic comes back as a `JoinError` and becomes an error. Spelled out
/// here rather than taken from `runtimes::tokio_joined` (which every later chapter uses, and
/// which does the same): chapter 12 compiles this very file into a standalone program that
/// depends on nothing but `pipeline` and tokio, to measure what the runtime alone costs.
async fn join<T>(stage: &'static str, handle: StageHandle<T>) -> Result<T, PipelineError> {
    match handle.await {
        Ok(result) => result,
        Err(e) if e.is_panic() => Err(PipelineError::StagePanicked {
            stage,
            message: panic_message(&*e.into_panic()),
        }),
        Err(_) => Err(PipelineError::StageCancelled { stage }),
    }
}
// ANCHOR_END: join

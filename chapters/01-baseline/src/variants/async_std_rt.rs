//! Chapter 1, **async-std** variant: one task per stage on async-std's global executor, bounded
//! `async_std::channel`s.
//!
//! async-std is discontinued upstream (RUSTSEC-2025-0052); it is here, pinned to 1.13.2, as the
//! legacy comparison. Its executor is global and starts on first use with one thread per CPU
//! (`ASYNC_STD_THREAD_COUNT` overrides it), so `cfg.worker_threads` does not apply.
//!
//! Compared with `tokio_rt.rs`: a panicking async-std task re-raises its panic in whoever awaits
//! its handle, instead of returning an error. Each stage is wrapped in `catch_unwind` so that a
//! panic becomes a `PipelineError`, as it does in the other variants.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use async_std::channel::{Receiver, Sender, bounded};
use async_std::task::{self, JoinHandle};
use futures_lite::FutureExt;

use pipeline::{
    Aggregator, Config, Enriched, Input, LineBatch, Parsed, PipelineError, Progress, Registry,
    Report, Sink, StageResults, Tally, WindowSummary, enrich_batch, joined, parse_batch,
};

// ANCHOR: run
/// Runs the pipeline on async-std's global executor, blocking the calling thread until done.
pub fn run(input: &Input, cfg: &Config) -> Result<Report, PipelineError> {
    cfg.validate()?;
    task::block_on(run_async(input, cfg))
}

/// The pipeline: five tasks, four bounded channels.
pub async fn run_async(input: &Input, cfg: &Config) -> Result<Report, PipelineError> {
    cfg.validate()?;
    let output = cfg.sink.open()?;
    let (lines_tx, lines_rx) = bounded(cfg.channel_capacity);
    let (parsed_tx, parsed_rx) = bounded(cfg.channel_capacity);
    let (enriched_tx, enriched_rx) = bounded(cfg.channel_capacity);
    let (windows_tx, windows_rx) = bounded(cfg.channel_capacity);

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
    input: Receiver<LineBatch>,
    out: Sender<Vec<Parsed>>,
) -> Result<(), PipelineError> {
    while let Ok(batch) = input.recv().await {
        out.send(parse_batch(batch))
            .await
            .map_err(|_| PipelineError::closed("parse"))?;
    }
    Ok(())
}

pub async fn enrich(
    registry: Arc<dyn Registry>,
    input: Receiver<Vec<Parsed>>,
    out: Sender<Vec<Enriched>>,
) -> Result<(), PipelineError> {
    while let Ok(batch) = input.recv().await {
        out.send(enrich_batch(&*registry, batch))
            .await
            .map_err(|_| PipelineError::closed("enrich"))?;
    }
    Ok(())
}

/// Needs every record before any window is complete, then hands the windows on in order.
pub async fn aggregate(
    input: Receiver<Vec<Enriched>>,
    out: Sender<WindowSummary>,
) -> Result<Tally, PipelineError> {
    let mut aggregator = Aggregator::new();
    while let Ok(batch) = input.recv().await {
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
    input: Receiver<WindowSummary>,
) -> Result<Vec<WindowSummary>, PipelineError> {
    let mut written = Vec::new();
    while let Ok(window) = input.recv().await {
        output.write(&window)?;
        written.push(window);
    }
    output.finish()?;
    Ok(written)
}
// ANCHOR_END: stages

// ANCHOR: join
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
// ANCHOR_END: join

//! # Exercise 01 — a pipeline that never ends (chapter 1)
//!
//! This is chapter 1's tokio pipeline, with two changes someone made "to help". Run the checks
//! and fix what they find, one at a time (10–20 minutes):
//!
//! 1. The run never finishes. Every stage is waiting for the one before it to end. Why does
//!    the parse stage never see the end of its input?
//! 2. Once it finishes, lines go missing: lines read ≠ accepted + rejected. Where do they go?
//!
//! Check: `cargo test -p ex01-baseline` (or `cargo run --release -- check 01`).
//! Stuck: `cargo run --release -- hint 01`. Don't change the checks.
#![forbid(unsafe_code)]

use std::sync::Arc;

use tokio::sync::mpsc::{Receiver, Sender, channel};
use tokio::task::JoinHandle;

use pipeline::{
    Aggregator, Config, Enriched, Input, LineBatch, Parsed, PipelineError, Progress, Registry,
    Report, Sink, StageResults, Tally, WindowSummary, enrich_batch, panic_message, parse_batch,
};

// ANCHOR: task_run
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
    // Kept to report how full the first channel is once the stages are running.
    let lines_probe = lines_tx.clone();
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

    eprintln!(
        "first channel: {} of {} slots free once the stages are running",
        lines_probe.capacity(),
        lines_probe.max_capacity()
    );
    StageResults {
        source: join("source", source).await,
        parse: join("parse", parse).await,
        enrich: join("enrich", enrich).await,
        aggregate: join("aggregate", aggregate).await,
        sink: join("sink", sink).await,
    }
    .into_report()
}
// ANCHOR_END: task_run

/// Reads the input in batches; returns how many lines it read.
async fn source(
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

async fn parse(
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

// ANCHOR: task_enrich
async fn enrich(
    registry: Arc<dyn Registry>,
    mut input: Receiver<Vec<Parsed>>,
    out: Sender<Vec<Enriched>>,
) -> Result<(), PipelineError> {
    while let Some(batch) = input.recv().await {
        // Only readings need the registry; rejected lines have nothing to enrich.
        let readings: Vec<Parsed> = batch.into_iter().filter(Result::is_ok).collect();
        out.send(enrich_batch(&*registry, readings))
            .await
            .map_err(|_| PipelineError::closed("enrich"))?;
    }
    Ok(())
}
// ANCHOR_END: task_enrich

/// Needs every record before any window is complete, then hands the windows on in order.
async fn aggregate(
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
async fn sink(
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

type StageHandle<T> = JoinHandle<Result<T, PipelineError>>;

/// Starts a stage as a task. No wrapping needed: tokio catches a task's panic itself.
fn spawn<T: Send + 'static>(
    stage: impl Future<Output = Result<T, PipelineError>> + Send + 'static,
) -> StageHandle<T> {
    tokio::spawn(stage)
}

/// Waits for a stage; a panic comes back as a `JoinError` and becomes an error.
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

// The checks: one file, shared with the solution crate (its `tests` folder links to this one).
#[cfg(test)]
#[path = "../tests/checks.rs"]
mod checks;

//! Chapter 12, **tokio** variant: chapter 1's pipeline (one task per stage on a multi-thread
//! runtime, bounded `tokio::sync::mpsc` channels), restated so that this file is, by itself,
//! the whole pipeline of a standalone program: `standalone/tokio` and
//! `standalone/tokio-postgres` compile it through `#[path]`, and this crate compiles and tests
//! the very same file.
//!
//! It builds its runtime itself rather than through the workspace's `runtimes` crate, because
//! that crate depends on tokio with the workspace's `full` feature set — and the point of the
//! standalone programs is what tokio costs with only the features this file needs:
//! `rt-multi-thread` (the runtime) and `sync` (the channels).

use std::sync::Arc;

use tokio::sync::mpsc::{Receiver, Sender, channel};
use tokio::task::JoinHandle;

use pipeline::{
    Aggregator, Config, Enriched, Input, LineBatch, Parsed, PipelineError, Progress, Registry,
    Report, Sink, StageResults, Tally, WindowSummary, enrich_batch, panic_message, parse_batch,
};

// ANCHOR: run
/// Builds a multi-thread runtime and runs the pipeline on it.
pub fn run(input: &Input, cfg: &Config) -> Result<Report, PipelineError> {
    cfg.validate()?;
    runtime(cfg)?.block_on(run_async(input, cfg))
}

/// A multi-thread runtime with `cfg.worker_threads` workers. `enable_all` turns on the I/O and
/// timer drivers only if the tokio features that have them are compiled in (the
/// `tokio-postgres` standalone's are, through tokio-postgres; the plain `tokio` one's are not).
pub fn runtime(cfg: &Config) -> Result<tokio::runtime::Runtime, PipelineError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cfg.worker_threads)
        .enable_all()
        .build()
        .map_err(|source| PipelineError::Start {
            what: "the tokio runtime",
            source,
        })
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

async fn enrich(
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

/// Starts a stage as a task. tokio catches a task's panic itself.
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

//! Chapter 1, **smol** variant: one task per stage on a `smol::Executor` that we drive from our
//! own threads, bounded `smol::channel`s (async-channel).
//!
//! smol gives you the pieces rather than a runtime: the executor does nothing until threads call
//! `executor.run(..)`. `run` starts `cfg.worker_threads` of them in a `thread::scope` and stops
//! them when the pipeline is done.
//!
//! Compared with `tokio_rt.rs`: a panicking smol task re-raises its panic in whoever awaits it,
//! and *dropping* a `Task` cancels it (tokio and async-std detach). Each stage is wrapped in
//! `catch_unwind`, and every task is awaited, never dropped early.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::thread;

use futures_lite::FutureExt;
use smol::channel::{Receiver, Sender, bounded};
use smol::{Executor, Task};

use pipeline::{
    Aggregator, Config, Enriched, Input, LineBatch, Parsed, PipelineError, Progress, Registry,
    Report, Sink, StageResults, Tally, WindowSummary, enrich_batch, joined, parse_batch,
};

// ANCHOR: run
/// Starts `cfg.worker_threads` executor threads and runs the pipeline on them.
pub fn run(input: &Input, cfg: &Config) -> Result<Report, PipelineError> {
    cfg.validate()?;
    let executor = Executor::new();
    let (stop, stopped) = smol::channel::unbounded::<()>();
    thread::scope(|s| {
        // Dropped when this closure returns, which ends every worker's `run` below, so the scope
        // can join them, on success and on early return alike.
        let _stop_workers = stop;
        for n in 0..cfg.worker_threads {
            let (executor, stopped) = (&executor, stopped.clone());
            thread::Builder::new()
                .name(format!("ch01-smol-worker-{n}"))
                .spawn_scoped(s, move || smol::block_on(executor.run(stopped.recv())))
                .map_err(|source| PipelineError::Start {
                    what: "a smol executor thread",
                    source,
                })?;
        }
        smol::block_on(run_async(&executor, input, cfg))
    })
}

/// The pipeline: five tasks on `executor`, four bounded channels.
pub async fn run_async(
    executor: &Executor<'static>,
    input: &Input,
    cfg: &Config,
) -> Result<Report, PipelineError> {
    cfg.validate()?;
    let output = cfg.sink.open()?;
    let (lines_tx, lines_rx) = bounded(cfg.channel_capacity);
    let (parsed_tx, parsed_rx) = bounded(cfg.channel_capacity);
    let (enriched_tx, enriched_rx) = bounded(cfg.channel_capacity);
    let (windows_tx, windows_rx) = bounded(cfg.channel_capacity);

    let source = spawn(
        executor,
        source(
            input.clone(),
            cfg.batch_size,
            cfg.progress.clone(),
            lines_tx,
        ),
    );
    let parse = spawn(executor, parse(lines_rx, parsed_tx));
    let enrich = spawn(
        executor,
        enrich(Arc::clone(&cfg.registry), parsed_rx, enriched_tx),
    );
    let aggregate = spawn(executor, aggregate(enriched_rx, windows_tx));
    let sink = spawn(executor, sink(output, windows_rx));

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
type StageHandle<T> = Task<std::thread::Result<Result<T, PipelineError>>>;

/// Starts a stage as a task whose panic is caught, so that awaiting it cannot re-raise it.
fn spawn<T: Send + 'static>(
    executor: &Executor<'static>,
    stage: impl Future<Output = Result<T, PipelineError>> + Send + 'static,
) -> StageHandle<T> {
    executor.spawn(AssertUnwindSafe(stage).catch_unwind())
}

/// Waits for a stage; a caught panic becomes an error.
async fn join<T>(stage: &'static str, handle: StageHandle<T>) -> Result<T, PipelineError> {
    joined(stage, handle.await)
}
// ANCHOR_END: join

//! Chapter 1, **sync** variant: one OS thread per stage, bounded `std::sync::mpsc` channels.
//!
//! Why `thread::scope`: scoped threads may *borrow* the input and the config (no `Arc`, no
//! clones), and the scope joins every thread before `run` returns, so no thread outlives a run.
//! The async variants cannot borrow like this: a spawned task must own what it uses (`'static`).
//!
//! Why `sync_channel(capacity)`: a bounded channel blocks a fast producer until its consumer
//! catches up, so what is in flight between stages stays bounded however large the input is
//! (chapter 3 shows the opposite). In this chapter the source reads the whole file up front;
//! streaming it comes with the sources of later chapters.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::{self, Scope, ScopedJoinHandle};

use pipeline::{
    Aggregator, Config, Enriched, Input, LineBatch, Parsed, PipelineError, Progress, Registry,
    Report, Sink, StageResults, Tally, WindowSummary, enrich_batch, joined, parse_batch,
};

// ANCHOR: run
/// Runs the pipeline: five threads, four bounded channels.
pub fn run(input: &Input, cfg: &Config) -> Result<Report, PipelineError> {
    cfg.validate()?;
    let output = cfg.sink.open()?;
    let (lines_tx, lines_rx) = sync_channel(cfg.channel_capacity);
    let (parsed_tx, parsed_rx) = sync_channel(cfg.channel_capacity);
    let (enriched_tx, enriched_rx) = sync_channel(cfg.channel_capacity);
    let (windows_tx, windows_rx) = sync_channel(cfg.channel_capacity);

    thread::scope(|s| {
        let source = spawn(s, "source", || {
            source(input, cfg.batch_size, &cfg.progress, lines_tx)
        })?;
        let parse = spawn(s, "parse", || parse(lines_rx, parsed_tx))?;
        let enrich = spawn(s, "enrich", || {
            enrich(&*cfg.registry, parsed_rx, enriched_tx)
        })?;
        let aggregate = spawn(s, "aggregate", || aggregate(enriched_rx, windows_tx))?;
        let sink = spawn(s, "sink", || sink(output, windows_rx))?;

        StageResults {
            source: join("source", source),
            parse: join("parse", parse),
            enrich: join("enrich", enrich),
            aggregate: join("aggregate", aggregate),
            sink: join("sink", sink),
        }
        .into_report()
    })
}
// ANCHOR_END: run

// ANCHOR: stages
/// Reads the input in batches; returns how many lines it read.
pub fn source(
    input: &Input,
    batch_size: usize,
    progress: &Progress,
    out: SyncSender<LineBatch>,
) -> Result<u64, PipelineError> {
    let mut lines_read = 0;
    for batch in input.batches(batch_size) {
        lines_read += batch.len() as u64;
        progress.add(batch.len());
        out.send(batch)
            .map_err(|_| PipelineError::closed("source"))?;
    }
    Ok(lines_read)
}

pub fn parse(
    input: Receiver<LineBatch>,
    out: SyncSender<Vec<Parsed>>,
) -> Result<(), PipelineError> {
    for batch in input {
        out.send(parse_batch(batch))
            .map_err(|_| PipelineError::closed("parse"))?;
    }
    Ok(())
}

pub fn enrich(
    registry: &dyn Registry,
    input: Receiver<Vec<Parsed>>,
    out: SyncSender<Vec<Enriched>>,
) -> Result<(), PipelineError> {
    for batch in input {
        out.send(enrich_batch(registry, batch))
            .map_err(|_| PipelineError::closed("enrich"))?;
    }
    Ok(())
}

/// Needs every record before any window is complete, then hands the windows on in order.
pub fn aggregate(
    input: Receiver<Vec<Enriched>>,
    out: SyncSender<WindowSummary>,
) -> Result<Tally, PipelineError> {
    let mut aggregator = Aggregator::new();
    for batch in input {
        aggregator.add_batch(batch);
    }
    let (windows, tally) = aggregator.finish();
    for window in windows {
        out.send(window)
            .map_err(|_| PipelineError::closed("aggregate"))?;
    }
    Ok(tally)
}

/// Writes every window; returns what it wrote, which is what the report shows.
pub fn sink(
    mut output: Box<dyn Sink>,
    input: Receiver<WindowSummary>,
) -> Result<Vec<WindowSummary>, PipelineError> {
    let mut written = Vec::new();
    for window in input {
        output.write(&window)?;
        written.push(window);
    }
    output.finish()?;
    Ok(written)
}
// ANCHOR_END: stages

// ANCHOR: join
/// Starts a stage on its own named thread (the name shows up in panics and debuggers).
fn spawn<'scope, T: Send + 'scope>(
    scope: &'scope Scope<'scope, '_>,
    stage: &'static str,
    work: impl FnOnce() -> Result<T, PipelineError> + Send + 'scope,
) -> Result<ScopedJoinHandle<'scope, Result<T, PipelineError>>, PipelineError> {
    thread::Builder::new()
        .name(format!("ch01-{stage}"))
        .spawn_scoped(scope, work)
        .map_err(|source| PipelineError::Start {
            what: "a stage thread",
            source,
        })
}

/// Waits for a stage; a panic comes back from `join` as `Err(payload)` and becomes an error.
fn join<T>(
    stage: &'static str,
    handle: ScopedJoinHandle<'_, Result<T, PipelineError>>,
) -> Result<T, PipelineError> {
    joined(stage, handle.join())
}
// ANCHOR_END: join

//! Chapter 12, **sync** variant: chapter 1's pipeline (one OS thread per stage, bounded
//! `std::sync::mpsc` channels), restated so that this file is, by itself, the whole pipeline of
//! a standalone program: `standalone/sync` and `standalone/sync-postgres` compile it through
//! `#[path]`, and this crate compiles and tests the very same file.
//!
//! That is why it uses nothing but `std` and the `pipeline` crate (no `runtimes`, no testkit):
//! whatever this file needs, every build of the standalone program pays for. Here: nothing
//! beyond `pipeline` itself.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::{self, Scope, ScopedJoinHandle};

use pipeline::{
    Aggregator, Config, Enriched, Input, LineBatch, Parsed, PipelineError, Progress, Registry,
    Report, Sink, StageResults, Tally, WindowSummary, enrich_batch, joined, parse_batch,
};

// ANCHOR: run
/// Runs the pipeline: five threads, four bounded channels, all joined before `run` returns.
pub fn run(input: &Input, cfg: &Config) -> Result<Report, PipelineError> {
    cfg.validate()?;
    let output = cfg.sink.open()?;
    let (lines_tx, lines_rx) = sync_channel(cfg.channel_capacity);
    let (parsed_tx, parsed_rx) = sync_channel(cfg.channel_capacity);
    let (enriched_tx, enriched_rx) = sync_channel(cfg.channel_capacity);
    let (windows_tx, windows_rx) = sync_channel(cfg.channel_capacity);

    thread::scope(|s| {
        let source = spawn(s, || source(input, cfg.batch_size, &cfg.progress, lines_tx))?;
        let parse = spawn(s, || parse(lines_rx, parsed_tx))?;
        let enrich = spawn(s, || enrich(&*cfg.registry, parsed_rx, enriched_tx))?;
        let aggregate = spawn(s, || aggregate(enriched_rx, windows_tx))?;
        let sink = spawn(s, || sink(output, windows_rx))?;

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

/// Reads the input in batches; returns how many lines it read.
fn source(
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

fn parse(input: Receiver<LineBatch>, out: SyncSender<Vec<Parsed>>) -> Result<(), PipelineError> {
    for batch in input {
        out.send(parse_batch(batch))
            .map_err(|_| PipelineError::closed("parse"))?;
    }
    Ok(())
}

fn enrich(
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
fn aggregate(
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
fn sink(
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

type StageHandle<'scope, T> = ScopedJoinHandle<'scope, Result<T, PipelineError>>;

/// Starts a stage on a thread of its own, with std's default stack size (2 MiB unless
/// `RUST_MIN_STACK` says otherwise).
fn spawn<'scope, T: Send + 'scope>(
    scope: &'scope Scope<'scope, '_>,
    stage: impl FnOnce() -> Result<T, PipelineError> + Send + 'scope,
) -> Result<StageHandle<'scope, T>, PipelineError> {
    thread::Builder::new()
        .spawn_scoped(scope, stage)
        .map_err(|source| PipelineError::Start {
            what: "a stage thread",
            source,
        })
}

/// Waits for a stage; a panic comes back from `join` as `Err(payload)` and becomes an error.
fn join<T>(stage: &'static str, handle: StageHandle<'_, T>) -> Result<T, PipelineError> {
    joined(stage, handle.join())
}

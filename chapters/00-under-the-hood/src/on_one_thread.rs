//! Chapter 1's pipeline on the hand-written executor: the same five stages (chapter 1's smol
//! variant's `async fn`s, unchanged), spawned as tasks on one thread.
//!
//! The stages talk through `async-channel`s, which know nothing of any runtime: a `send` that
//! finds the channel full keeps the waker it was given and returns `Pending`, and the `recv` on
//! the other side calls that waker when it makes room. So the stages run on any executor that
//! polls what is woken — this one included. (A tokio timer or tokio socket would not: they need
//! tokio's reactor, which is what "runtime lock-in" means in chapter 9.)

use std::time::Duration;

use async_channel::bounded;
use ch01_baseline::variants::smol_rt::{aggregate, enrich, parse, sink, source};
use pipeline::{Config, Input, PipelineError, Report, StageResults, joined};

use crate::executor::{Executor, Spawner, Stalled};

/// How long the executor waits with nothing woken before it reports [`Stalled`]. The pipeline
/// never waits on anything outside its own thread, so any wait at all is already a stall; the
/// margin is for a slow machine's scheduler.
pub const STALL_AFTER: Duration = Duration::from_secs(5);

// ANCHOR: run
/// Runs the pipeline on a fresh executor on the calling thread. A stall (which this pipeline
/// cannot have, unless a stage is broken) is reported as a timed-out run.
pub fn run(input: &Input, cfg: &Config) -> Result<Report, PipelineError> {
    let executor = Executor::new(STALL_AFTER);
    run_on(&executor, input, cfg).unwrap_or_else(|Stalled { after, .. }| {
        Err(PipelineError::TimedOut {
            stage: "block_on",
            after,
        })
    })
}

/// Runs the pipeline on `executor`; its stats afterwards say how much polling it took.
pub fn run_on(
    executor: &Executor,
    input: &Input,
    cfg: &Config,
) -> Result<Result<Report, PipelineError>, Stalled> {
    executor.block_on(run_async(&executor.spawner(), input, cfg))
}

/// The pipeline: five tasks, four bounded channels — chapter 1's `run_async`, with this
/// executor's `spawn` and `join`.
pub async fn run_async(
    spawner: &Spawner,
    input: &Input,
    cfg: &Config,
) -> Result<Report, PipelineError> {
    cfg.validate()?;
    let output = cfg.sink.open()?;
    let (lines_tx, lines_rx) = bounded(cfg.channel_capacity);
    let (parsed_tx, parsed_rx) = bounded(cfg.channel_capacity);
    let (enriched_tx, enriched_rx) = bounded(cfg.channel_capacity);
    let (windows_tx, windows_rx) = bounded(cfg.channel_capacity);

    let progress = cfg.progress.clone();
    let source = spawner.spawn(source(input.clone(), cfg.batch_size, progress, lines_tx));
    let parse = spawner.spawn(parse(lines_rx, parsed_tx));
    let enrich = spawner.spawn(enrich(cfg.registry.clone(), parsed_rx, enriched_tx));
    let aggregate = spawner.spawn(aggregate(enriched_rx, windows_tx));
    let sink = spawner.spawn(sink(output, windows_rx));

    StageResults {
        source: joined("source", source.join().await),
        parse: joined("parse", parse.join().await),
        enrich: joined("enrich", enrich.join().await),
        aggregate: joined("aggregate", aggregate.join().await),
        sink: joined("sink", sink.join().await),
    }
    .into_report()
}
// ANCHOR_END: run

//! # Exercise 07 — a shutdown that loses nothing (chapter 7)
//!
//! The pipeline has three stages: your **source** hands batches of parsed lines to the enrich
//! stage, which hands them to the aggregate stage. When the stop signal comes (Ctrl-C, in
//! production), the source must stop handing on batches; everything already handed on must
//! drain, and then the harness writes a checkpoint: the lines handed on so far, and the
//! aggregate. A resumed run starts after those lines. So in a shutdown the source's job is to
//! stop, and to say exactly how many lines it handed on; every stage after it has the opposite
//! job: to finish what it was given.
//!
//! 1. **tokio** — `source_tokio` never looks at the stop signal: the run never stops. Stop when
//!    `stop` (a `CancellationToken`) is cancelled — also while waiting for room in the channel,
//!    which is full when the stages downstream are slow. Return the lines handed on. (~10 min)
//! 2. **smol** — `source_smol`: the same, where the stop signal is a channel that is closed
//!    when the stop comes (`stop.recv()` then returns `Err`). (~10 min)
//! 3. **drain** — `enrich_tokio` (harder) obeys the stop too eagerly: a `select!` that ends the
//!    stage on the stop loses the batches still in its channel, which the source has already
//!    counted as handed on. Make it lose nothing. (~10 min)
//!
//! The harness (channels, the stop, the checkpoint) is `ch07_cancellation::exercise`, shared
//! with the solution. Check: `cargo test -p ex07-cancellation` (or `cargo run --release --
//! check 07`). Stuck: `cargo run --release -- hint 07`. Don't change the harness or the checks.
#![forbid(unsafe_code)]

use std::sync::Arc;

pub use ch07_cancellation::exercise::{SmolOutlet, SourceEnd, TokioInlet, TokioOutlet};
use pipeline::{Enriched, Input, PipelineError, Registry, enrich_batch, parse_batch};
use tokio_util::sync::CancellationToken;

// ANCHOR: task_tokio
// TODO(1): this source never looks at `stop`: the run never stops.
pub async fn source_tokio(
    input: Input,
    next_line: u64,
    batch_size: usize,
    stop: CancellationToken,
    out: TokioOutlet,
) -> Result<SourceEnd, PipelineError> {
    let _ = stop; // TODO(1): use it
    let mut handed_on = 0;
    for batch in input.batches_from(next_line + 1, batch_size) {
        let lines = batch.len() as u64;
        out.send(parse_batch(batch)).await?;
        handed_on += lines;
    }
    Ok(SourceEnd::Finished { handed_on })
}
// ANCHOR_END: task_tokio

// ANCHOR: task_smol
// TODO(2): the same on smol. `stop` is closed when the stop comes: `stop.recv()` is then `Err`.
pub async fn source_smol(
    input: Input,
    next_line: u64,
    batch_size: usize,
    stop: smol::channel::Receiver<()>,
    out: SmolOutlet,
) -> Result<SourceEnd, PipelineError> {
    let _ = stop; // TODO(2): use it
    let mut handed_on = 0;
    for batch in input.batches_from(next_line + 1, batch_size) {
        let lines = batch.len() as u64;
        out.send(parse_batch(batch)).await?;
        handed_on += lines;
    }
    Ok(SourceEnd::Finished { handed_on })
}
// ANCHOR_END: task_smol

// ANCHOR: task_drain
// TODO(3): on the stop, this stage ends at once, and what is still in `lines` is lost.
pub async fn enrich_tokio(
    mut lines: TokioInlet,
    stop: CancellationToken,
    registry: Arc<dyn Registry>,
    out: tokio::sync::mpsc::Sender<Vec<Enriched>>,
) -> Result<(), PipelineError> {
    loop {
        tokio::select! {
            biased;
            () = stop.cancelled() => break,
            batch = lines.recv() => {
                let Some(batch) = batch else { break };
                out.send(enrich_batch(&*registry, batch))
                    .await
                    .map_err(|_| PipelineError::closed("enrich"))?;
            }
        }
    }
    Ok(())
}
// ANCHOR_END: task_drain

// The checks: one file, shared with the solution crate (its `tests` folder links to this one).
#[cfg(test)]
#[path = "../tests/checks.rs"]
mod checks;

//! # Exercise 07 — a shutdown that loses nothing (chapter 7): SOLUTION
//!
//! The pipeline has three stages: your **source** hands batches of parsed lines to the enrich
//! stage, which hands them to the aggregate stage. When the stop signal comes (Ctrl-C, in
//! production), the source must stop handing on batches; the harness then lets everything
//! already handed on drain, and writes a checkpoint: the lines handed on so far, and the
//! aggregate. A resumed run starts after those lines. So the source's one job in a shutdown is
//! to stop, and to say exactly how many lines it handed on.
//!
//! The sources below never look at the stop signal: the run never stops.
//!
//! 1. **tokio** — `source_tokio`: stop when `stop` (a `CancellationToken`) is cancelled — also
//!    while waiting for room in the channel, which is full when the stages downstream are slow.
//!    Return the lines handed on. (~10 min)
//! 2. **smol** — `source_smol`: the same, where the stop signal is a channel that is closed
//!    when the stop comes (`stop.recv()` then returns `Err`). (~10 min)
//!
//! Check: `cargo test -p ex07-cancellation` (or `cargo run --release -- check 07`).
//! Stuck: `cargo run --release -- hint 07`. Don't change the harness or the checks.
#![forbid(unsafe_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use pipeline::{Aggregator, Config, Enriched, Input, Parsed, PipelineError, parse_batch};
use tokio_util::sync::CancellationToken;

/// How a source ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceEnd {
    /// Every line from `next_line` on was handed on.
    Finished { handed_on: u64 },
    /// The stop came; `handed_on` lines were handed on before it.
    Stopped { handed_on: u64 },
}

// ANCHOR: solution_tokio
/// Each send races the token, and `biased` checks the token first: once the stop has come, no
/// further batch goes out, even into a channel with room. A batch that lost the race was never
/// handed on, so it is not counted: the resumed run reads it again.
pub async fn source_tokio(
    input: Input,
    next_line: u64,
    batch_size: usize,
    stop: CancellationToken,
    out: TokioOutlet,
) -> Result<SourceEnd, PipelineError> {
    let mut handed_on = 0;
    for batch in input.batches_from(next_line + 1, batch_size) {
        let lines = batch.len() as u64;
        tokio::select! {
            biased;
            () = stop.cancelled() => return Ok(SourceEnd::Stopped { handed_on }),
            sent = out.send(parse_batch(batch)) => sent?,
        }
        handed_on += lines;
    }
    Ok(SourceEnd::Finished { handed_on })
}
// ANCHOR_END: solution_tokio

// ANCHOR: solution_smol
/// The same race with `or`: the stop channel's `recv` finishes (with `Err`) once it is closed.
/// `or` polls the stop first, like `biased`.
pub async fn source_smol(
    input: Input,
    next_line: u64,
    batch_size: usize,
    stop: smol::channel::Receiver<()>,
    out: SmolOutlet,
) -> Result<SourceEnd, PipelineError> {
    use futures_lite::FutureExt;
    let mut handed_on = 0;
    for batch in input.batches_from(next_line + 1, batch_size) {
        let lines = batch.len() as u64;
        let stopped = async {
            let _ = stop.recv().await;
            Ok::<bool, PipelineError>(true)
        };
        let sent = async {
            out.send(parse_batch(batch)).await?;
            Ok::<bool, PipelineError>(false)
        };
        if stopped.or(sent).await? {
            return Ok(SourceEnd::Stopped { handed_on });
        }
        handed_on += lines;
    }
    Ok(SourceEnd::Finished { handed_on })
}
// ANCHOR_END: solution_smol

// ---------------------------------------------------------------------------------------------
// The harness. You should not need to change anything below.
// ---------------------------------------------------------------------------------------------

/// The source's end of the channel to the enrich stage. `send` is the channel's own `send`; the
/// harness only notes while a send is in progress, so the checks can stop the run exactly when
/// the source is waiting for room in a full channel.
pub struct Outlet<S> {
    inner: S,
    sending: Arc<AtomicBool>,
}

/// The tokio source's outlet.
pub type TokioOutlet = Outlet<tokio::sync::mpsc::Sender<Vec<Parsed>>>;
/// The smol source's outlet.
pub type SmolOutlet = Outlet<smol::channel::Sender<Vec<Parsed>>>;

/// Marks a send in progress for as long as it lives (a dropped send future included).
struct Sending(Arc<AtomicBool>);

impl Sending {
    fn start(flag: &Arc<AtomicBool>) -> Self {
        flag.store(true, Ordering::SeqCst);
        Sending(Arc::clone(flag))
    }
}

impl Drop for Sending {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

impl TokioOutlet {
    /// Hands a batch on, waiting while the channel is full.
    pub async fn send(&self, batch: Vec<Parsed>) -> Result<(), PipelineError> {
        let _sending = Sending::start(&self.sending);
        self.inner
            .send(batch)
            .await
            .map_err(|_| PipelineError::closed("source"))
    }
}

impl SmolOutlet {
    /// Hands a batch on, waiting while the channel is full.
    pub async fn send(&self, batch: Vec<Parsed>) -> Result<(), PipelineError> {
        let _sending = Sending::start(&self.sending);
        self.inner
            .send(batch)
            .await
            .map_err(|_| PipelineError::closed("source"))
    }
}

/// Where a run starts: after `next_line` lines, with what was aggregated before them.
#[derive(Debug, Clone, Default)]
pub struct Start {
    pub next_line: u64,
    pub aggregator: Aggregator,
}

/// How a run ended: finished, or stopped with the checkpoint to resume from.
#[derive(Debug)]
pub enum End {
    Finished(Aggregator),
    Stopped(Start),
}

/// The test's stop: triggered when the enrich stage gets the batch holding this line, which
/// then waits (up to [`PATIENCE`]) until the source has really stopped — so a source that
/// ignores the stop, or sends on regardless, is caught every time, not by luck.
pub const PATIENCE: Duration = Duration::from_secs(2);

/// Channels between the stages hold this many batches: small, so the source is usually
/// waiting for room when the stop comes.
const CAPACITY: usize = 2;

/// Whether the batch holds `line`.
fn holds(batch: &[Parsed], line: u64) -> bool {
    batch.iter().any(|parsed| match parsed {
        Ok(reading) => reading.line == line,
        Err(rejection) => rejection.line == line,
    })
}

/// A source still sending [`PATIENCE`] after the stop did not stop: an error, so the checks
/// can say so.
fn stopped_in_time(late: &AtomicBool) -> Result<(), PipelineError> {
    if late.load(Ordering::SeqCst) {
        return Err(PipelineError::TimedOut {
            stage: "source",
            after: PATIENCE,
        });
    }
    Ok(())
}

/// The end of a run, from the source's end and the aggregate.
fn end(start: u64, source: SourceEnd, aggregator: Aggregator) -> End {
    match source {
        SourceEnd::Finished { .. } => End::Finished(aggregator),
        SourceEnd::Stopped { handed_on } => End::Stopped(Start {
            next_line: start + handed_on,
            aggregator,
        }),
    }
}

/// tokio: your source, then enrich and aggregate, joined; stopped at `stop_at` if given.
pub fn run_tokio(
    input: &Input,
    cfg: &Config,
    start: Start,
    stop_at: Option<u64>,
) -> Result<End, PipelineError> {
    let runtime = runtimes::tokio_runtime(cfg)?;
    let registry = Arc::clone(&cfg.registry);
    let (input, batch_size) = (input.clone(), cfg.batch_size);
    runtime.block_on(async move {
        let stop = CancellationToken::new();
        let late = Arc::new(AtomicBool::new(false));
        let (lines_tx, mut lines_rx) = tokio::sync::mpsc::channel::<Vec<Parsed>>(CAPACITY);
        let (enriched_tx, mut enriched_rx) = tokio::sync::mpsc::channel::<Vec<Enriched>>(CAPACITY);
        let sending = Arc::new(AtomicBool::new(false));
        let outlet = Outlet {
            inner: lines_tx,
            sending: Arc::clone(&sending),
        };
        let source = tokio::spawn(source_tokio(
            input,
            start.next_line,
            batch_size,
            stop.clone(),
            outlet,
        ));
        let enrich = tokio::spawn({
            let late = Arc::clone(&late);
            async move {
                while let Some(batch) = lines_rx.recv().await {
                    if stop_at.is_some_and(|line| holds(&batch, line)) && !stop.is_cancelled() {
                        // Stop while the source waits for room in the full channel (or has
                        // ended).
                        while !(lines_rx.is_closed()
                            || (sending.load(Ordering::SeqCst) && lines_rx.len() == CAPACITY))
                        {
                            tokio::time::sleep(Duration::from_millis(1)).await;
                        }
                        stop.cancel();
                        let asked = Instant::now();
                        while !lines_rx.is_closed() && asked.elapsed() < PATIENCE {
                            tokio::time::sleep(Duration::from_millis(1)).await;
                        }
                        late.store(!lines_rx.is_closed(), Ordering::SeqCst);
                    }
                    let enriched = pipeline::enrich_batch(&*registry, batch);
                    if enriched_tx.send(enriched).await.is_err() {
                        break;
                    }
                }
            }
        });
        let mut aggregator = start.aggregator;
        while let Some(batch) = enriched_rx.recv().await {
            aggregator.add_batch(batch);
        }
        let source = source.await.map_err(|e| PipelineError::StagePanicked {
            stage: "source",
            message: e.to_string(),
        })??;
        enrich.await.map_err(|e| PipelineError::StagePanicked {
            stage: "enrich",
            message: e.to_string(),
        })?;
        stopped_in_time(&late)?;
        Ok(end(start.next_line, source, aggregator))
    })
}

/// smol: the same, with the stop signal a channel that is closed when the stop comes.
pub fn run_smol(
    input: &Input,
    cfg: &Config,
    start: Start,
    stop_at: Option<u64>,
) -> Result<End, PipelineError> {
    let registry = Arc::clone(&cfg.registry);
    let (input, batch_size) = (input.clone(), cfg.batch_size);
    runtimes::with_smol_executor(cfg.worker_threads, "ex07-smol-worker", move |executor| {
        smol::block_on(async move {
            let (trigger, stop) = smol::channel::bounded::<()>(1);
            let late = Arc::new(AtomicBool::new(false));
            let (lines_tx, lines_rx) = smol::channel::bounded::<Vec<Parsed>>(CAPACITY);
            let (enriched_tx, enriched_rx) = smol::channel::bounded::<Vec<Enriched>>(CAPACITY);
            let sending = Arc::new(AtomicBool::new(false));
            let outlet = Outlet {
                inner: lines_tx,
                sending: Arc::clone(&sending),
            };
            let source = executor.spawn(source_smol(
                input,
                start.next_line,
                batch_size,
                stop,
                outlet,
            ));
            let enrich = executor.spawn({
                let late = Arc::clone(&late);
                async move {
                    let mut trigger = Some(trigger);
                    while let Ok(batch) = lines_rx.recv().await {
                        if stop_at.is_some_and(|line| holds(&batch, line)) && trigger.is_some() {
                            // Stop while the source waits for room in the full channel (or has
                            // ended).
                            while !(lines_rx.sender_count() == 0
                                || (sending.load(Ordering::SeqCst) && lines_rx.len() == CAPACITY))
                            {
                                smol::Timer::after(Duration::from_millis(1)).await;
                            }
                            drop(trigger.take()); // closes the stop channel: the stop signal
                            let asked = Instant::now();
                            while lines_rx.sender_count() > 0 && asked.elapsed() < PATIENCE {
                                smol::Timer::after(Duration::from_millis(1)).await;
                            }
                            let waiting = lines_rx.sender_count() > 0;
                            late.store(waiting, Ordering::SeqCst);
                        }
                        let enriched = pipeline::enrich_batch(&*registry, batch);
                        if enriched_tx.send(enriched).await.is_err() {
                            break;
                        }
                    }
                }
            });
            let mut aggregator = start.aggregator;
            while let Ok(batch) = enriched_rx.recv().await {
                aggregator.add_batch(batch);
            }
            let source = source.await?;
            enrich.await;
            stopped_in_time(&late)?;
            Ok(end(start.next_line, source, aggregator))
        })
    })
}

// The checks: one file, shared with the solution crate (its `tests` folder links to this one).
#[cfg(test)]
#[path = "../tests/checks.rs"]
mod checks;

//! Exercise 07's harness: everything around the functions the learner writes, in one copy that
//! the starter and the solution both use (their `src/lib.rs` differ only in those functions).
//!
//! A run is three stages — source, enrich, aggregate — joined by channels that hold
//! [`CAPACITY`] batches. The checks stop a run at a chosen line and resume it from the
//! checkpoint; the harness decides *when* the stop comes and *whether the stages obeyed it*,
//! with no clock at all:
//!
//! - The stop is given when the enrich stage receives the batch holding the chosen line, and
//!   only once the source is waiting for room in a full channel (or has ended): that is when a
//!   shutdown is hardest, and it is where a source that races its send against nothing is
//!   caught every time, not by luck. [`TokioInlet::recv`] and [`SmolInlet::recv`] do it, so it
//!   happens the same way whichever enrich stage (the harness's or the learner's) reads them.
//! - Then the harness gives the source [`STOP_ROUNDS`] turns of a single-threaded executor to
//!   let go of its end of the channel. A source that wakes on the stop itself needs one or two;
//!   a source that ignores it, or looks at it only when a timer fires, needs more than any
//!   number of turns — and with tokio's clock paused, and smol's turns taking microseconds, no
//!   timer fires meanwhile. No duration is measured or asserted.
//! - An enrich stage that ends while its channel still holds batches loses work the source
//!   counted as handed on: the inlet counts them when it is dropped ([`Failure::Abandoned`]).

use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use pipeline::{
    Aggregator, Config, Enriched, Input, Parsed, PipelineError, Registry, enrich_batch, parse_batch,
};
use tokio_util::sync::CancellationToken;

/// Channels between the stages hold this many batches: small, so the source is waiting for room
/// when the stop comes.
pub const CAPACITY: usize = 2;

/// How many turns of the executor a source gets, after the stop, to let go of its end of the
/// channel. A source that wakes on the stop needs one or two.
pub const STOP_ROUNDS: u32 = 64;

/// How many turns the harness waits for the source to fill the channel before it gives the stop
/// anyway (a source that neither sends nor ends: it waits for something that never comes).
const FILL_ROUNDS: u32 = 10_000;

/// How a source ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceEnd {
    /// Every line from `next_line` on was handed on.
    Finished { handed_on: u64 },
    /// The stop came; `handed_on` lines were handed on before it.
    Stopped { handed_on: u64 },
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

/// Why a run is not a clean shutdown, in the words the checks need.
#[derive(Debug)]
pub enum Failure {
    /// The source still held its end of the channel [`STOP_ROUNDS`] turns after the stop: it
    /// does not wake on the stop.
    IgnoredStop,
    /// The enrich stage ended with this many batches still in its channel: lines the source
    /// handed on (and the checkpoint counts as done) that were never enriched.
    Abandoned { batches: usize },
    /// A stage failed or panicked.
    Pipeline(PipelineError),
}

impl From<PipelineError> for Failure {
    fn from(error: PipelineError) -> Self {
        Failure::Pipeline(error)
    }
}

/// The source's end of the channel to the enrich stage. `send` is the channel's own `send`; the
/// harness only notes while a send is in progress, so it can stop the run exactly when the
/// source is waiting for room in a full channel.
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

/// When and how the harness stops a run, and what it saw. Single-threaded executors only, so
/// plain cells.
#[derive(Default)]
struct Plan {
    /// The line whose arrival at the enrich stage triggers the stop; `None` once given.
    stop_at: Cell<Option<u64>>,
    /// The source did not let go of the channel in time after the stop.
    ignored: Cell<bool>,
    /// Batches left in the channel when the enrich stage dropped its inlet.
    abandoned: Cell<usize>,
}

impl Plan {
    fn new(stop_at: Option<u64>) -> Rc<Self> {
        let plan = Plan::default();
        plan.stop_at.set(stop_at);
        Rc::new(plan)
    }

    /// Whether `batch` is the one that triggers the stop (at most once).
    fn triggers(&self, batch: &[Parsed]) -> bool {
        let hit = self.stop_at.get().is_some_and(|line| holds(batch, line));
        if hit {
            self.stop_at.set(None);
        }
        hit
    }

    fn verdict(&self) -> Result<(), Failure> {
        if self.ignored.get() {
            return Err(Failure::IgnoredStop);
        }
        match self.abandoned.get() {
            0 => Ok(()),
            batches => Err(Failure::Abandoned { batches }),
        }
    }
}

/// Whether the batch holds `line`.
fn holds(batch: &[Parsed], line: u64) -> bool {
    batch.iter().any(|parsed| match parsed {
        Ok(reading) => reading.line == line,
        Err(rejection) => rejection.line == line,
    })
}

/// The enrich stage's end of the channel from the source (tokio). `recv` is the channel's own,
/// plus the harness's stop (see the module's documentation).
pub struct TokioInlet {
    rx: tokio::sync::mpsc::Receiver<Vec<Parsed>>,
    sending: Arc<AtomicBool>,
    stop: CancellationToken,
    plan: Rc<Plan>,
}

impl TokioInlet {
    /// The next batch; `None` once the source has ended and the channel is empty.
    pub async fn recv(&mut self) -> Option<Vec<Parsed>> {
        let batch = self.rx.recv().await?;
        if self.plan.triggers(&batch) && !self.stop.is_cancelled() {
            let mut rounds = 0;
            while !(self.rx.is_closed()
                || (self.sending.load(Ordering::SeqCst) && self.rx.len() == CAPACITY))
                && rounds < FILL_ROUNDS
            {
                tokio::task::yield_now().await;
                rounds += 1;
            }
            self.stop.cancel();
            let mut rounds = 0;
            while !self.rx.is_closed() && rounds < STOP_ROUNDS {
                tokio::task::yield_now().await;
                rounds += 1;
            }
            self.plan.ignored.set(!self.rx.is_closed());
        }
        Some(batch)
    }
}

impl Drop for TokioInlet {
    fn drop(&mut self) {
        self.plan.abandoned.set(self.rx.len());
    }
}

/// The enrich stage's end of the channel from the source (smol), as [`TokioInlet`].
pub struct SmolInlet {
    rx: smol::channel::Receiver<Vec<Parsed>>,
    sending: Arc<AtomicBool>,
    /// Closing the stop channel is the stop signal.
    trigger: Option<smol::channel::Sender<()>>,
    plan: Rc<Plan>,
}

impl SmolInlet {
    /// The next batch; `None` once the source has ended and the channel is empty.
    pub async fn recv(&mut self) -> Option<Vec<Parsed>> {
        let batch = self.rx.recv().await.ok()?;
        if self.plan.triggers(&batch) && self.trigger.is_some() {
            let mut rounds = 0;
            while !(self.rx.sender_count() == 0
                || (self.sending.load(Ordering::SeqCst) && self.rx.len() == CAPACITY))
                && rounds < FILL_ROUNDS
            {
                smol::future::yield_now().await;
                rounds += 1;
            }
            drop(self.trigger.take()); // closes the stop channel: the stop signal
            let mut rounds = 0;
            while self.rx.sender_count() > 0 && rounds < STOP_ROUNDS {
                smol::future::yield_now().await;
                rounds += 1;
            }
            self.plan.ignored.set(self.rx.sender_count() > 0);
        }
        Some(batch)
    }
}

impl Drop for SmolInlet {
    fn drop(&mut self) {
        self.plan.abandoned.set(self.rx.len());
    }
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

/// A tokio source: `(input, next_line, batch_size, stop, outlet)`.
pub trait TokioSource:
    FnOnce(Input, u64, usize, CancellationToken, TokioOutlet) -> Self::Run
{
    type Run: Future<Output = Result<SourceEnd, PipelineError>> + 'static;
}

impl<F, R> TokioSource for F
where
    F: FnOnce(Input, u64, usize, CancellationToken, TokioOutlet) -> R,
    R: Future<Output = Result<SourceEnd, PipelineError>> + 'static,
{
    type Run = R;
}

/// A tokio enrich stage: `(inlet, stop, registry, out)`.
pub trait TokioEnrich:
    FnOnce(
    TokioInlet,
    CancellationToken,
    Arc<dyn Registry>,
    tokio::sync::mpsc::Sender<Vec<Enriched>>,
) -> Self::Run
{
    type Run: Future<Output = Result<(), PipelineError>> + 'static;
}

impl<F, R> TokioEnrich for F
where
    F: FnOnce(
        TokioInlet,
        CancellationToken,
        Arc<dyn Registry>,
        tokio::sync::mpsc::Sender<Vec<Enriched>>,
    ) -> R,
    R: Future<Output = Result<(), PipelineError>> + 'static,
{
    type Run = R;
}

/// A smol source: `(input, next_line, batch_size, stop, outlet)`; the stop is a channel closed
/// when the stop comes.
pub trait SmolSource:
    FnOnce(Input, u64, usize, smol::channel::Receiver<()>, SmolOutlet) -> Self::Run
{
    type Run: Future<Output = Result<SourceEnd, PipelineError>> + 'static;
}

impl<F, R> SmolSource for F
where
    F: FnOnce(Input, u64, usize, smol::channel::Receiver<()>, SmolOutlet) -> R,
    R: Future<Output = Result<SourceEnd, PipelineError>> + 'static,
{
    type Run = R;
}

/// The harness's own tokio source, right: each send races the token, the token polled first.
/// Private: the checks of the enrich stage run it, and no learner's function can call it.
async fn reference_source_tokio(
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

/// The harness's own tokio enrich stage, right: it never looks at the stop, and drains its
/// channel until the source has ended. Private, like the reference source.
async fn reference_enrich_tokio(
    mut lines: TokioInlet,
    _stop: CancellationToken,
    registry: Arc<dyn Registry>,
    out: tokio::sync::mpsc::Sender<Vec<Enriched>>,
) -> Result<(), PipelineError> {
    while let Some(batch) = lines.recv().await {
        out.send(enrich_batch(&*registry, batch))
            .await
            .map_err(|_| PipelineError::closed("enrich"))?;
    }
    Ok(())
}

/// tokio: your `source`, then the harness's enrich stage and the aggregate; stopped at `stop_at`
/// if given.
pub fn run_tokio_source(
    source: impl TokioSource,
    input: &Input,
    cfg: &Config,
    start: Start,
    stop_at: Option<u64>,
) -> Result<End, Failure> {
    run_tokio(source, reference_enrich_tokio, input, cfg, start, stop_at)
}

/// tokio: the harness's source, then your `enrich` stage and the aggregate; stopped at
/// `stop_at` if given.
pub fn run_tokio_enrich(
    enrich: impl TokioEnrich,
    input: &Input,
    cfg: &Config,
    start: Start,
    stop_at: Option<u64>,
) -> Result<End, Failure> {
    run_tokio(reference_source_tokio, enrich, input, cfg, start, stop_at)
}

/// tokio: `source`, then `enrich`, then the aggregate, on one thread with the clock paused (so
/// no timer fires while the harness counts turns); stopped at `stop_at` if given.
fn run_tokio(
    source: impl TokioSource,
    enrich: impl TokioEnrich,
    input: &Input,
    cfg: &Config,
    start: Start,
    stop_at: Option<u64>,
) -> Result<End, Failure> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .map_err(|source| PipelineError::Start {
            what: "the tokio runtime",
            source,
        })?;
    let registry = Arc::clone(&cfg.registry);
    let (input, batch_size) = (input.clone(), cfg.batch_size);
    let plan = Plan::new(stop_at);
    let local = tokio::task::LocalSet::new();
    let ended = local.block_on(&runtime, {
        let plan = Rc::clone(&plan);
        async move {
            let stop = CancellationToken::new();
            let (lines_tx, lines_rx) = tokio::sync::mpsc::channel::<Vec<Parsed>>(CAPACITY);
            let (enriched_tx, mut enriched_rx) =
                tokio::sync::mpsc::channel::<Vec<Enriched>>(CAPACITY);
            let sending = Arc::new(AtomicBool::new(false));
            let outlet = Outlet {
                inner: lines_tx,
                sending: Arc::clone(&sending),
            };
            let inlet = TokioInlet {
                rx: lines_rx,
                sending,
                stop: stop.clone(),
                plan,
            };
            let source = tokio::task::spawn_local(source(
                input,
                start.next_line,
                batch_size,
                stop.clone(),
                outlet,
            ));
            let enrich = tokio::task::spawn_local(enrich(inlet, stop, registry, enriched_tx));
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
            })??;
            Ok::<_, PipelineError>(end(start.next_line, source, aggregator))
        }
    })?;
    plan.verdict()?;
    Ok(ended)
}

/// smol: the same on one thread (a `LocalExecutor`), with the stop signal a channel that is
/// closed when the stop comes; the harness's enrich stage.
pub fn run_smol(
    source: impl SmolSource,
    input: &Input,
    cfg: &Config,
    start: Start,
    stop_at: Option<u64>,
) -> Result<End, Failure> {
    let registry = Arc::clone(&cfg.registry);
    let (input, batch_size) = (input.clone(), cfg.batch_size);
    let plan = Plan::new(stop_at);
    let executor = smol::LocalExecutor::new();
    let ended = smol::block_on(executor.run({
        let plan = Rc::clone(&plan);
        let executor = &executor;
        async move {
            let (trigger, stop) = smol::channel::bounded::<()>(1);
            let (lines_tx, lines_rx) = smol::channel::bounded::<Vec<Parsed>>(CAPACITY);
            let (enriched_tx, enriched_rx) = smol::channel::bounded::<Vec<Enriched>>(CAPACITY);
            let sending = Arc::new(AtomicBool::new(false));
            let outlet = Outlet {
                inner: lines_tx,
                sending: Arc::clone(&sending),
            };
            let mut inlet = SmolInlet {
                rx: lines_rx,
                sending,
                trigger: Some(trigger),
                plan,
            };
            let source = executor.spawn(source(input, start.next_line, batch_size, stop, outlet));
            let enrich = executor.spawn(async move {
                while let Some(batch) = inlet.recv().await {
                    if enriched_tx
                        .send(enrich_batch(&*registry, batch))
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
            });
            let mut aggregator = start.aggregator;
            while let Ok(batch) = enriched_rx.recv().await {
                aggregator.add_batch(batch);
            }
            let source = source.await?;
            enrich.await;
            Ok::<_, PipelineError>(end(start.next_line, source, aggregator))
        }
    }))?;
    plan.verdict()?;
    Ok(ended)
}

#[cfg(test)]
mod tests {
    use pipeline::{DatasetSpec, ReportOnlySink, finish, run_sequential};

    use super::*;

    fn input() -> (Input, Config) {
        let input = Input::generated(&DatasetSpec {
            lines: 300,
            ..DatasetSpec::default()
        });
        let cfg = Config {
            batch_size: 16,
            ..Config::default()
        };
        (input, cfg)
    }

    /// The harness's own stages stop and resume losing nothing: the checks' yardstick is sound.
    #[test]
    fn the_reference_stages_stop_and_resume_losing_nothing() {
        let (input, cfg) = input();
        let expected = run_sequential(&input, &cfg).expect("the reference runs");
        let stopped = run_tokio(
            reference_source_tokio,
            reference_enrich_tokio,
            &input,
            &cfg,
            Start::default(),
            Some(150),
        )
        .expect("a clean stop");
        let End::Stopped(checkpoint) = stopped else {
            panic!("the run was asked to stop");
        };
        assert!(checkpoint.next_line >= 150);
        let End::Finished(aggregator) = run_tokio(
            reference_source_tokio,
            reference_enrich_tokio,
            &input,
            &cfg,
            checkpoint,
            None,
        )
        .expect("a clean resume") else {
            panic!("the resumed run was not asked to stop");
        };
        let report = finish(input.line_count(), aggregator, Box::new(ReportOnlySink))
            .expect("the report-only sink cannot fail");
        assert_eq!(report.text(), expected.text());
    }

    /// A source that never looks at the stop is named, not waited for.
    #[test]
    fn a_source_that_ignores_the_stop_is_caught() {
        async fn deaf(
            input: Input,
            next_line: u64,
            batch_size: usize,
            _stop: CancellationToken,
            out: TokioOutlet,
        ) -> Result<SourceEnd, PipelineError> {
            let mut handed_on = 0;
            for batch in input.batches_from(next_line + 1, batch_size) {
                handed_on += batch.len() as u64;
                out.send(parse_batch(batch)).await?;
            }
            Ok(SourceEnd::Finished { handed_on })
        }
        let (input, cfg) = input();
        let outcome = run_tokio(
            deaf,
            reference_enrich_tokio,
            &input,
            &cfg,
            Start::default(),
            Some(150),
        );
        assert!(matches!(outcome, Err(Failure::IgnoredStop)), "{outcome:?}");
    }
}

//! The harness of exercise 05 (`exercises/05-unbounded-spawning`): the readings the learner's
//! functions take, the look-up each does on its runtime's timer, and the runs the checks
//! watch. It lives here, out of the learner's file, so the starter and the solution share one
//! copy and a fix cannot reach the gauges the checks rely on.
//!
//! Two probes besides the chapter's gauges:
//! - **one slow look-up** (steps 1 and 2): the first look-up the registry takes on waits until
//!   [`KEEP_BUSY_PER_SLOT`] × `limit` others have been answered. A limit kept busy answers them
//!   in the slots the slow one is not using; a fan-out that waits for a whole group (chunks
//!   joined one at a time) or for the oldest look-up first starts nothing while it waits, and
//!   the run stalls with [`SLOW_LOOKUP`] still raised.
//! - **a stop** (step 3): [`Stop`] is requested as the `stop_after`-th reading is handed out,
//!   and the run reports what the learner's function did with the look-ups in flight.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use instruments::{Counter, Gauge, InFlight, Signals, Watch};
use pipeline::{
    Aggregator, Config, Enriched, Input, Parsed, PipelineError, Progress, ReportOnlySink, Work,
    enrich_with, finish,
};
use smol::Executor;

use crate::registry::{
    REFUSED, REGISTRY_LATENCY, REGISTRY_REQUESTS, SlowRegistry, TASKS_IN_FLIGHT,
};

/// Raised while the slow look-up waits for the others.
pub const SLOW_LOOKUP: &str = "slow look-up waiting";
/// Look-ups answered while the slow one waited.
pub const ANSWERED_WHILE_SLOW: &str = "look-ups answered while one was slow";
/// The slow look-up waits for this many others per slot of the limit.
pub const KEEP_BUSY_PER_SLOT: usize = 2;

/// What the exercise's runs expose: the chapter's gauges and counter, and the slow look-up's.
pub const WATCH: Watch = Watch {
    locks: &[],
    gauges: &[TASKS_IN_FLIGHT, REGISTRY_REQUESTS, SLOW_LOOKUP],
    counters: &[REFUSED, ANSWERED_WHILE_SLOW],
};

/// A reading on its way through the enrich stage. It counts as in flight from the moment your
/// code takes it out of `records` until its look-up is done (or the record is dropped).
pub struct Record {
    parsed: Parsed,
    gate: Option<Arc<Gate>>,
    _in_flight: InFlight,
}

/// The readings, handed out one at a time, as your code asks for them.
pub type Records = Box<dyn Iterator<Item = Record> + Send>;

/// The slow look-up and the count of the others answered while it waits.
struct Gate {
    claimed: AtomicBool,
    slow: Gauge,
    answered_while_slow: Counter,
    keep_busy: u64,
}

impl Gate {
    /// Whether this look-up is the slow one (the first to ask).
    fn claim(&self) -> bool {
        !self.claimed.swap(true, Ordering::SeqCst)
    }

    fn answered(&self) {
        if self.slow.current() > 0 {
            self.answered_while_slow.add(1);
        }
    }

    fn kept_busy(&self) -> bool {
        self.answered_while_slow.total() >= self.keep_busy
    }
}

/// Waits, on a runtime's timer (`tick`), while `record` is the slow look-up and the others have
/// not yet been answered. Counts (not time) decide when it ends.
async fn slow_if_first<T: Future>(gate: Option<&Gate>, tick: impl Fn() -> T) {
    let Some(gate) = gate.filter(|gate| gate.claim()) else {
        return;
    };
    let _raised = gate.slow.enter();
    while !gate.kept_busy() {
        tick().await;
    }
}

/// One look-up: the registry may refuse it; if not, wait, then answer. `tick` is the runtime's
/// sleep for the registry's latency.
async fn lookup<T: Future>(
    record: Record,
    registry: &SlowRegistry,
    tick: impl Fn() -> T,
) -> Enriched {
    let Record {
        parsed,
        gate,
        _in_flight,
    } = record;
    let reading = parsed?;
    let found = match registry.admit() {
        Ok(ticket) => {
            slow_if_first(gate.as_deref(), &tick).await;
            tick().await;
            let found = ticket.answer(&reading.sensor_id);
            if let Some(gate) = &gate {
                gate.answered();
            }
            found
        }
        Err(refused) => Err(refused),
    };
    enrich_with(reading, found)
}

/// One look-up, on tokio's timer.
pub async fn lookup_tokio(record: Record, registry: &SlowRegistry) -> Enriched {
    lookup(record, registry, || tokio::time::sleep(registry.latency())).await
}

/// One look-up, on async-std's timer.
pub async fn lookup_async_std(record: Record, registry: &SlowRegistry) -> Enriched {
    lookup(record, registry, || {
        async_std::task::sleep(registry.latency())
    })
    .await
}

/// One look-up, on smol's timer.
pub async fn lookup_smol(record: Record, registry: &SlowRegistry) -> Enriched {
    lookup(record, registry, || async {
        smol::Timer::after(registry.latency()).await;
    })
    .await
}

/// Step 1: `enrich_all` (the learner's `enrich_all_tokio`, run on the runtime it is handed)
/// on a multi-thread runtime with `cfg.worker_threads` workers, `cfg.concurrency` its limit.
pub fn run_tokio(
    input: &Input,
    cfg: &Config,
    signals: &Signals,
    enrich_all: impl FnOnce(
        &tokio::runtime::Runtime,
        Records,
        Arc<SlowRegistry>,
        usize,
        &Progress,
    ) -> Aggregator,
) -> Result<pipeline::Report, PipelineError> {
    let Prepared {
        sink,
        lines_read,
        records,
        registry,
    } = prepare(input, cfg, signals, true)?;
    let runtime = runtimes::tokio_runtime(cfg)?;
    let aggregator = enrich_all(&runtime, records, registry, cfg.concurrency, &cfg.progress);
    finish(lines_read, aggregator, sink)
}

/// Step 2: `enrich_all` (the learner's `enrich_all_smol`) beside an `Executor` driven by
/// `cfg.worker_threads` threads.
pub fn run_smol(
    input: &Input,
    cfg: &Config,
    signals: &Signals,
    enrich_all: impl FnOnce(
        &Executor<'static>,
        Records,
        Arc<SlowRegistry>,
        usize,
        &Progress,
    ) -> Aggregator,
) -> Result<pipeline::Report, PipelineError> {
    let Prepared {
        sink,
        lines_read,
        records,
        registry,
    } = prepare(input, cfg, signals, true)?;
    let aggregator =
        runtimes::with_smol_executor(cfg.worker_threads, "ex05-smol-worker", |executor| {
            Ok(enrich_all(
                executor,
                records,
                registry,
                cfg.concurrency,
                &cfg.progress,
            ))
        })?;
    finish(lines_read, aggregator, sink)
}

/// Asked for once a given number of readings has been handed out.
#[derive(Clone, Default)]
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    /// Whether the stop has been asked for: take no more readings.
    pub fn requested(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// What a step-3 run saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped {
    /// Readings handed out (taken out of `records`).
    pub taken: usize,
    /// Readings in the aggregate the function returned (accepted and rejected).
    pub aggregated: usize,
    /// Readings still on their way (taken, look-up not done) as the function returned: work
    /// left running after it.
    pub running_at_return: usize,
}

/// Step 3 on async-std: the learner's function, run with `async_std::task::block_on` (tasks on
/// async-std's global executor).
pub type StopAsyncStd<'a> =
    Box<dyn FnOnce(Records, Arc<SlowRegistry>, usize, Stop, &Progress) -> Aggregator + 'a>;

/// Step 3 on smol: the learner's function, beside an `Executor` driven by `cfg.worker_threads`
/// threads, as in step 2.
pub type StopSmol<'a> = Box<
    dyn FnOnce(&Executor<'static>, Records, Arc<SlowRegistry>, usize, Stop, &Progress) -> Aggregator
        + 'a,
>;

/// The runtime a step-3 run uses, with the learner's function for it.
pub enum StopRun<'a> {
    AsyncStd(StopAsyncStd<'a>),
    Smol(StopSmol<'a>),
}

/// Step 3: the learner's function takes readings until the stop is requested (as the
/// `stop_after`-th is handed out), with at most `cfg.concurrency` look-ups in flight.
pub fn run_until_stopped(
    input: &Input,
    cfg: &Config,
    signals: &Signals,
    stop_after: usize,
    run: StopRun<'_>,
) -> Result<Stopped, PipelineError> {
    let Prepared {
        records, registry, ..
    } = prepare(input, cfg, signals, false)?;
    let stop = Stop::default();
    let (taken, requested) = (Arc::new(AtomicUsize::new(0)), stop.clone());
    let counted = Arc::clone(&taken);
    let records: Records = Box::new(records.inspect(move |_| {
        if counted.fetch_add(1, Ordering::SeqCst) + 1 >= stop_after {
            requested.0.store(true, Ordering::SeqCst);
        }
    }));
    let limit = cfg.concurrency;
    let in_flight = signals.gauge(TASKS_IN_FLIGHT);
    let (aggregator, running_at_return) = match run {
        StopRun::AsyncStd(enrich) => {
            let aggregator = enrich(records, registry, limit, stop, &cfg.progress);
            (aggregator, in_flight.current())
        }
        StopRun::Smol(enrich) => {
            runtimes::with_smol_executor(cfg.worker_threads, "ex05-smol-worker", |executor| {
                let aggregator = enrich(executor, records, registry, limit, stop, &cfg.progress);
                Ok((aggregator, in_flight.current()))
            })?
        }
    };
    let taken = taken.load(Ordering::SeqCst);
    let report = finish(taken as u64, aggregator, Box::new(ReportOnlySink))?;
    Ok(Stopped {
        taken,
        aggregated: (report.accepted() + report.rejected()) as usize,
        running_at_return,
    })
}

struct Prepared {
    sink: Box<dyn pipeline::Sink>,
    lines_read: u64,
    records: Records,
    registry: Arc<SlowRegistry>,
}

/// The readings (with the slow look-up among them if `slow`), and the chapter's slow registry.
fn prepare(
    input: &Input,
    cfg: &Config,
    signals: &Signals,
    slow: bool,
) -> Result<Prepared, PipelineError> {
    cfg.validate()?;
    let sink = cfg.sink.open()?;
    let Work { lines_read, parts } = Work::split(input, cfg, 1);
    let registry = Arc::new(SlowRegistry::new(
        Arc::clone(&cfg.registry),
        REGISTRY_LATENCY,
        signals,
    ));
    let gate = slow.then(|| {
        Arc::new(Gate {
            claimed: AtomicBool::new(false),
            slow: signals.gauge(SLOW_LOOKUP).clone(),
            answered_while_slow: signals.counter(ANSWERED_WHILE_SLOW).clone(),
            keep_busy: (KEEP_BUSY_PER_SLOT * cfg.concurrency) as u64,
        })
    });
    let in_flight = signals.gauge(TASKS_IN_FLIGHT).clone();
    let records: Records = Box::new(parts.into_iter().flatten().map(move |parsed| Record {
        parsed,
        gate: gate.clone(),
        _in_flight: in_flight.enter(),
    }));
    Ok(Prepared {
        sink,
        lines_read,
        records,
        registry,
    })
}

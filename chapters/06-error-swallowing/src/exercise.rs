//! The harness of exercise 06 (`exercises/06-error-swallowing`): how the learner's functions
//! are run, and the writer of step 4. It lives here, out of the learner's file, so the starter
//! and the solution share one copy.
//!
//! Step 4's [`BatchWriter`] is the output stage behind a channel: it writes batches until its
//! [`WriterFault`] strikes — an I/O error, or a panic — at a given batch, and counts what it
//! wrote; [`Batches`] counts what the producer took. A producer that ignores the closed
//! channel goes on taking batches nobody will write, and reports success.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use instruments::FaultPlan;
use pipeline::{
    Aggregator, Config, Enriched, Input, Parsed, PipelineError, Registry, Report, Work, finish,
};
use smol::Executor;

/// The enrich stage's work on one batch, as the tasks call it. (The checks swap in a version
/// with a bug that panics outside the look-up, to see whether anyone notices.)
pub type BatchWork = Arc<dyn Fn(Vec<Parsed>) -> Vec<Enriched> + Send + Sync>;

/// The learner's `enrich_batch`.
pub type EnrichBatchFn = fn(Vec<Parsed>, &dyn Registry, &FaultPlan) -> Vec<Enriched>;

/// Which runtime a run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    Tokio,
    Smol,
}

/// `enrich_batch` against `cfg.registry` under `plan`, as the tasks call it.
pub fn batch_work(cfg: &Config, plan: &FaultPlan, enrich_batch: EnrichBatchFn) -> BatchWork {
    let (registry, plan) = (Arc::clone(&cfg.registry), plan.clone());
    Arc::new(move |batch| enrich_batch(batch, &*registry, &plan))
}

/// The pipeline with the learner's enrich stage on tokio: `enrich_all` (the learner's
/// `enrich_all_tokio`, run on the runtime it is handed) gets the input split in
/// `cfg.worker_threads` parts.
pub fn run_tokio(
    input: &Input,
    cfg: &Config,
    work: BatchWork,
    enrich_all: impl FnOnce(
        &tokio::runtime::Runtime,
        Vec<Vec<Parsed>>,
        BatchWork,
        usize,
    ) -> Result<Aggregator, PipelineError>,
) -> Result<Report, PipelineError> {
    cfg.validate()?;
    let sink = cfg.sink.open()?;
    let Work { lines_read, parts } = Work::split(input, cfg, cfg.worker_threads);
    let runtime = runtimes::tokio_runtime(cfg)?;
    let aggregator = enrich_all(&runtime, parts, work, cfg.batch_size)?;
    finish(lines_read, aggregator, sink)
}

/// The same on smol: `enrich_all` (`enrich_all_smol`) beside an `Executor` driven by
/// `cfg.worker_threads` threads.
pub fn run_smol(
    input: &Input,
    cfg: &Config,
    work: BatchWork,
    enrich_all: impl FnOnce(
        &Executor<'static>,
        Vec<Vec<Parsed>>,
        BatchWork,
        usize,
    ) -> Result<Aggregator, PipelineError>,
) -> Result<Report, PipelineError> {
    cfg.validate()?;
    let sink = cfg.sink.open()?;
    let Work { lines_read, parts } = Work::split(input, cfg, cfg.worker_threads);
    let aggregator =
        runtimes::with_smol_executor(cfg.worker_threads, "ex06-smol-worker", |executor| {
            enrich_all(executor, parts, work, cfg.batch_size)
        })?;
    finish(lines_read, aggregator, sink)
}

// ---------------------------------------------------------------------------------------------
// Step 4: a writer behind a channel.
// ---------------------------------------------------------------------------------------------

/// How many batches the channel to the writer holds.
pub const WRITE_QUEUE: usize = 4;

/// What the writer's `path` says in its errors.
pub const OUTPUT: &str = "ex06-output.csv";

/// The error the writer's I/O fails with.
pub const DISK_FULL: &str = "no space left on device (injected)";

/// What goes wrong in the writer, and at which batch (counted from 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriterFault {
    None,
    /// `write` returns `Err(PipelineError::WriteOutput { .. })` for this batch.
    FailsAt(usize),
    /// `write` panics at this batch.
    PanicsAt(usize),
}

/// The output stage: writes batches, one at a time, until its fault strikes.
pub struct BatchWriter {
    fault: WriterFault,
    written: Arc<AtomicUsize>,
}

impl BatchWriter {
    /// Writes one batch, or fails as its fault says.
    pub fn write(&mut self, batch: Vec<Enriched>) -> Result<(), PipelineError> {
        let n = self.written.load(Ordering::SeqCst) + 1;
        match self.fault {
            WriterFault::FailsAt(at) if n >= at => {
                return Err(PipelineError::WriteOutput {
                    path: OUTPUT.into(),
                    source: std::io::Error::other(DISK_FULL),
                });
            }
            WriterFault::PanicsAt(at) if n >= at => {
                panic!("the writer's encoder hit a bug at batch {n} (injected)")
            }
            _ => {}
        }
        drop(batch);
        self.written.store(n, Ordering::SeqCst);
        Ok(())
    }
}

/// The enriched batches, handed out one at a time, as the producer asks for them.
pub type Batches = Box<dyn Iterator<Item = Vec<Enriched>> + Send>;

/// What a step-4 run saw.
#[derive(Debug)]
pub struct WriterRun {
    /// What the learner's function returned.
    pub result: Result<(), PipelineError>,
    /// How many batches there were, the producer took, and the writer wrote.
    pub total: usize,
    pub taken: usize,
    pub written: usize,
}

/// Step 4: `write_all` (the learner's `write_all_tokio`, run on the runtime it is handed)
/// hands the enriched batches of `input` to a [`BatchWriter`] with `fault`.
pub fn run_writer(
    input: &Input,
    cfg: &Config,
    fault: WriterFault,
    write_all: impl FnOnce(&tokio::runtime::Runtime, Batches, BatchWriter) -> Result<(), PipelineError>,
) -> Result<WriterRun, PipelineError> {
    let registry = Arc::clone(&cfg.registry);
    let enriched: Vec<Vec<Enriched>> = input
        .batches(cfg.batch_size)
        .map(|batch| pipeline::enrich_batch(&*registry, pipeline::parse_batch(batch)))
        .collect();
    let total = enriched.len();
    let (taken, written) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let counted = Arc::clone(&taken);
    let batches: Batches = Box::new(enriched.into_iter().inspect(move |_| {
        counted.fetch_add(1, Ordering::SeqCst);
    }));
    let writer = BatchWriter {
        fault,
        written: Arc::clone(&written),
    };
    let runtime = runtimes::tokio_runtime(cfg)?;
    let result = write_all(&runtime, batches, writer);
    drop(runtime); // every task ends here: what the writer wrote is final
    Ok(WriterRun {
        result,
        total,
        taken: taken.load(Ordering::SeqCst),
        written: written.load(Ordering::SeqCst),
    })
}

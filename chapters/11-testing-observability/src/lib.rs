//! # Chapter 11 — testing and observability
//!
//! The pipeline of this chapter is chapter 1's, cut to three stages (`source` reads and
//! parses, `enrich` looks readings up, `aggregate` collects windows; the sink is written at the
//! end), with two additions that every variant shares:
//!
//! - **a look-up that depends on time**: each attempt gets a timeout, a reading is tried a few
//!   times with a doubling backoff in between, and a reading that never gets an answer is
//!   rejected ("registry timed out"). Which calls are slow is seeded
//!   ([`registry::LatencyPlan`]), so the report does not depend on the clock — but the *order
//!   and timing* of attempts does, and that is what the tests pin down, exactly, on tokio's
//!   paused clock and on an injected [`clock::ManualClock`] for the others;
//! - **tracing**: the same spans and events in all four ([`observe`]), captured by a test layer
//!   and compared across variants.
//!
//! | variant | time in the look-up | carrying the span into a stage |
//! |---|---|---|
//! | sync | an injected [`clock::Clock`], `sleep_blocking`; the call's own read timeout | `span.in_scope(work)` on the new thread |
//! | tokio | `tokio::time` (pausable in tests) | `work.instrument(span)` |
//! | async-std | an injected `Clock`, [`clock::timeout`] | `work.instrument(span)` |
//! | smol | an injected `Clock`, [`clock::timeout`] | `work.instrument(span)` |
//!
//! The tests also re-run the test binary as a child process to catch a panic's backtrace in
//! each variant (`backtraces/*.txt`), and keep every concurrent run under a deadline.
//!
//! [`under_test`] is exercise 11's harness: the tokio look-up, correct or with one bug, handed
//! to a learner's test so that the checks can judge the test.
#![forbid(unsafe_code)]

pub mod clock;
pub mod metrics;
pub mod observe;
pub mod registry;
pub mod under_test;

/// One module per variant, in the canonical order (`rustfmt.toml` keeps rustfmt from sorting them).
pub mod variants {
    pub mod sync;
    pub mod tokio_rt;
    pub mod async_std_rt;
    pub mod smol_rt;
}

use std::sync::Arc;

use pipeline::{
    Aggregator, Config, DatasetSpec, Enriched, Input, LookupError, Parsed, PipelineError, Report,
    RunFn, Variant, enrich_with, finish, parse_batch,
};

use registry::{FlakyRegistry, LatencyPlan, Retry};
use variants::{async_std_rt, smol_rt, sync, tokio_rt};

/// The chapter's input: 1,000 lines of the default dataset's kind. With
/// [`LatencyPlan::CHAPTER`] a few dozen look-up attempts time out, a few milliseconds each.
pub fn chapter_input() -> Input {
    Input::generated(&DatasetSpec {
        lines: 1_000,
        ..DatasetSpec::default()
    })
}

/// Whether a stage's thread or task is given the span it was started from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// The fix: the stage runs inside its `stage` span, a child of `pipeline`.
    Carried,
    /// BROKEN ON PURPOSE: the stage starts with no span, so everything it records is an orphan,
    /// with no variant, no stage, nothing to tie it to this run.
    Dropped,
}

/// Everything a run is given besides its input and config.
#[derive(Debug, Clone)]
pub struct Setup {
    pub plan: LatencyPlan,
    pub retry: Retry,
    pub context: Context,
    /// The look-up of the reading at this line panics (the backtrace tests' bug).
    pub panic_on_line: Option<u64>,
}

impl Setup {
    /// The chapter's setup: its latency plan and retry policy, spans carried, no bug.
    pub fn chapter() -> Setup {
        Setup {
            plan: LatencyPlan::CHAPTER,
            retry: Retry::CHAPTER,
            context: Context::Carried,
            panic_on_line: None,
        }
    }

    /// This run's registry: `cfg.registry` behind the latency plan.
    pub fn registry(&self, cfg: &Config) -> FlakyRegistry {
        FlakyRegistry::new(
            Arc::clone(&cfg.registry),
            self.plan.clone(),
            self.panic_on_line,
        )
    }
}

// ANCHOR: reference
/// What a correct run computes: the stages one after the other on one thread, and no waiting —
/// a reading that every attempt would time out on is rejected as timed out, every other one
/// gets the registry's answer. The timing of attempts cannot change this; the tests check
/// that it does not.
pub fn reference(input: &Input, cfg: &Config) -> Result<Report, PipelineError> {
    reference_with(&Setup::chapter(), input, cfg)
}

pub fn reference_with(setup: &Setup, input: &Input, cfg: &Config) -> Result<Report, PipelineError> {
    cfg.validate()?;
    let sink = cfg.sink.open()?;
    let (mut lines_read, mut aggregator) = (0, Aggregator::new());
    for batch in input.batches(cfg.batch_size) {
        lines_read += batch.len() as u64;
        cfg.progress.add(batch.len());
        for parsed in parse_batch(batch) {
            aggregator.add(parsed.and_then(|reading| {
                let found = if setup.plan.gives_up(reading.line, &setup.retry) {
                    Err(LookupError::TimedOut)
                } else {
                    cfg.registry.lookup(&reading.sensor_id)
                };
                enrich_with(reading, found)
            }));
        }
    }
    finish(lines_read, aggregator, sink)
}
// ANCHOR_END: reference

// ANCHOR: variants
/// The chapter's pipelines, in the canonical order, for the tests and the tour.
pub const VARIANTS: [(Variant, RunFn); 4] = [
    (Variant::Sync, sync::run),
    (Variant::Tokio, tokio_rt::run),
    (Variant::AsyncStd, async_std_rt::run),
    (Variant::Smol, smol_rt::run),
];
// ANCHOR_END: variants

/// A variant's run with an explicit [`Setup`]: the four `run_with`s, in the canonical order.
pub type RunWithFn = fn(&Input, &Config, &Setup) -> Result<Report, PipelineError>;

pub const RUN_WITH_VARIANTS: [(Variant, RunWithFn); 4] = [
    (Variant::Sync, sync::run_with),
    (Variant::Tokio, tokio_rt::run_with),
    (Variant::AsyncStd, async_std_rt::run_with),
    (Variant::Smol, smol_rt::run_with),
];

/// The line number of a batch's first record, for the `batch` span.
pub fn first_line(batch: &[Parsed]) -> u64 {
    batch.first().map_or(0, |parsed| match parsed {
        Ok(reading) => reading.line,
        Err(rejection) => rejection.line,
    })
}

// ANCHOR: rejected
/// Records a rejected reading as an event in the current span (the batch it was in). Every
/// variant calls this for every record its enrich stage hands on, so the trace counts exactly
/// what the report counts.
pub fn trace_rejection(record: &Enriched) {
    if let Err(rejection) = record {
        tracing::info!(
            line = rejection.line,
            reason = rejection.reason.kind(),
            "rejected"
        );
    }
}
// ANCHOR_END: rejected

/// The stages' results, or the error that explains the failure ([`pipeline::cause_of`] the
/// stages' errors).
pub fn joined_stages(
    source: Result<u64, PipelineError>,
    enrich: Result<(), PipelineError>,
    aggregate: Result<Aggregator, PipelineError>,
) -> Result<(u64, Aggregator), PipelineError> {
    match (source, enrich, aggregate) {
        (Ok(lines_read), Ok(()), Ok(aggregator)) => Ok((lines_read, aggregator)),
        (source, enrich, aggregate) => Err(pipeline::cause_of([
            source.err(),
            enrich.err(),
            aggregate.err(),
        ])),
    }
}

/// `workshop run --chapter 11 [--log LEVEL]`: the variant's run, with its tracing spans and
/// events on stderr at `LEVEL` when asked.
fn run_with_flags(request: &course::RunRequest<'_>) -> Result<course::Ran, course::BoxError> {
    if let Some(level) = request.log {
        let level: tracing::Level = level.parse().map_err(|e| format!("--log {level:?}: {e}"))?;
        observe::init_log(level);
    }
    Ok(course::Ran::report(CHAPTER.run_fn(request.variant)(
        request.input,
        request.cfg,
    )?))
}

/// What the workshop knows of this chapter (see the `course` crate).
pub const CHAPTER: course::Chapter = course::Chapter {
    number: 11,
    slug: "11-testing-observability",
    title: "testing and observability: traced look-ups with timeouts and retries",
    variants: VARIANTS,
    input: Some(chapter_input),
    reference: Some(reference),
    flags: &[course::RunFlag::Log],
    custom_run: Some(run_with_flags),
    ..course::Chapter::BASE
};

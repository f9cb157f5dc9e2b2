//! # Chapter 7 — cancellation and shutdown
//!
//! Two ways a pipeline stops doing something before it is done:
//!
//! - **a timeout** on one registry look-up: each attempt gets [`registry::LOOKUP_TIMEOUT`], at
//!   most [`registry::MAX_ATTEMPTS`] with a seeded backoff between them; a reading whose every
//!   attempt hangs is rejected ("registry timed out"), counted, never dropped;
//! - **a shutdown** of the whole run (Ctrl-C, SIGTERM): the source stops, everything already
//!   handed on drains, and a [`checkpoint::Checkpoint`] is written; resuming from it gives
//!   exactly the report of a run that was never stopped.
//!
//! | variant | timeout on a look-up | stop signal | dropping work does |
//! |---|---|---|---|
//! | sync | the call on its own thread, `recv_timeout` | `AtomicBool`, checked between batches | nothing: a thread cannot be cancelled, only abandoned |
//! | tokio | `tokio::time::timeout` | `CancellationToken`, `select!` | a dropped `JoinHandle` detaches; a dropped runtime cancels its tasks |
//! | async-std | `async_std::future::timeout` | a channel closed on stop, `race` | a dropped `JoinHandle` detaches (the task runs on) |
//! | smol | a `Timer` raced with `or` | a channel closed on stop, `or` | a dropped `Task` is cancelled at its next `.await` |
//!
//! The broken pipelines stop the way it is tempting to: race the pipeline against the stop
//! signal, and on a stop save the source's read offset and the aggregator as it stands. What is
//! between the two — in a channel, in a look-up — is counted as done and lost. Each variant's
//! `run_with` takes the way as an [`OnStop`].
#![forbid(unsafe_code)]

pub mod async_close;
pub mod checkpoint;
pub mod exercise;
pub mod registry;
pub mod select_safety;
pub mod shutdown;

/// One module per variant, in the canonical order (`rustfmt.toml` keeps rustfmt from sorting them).
pub mod variants {
    pub mod sync;
    pub mod tokio_rt;
    pub mod async_std_rt;
    pub mod smol_rt;
}

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use instruments::{Counter, Demo, DemoCase, Gauge, Pitfall, Signals, Watch};
use pipeline::{
    Aggregator, Config, DatasetSpec, Input, LookupError, PipelineError, Report, RunFn, Variant,
    enrich_with, finish, parse_batch, parse_line,
};

pub use checkpoint::{Checkpoint, RunEnd};
pub use registry::{HangPlan, PlannedRegistry};
pub use shutdown::{Shutdown, StopPoint};

use registry::{ATTEMPTS_TIMED_OUT, HUNG_CALLS, LEFT_BLOCKED, MAX_ATTEMPTS};
use variants::{async_std_rt, smol_rt, sync, tokio_rt};

/// What [`async_close::RecordWriter`]'s safety net counts: bytes a writer dropped without
/// `close` could not flush.
pub const UNFLUSHED_BYTES: &str = "bytes lost by a writer dropped without close()";

/// What the demos' signals watch.
pub const WATCH: Watch = Watch {
    locks: &[],
    gauges: &[HUNG_CALLS],
    counters: &[ATTEMPTS_TIMED_OUT, LEFT_BLOCKED],
};

/// The chapter's input: 2,000 lines of the default dataset's kind. With
/// [`HangPlan::CHAPTER`], a few dozen look-up attempts hang and each costs a timeout, which
/// keeps a run well under a second.
pub fn chapter_input() -> Input {
    Input::generated(&DatasetSpec {
        lines: 2_000,
        ..DatasetSpec::default()
    })
}

// ANCHOR: controls
/// What a run is given besides its input and config: the stop signal, the registry's hang
/// plan, and the gauges that show what the timeouts did.
#[derive(Clone)]
pub struct Controls {
    pub shutdown: Shutdown,
    pub plan: HangPlan,
    /// Attempts whose caller gave up on them.
    pub attempts_timed_out: Counter,
    /// Registry calls hung right now (and the most at once).
    pub hung: Gauge,
    /// Hung calls still running when their run ended: a timeout that only stopped waiting.
    pub left_blocked: Counter,
}
// ANCHOR_END: controls

impl Controls {
    /// The chapter's hang plan, stopped by `shutdown`, with gauges of its own.
    pub fn new(shutdown: Shutdown) -> Self {
        Controls::watched(shutdown, &Signals::new(&WATCH))
    }

    /// The same, reporting to a demo's `signals` (declared by [`WATCH`]).
    pub fn watched(shutdown: Shutdown, signals: &Signals) -> Self {
        Controls {
            shutdown,
            plan: HangPlan::CHAPTER,
            attempts_timed_out: signals.counter(ATTEMPTS_TIMED_OUT).clone(),
            hung: signals.gauge(HUNG_CALLS).clone(),
            left_blocked: signals.counter(LEFT_BLOCKED).clone(),
        }
    }

    pub fn with_plan(self, plan: HangPlan) -> Self {
        Controls { plan, ..self }
    }

    /// This run's registry: `cfg.registry` behind the hang plan.
    pub fn registry(&self, cfg: &Config) -> PlannedRegistry {
        PlannedRegistry::new(std::sync::Arc::clone(&cfg.registry), self)
    }
}

// ANCHOR: reference
/// What a correct run computes, with the chapter's hang plan: the stages one after the other
/// on one thread, and no waiting — a reading whose every attempt would hang is rejected as
/// timed out, every other one gets the registry's answer.
pub fn reference(input: &Input, cfg: &Config) -> Result<Report, PipelineError> {
    reference_with(HangPlan::CHAPTER, input, cfg)
}

pub fn reference_with(
    plan: HangPlan,
    input: &Input,
    cfg: &Config,
) -> Result<Report, PipelineError> {
    cfg.validate()?;
    let sink = cfg.sink.open()?;
    let (mut lines_read, mut aggregator) = (0, Aggregator::new());
    for batch in input.batches(cfg.batch_size) {
        lines_read += batch.len() as u64;
        cfg.progress.add(batch.len());
        for parsed in parse_batch(batch) {
            aggregator.add(parsed.and_then(|reading| {
                let found = if plan.hangs(reading.line) >= MAX_ATTEMPTS {
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
/// The fixed pipelines, never stopped, in the canonical order, for the tests and the tour.
pub const VARIANTS: [(Variant, RunFn); 4] = [
    (Variant::Sync, sync::run),
    (Variant::Tokio, tokio_rt::run),
    (Variant::AsyncStd, async_std_rt::run),
    (Variant::Smol, smol_rt::run),
];
// ANCHOR_END: variants

/// What a run does when its stop comes: the chapter's one choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnStop {
    /// BROKEN ON PURPOSE: drop the pipeline where it stands (the sync variant abandons its
    /// threads) and checkpoint the source's read offset: what was in between is lost.
    DropPipeline,
    /// FIXED: stop the source, drain what it has handed on, then checkpoint.
    Drain,
}

/// A variant's run that a [`Shutdown`] may stop: `variants::*::run_with`.
pub type RunWithFn = fn(OnStop, &Input, &Config, &Controls, &Path) -> Result<RunEnd, PipelineError>;
/// A variant's resume from a checkpoint: `variants::*::resume_from`.
pub type ResumeFn = fn(&Input, &Config, &Controls, &Path) -> Result<RunEnd, PipelineError>;

/// Each variant's run that a [`Shutdown`] can stop (writing a checkpoint), and its resume from
/// that checkpoint, in the canonical order: what Ctrl-C in the workshop binary drives.
pub const RUN_WITH_VARIANTS: [(Variant, RunWithFn, ResumeFn); 4] = [
    (Variant::Sync, sync::run_with, sync::resume_from),
    (Variant::Tokio, tokio_rt::run_with, tokio_rt::resume_from),
    (
        Variant::AsyncStd,
        async_std_rt::run_with,
        async_std_rt::resume_from,
    ),
    (Variant::Smol, smol_rt::run_with, smol_rt::resume_from),
];

/// The demo's stop point: the first line at or after 40% of the input that reaches the
/// registry (it parses). `None` for an input with no such line.
pub fn demo_stop_line(input: &Input) -> Option<u64> {
    let from = input.line_count() * 2 / 5;
    input
        .text()
        .lines()
        .zip(1u64..)
        .skip(from as usize)
        .find(|(text, line)| parse_line(*line, text).is_ok())
        .map(|(_, line)| line)
}

/// The demo's settings: batches of 128 through channels of 2, so that a stop at 40% of the
/// chapter's input comes while the source still has lines to read (it can be at most the
/// stopped reading's batch, two batches in the channel and one being sent ahead of it).
pub fn demo_config(cfg: &Config) -> Config {
    Config {
        batch_size: 128,
        channel_capacity: 2,
        ..cfg.clone()
    }
}

// ANCHOR: stop_and_resume
/// The live demo: run `on_stop`'s way until the stop at [`demo_stop_line`] (holding that
/// reading until the run has acted, if `hold`), then resume from the checkpoint; the resumed
/// run's report. Nothing was lost or counted twice if and only if it equals [`reference`]'s.
pub fn stop_and_resume(
    run_with: RunWithFn,
    on_stop: OnStop,
    resume: ResumeFn,
    hold: bool,
    input: &Input,
    cfg: &Config,
    signals: &Signals,
) -> Result<Report, PipelineError> {
    let cfg = demo_config(cfg);
    let shutdown = match demo_stop_line(input) {
        Some(line) => Shutdown::at(StopPoint { line, hold }),
        None => Shutdown::new(),
    };
    let dir = scratch_dir()?;
    let path = dir.join("checkpoint.json");
    let end = run_with(
        on_stop,
        input,
        &cfg,
        &Controls::watched(shutdown, signals),
        &path,
    )
    .and_then(|end| match end {
        RunEnd::Finished(report) => Ok(RunEnd::Finished(report)),
        RunEnd::Stopped { .. } => resume(
            input,
            &cfg,
            &Controls::watched(Shutdown::new(), signals),
            &path,
        ),
    });
    let _ = std::fs::remove_dir_all(&dir);
    match end? {
        RunEnd::Finished(report) => Ok(report),
        RunEnd::Stopped { .. } => Err(PipelineError::StageCancelled { stage: "source" }),
    }
}
// ANCHOR_END: stop_and_resume

/// A fresh directory for one demo run's checkpoint.
fn scratch_dir() -> Result<std::path::PathBuf, PipelineError> {
    static RUNS: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "ch07-demo-{}-{}",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).map_err(|source| PipelineError::WriteOutput {
        path: dir.clone(),
        source,
    })?;
    Ok(dir)
}

/// The chapter's live demo: `cargo run --release -- demo lost-on-shutdown --variant <v>`.
pub const DEMOS: [Demo; 1] = [Demo {
    chapter: 7,
    name: "lost-on-shutdown",
    title: "a stop that drops the pipeline, then a resume from its checkpoint",
    pitfall: Pitfall::Loss,
    input: chapter_input,
    watch: WATCH,
    limited: None,
    diagnosis: "on the stop signal the run dropped its pipeline where it stood and saved the \
                source's read offset with the aggregator as it was: every reading between the \
                two — in a channel, in a look-up — counts as done in the checkpoint, so the \
                resumed run never reads it again",
    reference,
    cases: [
        DemoCase {
            variant: Variant::Sync,
            broken: Some(sync::broken_lost_on_shutdown),
            fixed: Some(sync::fixed_lost_on_shutdown),
        },
        DemoCase {
            variant: Variant::Tokio,
            broken: Some(tokio_rt::broken_lost_on_shutdown),
            fixed: Some(tokio_rt::fixed_lost_on_shutdown),
        },
        DemoCase {
            variant: Variant::AsyncStd,
            broken: Some(async_std_rt::broken_lost_on_shutdown),
            fixed: Some(async_std_rt::fixed_lost_on_shutdown),
        },
        DemoCase {
            variant: Variant::Smol,
            broken: Some(smol_rt::broken_lost_on_shutdown),
            fixed: Some(smol_rt::fixed_lost_on_shutdown),
        },
    ],
}];

/// `workshop run --chapter 7 [--checkpoint FILE] [--resume]`: a run that Ctrl-C stops
/// gracefully — the source stops, what is in flight drains, a checkpoint is written — and that
/// `--resume` carries on from there. A stopped run exits 130 (the convention for a run ended by
/// Ctrl-C) and says how to resume.
fn run_until_stopped(request: &course::RunRequest<'_>) -> Result<course::Ran, course::BoxError> {
    use course::text::group_digits;
    let checkpoint = request.checkpoint.map_or_else(
        || {
            let mut name = request.input_path.as_os_str().to_owned();
            name.push(".checkpoint.json");
            std::path::PathBuf::from(name)
        },
        Path::to_path_buf,
    );
    let (_, run_with, resume) = RUN_WITH_VARIANTS
        .iter()
        .find(|(v, _, _)| *v == request.variant)
        .copied()
        .ok_or("chapter 7 lists every variant")?;
    let shutdown = Shutdown::new();
    ctrlc::set_handler({
        let shutdown = shutdown.clone();
        move || {
            eprintln!(
                "\nstopping: the source stops, what is in flight drains, then a checkpoint …"
            );
            shutdown.trigger();
        }
    })
    .map_err(|e| format!("cannot install the Ctrl-C handler: {e}"))?;
    if request.resume {
        (request.say)(&format!("resuming from {}", checkpoint.display()));
    } else {
        (request.say)(&format!(
            "press Ctrl-C to stop gracefully; the checkpoint would go to {}",
            checkpoint.display()
        ));
    }
    let (input, cfg, controls) = (request.input, request.cfg, Controls::new(shutdown));
    let end = if request.resume {
        resume(input, cfg, &controls, &checkpoint)?
    } else {
        run_with(OnStop::Drain, input, cfg, &controls, &checkpoint)?
    };
    match end {
        RunEnd::Finished(report) => Ok(course::Ran::report(report)),
        RunEnd::Stopped {
            checkpoint,
            next_line,
        } => Ok(course::Ran {
            exit: Some(course::run::Exit {
                code: 130,
                message: format!(
                    "stopped after line {} of {}; nothing lost: checkpoint written to {}",
                    group_digits(next_line),
                    group_digits(request.input.line_count()),
                    checkpoint.display(),
                ),
                rerun_with: vec![
                    "--checkpoint".into(),
                    checkpoint.display().to_string(),
                    "--resume".into(),
                ],
            }),
            ..course::Ran::default()
        }),
    }
}

/// What the workshop knows of this chapter (see the `course` crate).
pub const CHAPTER: course::Chapter = course::Chapter {
    number: 7,
    slug: "07-cancellation",
    title: "cancellation: look-ups with timeouts, a shutdown that loses nothing",
    variants: VARIANTS,
    input: Some(chapter_input),
    reference: Some(reference),
    demos: &DEMOS,
    flags: &[course::RunFlag::Checkpoint, course::RunFlag::Resume],
    custom_run: Some(run_until_stopped),
    ..course::Chapter::BASE
};

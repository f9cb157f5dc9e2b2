//! # Chapter 8 — blocking the runtime, CPU-bound work
//!
//! The aggregate stage gets expensive: besides the report's count/min/max/mean/p95, it computes
//! a *work digest* per window ([`work::window_digest`]), real CPU time with a deterministic
//! answer. An async task that does that work — or makes any blocking call: `std::thread::sleep`,
//! `std::fs`, a blocking client — does not give its worker thread back until it is done, and
//! while every worker is busy nothing else on the runtime is polled. A heartbeat task
//! ([`heartbeat`]) that wants to wake every 5 ms measures the damage as lateness.
//!
//! | variant | [`Mode::Inline`] (broken for async) | [`Mode::Offload`] | [`Mode::Rayon`] |
//! |---|---|---|---|
//! | sync | one thread: only that thread waits | — | `pool.install` + `par_iter` |
//! | tokio | digests inside `JoinSet` tasks | `spawn_blocking` | `ThreadPool::spawn` + `oneshot` |
//! | async-std | digests inside `task::spawn` tasks | `task::spawn_blocking` | `ThreadPool::spawn` + `async_channel::bounded(1)` |
//! | smol | digests inside `executor.spawn` tasks | `smol::unblock` | `ThreadPool::spawn` + `async_channel::bounded(1)` |
//!
//! Every variant, in every mode, gives the same [`Report`](pipeline::Report) and the same CPU
//! digest as [`work::reference`]: where the work runs changes when it finishes, never what it
//! computes. Each variant's `run_with` takes the [`Mode`]; [`experiment`] runs them all and prints
//! what the heartbeat saw.
#![forbid(unsafe_code)]

pub mod heartbeat;
pub mod work;

/// One module per variant, in the canonical order (`rustfmt.toml` keeps rustfmt from sorting them).
pub mod variants {
    pub mod sync;
    pub mod tokio_rt;
    pub mod async_std_rt;
    pub mod smol_rt;
}

use std::fmt;
use std::io::Write;
use std::time::{Duration, Instant};

use pipeline::{Config, DatasetSpec, Input, PipelineError, RunFn, Variant};

use heartbeat::{Beats, Blocked, PERIOD};
use variants::{async_std_rt, smol_rt, sync, tokio_rt};
use work::{CpuWork, Outcome};

/// Where the CPU work runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Right where the pipeline is: inside async tasks (broken), or on the sync variant's one
    /// thread.
    Inline,
    /// On the runtime's pool for blocking work: `spawn_blocking` (tokio, async-std),
    /// `unblock` (smol). The sync variant has no runtime to offload from.
    Offload,
    /// On a rayon thread pool, data-parallel.
    Rayon,
}

impl Mode {
    pub const ALL: [Mode; 3] = [Mode::Inline, Mode::Offload, Mode::Rayon];

    /// Offloading needs a runtime to offload from: the sync variant has none.
    pub fn applies_to(self, variant: Variant) -> bool {
        !(self == Mode::Offload && variant == Variant::Sync)
    }

    /// The mode's name in `variant`'s own words.
    pub fn label(self, variant: Variant) -> &'static str {
        match (self, variant) {
            (Mode::Inline, Variant::Sync) => "one thread",
            (Mode::Inline, _) => "inline",
            (Mode::Offload, Variant::Smol) => "unblock",
            (Mode::Offload, _) => "spawn_blocking",
            (Mode::Rayon, _) => "rayon",
        }
    }
}

/// A run's outcome and what the heartbeat saw meanwhile.
#[derive(Debug, Clone, PartialEq)]
pub struct Measured {
    pub outcome: Outcome,
    pub beats: Beats,
}

/// A variant's pipeline, run the given way: `variants::*::run_with`.
pub type RunWithFn = fn(Mode, &Input, &Config, CpuWork) -> Result<Measured, PipelineError>;
/// A variant's blocking-section experiment: `variants::*::ticks_while_blocked`.
pub type BlockedFn = fn(Mode, Duration) -> Result<Blocked, PipelineError>;

/// The chapter's input: 20,000 lines of the default dataset's kind, about 500 windows.
pub fn chapter_input() -> Input {
    Input::generated(&DatasetSpec {
        lines: 20_000,
        ..DatasetSpec::default()
    })
}

// ANCHOR: variants
/// The fixed pipelines (CPU work on rayon), in the canonical order, for the tests and the tour.
pub const VARIANTS: [(Variant, RunFn); 4] = [
    (Variant::Sync, sync::run),
    (Variant::Tokio, tokio_rt::run),
    (Variant::AsyncStd, async_std_rt::run),
    (Variant::Smol, smol_rt::run),
];
// ANCHOR_END: variants

/// Every variant's `run_with`, in the canonical order; it runs the modes that
/// [apply to it](Mode::applies_to).
pub const RUN_WITH_VARIANTS: [(Variant, RunWithFn); 4] = [
    (Variant::Sync, sync::run_with),
    (Variant::Tokio, tokio_rt::run_with),
    (Variant::AsyncStd, async_std_rt::run_with),
    (Variant::Smol, smol_rt::run_with),
];

/// Every variant's blocking-section experiment, in the canonical order.
pub const BLOCKED_VARIANTS: [(Variant, BlockedFn); 4] = [
    (Variant::Sync, sync::ticks_while_blocked),
    (Variant::Tokio, tokio_rt::ticks_while_blocked),
    (Variant::AsyncStd, async_std_rt::ticks_while_blocked),
    (Variant::Smol, smol_rt::ticks_while_blocked),
];

/// One line of the experiment's table.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub variant: Variant,
    pub mode: Mode,
    pub beats: Beats,
    /// The whole run: runtime start-up, the pipeline, the heartbeat's last sleep.
    pub wall: Duration,
    /// The report is byte-identical to the reference's.
    pub same_report: bool,
    /// The CPU digest equals the reference's.
    pub same_digest: bool,
}

impl Row {
    pub fn same_result(&self) -> bool {
        self.same_report && self.same_digest
    }
}

impl fmt::Display for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<10} {:<15} {:>6} {:>14} {:>14} {:>10} {}",
            self.variant.name(),
            self.mode.label(self.variant),
            self.beats.ticks,
            millis(self.beats.max_late),
            millis(self.beats.p99_late),
            millis(self.wall),
            if self.same_result() {
                "yes"
            } else {
                "NO: differs from the reference"
            },
        )
    }
}

fn millis(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

// ANCHOR: experiment
/// The live demo (`cargo run --release -- demo blocking-heartbeat`): every variant, every mode,
/// on the chapter's input with the demo's CPU cost, while a heartbeat ticks; one table line per
/// run, printed as it finishes. Compare the lateness columns, not the wall times alone.
pub fn experiment(out: &mut dyn Write) -> Result<Vec<Row>, PipelineError> {
    experiment_with(out, &chapter_input(), &Config::default(), CpuWork::DEMO)
}
// ANCHOR_END: experiment

/// [`experiment`] on any input, configuration and CPU cost (the tests use a small one).
pub fn experiment_with(
    out: &mut dyn Write,
    input: &Input,
    cfg: &Config,
    cpu: CpuWork,
) -> Result<Vec<Row>, PipelineError> {
    let reference = work::reference(input, cfg, cpu)?;
    let print = |out: &mut dyn Write, text: &str| {
        writeln!(out, "{text}")
            .and_then(|()| out.flush())
            .map_err(|source| PipelineError::WriteOutput {
                path: "(the demo's output)".into(),
                source,
            })
    };
    print(
        out,
        &format!(
            "A heartbeat task wants to wake every {} ms on the same runtime as the pipeline, \
             whose aggregate stage computes a digest of {} rounds over every window ({}, {} \
             worker threads).\nLateness is how long after its due time the heartbeat actually \
             ran: a timeout firing late, a connection stalling.\n",
            PERIOD.as_millis(),
            cpu.rounds,
            input.name(),
            cfg.worker_threads,
        ),
    )?;
    print(
        out,
        &format!(
            "{:<10} {:<15} {:>6} {:>14} {:>14} {:>10} {}",
            "variant", "mode", "ticks", "max lateness", "p99 lateness", "wall", "same result"
        ),
    )?;
    let mut rows = Vec::new();
    for (variant, mode) in experiment_rows() {
        let row = experiment_row(variant, mode, input, cfg, cpu, &reference)?;
        print(out, &row.to_string())?;
        rows.push(row);
    }
    Ok(rows)
}

/// The experiment's rows, in its order: every variant with every mode that applies to it.
pub fn experiment_rows() -> Vec<(Variant, Mode)> {
    RUN_WITH_VARIANTS
        .iter()
        .flat_map(|&(variant, _)| {
            Mode::ALL
                .into_iter()
                .filter(move |m| m.applies_to(variant))
                .map(move |mode| (variant, mode))
        })
        .collect()
}

/// One row of the experiment: `variant` with the work in `mode`, timed, its result compared
/// with `reference` ([`work::reference`]). The lab runs the rows one at a time, in a shuffled
/// order per repeat.
pub fn experiment_row(
    variant: Variant,
    mode: Mode,
    input: &Input,
    cfg: &Config,
    cpu: CpuWork,
    reference: &work::Outcome,
) -> Result<Row, PipelineError> {
    let run_with = RUN_WITH_VARIANTS
        .iter()
        .find_map(|&(v, run_with)| (v == variant).then_some(run_with))
        .expect("every variant has a run_with");
    let started = Instant::now();
    let measured = run_with(mode, input, cfg, cpu)?;
    Ok(Row {
        variant,
        mode,
        beats: measured.beats,
        wall: started.elapsed(),
        same_report: measured.outcome.report.text() == reference.report.text(),
        same_digest: measured.outcome.cpu_digest == reference.cpu_digest,
    })
}

/// The session's experiment: [`experiment`], failing if a run's result differed.
fn session_experiment(io: &mut course::ExperimentIo<'_>) -> Result<(), course::BoxError> {
    let rows = experiment(io.out)?;
    match rows.iter().find(|row| !row.same_result()) {
        Some(row) => Err(format!("a run's result differs from the reference: {row}").into()),
        None => Ok(()),
    }
}

/// What the workshop knows of this chapter (see the `course` crate).
pub const CHAPTER: course::Chapter = course::Chapter {
    number: 8,
    slug: "08-blocking-and-cpu",
    title: "CPU-bound aggregation, offloaded (rayon, spawn_blocking, unblock)",
    variants: VARIANTS,
    input: Some(chapter_input),
    experiments: &[course::Experiment {
        name: "blocking-heartbeat",
        title: "CPU work inline in async tasks vs offloaded: how late a heartbeat gets",
        needs_database: false,
        run: session_experiment,
    }],
    ..course::Chapter::BASE
};

//! # Chapter 6 — error swallowing
//!
//! A task nobody awaits is a task whose errors nobody hears. The enrich stage here runs one
//! task (or thread) per worker's share of the readings, against a registry with injected
//! faults ([`FaultPlan`], from `instruments`): some sensors' look-ups fail, one look-up
//! panics, one sink write fails. The same plan for all four variants.
//!
//! | variant | broken ([`Handles::Dropped`]): fire and forget | fixed ([`Handles::Joined`]): every handle joined |
//! |---|---|---|
//! | sync | `thread::spawn`, handles dropped, `.ok()` on the send | `thread::scope`, `join()` gives `Err(payload)` on panic |
//! | tokio | `tokio::spawn`, handles dropped | a `JoinSet`; a panic comes back as a `JoinError` |
//! | async-std | `task::spawn`, handles dropped (they detach) | every `JoinHandle` awaited under `catch_unwind` (it re-raises) |
//! | smol | `spawn(..).detach()` (dropping a `Task` would cancel it) | every `Task` awaited under `catch_unwind` (it re-raises) |
//!
//! In every broken variant the run *succeeds* — exit code 0 — and its report does not balance:
//! lines read ≠ accepted + rejected. In every fixed one, each reading is accepted or rejected
//! with its reason, failures go to a dead-letter output, and the exit code says so.
#![forbid(unsafe_code)]

pub mod exercise;
pub mod facts;
pub mod lookup;
pub mod outcome;

/// One module per variant, in the canonical order (`rustfmt.toml` keeps rustfmt from sorting them).
pub mod variants {
    pub mod sync;
    pub mod tokio_rt;
    pub mod async_std_rt;
    pub mod smol_rt;
}

use instruments::{Demo, DemoCase, FaultPlan, Pitfall, Watch};
use pipeline::{
    Aggregator, Config, DatasetSpec, Input, PipelineError, Report, RunFn, Variant, Work,
};

pub use outcome::{Count, DeadLetter, Outcome, Unaccounted};
use variants::{async_std_rt, smol_rt, sync, tokio_rt};

/// The seed of the demos' fault plan.
pub const DEMO_SEED: u64 = 6;

/// The chapter's input for demos: 5,000 lines of the default dataset's kind.
pub fn chapter_input() -> Input {
    Input::generated(&DatasetSpec {
        lines: 5_000,
        ..DatasetSpec::default()
    })
}

/// The demos' fault plan for `input`.
pub fn demo_plan(input: &Input) -> FaultPlan {
    FaultPlan::seeded(DEMO_SEED, input)
}

/// What a correct run delivers under `plan`: the stages one after the other on one thread,
/// with the fixed pipelines' handling of every failure. Every fixed variant must equal it.
pub fn reference(input: &Input, cfg: &Config, plan: &FaultPlan) -> Result<Outcome, PipelineError> {
    cfg.validate()?;
    let (sink, ledger) = plan.sink(cfg.sink.open()?);
    let Work { lines_read, parts } = Work::split(input, cfg, 1);
    let mut aggregator = Aggregator::new();
    for part in parts {
        for batch in lookup::batches(part, cfg.batch_size) {
            aggregator.add_batch(lookup::enrich_guarded(batch, &*cfg.registry, plan));
        }
    }
    let dead_letters = outcome::dead_letter_path(&cfg.sink);
    outcome::deliver(
        lines_read,
        aggregator,
        sink,
        &ledger,
        dead_letters.as_deref(),
    )
}

/// The reference report of the demos (their fault plan).
pub fn demo_reference(input: &Input, cfg: &Config) -> Result<Report, PipelineError> {
    reference(input, cfg, &demo_plan(input)).map(|outcome| outcome.report)
}

// ANCHOR: variants
/// The fixed pipelines without faults, in the canonical order, for the tests and the tour.
pub const VARIANTS: [(Variant, RunFn); 4] = [
    (Variant::Sync, sync::run),
    (Variant::Tokio, tokio_rt::run),
    (Variant::AsyncStd, async_std_rt::run),
    (Variant::Smol, smol_rt::run),
];
// ANCHOR_END: variants

/// What becomes of the enrich tasks' (or threads') handles: the chapter's one choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handles {
    /// BROKEN ON PURPOSE: dropped on the spot (fire and forget); their failures go unheard.
    Dropped,
    /// FIXED: every one joined; a failure or panic comes back to the code that decides.
    Joined,
}

/// A variant's pipeline under a fault plan, broken or fixed: `variants::*::run_with`.
pub type RunWithFn = fn(Handles, &Input, &Config, &FaultPlan) -> Result<Outcome, PipelineError>;

/// Every variant's `run_with`, in the canonical order, for the tests.
pub const RUN_WITH_VARIANTS: [(Variant, RunWithFn); 4] = [
    (Variant::Sync, sync::run_with),
    (Variant::Tokio, tokio_rt::run_with),
    (Variant::AsyncStd, async_std_rt::run_with),
    (Variant::Smol, smol_rt::run_with),
];

/// The chapter's live demo: `cargo run --release -- demo swallowed-errors --variant <v>`.
pub const DEMOS: [Demo; 1] = [Demo {
    chapter: 6,
    name: "swallowed-errors",
    title: "fire-and-forget tasks: failed look-ups, a panic and a failed write vanish",
    pitfall: Pitfall::Loss,
    input: chapter_input,
    watch: Watch {
        locks: &[],
        gauges: &[],
        counters: &[],
    },
    limited: None,
    diagnosis: "nobody joins the enrich tasks, so a failed look-up is skipped with `if let Ok`, \
                the task whose look-up panicked dies with the rest of its readings, and the \
                sink's failed write is dropped with `let _ =`; nothing reaches the code that \
                decides the exit code",
    reference: demo_reference,
    cases: [
        DemoCase {
            variant: Variant::Sync,
            broken: Some(sync::broken_swallowed_errors),
            fixed: Some(sync::fixed_swallowed_errors),
        },
        DemoCase {
            variant: Variant::Tokio,
            broken: Some(tokio_rt::broken_swallowed_errors),
            fixed: Some(tokio_rt::fixed_swallowed_errors),
        },
        DemoCase {
            variant: Variant::AsyncStd,
            broken: Some(async_std_rt::broken_swallowed_errors),
            fixed: Some(async_std_rt::fixed_swallowed_errors),
        },
        DemoCase {
            variant: Variant::Smol,
            broken: Some(smol_rt::broken_swallowed_errors),
            fixed: Some(smol_rt::fixed_swallowed_errors),
        },
    ],
}];

/// `workshop run --chapter 6 [--faults SEED]`: with a seed, the fixed pipeline under that
/// fault plan, then what was delivered, where the dead letters are, and an exit status that is
/// 0 only if everything was delivered.
fn run_with_flags(request: &course::RunRequest<'_>) -> Result<course::Ran, course::BoxError> {
    let (input, cfg) = (request.input, request.cfg);
    let Some(seed) = request.faults else {
        return Ok(course::Ran::report(CHAPTER.run_fn(request.variant)(
            input, cfg,
        )?));
    };
    let plan = FaultPlan::seeded(seed, input);
    let run_with = RUN_WITH_VARIANTS
        .iter()
        .find(|(v, _)| *v == request.variant)
        .map(|(_, run_with)| *run_with)
        .ok_or("chapter 6 lists every variant")?;
    let outcome = run_with(Handles::Joined, input, cfg, &plan)?;
    Ok(delivered(outcome, cfg))
}

/// The run's last word: what was delivered, where the dead letters are, and the exit status.
fn delivered(outcome: Outcome, cfg: &Config) -> course::Ran {
    use course::text::group_digits;
    let unaccounted = outcome.unaccounted();
    let line = format!(
        "delivered: {} of {} windows written; {} dead letters; {unaccounted}",
        group_digits(outcome.windows_written),
        group_digits(outcome.report.windows().len() as u64),
        group_digits(outcome.dead_letters.len() as u64),
    );
    let code = outcome.exit_code();
    let exit = (code != 0).then(|| {
        let place = outcome::dead_letter_path(&cfg.sink).map_or_else(
            || "pass --output FILE to write them next to it".to_owned(),
            |path| format!("written to {}", path.display()),
        );
        // The books first when they do not balance: that is the worse news.
        let books = if unaccounted.nothing() {
            String::new()
        } else {
            format!("{unaccounted}; ")
        };
        course::run::Exit {
            code: u8::try_from(code).unwrap_or(1),
            message: format!(
                "the run finished, but not everything was delivered: {books}{} dead letters \
                 ({place}); exit code {code}",
                group_digits(outcome.dead_letters.len() as u64)
            ),
            rerun_with: Vec::new(),
        }
    });
    course::Ran {
        report: Some(outcome.report),
        after: vec![line],
        exit,
    }
}

/// What the workshop knows of this chapter (see the `course` crate).
pub const CHAPTER: course::Chapter = course::Chapter {
    number: 6,
    slug: "06-error-swallowing",
    title: "error swallowing, fixed (every handle joined, failures dead-lettered)",
    variants: VARIANTS,
    demos: &DEMOS,
    flags: &[course::RunFlag::Faults],
    custom_run: Some(run_with_flags),
    ..course::Chapter::BASE
};

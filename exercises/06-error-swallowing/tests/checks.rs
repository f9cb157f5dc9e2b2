//! Exercise 06's checks: under the chapter's fault plan every reading must be accounted for,
//! and a task that dies must make the run fail, in tokio and in smol. Step 4's writer fails (an
//! I/O error, then a panic) part-way: the producer must stop taking batches soon after, and
//! return the writer's own error. Each run is under a deadline, so nothing here can hang a
//! session.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Duration;

use ch06_error_swallowing::lookup::enrich_guarded;
use ch06_error_swallowing::{chapter_input, demo_plan, reference};
use instruments::FaultPlan;
use pipeline::{Config, Input, PipelineError, RejectReason, Report, error_chain, parse_batch};
use testkit::{LineBalance, Outcome, run_with_deadline};

use ch06_error_swallowing::exercise::{
    self, BatchWork, DISK_FULL, Runtime, WRITE_QUEUE, WriterFault, WriterRun,
};

use super::enrich_batch;

const DEADLINE: Duration = Duration::from_secs(20);
const HINT: &str = "hint: `cargo run --release -- hint 06`";
const HINT_2: &str = "hint: `cargo run --release -- hint 06 2`";

fn setup() -> (Input, Config, FaultPlan, Report) {
    let input = chapter_input();
    let cfg = Config::default();
    let plan = demo_plan(&input);
    let expected = reference(&input, &cfg, &plan)
        .expect("the reference runs")
        .report;
    (input, cfg, plan, expected)
}

fn count(report: &Report, reason: RejectReason) -> usize {
    report
        .rejections()
        .iter()
        .filter(|r| r.reason == reason)
        .count()
}

/// The learner's enrich stage, run by the harness on `runtime`.
fn run_with(
    runtime: Runtime,
    input: &Input,
    cfg: &Config,
    work: BatchWork,
) -> Result<Report, PipelineError> {
    match runtime {
        Runtime::Tokio => exercise::run_tokio(input, cfg, work, |rt, parts, work, batch_size| {
            // deadline: every caller runs `run_with` inside `run_with_deadline`
            rt.block_on(super::enrich_all_tokio(parts, work, batch_size))
        }),
        Runtime::Smol => exercise::run_smol(input, cfg, work, |ex, parts, work, batch_size| {
            // deadline: every caller runs `run_with` inside `run_with_deadline`
            smol::block_on(super::enrich_all_smol(ex, parts, work, batch_size))
        }),
    }
}

/// The learner's `enrich_batch` against `cfg.registry` under `plan`.
fn your_work(cfg: &Config, plan: &FaultPlan) -> BatchWork {
    exercise::batch_work(cfg, plan, enrich_batch)
}

fn run(
    runtime: Runtime,
    input: &Input,
    cfg: &Config,
    work: BatchWork,
) -> Outcome<Result<Report, PipelineError>> {
    let (input, cfg) = (input.clone(), cfg.clone());
    run_with_deadline("exercise 06", DEADLINE, move || {
        run_with(runtime, &input, &cfg, work)
    })
}

#[test]
fn enrich_batch_accounts_for_every_reading() {
    let (input, cfg, plan, expected) = setup();
    let batch: Vec<_> = input.batches(usize::MAX).flat_map(parse_batch).collect();
    let total = batch.len();
    let out = catch_unwind(AssertUnwindSafe(|| {
        enrich_batch(batch, &*cfg.registry, &plan)
    }))
    .unwrap_or_else(|_| {
        panic!(
            "enrich_batch panicked: one look-up panics on purpose, and it must cost that one \
                 reading (rejected as `LookupError::Panicked`), not the whole batch. {HINT}"
        )
    });
    let failed = out
        .iter()
        .filter(|e| matches!(e, Err(r) if r.reason == RejectReason::RegistryFailed))
        .count();
    let panicked = out
        .iter()
        .filter(|e| matches!(e, Err(r) if r.reason == RejectReason::LookupPanicked))
        .count();
    assert_eq!(
        out.len(),
        total,
        "{total} readings went into enrich_batch and {} came out: every reading must come out, \
         accepted or rejected with its reason. {HINT}",
        out.len()
    );
    assert_eq!(
        (failed, panicked),
        (count(&expected, RejectReason::RegistryFailed), 1),
        "expected {} readings rejected as \"registry error\" and 1 as \"look-up panicked\", got \
         {failed} and {panicked}. {HINT}",
        count(&expected, RejectReason::RegistryFailed)
    );
}

/// The fault plan's look-ups, handled correctly, plus a bug: the batch holding `line` makes the
/// task panic *outside* any look-up. Only a join can notice that.
fn work_with_a_dying_task(cfg: &Config, plan: &FaultPlan, line: u64) -> BatchWork {
    let (registry, plan) = (Arc::clone(&cfg.registry), plan.clone());
    Arc::new(move |batch| {
        let dies = batch.iter().any(|p| match p {
            Ok(reading) => reading.line == line,
            Err(rejection) => rejection.line == line,
        });
        let enriched = enrich_guarded(batch, &*registry, &plan);
        assert!(!dies, "a bug in the enrich task (planted by the checks)");
        enriched
    })
}

fn delivers_every_reading(runtime: Runtime) {
    let (input, cfg, plan, expected) = setup();
    let work = your_work(&cfg, &plan);
    let outcome = run(runtime, &input, &cfg, work);
    let report = match outcome.expect_finished(&format!("the {runtime:?} run")) {
        Ok(report) => report,
        Err(e) => panic!("the {runtime:?} run failed: {}. {HINT}", error_chain(&e)),
    };
    let balance = LineBalance::of_report(&report);
    assert!(
        report.text() == expected.text(),
        "the {runtime:?} run read {} lines: expected {} accepted and {} rejected, got {} and {} \
         ({balance}). {HINT}",
        report.lines_read(),
        expected.accepted(),
        expected.rejected(),
        report.accepted(),
        report.rejected(),
    );
}

fn reports_a_task_that_dies(runtime: Runtime) {
    let (input, cfg, plan, _) = setup();
    let work = work_with_a_dying_task(&cfg, &plan, input.line_count() / 2);
    let result = match run(runtime, &input, &cfg, work) {
        Outcome::Panicked(message) => panic!(
            "a task panicked, and the panic came out of the {runtime:?} run (\"{message}\") \
             instead of `Err(PipelineError::StagePanicked)`: where you join the task, catch it \
             and turn it into the error. {HINT}"
        ),
        outcome => outcome.expect_finished(&format!("the {runtime:?} run")),
    };
    match result {
        Err(PipelineError::StagePanicked { .. }) => {}
        Err(other) => panic!(
            "a task panicked and the {runtime:?} run failed, but with `{}` — expected \
             `PipelineError::StagePanicked`. {HINT}",
            error_chain(&other)
        ),
        Ok(report) => panic!(
            "a task panicked, yet the {runtime:?} run returned Ok ({} of {} lines read) and \
             nobody heard. Join every task and turn a panic into an error. {HINT}",
            LineBalance::of_report(&report),
            report.lines_read()
        ),
    }
}

#[test]
fn tokio_delivers_every_reading() {
    delivers_every_reading(Runtime::Tokio);
}

#[test]
fn tokio_reports_a_task_that_dies() {
    reports_a_task_that_dies(Runtime::Tokio);
}

#[test]
fn smol_delivers_every_reading() {
    delivers_every_reading(Runtime::Smol);
}

#[test]
fn smol_reports_a_task_that_dies() {
    reports_a_task_that_dies(Runtime::Smol);
}

/// Step 4: the learner's producer and writer, the writer failing as `fault` says.
fn run_writer(fault: WriterFault) -> WriterRun {
    let input = Input::generated(&pipeline::DatasetSpec {
        lines: 2_000,
        ..pipeline::DatasetSpec::default()
    });
    let cfg = Config {
        batch_size: 50,
        ..Config::default()
    };
    let outcome = run_with_deadline("exercise 06, writer", DEADLINE, move || {
        exercise::run_writer(&input, &cfg, fault, |rt, batches, writer| {
            rt.block_on(super::write_all_tokio(batches, writer))
        })
    });
    match outcome {
        Outcome::Panicked(message) => panic!(
            "the writer run ({fault:?}) panicked (\"{message}\") instead of returning an \
             error: whatever went wrong in the writer task must come back as an `Err`, not \
             as a panic of the function that started it. {HINT_2}"
        ),
        outcome => outcome
            .expect_finished("the writer run")
            .expect("the writer run starts"),
    }
}

/// The batch the writer fails at, and the most batches a producer that stops at the first
/// failed send can have taken: those the writer got, a full channel, and the one whose send
/// failed.
const FAILS_AT: usize = 10;
const MOST_TAKEN: usize = FAILS_AT + WRITE_QUEUE + 1;

#[test]
fn writer_healthy_run_writes_everything() {
    let WriterRun {
        result,
        total,
        written,
        ..
    } = run_writer(WriterFault::None);
    if let Err(e) = result {
        panic!(
            "the writer never fails in this run, yet the function returned `{}`. {HINT_2}",
            error_chain(&e)
        );
    }
    assert!(
        written == total,
        "the writer wrote {written} of the {total} batches in a run where nothing fails: \
         every batch must reach it. {HINT_2}"
    );
}

#[test]
fn writer_failure_is_returned_not_swallowed() {
    let WriterRun {
        result,
        total,
        taken,
        written,
    } = run_writer(WriterFault::FailsAt(FAILS_AT));
    match &result {
        Ok(()) => panic!(
            "the writer failed at batch {FAILS_AT} (disk full) and wrote {written} of {total} \
             batches, yet the function returned Ok: the error was swallowed. A failed send \
             says the writer is gone; its handle says why. {HINT_2}"
        ),
        Err(e) => assert!(
            matches!(e, PipelineError::WriteOutput { .. }) && error_chain(e).contains(DISK_FULL),
            "the writer failed with \"{DISK_FULL}\", but the function returned `{}`: an error, \
             but not the reason. The closed channel is a symptom; return the writer's own error, \
             from its handle. {HINT_2}",
            error_chain(e)
        ),
    }
    assert!(
        taken <= MOST_TAKEN,
        "the writer stopped at batch {FAILS_AT}, but the producer went on to take {taken} of \
         the {total} batches (a producer that stops at the first failed send takes at most \
         {MOST_TAKEN}): each send after that failed, and nobody looked. Stop at the first \
         failed send. {HINT_2}"
    );
}

#[test]
fn writer_panic_is_returned_as_an_error() {
    let WriterRun { result, total, .. } = run_writer(WriterFault::PanicsAt(FAILS_AT));
    match result {
        Err(PipelineError::StagePanicked { .. }) => {}
        Err(other) => panic!(
            "the writer panicked at batch {FAILS_AT}, and the function failed, but with `{}` — \
             expected `PipelineError::StagePanicked`: the handle's `JoinError` is the panic. \
             {HINT_2}",
            error_chain(&other)
        ),
        Ok(()) => panic!(
            "the writer panicked at batch {FAILS_AT} of {total}, yet the function returned Ok: \
             the panic died with the task, unheard. Await the writer's handle and turn a \
             `JoinError` into `PipelineError::StagePanicked`. {HINT_2}"
        ),
    }
}

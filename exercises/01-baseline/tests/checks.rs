//! Exercise 01's checks: the run must end (watched from outside: a run that hangs fails after
//! two seconds without progress) — also when the input ends exactly on a batch boundary or is
//! empty, so only a closed channel can end it, not a guess from a short batch; every line must
//! be accounted for, as in the reference; the look-ups must happen in the pipeline's tasks, on
//! the runtime the checks build, not in the sequential reference run inline; and the run must
//! need no clock (a runtime without timers), so a stage that ends when `recv` has waited "long
//! enough" is caught without anybody waiting.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use pipeline::{
    Config, DatasetSpec, FleetRegistry, Input, LookupError, PipelineError, Registry, Report,
    SensorInfo, error_chain, run_sequential,
};
use testkit::{LineBalance, Outcome, TEST_DEADLINE, run_with_watchdog};

const STALL: Duration = Duration::from_secs(2);

/// The fleet's answers, and where each look-up was made: inside a tokio task (a stage), or
/// outside any (the reference pipeline awaited in place of the stages).
#[derive(Default)]
struct Probe {
    fleet: FleetRegistry,
    in_tasks: AtomicU64,
    outside_tasks: AtomicU64,
}

impl Registry for Probe {
    fn lookup(&self, sensor_id: &str) -> Result<SensorInfo, LookupError> {
        let counter = match tokio::task::try_id() {
            Some(_) => &self.in_tasks,
            None => &self.outside_tasks,
        };
        counter.fetch_add(1, Ordering::SeqCst);
        self.fleet.lookup(sensor_id)
    }
}

fn input(lines: usize) -> Input {
    Input::generated(&DatasetSpec {
        lines,
        ..DatasetSpec::default()
    })
}

/// Runs `run_async` on a runtime of the checks' own, under the watchdog; a hang or an error
/// fails with a pointer to the hint.
fn finished_report(input: &Input, probe: &Arc<Probe>) -> Report {
    let cfg = Config {
        registry: Arc::clone(probe) as Arc<dyn Registry>,
        ..Config::default()
    };
    let (moved_input, moved_cfg) = (input.clone(), cfg.clone());
    let outcome = run_with_watchdog(
        "tokio pipeline",
        &cfg.progress,
        STALL,
        TEST_DEADLINE,
        move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a tokio runtime");
            runtime.block_on(super::run_async(&moved_input, &moved_cfg))
        },
    );
    match outcome {
        Outcome::Finished(Ok(report)) => report,
        Outcome::Finished(Err(e @ PipelineError::StageCancelled { .. })) => panic!(
            "the pipeline failed: {} — a stage must end on its own, when its input's channel \
             closes; cancelling it from outside drops whatever it still held. hint: `cargo run \
             --release -- hint 01`",
            error_chain(&e)
        ),
        Outcome::Finished(Err(e)) => panic!("the pipeline failed: {}", error_chain(&e)),
        Outcome::Hung { .. } => panic!(
            "no progress after {STALL:?} on an input of {} lines: the source has read every line, \
             yet the run does not end. A stage's input ends when its channel closes, that is when \
             every Sender is dropped — not when a batch comes back short. Is a Sender still \
             alive somewhere, so the next stage never sees the end of its input? hint: `cargo \
             run --release -- hint 01`",
            input.line_count()
        ),
        Outcome::Panicked(message) => panic!("the pipeline panicked: {message}"),
    }
}

#[test]
fn the_run_finishes() {
    finished_report(&input(5_000), &Arc::default());
}

#[test]
fn the_run_finishes_when_the_input_ends_on_a_batch_boundary() {
    let batch_size = Config::default().batch_size;
    for lines in [0, 2 * batch_size] {
        let input = input(lines);
        assert_eq!(
            input.line_count(),
            lines as u64,
            "the generator's line count"
        );
        finished_report(&input, &Arc::default());
    }
}

#[test]
fn every_line_is_accounted_for_as_in_the_reference() {
    let input = input(5_000);
    let report = finished_report(&input, &Arc::default());
    let balance = LineBalance::of_report(&report);
    assert!(
        balance == LineBalance::Balanced,
        "lines read {} but accepted + rejected = {} + {}: {balance} between stages — which \
         stage lets rejected lines fall on the floor? hint: `cargo run --release -- hint 01 2`",
        report.lines_read(),
        report.accepted(),
        report.rejected()
    );
    let expected = run_sequential(&input, &Config::default()).expect("the reference runs");
    assert!(
        report.text() == expected.text(),
        "every line is accounted for, but the report is not the reference's (checksum {:#018x}, \
         expected {:#018x}); hint: `cargo run --release -- hint 01 3`",
        report.checksum(),
        expected.checksum()
    );
}

#[test]
fn the_lookups_happen_in_the_pipelines_tasks() {
    let probe = Arc::new(Probe::default());
    finished_report(&input(5_000), &probe);
    let (in_tasks, outside) = (
        probe.in_tasks.load(Ordering::SeqCst),
        probe.outside_tasks.load(Ordering::SeqCst),
    );
    assert!(
        in_tasks > 0 && outside == 0,
        "{outside} look-ups were made outside any tokio task and {in_tasks} inside one: the \
         report is right, but not because the five stages ran as tasks joined by channels. Did \
         `run_async` hand the work to the sequential reference? The exercise is to make the \
         concurrent pipeline end, not to replace it. hint: `cargo run --release -- hint 01`"
    );
}

/// A stage that ends when `recv` has waited "long enough" (a `timeout`) ends the run on a guess,
/// like a short batch: a slow source is not a finished one. Chapter 1's pipeline needs no clock
/// at all — each stage ends when its channel closes — so the checks run it once more on a
/// runtime without tokio's timers: any `tokio::time` call in a stage then panics, and says so.
/// (Waiting for a slow source to trip a learner's timeout would need a wait as long as theirs;
/// this needs none.)
#[test]
fn the_run_needs_no_clock_to_end() {
    let input = input(5_000);
    let expected = run_sequential(&input, &Config::default()).expect("the reference runs");
    let cfg = Config::default();
    let (moved_input, moved_cfg) = (input.clone(), cfg.clone());
    let outcome = run_with_watchdog(
        "tokio pipeline without timers",
        &cfg.progress,
        STALL,
        TEST_DEADLINE,
        move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_io() // and not `enable_time`: no timers
                .build()
                .expect("a tokio runtime");
            runtime.block_on(super::run_async(&moved_input, &moved_cfg))
        },
    );
    const WHY: &str = "the pipeline waits on tokio's clock: on a runtime without timers, a \
                       `tokio::time` call in a stage panics. A stage's input ends when its \
                       channel closes, not when `recv` has waited long enough: a timeout there \
                       turns a slow source into lost lines, and the pipeline needs no clock at \
                       all. hint: `cargo run --release -- hint 01`";
    let report = match outcome {
        Outcome::Finished(Ok(report)) => report,
        Outcome::Finished(Err(e)) if error_chain(&e).contains("timers are disabled") => {
            panic!("{WHY} ({})", error_chain(&e))
        }
        Outcome::Panicked(message) if message.contains("timers are disabled") => {
            panic!("{WHY} ({message})")
        }
        Outcome::Finished(Err(e)) => panic!("the pipeline failed: {}", error_chain(&e)),
        Outcome::Hung { .. } => panic!(
            "no progress after {STALL:?} on an input of {} lines: the run does not end. Is a \
             Sender still alive somewhere, so the next stage never sees the end of its input? \
             hint: `cargo run --release -- hint 01`",
            input.line_count()
        ),
        Outcome::Panicked(message) => panic!("the pipeline panicked: {message}"),
    };
    assert!(
        report.text() == expected.text(),
        "on a runtime without timers the run ended, but its report is not the reference's \
         (lines read {}, accepted {}, rejected {}). hint: `cargo run --release -- hint 01`",
        report.lines_read(),
        report.accepted(),
        report.rejected()
    );
}

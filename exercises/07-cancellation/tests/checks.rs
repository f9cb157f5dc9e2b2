//! Exercise 07's checks: stopped at several lines, then resumed from the checkpoint, a run must
//! give exactly the report of a run that was never stopped — in tokio and in smol. Every run is
//! under a deadline; a source that ignores the stop costs the harness two seconds per stop, never
//! a hang.

use std::time::Duration;

use pipeline::{Config, DatasetSpec, Input, PipelineError, ReportOnlySink, finish, run_sequential};
use testkit::run_with_deadline;

use super::{End, Start, run_smol, run_tokio};

const HINT: &str = "hint: `cargo run --release -- hint 07`";
/// Where the checks stop the run: early, in the middle, late (lines of a 600-line input).
const STOPS: [u64; 4] = [40, 233, 401, 497];

type RunFn = fn(&Input, &Config, Start, Option<u64>) -> Result<End, PipelineError>;

fn run(
    runtime: &str,
    run: RunFn,
    input: &Input,
    cfg: &Config,
    start: Start,
    stop: Option<u64>,
) -> End {
    let (input, cfg) = (input.clone(), cfg.clone());
    let outcome = run_with_deadline("exercise 07", Duration::from_secs(30), move || {
        run(&input, &cfg, start, stop)
    });
    match outcome.expect_finished(&format!("the {runtime} run")) {
        Ok(end) => end,
        Err(PipelineError::TimedOut {
            stage: "source",
            after,
        }) => panic!(
            "the {runtime} source was still sending {after:?} after the stop signal: it waits \
             for room in the channel without looking at the signal (the stages downstream are \
             slow — that is when shutdowns happen). Race the send against the stop. {HINT}"
        ),
        Err(e) => panic!(
            "the {runtime} run failed: {}. {HINT}",
            pipeline::error_chain(&e)
        ),
    }
}

fn check(runtime: &str, run_fn: RunFn) {
    let input = Input::generated(&DatasetSpec {
        lines: 600,
        ..DatasetSpec::default()
    });
    let cfg = Config {
        batch_size: 16,
        ..Config::default()
    };
    let expected = run_sequential(&input, &cfg).expect("the reference runs");
    for stop in STOPS {
        let checkpoint = match run(runtime, run_fn, &input, &cfg, Start::default(), Some(stop)) {
            End::Stopped(checkpoint) => checkpoint,
            End::Finished(_) => panic!(
                "the {runtime} run was asked to stop when line {stop} reached the enrich stage, \
                 and carried on to the end: does the source watch the stop signal — also while \
                 it waits for room in the channel? {HINT}"
            ),
        };
        assert!(
            checkpoint.next_line >= stop,
            "the {runtime} source said it handed on {} lines, but line {stop} had already \
             reached the enrich stage: count every batch that went out. {HINT}",
            checkpoint.next_line
        );
        let resumed_from = checkpoint.next_line;
        let aggregator = match run(runtime, run_fn, &input, &cfg, checkpoint, None) {
            End::Finished(aggregator) => aggregator,
            End::Stopped(_) => panic!("the resumed {runtime} run stopped without being asked"),
        };
        let report = finish(input.line_count(), aggregator, Box::new(ReportOnlySink))
            .expect("the report-only sink cannot fail");
        assert!(
            report.text() == expected.text(),
            "stopped at line {stop} and resumed after line {resumed_from}, the {runtime} run \
             accepted {} and rejected {} of {} lines; a run never stopped accepts {} and rejects \
             {}. The checkpoint's line count must be exactly the lines the source handed on: \
             not a batch it read and never sent. {HINT}",
            report.accepted(),
            report.rejected(),
            report.lines_read(),
            expected.accepted(),
            expected.rejected()
        );
    }
}

#[test]
fn tokio_stops_and_resumes_losing_nothing() {
    check("tokio", run_tokio);
}

#[test]
fn smol_stops_and_resumes_losing_nothing() {
    check("smol", run_smol);
}

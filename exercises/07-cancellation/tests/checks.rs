//! Exercise 07's checks: stopped at several lines, then resumed from the checkpoint, a run must
//! give exactly the report of a run that was never stopped — with your tokio source, your smol
//! source, and your enrich stage. The harness (`ch07_cancellation::exercise`) gives the stop
//! when the source is waiting for room in a full channel, then counts turns of a
//! single-threaded executor, not time: a source that ignores the stop, or looks at it only when
//! a timer fires, is named at once, never waited for. Every run is also under a deadline.

use std::time::Duration;

use ch07_cancellation::exercise::{self, End, Failure, STOP_ROUNDS, Start};
use pipeline::{Config, DatasetSpec, Input, ReportOnlySink, finish, run_sequential};
use testkit::run_with_deadline;

use super::{enrich_tokio, source_smol, source_tokio};

const HINT: &str = "hint: `cargo run --release -- hint 07`";
/// Where the checks stop the run: early, in the middle, late (lines of a 600-line input).
const STOPS: [u64; 6] = [40, 121, 233, 310, 401, 497];

/// One run, of the stages this check is about.
type RunFn = fn(&Input, &Config, Start, Option<u64>) -> Result<End, Failure>;

fn your_tokio_source(
    input: &Input,
    cfg: &Config,
    start: Start,
    stop: Option<u64>,
) -> Result<End, Failure> {
    exercise::run_tokio_source(source_tokio, input, cfg, start, stop)
}

fn your_smol_source(
    input: &Input,
    cfg: &Config,
    start: Start,
    stop: Option<u64>,
) -> Result<End, Failure> {
    exercise::run_smol(source_smol, input, cfg, start, stop)
}

fn your_enrich_stage(
    input: &Input,
    cfg: &Config,
    start: Start,
    stop: Option<u64>,
) -> Result<End, Failure> {
    exercise::run_tokio_enrich(enrich_tokio, input, cfg, start, stop)
}

fn run(
    what: &str,
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
    match outcome.expect_finished(&format!("the run with {what}")) {
        Ok(end) => end,
        Err(Failure::IgnoredStop) => panic!(
            "{what}: {STOP_ROUNDS} turns of the executor after the stop signal, the source \
             still held its end of the channel. It was waiting for room in a full channel (the \
             stages downstream are slow — that is when shutdowns happen) and did not wake on the \
             stop. Race the send against the stop signal itself: a timer that looks at the stop \
             now and then is not waking on it. {HINT}"
        ),
        Err(Failure::Abandoned { batches }) => panic!(
            "{what}: the enrich stage ended with {batches} batch(es) still in its channel. The \
             source had handed them on and counted them, so the checkpoint says they are done: \
             a resumed run never reads them again. Only the source stops on the signal; every \
             stage after it finishes what it was given, and ends when its channel does. {HINT}"
        ),
        Err(Failure::Pipeline(e)) => panic!(
            "{what}: the run failed: {}. {HINT}",
            pipeline::error_chain(&e)
        ),
    }
}

fn check(what: &str, run_fn: RunFn) {
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
        let checkpoint = match run(what, run_fn, &input, &cfg, Start::default(), Some(stop)) {
            End::Stopped(checkpoint) => checkpoint,
            End::Finished(_) => panic!(
                "{what}: the run was asked to stop when line {stop} reached the enrich stage, \
                 and carried on to the end: does the source watch the stop signal — also while \
                 it waits for room in the channel? {HINT}"
            ),
        };
        assert!(
            checkpoint.next_line >= stop,
            "{what}: the source said it handed on {} lines, but line {stop} had already reached \
             the enrich stage: count every batch that went out. {HINT}",
            checkpoint.next_line
        );
        let resumed_from = checkpoint.next_line;
        let aggregator = match run(what, run_fn, &input, &cfg, checkpoint, None) {
            End::Finished(aggregator) => aggregator,
            End::Stopped(_) => panic!("{what}: the resumed run stopped without being asked"),
        };
        let report = finish(input.line_count(), aggregator, Box::new(ReportOnlySink))
            .expect("the report-only sink cannot fail");
        assert!(
            report.text() == expected.text(),
            "{what}: stopped at line {stop} and resumed after line {resumed_from}, the run \
             accepted {} and rejected {} of {} lines; a run never stopped accepts {} and rejects \
             {}. The checkpoint's line count must be exactly the lines the source handed on \
             (not a batch it read and never sent), and every one of them must reach the \
             aggregate. {HINT}",
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
    check("your tokio source", your_tokio_source);
}

#[test]
fn smol_stops_and_resumes_losing_nothing() {
    check("your smol source", your_smol_source);
}

#[test]
fn drain_finishes_what_was_handed_on() {
    check("your enrich stage", your_enrich_stage);
}

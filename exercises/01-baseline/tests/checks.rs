//! Exercise 01's checks: the run must end (watched from outside: a run that hangs fails after
//! two seconds without progress), and every line must be accounted for, as in the reference.

use std::time::Duration;

use pipeline::{Config, DatasetSpec, Input, Report, error_chain, run_sequential};
use testkit::{Outcome, TEST_DEADLINE, run_with_watchdog};

const STALL: Duration = Duration::from_secs(2);

fn input() -> Input {
    Input::generated(&DatasetSpec {
        lines: 5_000,
        ..DatasetSpec::default()
    })
}

/// Runs the pipeline under the watchdog; a hang or an error fails with a pointer to the hint.
fn finished_report() -> Report {
    let cfg = Config::default();
    let (input, moved_cfg) = (input(), cfg.clone());
    let outcome = run_with_watchdog(
        "tokio pipeline",
        &cfg.progress,
        STALL,
        TEST_DEADLINE,
        move || super::run(&input, &moved_cfg),
    );
    match outcome {
        Outcome::Finished(Ok(report)) => report,
        Outcome::Finished(Err(e)) => panic!("the pipeline failed: {}", error_chain(&e)),
        Outcome::Hung { .. } => panic!(
            "no progress after {STALL:?}: the source has read every line, yet the run does not \
             end — is a Sender still alive somewhere, so the next stage never sees the end of \
             its input? hint: `cargo run --release -- hint 01`"
        ),
        Outcome::Panicked(message) => panic!("the pipeline panicked: {message}"),
    }
}

#[test]
fn the_run_finishes() {
    finished_report();
}

#[test]
fn every_line_is_accounted_for_as_in_the_reference() {
    let report = finished_report();
    let expected = run_sequential(&input(), &Config::default()).expect("the reference runs");
    let accounted = report.accepted() + report.rejected();
    assert!(
        accounted == report.lines_read(),
        "lines read {} but accepted + rejected = {} + {} = {accounted}: {} lines vanished \
         between stages — which stage lets rejected lines fall on the floor? hint: `cargo run \
         --release -- hint 01 2`",
        report.lines_read(),
        report.accepted(),
        report.rejected(),
        report.lines_read() - accounted
    );
    assert!(
        report.text() == expected.text(),
        "every line is accounted for, but the report is not the reference's (checksum {:#018x}, \
         expected {:#018x}); hint: `cargo run --release -- hint 01 3`",
        report.checksum(),
        expected.checksum()
    );
}

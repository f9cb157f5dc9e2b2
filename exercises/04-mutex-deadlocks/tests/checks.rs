//! Exercise 04's checks. Each runs the two workers under a watchdog: a deadlock fails the check
//! after two seconds without progress, with a pointer to what to look at, instead of hanging.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use pipeline::{Config, DatasetSpec, Input, PipelineError, Report, error_chain, run_sequential};
use testkit::{Outcome, TEST_DEADLINE, run_with_watchdog};

/// How long the workers may make no progress before the check calls them stuck.
const STALL: Duration = Duration::from_secs(2);

fn check(
    runtime: &str,
    run: fn(&Input, &Config) -> Result<Report, PipelineError>,
    suspensions: &AtomicUsize,
) {
    let input = Input::generated(&DatasetSpec {
        lines: 5_000,
        ..DatasetSpec::default()
    });
    let expected = run_sequential(&input, &Config::default()).expect("the reference runs");
    let cfg = Config::default();
    let (moved_input, moved_cfg) = (input.clone(), cfg.clone());
    let outcome = run_with_watchdog(runtime, &cfg.progress, STALL, TEST_DEADLINE, move || {
        run(&moved_input, &moved_cfg)
    });
    match outcome {
        Outcome::Finished(Ok(report)) => assert!(
            report.text() == expected.text(),
            "the {runtime} workers finished, but not with chapter 1's report: expected {} \
             accepted and {} rejected readings, got {} and {}",
            expected.accepted(),
            expected.rejected(),
            report.accepted(),
            report.rejected()
        ),
        Outcome::Finished(Err(e)) => panic!("the {runtime} run failed: {}", error_chain(&e)),
        Outcome::Hung { .. } => panic!(
            "no progress after {STALL:?}: the two {runtime} workers are stuck on one thread — \
             is a lock held across an .await? hint: `cargo run --release -- hint 04`"
        ),
        Outcome::Panicked(message) => panic!("the {runtime} run panicked: {message}"),
    }
    assert!(
        suspensions.load(Ordering::Relaxed) > 0,
        "the {runtime} workers finished, but no look-up ever gave the thread back to the other \
         worker: is something blocking the thread until the answer is in (a `block_on` inside \
         the lock?) instead of awaiting it? That hides the deadlock by stopping everything else \
         (chapter 8). hint: `cargo run --release -- hint 04 2`"
    );
}

#[test]
fn tokio_workers_share_the_cache_without_deadlocking() {
    check("tokio", super::run_tokio, &super::TOKIO_SUSPENSIONS);
}

#[test]
fn smol_workers_share_the_client_without_deadlocking() {
    check("smol", super::run_smol, &super::SMOL_SUSPENSIONS);
}

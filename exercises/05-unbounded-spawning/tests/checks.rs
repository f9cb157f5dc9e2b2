//! Exercise 05's checks: the registry must never see more than `limit` requests at once, must
//! refuse nothing, must see exactly `limit` at its peak (a limit is a number to reach, not only
//! to stay under: one look-up at a time stays under any limit), and the report must be
//! chapter 1's. Runs under a watchdog, so a pipeline that
//! waits for a permit nobody gives back fails after two seconds instead of hanging.

use std::time::Duration;

use ch05_unbounded_spawning::WATCH;
use ch05_unbounded_spawning::registry::{REFUSED, REGISTRY_REQUESTS, TASKS_IN_FLIGHT};
use instruments::{DemoFn, Verdict, run_demo};
use pipeline::{Config, DatasetSpec, Input, Report, error_chain, run_sequential};

/// The limit the checks ask for: well under the registry's capacity.
const LIMIT: usize = 8;
const STALL: Duration = Duration::from_secs(2);

fn check(runtime: &str, run: DemoFn) {
    let input = Input::generated(&DatasetSpec {
        lines: 1_000,
        ..DatasetSpec::default()
    });
    let expected = run_sequential(&input, &Config::default()).expect("the reference runs");
    let cfg = Config {
        concurrency: LIMIT,
        ..Config::default()
    };
    let (verdict, signals) = run_demo(run, &WATCH, &input, &cfg, STALL);
    let report: Report = match verdict {
        Verdict::Finished(report) => report,
        Verdict::Failed(e) => panic!("the {runtime} run failed: {}", error_chain(&e)),
        Verdict::Stalled { .. } => panic!(
            "no progress after {STALL:?} in the {runtime} run — is a permit (or a slot) never \
             given back? hint: `cargo run --release -- hint 05`"
        ),
        Verdict::Panicked(message) => panic!("the {runtime} run panicked: {message}"),
    };
    let (peak, refused) = (
        signals.gauge(REGISTRY_REQUESTS).peak(),
        signals.counter(REFUSED).total(),
    );
    assert!(
        peak <= LIMIT && refused == 0,
        "the {runtime} pipeline had up to {peak} look-ups in flight at once (the limit is \
         {LIMIT}) and the registry refused {refused} of them — does every look-up wait for a \
         permit (or a slot) and hold it until it is done? hint: `cargo run --release -- hint 05`"
    );
    // Readings taken out of `records` but not yet looked up: a loop may hold one more than the
    // limit while it waits for a permit, never more.
    let taken = signals.gauge(TASKS_IN_FLIGHT).peak();
    assert!(
        taken <= LIMIT + 1,
        "the {runtime} pipeline took up to {taken} readings at once before their look-ups were \
         done (the limit is {LIMIT}): are the tasks all started up front, each waiting for its \
         permit inside? Wait for the permit (or slot) before you start the next one. hint: \
         `cargo run --release -- hint 05 2`"
    );
    // And from below: one look-up at a time also stays under the limit. The look-ups take
    // milliseconds and there are a thousand, so a pipeline that keeps `limit` in flight
    // reaches it; one that never does is not using the concurrency it was given.
    assert!(
        peak == LIMIT,
        "the {runtime} pipeline stayed within the limit, but never had more than {peak} \
         look-ups in flight at once (the limit is {LIMIT}): the point is to use the limit, not \
         only to respect it — start the next look-up as soon as a permit (or slot) is free, \
         without waiting for the ones in flight. hint: `cargo run --release -- hint 05 2`"
    );
    assert!(
        report.text() == expected.text(),
        "the {runtime} pipeline stayed within the limit, but its report is not chapter 1's: \
         expected {} accepted and {} rejected readings, got {} and {}",
        expected.accepted(),
        expected.rejected(),
        report.accepted(),
        report.rejected()
    );
}

#[test]
fn tokio_stays_within_the_limit() {
    check("tokio", super::run_tokio);
}

#[test]
fn smol_stays_within_the_limit() {
    check("smol", super::run_smol);
}

//! Exercise 05's checks: the registry must never see more than `limit` requests at once, must
//! refuse nothing, must see exactly `limit` at its peak (a limit is a number to reach, not only
//! to stay under: one look-up at a time stays under any limit), and the report must be
//! chapter 1's. And the limit must be kept busy: the harness makes the first look-up slow until
//! `2 × limit` others have been answered, which a fan-out that waits for a whole group (chunks
//! joined one at a time) or for the oldest look-up never does. Runs under a watchdog, so a
//! pipeline that waits for a permit nobody gives back, or for the slow look-up, fails after two
//! seconds instead of hanging.
//!
//! Step 3 stops the fan-out after a number of readings and counts what happened to the
//! look-ups in flight: each reading taken must be in the aggregate, none may still be running
//! when the function returns, and none may be taken after the stop.

use std::time::Duration;

use ch05_unbounded_spawning::exercise::{
    self, ANSWERED_WHILE_SLOW, KEEP_BUSY_PER_SLOT, SLOW_LOOKUP, StopRun, Stopped, WATCH,
};
use ch05_unbounded_spawning::registry::{REFUSED, REGISTRY_REQUESTS, TASKS_IN_FLIGHT};
use instruments::{DemoFn, Outcome, Signals, TEST_DEADLINE, Verdict, run_demo, run_with_watchdog};
use pipeline::{Config, DatasetSpec, Input, Report, error_chain, run_sequential};

/// The limit the checks ask for: well under the registry's capacity.
const LIMIT: usize = 8;
const STALL: Duration = Duration::from_secs(2);
const HINT: &str = "hint: `cargo run --release -- hint 05`";
const HINT_2: &str = "hint: `cargo run --release -- hint 05 2`";
/// Step 3: the stop is asked for as this many readings have been handed out.
const STOP_AFTER: usize = 100;

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
        Verdict::Stalled { .. } if signals.gauge(SLOW_LOOKUP).current() > 0 => panic!(
            "the {runtime} run stalled behind one slow look-up: while it waited, only {} other \
             look-ups were answered (it waits for {}), and none is starting. A limit is kept \
             busy when a look-up that finishes frees its slot for the next one at once; \
             starting look-ups in groups (chunks joined one at a time) or waiting for the oldest \
             first leaves the other slots empty while the slowest of a group holds it up. \
             {HINT_2}",
            signals.counter(ANSWERED_WHILE_SLOW).total(),
            KEEP_BUSY_PER_SLOT * LIMIT
        ),
        Verdict::Stalled { .. } => panic!(
            "no progress after {STALL:?} in the {runtime} run — is a permit (or a slot) never \
             given back? {HINT}"
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
    check("tokio", |input, cfg, signals| {
        exercise::run_tokio(
            input,
            cfg,
            signals,
            |runtime, records, registry, limit, progress| {
                // deadline: `check` runs this through `run_demo`, under its stall watchdog
                runtime.block_on(super::enrich_all_tokio(records, registry, limit, progress))
            },
        )
    });
}

#[test]
fn smol_stays_within_the_limit() {
    check("smol", |input, cfg, signals| {
        exercise::run_smol(
            input,
            cfg,
            signals,
            |executor, records, registry, limit, progress| {
                // deadline: `check` runs this through `run_demo`, under its stall watchdog
                smol::block_on(super::enrich_all_smol(
                    executor, records, registry, limit, progress,
                ))
            },
        )
    });
}

/// Step 3: a stop after `STOP_AFTER` readings.
fn check_stop(runtime: &str, drop_does: &str, run: fn() -> StopRun<'static>) {
    let input = Input::generated(&DatasetSpec {
        lines: 1_000,
        ..DatasetSpec::default()
    });
    let cfg = Config {
        concurrency: LIMIT,
        ..Config::default()
    };
    let signals = std::sync::Arc::new(Signals::new(&WATCH));
    let (moved_input, moved_cfg, moved_signals) =
        (input.clone(), cfg.clone(), std::sync::Arc::clone(&signals));
    let outcome = run_with_watchdog(runtime, &cfg.progress, STALL, TEST_DEADLINE, move || {
        exercise::run_until_stopped(&moved_input, &moved_cfg, &moved_signals, STOP_AFTER, run())
    });
    let Stopped {
        taken,
        aggregated,
        running_at_return,
    } = match outcome {
        Outcome::Finished(Ok(stopped)) => stopped,
        Outcome::Finished(Err(e)) => panic!("the {runtime} run failed: {}", error_chain(&e)),
        Outcome::Hung { .. } => panic!(
            "no progress after {STALL:?} in the {runtime} run after the stop — is it waiting \
             for a look-up that will never finish? {HINT_2}"
        ),
        Outcome::Panicked(message) => panic!("the {runtime} run panicked: {message}"),
    };
    assert!(
        taken == STOP_AFTER,
        "the stop was asked for as reading {STOP_AFTER} was handed out, but the {runtime} \
         function took {taken}: check `stop.requested()` before you take the next reading, \
         and take no more once it says so. {HINT_2}"
    );
    // Nothing taken may be lost. Counted, not timed: a look-up still running as the function
    // returned is one more way to lose it (its result never reaches the aggregate).
    let still_running = if running_at_return > 0 {
        format!(
            "; {running_at_return} of them were still running when the function returned, \
             with nobody left to wait for them or count them"
        )
    } else {
        String::new()
    };
    assert!(
        aggregated == taken,
        "the {runtime} function took {taken} readings before the stop, but only {aggregated} \
         are in the aggregate it returned: {} were lost with the look-ups in flight \
         ({drop_does}){still_running}. A stop means take no more, not forget what was \
         started: await every look-up already started, and count it. {HINT_2}",
        taken - aggregated
    );
    assert!(
        running_at_return == 0,
        "the {runtime} function returned while {running_at_return} of its look-ups were still \
         running: {drop_does}. Finish (await) what was started before you return. {HINT_2}"
    );
}

#[test]
fn stop_async_std_leaves_nothing_running() {
    check_stop(
        "async-std",
        "dropping an async-std `JoinHandle` detaches its task, which runs on unobserved",
        || {
            StopRun::AsyncStd(Box::new(|records, registry, limit, stop, progress| {
                async_std::task::block_on(super::enrich_until_stopped_async_std(
                    records, registry, limit, stop, progress,
                ))
            }))
        },
    );
}

#[test]
fn stop_smol_loses_nothing() {
    check_stop(
        "smol",
        "dropping a smol `Task` cancels it, and the reading its look-up had taken with it",
        || {
            StopRun::Smol(Box::new(
                |executor, records, registry, limit, stop, progress| {
                    smol::block_on(super::enrich_until_stopped_smol(
                        executor, records, registry, limit, stop, progress,
                    ))
                },
            ))
        },
    );
}

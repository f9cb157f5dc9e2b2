//! Streams of look-ups: the limit holds, and what the first error does to the look-ups in
//! flight. The look-ups wait by yielding, not by a timer, so every count here is the same on
//! every machine; each run is under the test deadline.

use ch05_unbounded_spawning::streams::{
    LookupFailed, Probe, check_all, enrich_every_one, enrich_until_first_error, probed_lookup,
};
use testkit::{TEST_DEADLINE, run_with_deadline};

const READINGS: u64 = 100;
const LIMIT: usize = 8;
const FAILING: u64 = 20;

/// Runs `work` (which drives a stream with `block_on`) under the test deadline.
fn within_deadline<T: Send + 'static>(what: &str, work: impl FnOnce() -> T + Send + 'static) -> T {
    run_with_deadline(what, TEST_DEADLINE, work).expect_finished(what)
}

/// Everything started ended one way: finished, failed, or cancelled half-way.
fn balanced(probe: &Probe) -> bool {
    probe.started.total() == probe.finished.total() + probe.failed.total() + probe.cancelled.total()
}

// ANCHOR: first_error_test
/// Reading 20's look-up fails. `try_collect` returns that error at once: the look-ups in flight
/// beside it are cancelled half-way, the ones after it never start, and what had finished is
/// thrown away with the stream. The limit held throughout.
#[test]
fn the_first_error_ends_the_stream_and_cancels_the_lookups_in_flight() {
    let probe = Probe::default();
    let seen = probe.clone();
    let result = within_deadline("try_collect", move || {
        futures::executor::block_on(enrich_until_first_error(0..READINGS, LIMIT, |id| {
            probed_lookup(id, &probe, |id| id == FAILING)
        }))
    });
    assert_eq!(result, Err(LookupFailed(FAILING)));
    assert!(
        seen.in_flight.peak() <= LIMIT,
        "peak {}",
        seen.in_flight.peak()
    );
    assert_eq!(seen.in_flight.current(), 0, "nothing is left running");
    assert!(seen.started.total() < READINGS, "the rest never started");
    assert!(
        seen.cancelled.total() > 0,
        "the ones in flight were dropped"
    );
    assert_eq!(seen.failed.total(), 1);
    assert!(balanced(&seen));
}
// ANCHOR_END: first_error_test

// ANCHOR: every_result_test
/// The same failure as one item's result: every look-up runs, one fails, none is cancelled.
#[test]
fn an_error_per_item_runs_every_lookup_and_cancels_none() {
    let probe = Probe::default();
    let seen = probe.clone();
    let results = within_deadline("collect", move || {
        futures::executor::block_on(enrich_every_one(0..READINGS, LIMIT, |id| {
            probed_lookup(id, &probe, |id| id == FAILING)
        }))
    });
    assert_eq!(results.len() as u64, READINGS);
    assert_eq!(results.iter().filter(|r| r.is_err()).count(), 1);
    assert_eq!(
        seen.in_flight.peak(),
        LIMIT,
        "the limit, reached and never passed"
    );
    assert_eq!(seen.started.total(), READINGS);
    assert_eq!(seen.cancelled.total(), 0);
    assert!(balanced(&seen));
}
// ANCHOR_END: every_result_test

#[test]
fn try_for_each_concurrent_keeps_the_limit_and_stops_at_the_first_error() {
    let probe = Probe::default();
    let seen = probe.clone();
    let clean = within_deadline("try_for_each_concurrent", move || {
        futures::executor::block_on(check_all(0..READINGS, LIMIT, |id| {
            probed_lookup(id, &probe, |_| false)
        }))
    });
    assert_eq!(clean, Ok(()));
    assert_eq!(seen.in_flight.peak(), LIMIT);
    assert_eq!(seen.finished.total(), READINGS);

    let probe = Probe::default();
    let seen = probe.clone();
    let failed = within_deadline("try_for_each_concurrent", move || {
        futures::executor::block_on(check_all(0..READINGS, LIMIT, |id| {
            probed_lookup(id, &probe, |id| id == FAILING)
        }))
    });
    assert_eq!(failed, Err(LookupFailed(FAILING)));
    assert!(seen.started.total() < READINGS && seen.cancelled.total() > 0);
    assert!(balanced(&seen));
}

//! # Exercise 11 — the test that catches a broken retry loop (chapter 11): SOLUTION
//!
//! This time you write the test. `test_lookup` is handed a look-up — the chapter's tokio
//! `lookup`, or a copy of it with one bug — and must return quietly if it follows the policy
//! and panic if it does not. The policy: each attempt gets `retry.timeout`; up to
//! `retry.attempts` attempts; before retry `n` a pause of `retry.backoff × 2^(n-1)`; a reading
//! that no attempt answers is `Err(LookupError::TimedOut)`.
//!
//! The checks run your test against the correct look-up (it must pass) and against seven
//! broken ones (no backoff, a backoff that does not double, one twice too long, a pause before
//! the first attempt, one attempt too few, retries for ever, the timeout ignored): it must fail
//! against each. They also require that it runs on a paused clock and finishes — against a
//! loop that never ends too — in no real time. (~20 min)
//!
//! Chapter 11's "Deterministic time" shows the tools: a current-thread runtime built with
//! `start_paused(true)`, `tokio::time::Instant` to read the paused clock, scripted latencies
//! (`LatencyPlan::Script`, `HANG`), and `Retry::timeline`, the policy as plain arithmetic.
//!
//! Check: `cargo test -p ex11-deterministic-time` (or `cargo run --release -- check 11`).
//! Stuck: `cargo run --release -- hint 11`. Don't change the harness or the checks.
#![forbid(unsafe_code)]

use std::sync::Arc;
use std::time::Duration;

use ch11_testing_observability::registry::{FlakyRegistry, HANG, LatencyPlan, Retry};
use ch11_testing_observability::under_test::LookupUnderTest;
use pipeline::{FleetRegistry, LookupError, Reading};

// ANCHOR: solution
/// Half a minute per attempt and 10, 20, 40 s of backoff: minutes, if the clock were real.
const SLOW: Retry = Retry {
    timeout: Duration::from_secs(30),
    attempts: 4,
    backoff: Duration::from_secs(10),
};

/// Longer than any correct look-up under `SLOW` takes, on the paused clock: a look-up that is
/// still going then is a failure, not a hang.
const BOUND: Duration = Duration::from_secs(600);

/// Two scripted look-ups on a paused clock, each pinned to the second it ends and to what it
/// returns: answered on the third attempt (30 + 10 + 30 + 20 + 12 = 102 s), and never
/// answered (4 × 30 + 10 + 20 + 40 = 190 s, then `TimedOut`). The times come from
/// `Retry::timeline`, the policy as arithmetic; together the two catch a wrong pause (the first
/// and the second), a wrong number of attempts or a missing timeout (the second), and the
/// bound on the paused clock turns a loop that never ends into a failure.
pub fn test_lookup(lookup: LookupUnderTest) {
    let answered_third_time = [HANG, HANG, Duration::from_secs(12)];
    let never_answered = [HANG; 4];
    for latencies in [&answered_third_time[..], &never_answered[..]] {
        let expected =
            SLOW.timeline(|n| latencies.get(n as usize - 1).copied().unwrap_or_default());
        let end = expected.last().expect("a timeline has steps");
        let (found, took) = on_a_paused_clock(&lookup, latencies);
        let found = found.unwrap_or_else(|_| {
            panic!("the look-up ({latencies:?}) was still going after {BOUND:?}")
        });
        assert_eq!(
            took, end.at,
            "the look-up ({latencies:?}) ended at the wrong time"
        );
        match end.event {
            "answered" => assert!(found.is_ok(), "{latencies:?}: not answered: {found:?}"),
            _ => assert_eq!(found.err(), Some(LookupError::TimedOut), "{latencies:?}"),
        }
    }
}

/// One look-up on a current-thread runtime whose clock is paused: it jumps to the next timer
/// whenever every task waits, so minutes pass in no real time. Returns the look-up's result
/// (or `Elapsed` past `BOUND`) and the paused clock's time when it ended.
fn on_a_paused_clock(
    lookup: &LookupUnderTest,
    latencies: &[Duration],
) -> (
    Result<Result<pipeline::SensorInfo, LookupError>, tokio::time::error::Elapsed>,
    Duration,
) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a tokio runtime");
    let registry = FlakyRegistry::new(
        Arc::new(FleetRegistry::default()),
        LatencyPlan::Script(latencies.into()),
        None,
    );
    let reading = Reading {
        line: 7,
        sensor_id: "s-0003".into(),
        timestamp: 1_700_000_040,
        value: 20.5,
    };
    runtime.block_on(async {
        let start = tokio::time::Instant::now();
        let found = tokio::time::timeout(BOUND, lookup.call(&registry, &SLOW, &reading)).await;
        (found, start.elapsed())
    })
}
// ANCHOR_END: solution

// The checks: one file, shared with the solution crate (its `tests` folder links to this one).
#[cfg(test)]
#[path = "../tests/checks.rs"]
mod checks;

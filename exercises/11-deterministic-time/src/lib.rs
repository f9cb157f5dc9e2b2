//! # Exercise 11 — the test that catches a broken retry loop (chapter 11)
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

use ch11_testing_observability::registry::{FlakyRegistry, LatencyPlan, Retry};
use ch11_testing_observability::under_test::LookupUnderTest;
use pipeline::{FleetRegistry, Reading};

// ANCHOR: task
/// Your test: panics unless `lookup` follows the retry policy.
// TODO: this waits for real, and a look-up that answers at once cannot tell a correct retry
// loop from a broken one.
pub fn test_lookup(lookup: LookupUnderTest) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a tokio runtime");
    let retry = Retry {
        timeout: Duration::from_secs(30),
        attempts: 4,
        backoff: Duration::from_secs(10),
    };
    let registry = FlakyRegistry::new(
        Arc::new(FleetRegistry::default()),
        LatencyPlan::instant(),
        None,
    );
    let reading = Reading {
        line: 7,
        sensor_id: "s-0003".into(),
        timestamp: 1_700_000_040,
        value: 20.5,
    };
    let found = runtime.block_on(lookup.call(&registry, &retry, &reading));
    assert!(found.is_ok(), "the registry answered, the look-up did not");
}
// ANCHOR_END: task

// The checks: one file, shared with the solution crate (its `tests` folder links to this one).
#[cfg(test)]
#[path = "../tests/checks.rs"]
mod checks;

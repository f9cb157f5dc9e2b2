//! Exercise 11's checks judge your test. Each runs `test_lookup` under a deadline (a real one,
//! there only to turn a hang into a failure) with a look-up from the harness
//! (`ch11_testing_observability::under_test`): the chapter's correct one, which your test must
//! pass, and seven broken ones, each of which it must fail. Every look-up handed to your test
//! also notes whether it ran on a paused clock. No duration is measured here.

use std::sync::Arc;
use std::time::Duration;

use ch11_testing_observability::under_test::{Broken, LookupUnderTest, Probe};
use testkit::{Outcome, run_with_deadline};

use super::test_lookup;

const HINT: &str = "hint: `cargo run --release -- hint 11`";
/// Real time one run of your test may take. On a paused clock it takes milliseconds; the
/// deadline only turns a test that waits for real, or for ever, into a failure.
const DEADLINE: Duration = Duration::from_secs(20);

/// How a run of your test against one look-up ended, and what the look-up saw.
fn run_test(lookup: impl FnOnce(Arc<Probe>) -> LookupUnderTest) -> (Outcome<()>, Arc<Probe>) {
    let probe = Arc::new(Probe::default());
    let handed = lookup(Arc::clone(&probe));
    let outcome = run_with_deadline("exercise 11: your test", DEADLINE, move || {
        test_lookup(handed)
    });
    (outcome, probe)
}

#[test]
fn passes_against_the_correct_lookup_on_a_paused_clock() {
    let (outcome, probe) = run_test(LookupUnderTest::correct);
    match outcome {
        Outcome::Finished(()) => {}
        Outcome::Hung { after } => panic!(
            "your test did not finish within {after:?} against the correct look-up: it waits \
             for real. Build its runtime with `start_paused(true)`, so the timeouts and the \
             backoff pass in no real time. {HINT}"
        ),
        Outcome::Panicked(message) => panic!(
            "your test fails against the correct look-up: {message}. Check your expected \
             timeline against `Retry::timeline`. {HINT}"
        ),
    }
    assert!(
        probe.calls() > 0,
        "your test never called the look-up it was given. {HINT}"
    );
    assert!(
        !probe.on_a_running_clock(),
        "your test ran the look-up on a clock that runs by itself: its timeouts and backoff \
         took real time, so the test is as slow as the policy and its timing depends on the \
         machine. Pause tokio's clock (`start_paused(true)` on a current-thread runtime). {HINT}"
    );
}

/// Runs your test against each broken look-up that `pick` selects; panics listing those it
/// did not catch, with why.
fn catches(pick: fn(Broken) -> bool, lesson: &str) {
    let mut missed = Vec::new();
    for bug in Broken::ALL.into_iter().filter(|&bug| pick(bug)) {
        let (outcome, _) = run_test(|probe| LookupUnderTest::broken(bug, probe));
        match outcome {
            Outcome::Panicked(_) => {}
            Outcome::Finished(()) => missed.push(format!(
                "it passed against a look-up that {}",
                bug.describe()
            )),
            Outcome::Hung { after } => missed.push(format!(
                "it did not finish within {after:?} against a look-up that {}: a test must \
                 fail, not hang — bound the look-up with `tokio::time::timeout` on the paused \
                 clock",
                bug.describe()
            )),
        }
    }
    assert!(
        missed.is_empty(),
        "your test does not catch every broken look-up:\n- {}\n{lesson} {HINT}",
        missed.join("\n- ")
    );
}

#[test]
fn catches_a_wrong_backoff() {
    catches(
        Broken::is_in_the_backoff,
        "The result alone cannot show a wrong pause: pin the paused clock's time when the \
         look-up ends (`tokio::time::Instant`), exactly, for a look-up that has to retry.",
    );
}

#[test]
fn catches_a_wrong_ending() {
    catches(
        |bug| !bug.is_in_the_backoff(),
        "A look-up that never gets an answer must give up after `attempts` attempts of \
         `timeout` each, with `TimedOut`, at a time you can compute: script every call to hang, \
         and bound the look-up so a loop that never ends fails instead of hanging.",
    );
}

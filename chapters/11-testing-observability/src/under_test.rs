//! Exercise 11's harness: the tokio look-up handed to a learner's test, correct or broken.
//!
//! The exercise turns testing around: the learner writes the deterministic test, and the checks
//! judge the test. A [`LookupUnderTest`] is either the chapter's own look-up
//! ([`tokio_rt::lookup`]) or one of the [`Broken`] versions below, each with one bug a real
//! retry loop has had; the learner's test cannot tell which it was given. A good test passes
//! against the first and fails against every other — a mutation test of the test.
//!
//! Every look-up handed out also checks that it runs on a paused clock: a test that waited for
//! real would take minutes with the chapter's slow policy, and seconds with a fast one, and
//! either way its timing would depend on the machine. On a paused clock, tokio's time stands
//! still while a thread is busy, so a blocking pause of a millisecond tells the two apart
//! without measuring anything.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use pipeline::{LookupError, Reading, SensorInfo};

use crate::registry::{FlakyRegistry, Retry};
use crate::variants::tokio_rt;

/// A retry loop with one bug: the mutants a learner's test must catch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Broken {
    /// Retries at once: no pause between attempts.
    NoBackoff,
    /// Pauses `backoff` before every retry, never doubling it.
    BackoffNotDoubled,
    /// Pauses twice as long as the policy says before each retry.
    BackoffTwiceAsLong,
    /// Pauses `backoff` before the first attempt too.
    WaitsBeforeTheFirstAttempt,
    /// Gives up one attempt early.
    OneAttemptTooFew,
    /// Never gives up while the registry does not answer.
    RetriesForever,
    /// Awaits the call with no timeout: a call that hangs is waited out, however long.
    TimeoutIgnored,
}

impl Broken {
    /// Every broken look-up, in the order the checks report them.
    pub const ALL: [Broken; 7] = [
        Broken::NoBackoff,
        Broken::BackoffNotDoubled,
        Broken::BackoffTwiceAsLong,
        Broken::WaitsBeforeTheFirstAttempt,
        Broken::OneAttemptTooFew,
        Broken::RetriesForever,
        Broken::TimeoutIgnored,
    ];

    /// What the bug is, for a check's message.
    pub fn describe(self) -> &'static str {
        match self {
            Broken::NoBackoff => "retries at once, with no backoff",
            Broken::BackoffNotDoubled => "backs off the same pause every time, never doubling it",
            Broken::BackoffTwiceAsLong => "backs off twice as long as the policy says",
            Broken::WaitsBeforeTheFirstAttempt => "backs off before the first attempt too",
            Broken::OneAttemptTooFew => "gives up one attempt early",
            Broken::RetriesForever => "retries for ever while the registry does not answer",
            Broken::TimeoutIgnored => "ignores the timeout and waits a hung call out",
        }
    }

    /// Whether the bug is in the timing of attempts (rather than in when the look-up ends).
    pub fn is_in_the_backoff(self) -> bool {
        matches!(
            self,
            Broken::NoBackoff
                | Broken::BackoffNotDoubled
                | Broken::BackoffTwiceAsLong
                | Broken::WaitsBeforeTheFirstAttempt
        )
    }
}

/// What the look-ups handed to one test saw.
#[derive(Debug, Default)]
pub struct Probe {
    calls: AtomicUsize,
    on_a_running_clock: AtomicBool,
}

impl Probe {
    /// Look-ups started.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// Whether any look-up ran on a clock that moves by itself (not paused).
    pub fn on_a_running_clock(&self) -> bool {
        self.on_a_running_clock.load(Ordering::SeqCst)
    }
}

/// The look-up a learner's test is given: call it as it would call `tokio_rt::lookup`.
#[derive(Clone)]
pub struct LookupUnderTest {
    broken: Option<Broken>,
    probe: Arc<Probe>,
}

/// What [`LookupUnderTest::call`] returns.
pub type LookupFuture<'a> =
    Pin<Box<dyn Future<Output = Result<SensorInfo, LookupError>> + Send + 'a>>;

impl LookupUnderTest {
    /// The chapter's own look-up, correct.
    pub fn correct(probe: Arc<Probe>) -> LookupUnderTest {
        LookupUnderTest {
            broken: None,
            probe,
        }
    }

    /// A look-up with `bug`.
    pub fn broken(bug: Broken, probe: Arc<Probe>) -> LookupUnderTest {
        LookupUnderTest {
            broken: Some(bug),
            probe,
        }
    }

    /// One reading's look-up, with `retry`'s policy, against `registry`. Must run inside a
    /// tokio runtime with time enabled (it uses `tokio::time`).
    pub fn call<'a>(
        &self,
        registry: &'a FlakyRegistry,
        retry: &'a Retry,
        reading: &'a Reading,
    ) -> LookupFuture<'a> {
        let (broken, probe) = (self.broken, Arc::clone(&self.probe));
        Box::pin(async move {
            probe.calls.fetch_add(1, Ordering::SeqCst);
            if clock_runs_by_itself() {
                probe.on_a_running_clock.store(true, Ordering::SeqCst);
            }
            match broken {
                None => tokio_rt::lookup(registry, retry, reading).await,
                Some(bug) => broken_lookup(bug, registry, retry, reading).await,
            }
        })
    }
}

/// Whether tokio's clock moved while this thread was busy for a millisecond: it does unless it
/// is paused (a paused clock moves only when the runtime has nothing to do).
fn clock_runs_by_itself() -> bool {
    let before = tokio::time::Instant::now();
    std::thread::sleep(Duration::from_millis(1));
    tokio::time::Instant::now() > before
}

/// `tokio_rt::lookup` with `bug` in it.
async fn broken_lookup(
    bug: Broken,
    registry: &FlakyRegistry,
    retry: &Retry,
    reading: &Reading,
) -> Result<SensorInfo, LookupError> {
    let attempts = match bug {
        Broken::OneAttemptTooFew => retry.attempts.saturating_sub(1),
        Broken::RetriesForever => u32::MAX,
        _ => retry.attempts,
    };
    for attempt in 1..=attempts {
        let backoff = match bug {
            Broken::NoBackoff => Duration::ZERO,
            Broken::BackoffNotDoubled => retry.backoff,
            Broken::BackoffTwiceAsLong => retry.backoff(attempt - 1) * 2,
            Broken::WaitsBeforeTheFirstAttempt => retry.backoff(attempt.max(2) - 1),
            _ => retry.backoff(attempt - 1),
        };
        if attempt > 1 || bug == Broken::WaitsBeforeTheFirstAttempt {
            tokio::time::sleep(backoff).await;
        }
        let call = async {
            // The scripted plan is by attempt; a loop that never ends keeps asking the last one.
            let latency = registry.latency(reading, attempt.min(retry.attempts.max(1)));
            tokio::time::sleep(latency).await;
            registry.answer(reading)
        };
        if bug == Broken::TimeoutIgnored {
            return call.await;
        }
        if let Ok(answer) = tokio::time::timeout(retry.timeout, call).await {
            return answer;
        }
    }
    Err(LookupError::TimedOut)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{HANG, LatencyPlan};
    use pipeline::FleetRegistry;

    const SLOW: Retry = Retry {
        timeout: Duration::from_secs(30),
        attempts: 4,
        backoff: Duration::from_secs(10),
    };

    /// How long each look-up takes on a paused clock when no call ever answers, and what it
    /// returns (`None`: still going after an hour).
    // deadline: only called inside the run_with_deadline of the test below
    fn never_answered(lookup: &LookupUnderTest) -> Option<(Duration, bool)> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        let registry = FlakyRegistry::new(
            Arc::new(FleetRegistry::default()),
            LatencyPlan::Script(Arc::new([HANG; 4])),
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
            let limit = Duration::from_secs(7200);
            let found = tokio::time::timeout(limit, lookup.call(&registry, &SLOW, &reading))
                .await
                .ok()?;
            Some((start.elapsed(), found.is_ok()))
        })
    }

    #[test]
    fn each_broken_look_up_differs_from_the_correct_one_when_no_call_answers() {
        let elapsed = testkit::run_with_deadline("the look-ups", testkit::TEST_DEADLINE, || {
            let probe = Arc::new(Probe::default());
            let correct = never_answered(&LookupUnderTest::correct(Arc::clone(&probe)));
            let broken: Vec<_> = Broken::ALL
                .map(|bug| never_answered(&LookupUnderTest::broken(bug, Arc::clone(&probe))))
                .into();
            (correct, broken, probe.on_a_running_clock())
        })
        .expect_finished("the look-ups on a paused clock");
        let secs = |s| Some((Duration::from_secs(s), false));
        assert_eq!(elapsed.0, secs(190));
        assert_eq!(
            elapsed.1,
            [
                secs(120),
                secs(150),
                secs(260),
                secs(200),
                secs(120),
                None,
                Some((HANG, true))
            ]
        );
        assert!(!elapsed.2, "a paused clock is not a running one");
    }

    #[test]
    fn a_look_up_on_a_running_clock_is_noticed() {
        let probe = Arc::new(Probe::default());
        let lookup = LookupUnderTest::correct(Arc::clone(&probe));
        let found = testkit::run_with_deadline("a look-up", testkit::TEST_DEADLINE, move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .unwrap();
            let registry = FlakyRegistry::new(
                Arc::new(FleetRegistry::default()),
                LatencyPlan::instant(),
                None,
            );
            let reading = Reading {
                line: 1,
                sensor_id: "s-0003".into(),
                timestamp: 1_700_000_040,
                value: 20.5,
            };
            runtime
                .block_on(lookup.call(&registry, &SLOW, &reading))
                .is_ok()
        })
        .expect_finished("a look-up on a running clock");
        assert!(found);
        assert_eq!(probe.calls(), 1);
        assert!(probe.on_a_running_clock());
    }
}

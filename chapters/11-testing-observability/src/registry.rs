//! The registry of this chapter, and the look-up's retry policy: the time-dependent part of the
//! pipeline, which the tests drive on a paused or a manual clock.
//!
//! How long each call takes is a pure function of the reading's line and the attempt number
//! ([`LatencyPlan`]), never of a clock: a call either answers at once or takes an hour (the
//! look-up's timeout gives up on it long before). So which readings time out is the same in
//! every variant, on every machine, on a real clock or a fake one, and four reports can agree
//! to the byte. The look-up ([`Retry`]) gives each attempt `timeout`, tries `attempts` times,
//! and backs off `backoff × 2^(n-1)` before retry `n`.

use std::sync::Arc;
use std::time::Duration;

use pipeline::seeded::PerMille;
use pipeline::{LookupError, Reading, Registry, SensorInfo};

/// How long a call that "never answers" takes: for ever, as far as any look-up is concerned.
pub use pipeline::seeded::HANG;

// ANCHOR: retry
/// The look-up's patience: a timeout per attempt, a number of attempts, a doubling backoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// How long one attempt may take.
    pub timeout: Duration,
    /// Attempts per reading, the first included.
    pub attempts: u32,
    /// The pause before the first retry; it doubles for each retry after that.
    pub backoff: Duration,
}

impl Retry {
    /// The pipeline's own policy: short, so that a real run spends little time waiting.
    pub const CHAPTER: Retry = Retry {
        timeout: Duration::from_millis(5),
        attempts: 4,
        backoff: Duration::from_millis(1),
    };

    /// The pause before retry `n` (n = 1 for the second attempt).
    pub fn backoff(&self, n: u32) -> Duration {
        self.backoff * (1 << n.saturating_sub(1).min(16))
    }
}
// ANCHOR_END: retry

// ANCHOR: timeline
/// One thing a look-up does, at a time on its clock: what its trace events record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Step {
    pub at: Duration,
    /// The event: "attempt", "answered", "timed out", "retrying", "gave up".
    pub event: &'static str,
    pub attempt: u32,
}

impl Retry {
    /// What a look-up must do, and when, if attempt `n`'s call takes `latency(n)`: the pure
    /// specification the variants' traces are held to. No clock, no runtime: plain arithmetic,
    /// tested like any other function.
    pub fn timeline(&self, latency: impl Fn(u32) -> Duration) -> Vec<Step> {
        let mut now = Duration::ZERO;
        let mut steps = Vec::new();
        let mut step = |at, event, attempt| steps.push(Step { at, event, attempt });
        for attempt in 1..=self.attempts {
            if attempt > 1 {
                step(now, "retrying", attempt);
                now += self.backoff(attempt - 1);
            }
            step(now, "attempt", attempt);
            let took = latency(attempt);
            if took <= self.timeout {
                step(now + took, "answered", attempt);
                return steps;
            }
            now += self.timeout;
            step(now, "timed out", attempt);
        }
        step(now, "gave up", self.attempts);
        steps
    }
}
// ANCHOR_END: timeline

/// Which calls are slow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LatencyPlan {
    /// A seeded share of readings never get an answer to their first attempt, or their first
    /// two, or any of them (per thousand readings); every other call answers at once.
    Seeded(PerMille),
    /// Every reading's attempts take these latencies, in order; later attempts answer at once.
    Script(Arc<[Duration]>),
}

impl LatencyPlan {
    /// The chapter's plan: on its 1,000-line input, a few dozen attempts time out and a few
    /// readings get no answer at all.
    pub const CHAPTER: LatencyPlan = LatencyPlan::Seeded(PerMille {
        seed: 11,
        once_per_mille: 15,
        twice_per_mille: 5,
        always_per_mille: 4,
    });

    /// Every call answers at once.
    pub fn instant() -> LatencyPlan {
        LatencyPlan::Script(Arc::new([]))
    }

    /// How long attempt `attempt` (1-based) for the reading at `line` takes to answer.
    pub fn latency(&self, line: u64, attempt: u32) -> Duration {
        match self {
            LatencyPlan::Seeded(plan) => {
                if plan.hangs(line, attempt) {
                    HANG
                } else {
                    Duration::ZERO
                }
            }
            LatencyPlan::Script(latencies) => latencies
                .get(attempt.saturating_sub(1) as usize)
                .copied()
                .unwrap_or(Duration::ZERO),
        }
    }

    /// Whether `retry` gives up on the reading at `line`: every attempt is slower than its
    /// timeout. What a correct run computes, without running anything.
    pub fn gives_up(&self, line: u64, retry: &Retry) -> bool {
        (1..=retry.attempts).all(|attempt| self.latency(line, attempt) > retry.timeout)
    }
}

/// The fleet behind a latency plan, with a bug that can be switched on.
pub struct FlakyRegistry {
    fleet: Arc<dyn Registry>,
    plan: LatencyPlan,
    panic_on_line: Option<u64>,
}

impl FlakyRegistry {
    pub fn new(fleet: Arc<dyn Registry>, plan: LatencyPlan, panic_on_line: Option<u64>) -> Self {
        FlakyRegistry {
            fleet,
            plan,
            panic_on_line,
        }
    }

    /// How long this attempt's call takes (the variant waits it out with its own timer).
    pub fn latency(&self, reading: &Reading, attempt: u32) -> Duration {
        self.plan.latency(reading.line, attempt)
    }

    // ANCHOR: answer
    /// The registry's answer, once the call's latency has passed.
    ///
    /// # Panics
    /// On the reading at `panic_on_line`: the bug, deep in the pipeline, whose backtrace the
    /// chapter shows in each variant.
    pub fn answer(&self, reading: &Reading) -> Result<SensorInfo, LookupError> {
        if self.panic_on_line == Some(reading.line) {
            panic!(
                "no calibration for sensor {} (line {})",
                reading.sensor_id, reading.line
            );
        }
        self.fleet.lookup(&reading.sensor_id)
    }
    // ANCHOR_END: answer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seeded_plan_is_a_pure_function_with_roughly_its_rates() {
        let plan = LatencyPlan::CHAPTER;
        let retry = Retry::CHAPTER;
        let slow_first = (1..=100_000u64)
            .filter(|&line| plan.latency(line, 1) == HANG)
            .count();
        let given_up = (1..=100_000u64)
            .filter(|&line| plan.gives_up(line, &retry))
            .count();
        // 24‰ and 4‰ of 100,000, within a generous margin
        assert!((2_000..2_800).contains(&slow_first), "{slow_first}");
        assert!((300..500).contains(&given_up), "{given_up}");
        assert_eq!(plan.latency(1234, 3), plan.latency(1234, 3));
    }

    #[test]
    fn backoff_doubles() {
        let retry = Retry {
            timeout: Duration::from_secs(30),
            attempts: 4,
            backoff: Duration::from_secs(10),
        };
        let pauses: Vec<u64> = (1..=3).map(|n| retry.backoff(n).as_secs()).collect();
        assert_eq!(pauses, [10, 20, 40]);
    }
}

//! The registry of this chapter: it always answers, but it takes its time, and not always the
//! same time. Most look-ups take 15–25 ms; one in ten takes 40–60 ms (a cache miss on the far
//! side, a slow replica). That is a *distribution*, as real services have, not a constant.
//!
//! The latency of a look-up is a pure function of ([`LATENCY_SEED`], the reading's line number):
//! every variant, every run and every machine sees exactly the same latencies, so the mean
//! latency of a run is known before it starts ([`Latencies::of`]), and Little's law gives the
//! most look-ups per second a run can reach ([`crate::littles_law_limit`]).
//!
//! Why 15–60 ms and not the 2–5 ms a fast service takes: tokio's timer works at millisecond
//! granularity and rounds every deadline *up* to the next tick, so each tokio sleep lasts up to
//! about a millisecond longer than asked, while `thread::sleep` and async-io's timer (which
//! async-std and smol use) wake much closer to the deadline. Against 2 ms look-ups that
//! millisecond would dominate the comparison and measure tokio's timer, not the concurrency
//! model; against a mean of about 23 ms it is a few percent, and the chapter's claim — at a
//! concurrency the machine keeps up with, every variant comes within 10% of Little's limit —
//! is about the model. The experiment's `C = 1` row shows the timer's share on your machine.

use std::time::Duration;

use pipeline::seeded::mix;
use pipeline::{Input, Parsed, parse_batch};

/// The seed of every latency in this chapter.
pub const LATENCY_SEED: u64 = 2;

/// Most look-ups: uniformly 15–25 ms.
pub const FAST: (Duration, Duration) = (Duration::from_millis(15), Duration::from_millis(25));
/// One look-up in [`SLOW_ONE_IN`]: uniformly 40–60 ms.
pub const SLOW: (Duration, Duration) = (Duration::from_millis(40), Duration::from_millis(60));
pub const SLOW_ONE_IN: u64 = 10;

// ANCHOR: latency
/// How long the registry takes to answer the look-up of the reading on `line`.
///
/// A pure function of the seed and the line: hash them (SplitMix64), let the hash pick the
/// mode (slow one time in ten) and the point within the mode's range, to the microsecond.
pub fn latency(line: u64) -> Duration {
    latency_with_seed(LATENCY_SEED, line)
}

pub fn latency_with_seed(seed: u64, line: u64) -> Duration {
    let hash = mix(seed ^ mix(line));
    let slow = hash.is_multiple_of(SLOW_ONE_IN);
    let (low, high) = if slow { SLOW } else { FAST };
    let span = (high - low).as_micros() as u64;
    low + Duration::from_micros((hash >> 32) % (span + 1))
}
// ANCHOR_END: latency

/// The latencies a run on an input will see: one per reading that parses (a malformed line is
/// rejected before the enrich stage and never reaches the registry; a reading of an unknown
/// sensor does, and the registry takes its time to say "unknown").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Latencies {
    /// How many look-ups the run makes.
    pub lookups: u64,
    /// Their latencies, added up.
    pub total: Duration,
    /// The longest one.
    pub max: Duration,
}

impl Latencies {
    /// Exactly the latencies the pipeline will wait out on `input`, computed without waiting.
    pub fn of(input: &Input) -> Latencies {
        let mut latencies = Latencies {
            lookups: 0,
            total: Duration::ZERO,
            max: Duration::ZERO,
        };
        for batch in input.batches(1024) {
            for reading in parse_batch(batch)
                .iter()
                .filter_map(|p: &Parsed| p.as_ref().ok())
            {
                let wait = latency(reading.line);
                latencies.lookups += 1;
                latencies.total += wait;
                latencies.max = latencies.max.max(wait);
            }
        }
        latencies
    }

    /// The mean latency of the run's look-ups (zero if there are none): the exact mean over
    /// this input, not the distribution's mean (which is 0.9 × 20 ms + 0.1 × 50 ms = 23 ms).
    pub fn mean(&self) -> Duration {
        if self.lookups == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos((self.total.as_nanos() / u128::from(self.lookups)) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_are_a_pure_function_of_seed_and_line_within_their_modes() {
        let mut slow = 0;
        for line in 1..=10_000 {
            let wait = latency(line);
            assert_eq!(wait, latency(line), "line {line}");
            let in_fast = (FAST.0..=FAST.1).contains(&wait);
            let in_slow = (SLOW.0..=SLOW.1).contains(&wait);
            assert!(in_fast || in_slow, "line {line}: {wait:?}");
            slow += u64::from(in_slow);
        }
        // About one in ten is slow (the hash is uniform): 1,000 ± a few standard deviations (30).
        assert!((850..=1150).contains(&slow), "{slow} slow look-ups");
        assert_ne!(latency_with_seed(1, 7), latency_with_seed(2, 7));
    }
}

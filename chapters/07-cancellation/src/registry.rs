//! The registry of this chapter: it usually answers at once, but some calls never answer.
//!
//! Which calls hang is a pure, seeded function of the reading's line and the attempt number
//! ([`HangPlan`]), not of a clock: so the readings that time out are the same in every variant
//! and on every machine, and four reports can agree to the byte. A look-up gives each attempt
//! [`LOOKUP_TIMEOUT`], tries at most [`MAX_ATTEMPTS`] times with a seeded backoff between
//! attempts, and a reading whose every attempt hangs is rejected ("registry timed out").
//!
//! A hung call is where the models differ. An async call hangs at an `.await` (a sleep of an
//! hour): the timeout drops the future, and the call is gone. A sync call hangs *inside* a
//! blocking function: the caller can only stop waiting for it, and the thread stays blocked
//! until the run releases it at its end ([`PlannedRegistry::release`]), which the gauges show.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use instruments::InFlight;
use pipeline::{LookupError, Registry, SensorInfo};

use crate::Controls;
use crate::shutdown::Gate;

// ANCHOR: constants
/// How long one attempt may take before the caller gives up on it.
pub const LOOKUP_TIMEOUT: Duration = Duration::from_millis(25);
/// Attempts per reading, the first included. The plan hangs a reading's first one or two
/// attempts, or all of them: so a reading that is answered at all has at least two attempts
/// that answer, and one timeout that fires late for some other reason cannot change its fate.
pub const MAX_ATTEMPTS: u32 = 4;
/// The backoff before retry `n` (n = 1, 2, …) is `BACKOFF_BASE × 2^(n-1)` plus a seeded jitter
/// of whole milliseconds below `BACKOFF_BASE`.
pub const BACKOFF_BASE: Duration = Duration::from_millis(4);
/// How long a hung async call sleeps: for ever, as far as a run is concerned.
pub const HANG: Duration = Duration::from_secs(3600);
// ANCHOR_END: constants

/// Signal names, as the demos' signals know them.
pub const ATTEMPTS_TIMED_OUT: &str = "look-up attempts timed out";
pub const HUNG_CALLS: &str = "hung registry calls";
pub const LEFT_BLOCKED: &str = "calls still blocked at the end of the run";

/// Which registry calls hang: a reading's first `hangs(line)` attempts hang, the rest answer.
/// Per thousand readings, about `once` hang once, `twice` twice and `always` on every attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HangPlan {
    pub seed: u64,
    pub once_per_mille: u32,
    pub twice_per_mille: u32,
    pub always_per_mille: u32,
}

impl HangPlan {
    /// The chapter's plan: on its 2,000-line input, a few dozen hung attempts and a handful of
    /// readings that time out.
    pub const CHAPTER: HangPlan = HangPlan {
        seed: 7,
        once_per_mille: 12,
        twice_per_mille: 4,
        always_per_mille: 3,
    };

    /// No call ever hangs.
    pub const NONE: HangPlan = HangPlan {
        seed: 0,
        once_per_mille: 0,
        twice_per_mille: 0,
        always_per_mille: 0,
    };

    /// How many of the reading at `line`'s attempts hang (`MAX_ATTEMPTS`: all of them).
    pub fn hangs(&self, line: u64) -> u32 {
        let draw = (mix(self.seed ^ mix(line)) % 1000) as u32;
        if draw < self.always_per_mille {
            MAX_ATTEMPTS
        } else if draw < self.always_per_mille + self.twice_per_mille {
            2
        } else if draw < self.always_per_mille + self.twice_per_mille + self.once_per_mille {
            1
        } else {
            0
        }
    }

    /// Whether attempt `attempt` (0-based) of the reading at `line` hangs.
    pub fn hangs_on(&self, line: u64, attempt: u32) -> bool {
        attempt < self.hangs(line)
    }

    /// The pause before attempt `attempt` (1-based retry number) of the reading at `line`.
    pub fn backoff(&self, line: u64, attempt: u32) -> Duration {
        let base = BACKOFF_BASE.as_millis() as u64;
        let jitter = mix(self.seed ^ mix(line) ^ u64::from(attempt).rotate_left(32)) % base;
        Duration::from_millis(base * (1 << attempt.saturating_sub(1)) + jitter)
    }
}

/// SplitMix64's finaliser: a fixed, well-spread function of its input.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The registry one run talks to: the fleet behind a [`HangPlan`], plus the run's stop point
/// and the gauges that show what timeouts did.
pub struct PlannedRegistry {
    fleet: Arc<dyn Registry>,
    controls: Controls,
    /// Opened when the run ends: every blocked sync call returns.
    released: Gate,
    /// Threads whose sync call timed out, still blocked; joined when the run ends.
    abandoned: Mutex<Vec<JoinHandle<()>>>,
}

impl PlannedRegistry {
    pub fn new(fleet: Arc<dyn Registry>, controls: &Controls) -> Self {
        PlannedRegistry {
            fleet,
            controls: controls.clone(),
            released: Gate::default(),
            abandoned: Mutex::new(Vec::new()),
        }
    }

    /// The tests' stop point: see [`crate::shutdown::Shutdown::reached`].
    pub fn stop_point(&self, line: u64) -> Option<Gate> {
        self.controls.shutdown.reached(line)
    }

    pub fn hangs(&self, line: u64, attempt: u32) -> bool {
        self.controls.plan.hangs_on(line, attempt)
    }

    pub fn backoff(&self, line: u64, attempt: u32) -> Duration {
        self.controls.plan.backoff(line, attempt)
    }

    /// The registry's answer, once it gives one.
    pub fn answer(&self, sensor_id: &str) -> Result<SensorInfo, LookupError> {
        self.fleet.lookup(sensor_id)
    }

    /// A call has hung; it counts as hung until the returned guard is dropped.
    pub fn hang_begins(&self) -> InFlight {
        self.controls.hung.enter()
    }

    /// What a hung *sync* call does: blocks its thread until the run ends.
    pub fn block_until_released(&self) {
        self.released.wait();
    }

    /// The caller gave up on an attempt.
    pub fn timed_out(&self) {
        self.controls.attempts_timed_out.add(1);
    }

    /// Keeps the thread of a sync call that timed out, to be joined when the run ends.
    pub fn abandon(&self, thread: JoinHandle<()>) {
        self.abandoned.lock().expect("never poisoned").push(thread);
    }

    // ANCHOR: release
    /// The end of a run: counts the calls still hung (sync calls whose caller gave up; an
    /// async call is gone once its timeout has dropped it), lets them return, and joins their
    /// threads, so that nothing this run started outlives it.
    pub fn release(&self) {
        self.controls
            .left_blocked
            .add(self.controls.hung.current() as u64);
        self.released.open();
        let abandoned = std::mem::take(&mut *self.abandoned.lock().expect("never poisoned"));
        for thread in abandoned {
            let _ = thread.join();
        }
    }
    // ANCHOR_END: release

    /// A guard that calls [`release`](Self::release) when dropped, on every way out of a run.
    pub fn release_when_done(&self) -> ReleaseOnDrop<'_> {
        ReleaseOnDrop(self)
    }
}

/// See [`PlannedRegistry::release_when_done`].
pub struct ReleaseOnDrop<'a>(&'a PlannedRegistry);

impl Drop for ReleaseOnDrop<'_> {
    fn drop(&mut self) {
        self.0.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_is_a_pure_function_with_roughly_its_rates() {
        let plan = HangPlan::CHAPTER;
        let counts =
            (1..=100_000u64).fold([0u32; MAX_ATTEMPTS as usize + 1], |mut counts, line| {
                counts[plan.hangs(line) as usize] += 1;
                counts
            });
        assert_eq!(plan.hangs(1234), plan.hangs(1234));
        // 12‰, 4‰, 3‰ of 100,000, within a generous margin
        assert!((1000..1400).contains(&counts[1]), "{counts:?}");
        assert!((300..500).contains(&counts[2]), "{counts:?}");
        assert!(
            (200..400).contains(&counts[MAX_ATTEMPTS as usize]),
            "{counts:?}"
        );
        assert!(HangPlan::NONE.hangs(1234) == 0);
    }

    #[test]
    fn backoff_doubles_and_jitters_by_whole_milliseconds() {
        let plan = HangPlan::CHAPTER;
        for line in 1..200 {
            let (first, second) = (plan.backoff(line, 1), plan.backoff(line, 2));
            assert!(
                first >= BACKOFF_BASE && first < 2 * BACKOFF_BASE,
                "{first:?}"
            );
            assert!(
                second >= 2 * BACKOFF_BASE && second < 3 * BACKOFF_BASE,
                "{second:?}"
            );
            assert_eq!(first.subsec_nanos() % 1_000_000, 0);
        }
    }
}

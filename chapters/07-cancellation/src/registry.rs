//! The registry of this chapter: it usually answers at once, but some calls never answer.
//!
//! Which calls hang is a pure, seeded function of the reading's line and the attempt number
//! ([`HangPlan`], after [`PerMille`]), not of a clock: so the readings that time out are the same in every variant
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
use pipeline::seeded::{PerMille, mix};
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
pub use pipeline::seeded::HANG;
// ANCHOR_END: constants

/// Signal names, as the demos' signals know them.
pub const ATTEMPTS_TIMED_OUT: &str = "look-up attempts timed out";
pub const HUNG_CALLS: &str = "hung registry calls";
pub const LEFT_BLOCKED: &str = "calls still blocked at the end of the run";

/// Which registry calls hang ([`PerMille`]: per thousand readings, a seeded share hang once,
/// twice or on every attempt), and the seeded backoff between a reading's attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HangPlan {
    pub calls: PerMille,
}

impl HangPlan {
    /// The chapter's plan: on its 2,000-line input, a few dozen hung attempts and a handful of
    /// readings that time out.
    pub const CHAPTER: HangPlan = HangPlan {
        calls: PerMille {
            seed: 7,
            once_per_mille: 12,
            twice_per_mille: 4,
            always_per_mille: 3,
        },
    };

    /// No call ever hangs.
    pub const NONE: HangPlan = HangPlan {
        calls: PerMille::NONE,
    };

    /// How many of the reading at `line`'s attempts hang (`MAX_ATTEMPTS`: all of them).
    pub fn hangs(&self, line: u64) -> u32 {
        self.calls.hung_attempts(line).min(MAX_ATTEMPTS)
    }

    /// Whether attempt `attempt` (1 = the first) of the reading at `line` hangs.
    pub fn hangs_on(&self, line: u64, attempt: u32) -> bool {
        self.calls.hangs(line, attempt)
    }

    /// The pause before attempt `attempt` (1-based retry number) of the reading at `line`.
    pub fn backoff(&self, line: u64, attempt: u32) -> Duration {
        let base = BACKOFF_BASE.as_millis() as u64;
        let jitter = mix(self.calls.seed ^ mix(line) ^ u64::from(attempt).rotate_left(32)) % base;
        Duration::from_millis(base * (1 << attempt.saturating_sub(1)) + jitter)
    }
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

    /// Whether attempt `attempt` of the reading at `line` hangs. The variants' loops count
    /// attempts from 0 (`0..MAX_ATTEMPTS`); the plan counts them from 1.
    pub fn hangs(&self, line: u64, attempt: u32) -> bool {
        self.controls.plan.hangs_on(line, attempt + 1)
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

    /// The rates themselves are `pipeline::seeded`'s test, on this plan's numbers. Here: a
    /// reading hangs on its first `hangs(line)` attempts, "always" is every attempt, and the
    /// variants' 0-based attempt `a` is the plan's attempt `a + 1`.
    #[test]
    fn a_reading_hangs_on_its_first_attempts_counted_the_variants_way() {
        let plan = HangPlan::CHAPTER;
        let registry = PlannedRegistry::new(
            Arc::new(pipeline::FleetRegistry::default()),
            &Controls::new(crate::Shutdown::new()),
        );
        let mut seen = [0u32; MAX_ATTEMPTS as usize + 1];
        for line in 1..=20_000u64 {
            let hangs = plan.hangs(line);
            seen[hangs as usize] += 1;
            for attempt in 0..MAX_ATTEMPTS {
                assert_eq!(
                    registry.hangs(line, attempt),
                    attempt < hangs,
                    "line {line}"
                );
                assert_eq!(
                    plan.hangs_on(line, attempt + 1),
                    attempt < hangs,
                    "line {line}"
                );
            }
        }
        assert_eq!(seen[3], 0, "{seen:?}");
        assert!(seen[1] > 0 && seen[2] > 0 && seen[4] > 0, "{seen:?}");
        assert_eq!(HangPlan::NONE.hangs(1234), 0);
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

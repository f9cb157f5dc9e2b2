//! What every variant's idle unit is made of: the state it keeps, the answer it gives once
//! released, and the count that says all of them have started.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use pipeline::PipelineError;

#[cfg(doc)]
use super::idle_main;

/// How long [`idle_main`] waits for all units to have started before giving up.
const READY_DEADLINE: Duration = Duration::from_secs(50);

/// The state a unit keeps while it waits.
pub fn request(id: usize) -> [u64; 8] {
    [id as u64; 8]
}

/// What a released unit computes from the state it kept: 8 × id if it is intact.
pub fn answer(state: &[u64; 8], id: usize) -> bool {
    state.iter().sum::<u64>() == 8 * id as u64
}

/// The started counter and the clock shared by every variant's measurement.
pub struct Readiness {
    started: Arc<AtomicUsize>,
    count: usize,
    pub t0: Instant,
}

impl Readiness {
    pub fn new(count: usize) -> Self {
        Readiness {
            started: Arc::new(AtomicUsize::new(0)),
            count,
            t0: Instant::now(),
        }
    }

    /// Restarts the clock: call right before the first spawn.
    pub fn start_clock(&mut self) {
        self.t0 = Instant::now();
    }

    pub fn counter(&self) -> Arc<AtomicUsize> {
        Arc::clone(&self.started)
    }

    /// Waits until every unit has counted itself; returns the time since the first spawn.
    pub fn wait_all_started(&self) -> Result<Duration, PipelineError> {
        loop {
            if self.started.load(Ordering::SeqCst) >= self.count {
                return Ok(self.t0.elapsed());
            }
            if self.t0.elapsed() > READY_DEADLINE {
                return Err(PipelineError::TimedOut {
                    stage: "waiting for every idle unit to start",
                    after: READY_DEADLINE,
                });
            }
            thread::sleep(Duration::from_micros(100));
        }
    }
}

/// A duration in whole nanoseconds (saturating: no run lasts 584 years).
pub fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

//! Exercise 02's harness: the look-ups the learner's code makes, with the probes its checks
//! read. It lives here, in the chapter crate, so that the exercise's starter and its solution
//! share one copy and neither can change it.
//!
//! A [`Lookups`] waits out this chapter's registry latency ([`latency`]) for every reading, on
//! tokio's timer or on smol's, and records what Little's law is about: how many look-ups were
//! in flight at once (a [`Gauge`]), how many were made and finished. One look-up, the *held*
//! one, is slow on purpose: it answers only once [`HELD_UNTIL`] others have finished since it
//! started (or, failing that, after [`PATIENCE`]). A loop that keeps its limit in flight all the
//! time lets the others finish around it; one that starts look-ups in groups and waits for the
//! whole group, or that only starts the next look-up when the oldest is done, does not — so the
//! checks tell "keeps `limit` in flight" from "reaches `limit` now and then" without timing
//! anything.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use instruments::Gauge;
use pipeline::{DatasetSpec, Enriched, Input, Reading, Registry, enrich};

use crate::LOOKUPS_IN_FLIGHT;
use crate::registry::latency;

/// How many other look-ups must finish while the held one waits.
pub const HELD_UNTIL: usize = 24;
/// How long the held look-up waits for them before it answers anyway (then the check fails).
pub const PATIENCE: Duration = Duration::from_secs(2);
/// How often the held look-up looks at the count.
const GLANCE: Duration = Duration::from_millis(1);

/// The valid readings of a generated input of `lines` lines (malformed lines never reach the
/// registry), in line order.
pub fn readings(lines: usize) -> Vec<Reading> {
    Input::generated(&DatasetSpec {
        lines,
        ..DatasetSpec::default()
    })
    .readings()
}

/// The registry, behind a latency, with probes. Share it with `Arc` to use it from tasks.
pub struct Lookups {
    registry: Arc<dyn Registry>,
    in_flight: Gauge,
    made: AtomicUsize,
    finished: AtomicUsize,
    /// The line whose look-up is held.
    held: u64,
    /// Whether the held look-up saw [`HELD_UNTIL`] others finish while it waited.
    released: AtomicBool,
}

/// What the probes saw, after a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    /// The most look-ups in flight at once.
    pub peak: usize,
    /// Look-ups started.
    pub made: usize,
    /// Whether the held look-up saw [`HELD_UNTIL`] others finish while it was in flight.
    pub released: bool,
}

impl Lookups {
    /// Look-ups against `registry`; the look-up of the reading on line `held` is the slow one.
    pub fn new(registry: Arc<dyn Registry>, held: u64) -> Lookups {
        Lookups {
            registry,
            in_flight: Gauge::new(LOOKUPS_IN_FLIGHT),
            made: AtomicUsize::new(0),
            finished: AtomicUsize::new(0),
            held,
            released: AtomicBool::new(false),
        }
    }

    /// The answer each reading should get, computed without waiting (the checks' reference).
    pub fn expected(&self, readings: &[Reading]) -> Vec<Enriched> {
        readings
            .iter()
            .map(|reading| enrich(&*self.registry, reading.clone()))
            .collect()
    }

    pub fn seen(&self) -> Seen {
        Seen {
            peak: self.in_flight.peak(),
            made: self.made.load(Ordering::SeqCst),
            released: self.released.load(Ordering::SeqCst),
        }
    }

    /// One look-up on tokio's timer: the task is parked while the registry takes its time.
    pub async fn look_up_tokio(&self, reading: Reading) -> Enriched {
        let _in_flight = self.start();
        tokio::time::sleep(latency(reading.line)).await;
        if reading.line == self.held {
            let others = self.finished.load(Ordering::SeqCst);
            let waited = Instant::now();
            while !self.enough_since(others) && waited.elapsed() < PATIENCE {
                tokio::time::sleep(GLANCE).await;
            }
        }
        self.finish(reading)
    }

    /// One look-up on smol's timer.
    pub async fn look_up_smol(&self, reading: Reading) -> Enriched {
        let _in_flight = self.start();
        smol::Timer::after(latency(reading.line)).await;
        if reading.line == self.held {
            let others = self.finished.load(Ordering::SeqCst);
            let waited = Instant::now();
            while !self.enough_since(others) && waited.elapsed() < PATIENCE {
                smol::Timer::after(GLANCE).await;
            }
        }
        self.finish(reading)
    }

    fn start(&self) -> instruments::InFlight {
        self.made.fetch_add(1, Ordering::SeqCst);
        self.in_flight.enter()
    }

    fn enough_since(&self, others: usize) -> bool {
        let enough = self.finished.load(Ordering::SeqCst) >= others + HELD_UNTIL;
        if enough {
            self.released.store(true, Ordering::SeqCst);
        }
        enough
    }

    fn finish(&self, reading: Reading) -> Enriched {
        let answer = enrich(&*self.registry, reading);
        self.finished.fetch_add(1, Ordering::SeqCst);
        answer
    }
}

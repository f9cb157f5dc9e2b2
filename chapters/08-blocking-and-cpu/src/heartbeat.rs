//! The heartbeat: a task that wants to wake up every [`PERIOD`] and writes down how late it
//! actually woke.
//!
//! It stands for everything else a service runs on the same runtime — a timeout, a keep-alive,
//! the other connections. When the stage that does the real work holds every worker thread, the
//! heartbeat's timer expires on time but nobody polls the heartbeat: it runs late, and its
//! lateness is exactly what a user sees as a timeout that fires late or a connection that
//! stalls. Each variant drives it with its own timer (`tokio::time::sleep`,
//! `async_std::task::sleep`, `smol::Timer`, `std::thread::sleep`); the book-keeping is here.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use instruments::timeline;

/// How often the heartbeat wants to wake up.
pub const PERIOD: Duration = Duration::from_millis(5);

/// Shared between the heartbeat (which ticks) and whoever reads it. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Heartbeat(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    stop: AtomicBool,
    ticks: AtomicU64,
    lateness: Mutex<Vec<Duration>>,
}

/// What the heartbeat saw over a run: how often it woke, and how late.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Beats {
    pub ticks: u64,
    pub max_late: Duration,
    /// 99th percentile, nearest rank.
    pub p99_late: Duration,
}

impl Heartbeat {
    /// How many times it has woken so far.
    pub fn ticks(&self) -> u64 {
        self.0.ticks.load(Ordering::SeqCst)
    }

    /// Asks it to stop after its current sleep.
    pub fn stop(&self) {
        self.0.stop.store(true, Ordering::SeqCst);
    }

    pub fn stopped(&self) -> bool {
        self.0.stop.load(Ordering::SeqCst)
    }

    /// One wake-up that was due at `due`: records how late it came.
    pub fn tick(&self, due: Instant) {
        timeline::span_since("heartbeat", "late", due); // the diagrams' hook: a no-op unless recording
        let late = Instant::now().saturating_duration_since(due);
        self.0
            .lateness
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(late);
        self.0.ticks.fetch_add(1, Ordering::SeqCst);
    }

    /// The ticks so far, with the worst and the 99th-percentile lateness.
    pub fn beats(&self) -> Beats {
        let mut late = self
            .0
            .lateness
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        late.sort();
        let rank = (99 * late.len()).div_ceil(100).max(1);
        Beats {
            ticks: late.len() as u64,
            max_late: late.last().copied().unwrap_or_default(),
            p99_late: late.get(rank - 1).copied().unwrap_or_default(),
        }
    }
}

/// The heartbeat's tick counter read around a blocking section: when it started, when it
/// ended, and once everything was over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blocked {
    pub before: u64,
    pub after: u64,
    pub total: u64,
}

impl Blocked {
    /// Ticks while the section was blocking.
    pub fn during(&self) -> u64 {
        self.after - self.before
    }

    /// Ticks after the section ended.
    pub fn since(&self) -> u64 {
        self.total - self.after
    }
}

// ANCHOR: blocking_section
/// A blocking call: `std::thread::sleep`, standing in for `std::fs`, a blocking client, or a
/// CPU-bound job that takes as long. It reads the heartbeat's counter before and after, so the
/// caller can tell whether the heartbeat ran *while* this thread was blocked.
pub fn blocking_section(beat: &Heartbeat, blocked_for: Duration) -> (u64, u64) {
    let _recorded = timeline::span("blocking section", "blocked"); // for the book's diagram
    let before = beat.ticks();
    thread::sleep(blocked_for);
    (before, beat.ticks())
}
// ANCHOR_END: blocking_section

//! An in-flight gauge with a high-water mark, and an event counter: how chapter 5 sees that
//! unbounded spawning puts thousands of tasks in flight while a bounded pipeline never exceeds
//! its limit. Cheap to clone (an `Arc`), so a handle can move into every task or thread.
//! Every change of level goes to the [`timeline`] too, when one is recording (chapter 3's
//! queue-depth diagram).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::timeline;

#[derive(Debug)]
struct GaugeState {
    name: &'static str,
    current: AtomicUsize,
    peak: AtomicUsize,
}

/// Counts what is in flight right now and the most there ever was at once.
#[derive(Debug, Clone)]
pub struct Gauge(Arc<GaugeState>);

impl Gauge {
    pub fn new(name: &'static str) -> Self {
        Gauge(Arc::new(GaugeState {
            name,
            current: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        }))
    }

    pub fn name(&self) -> &'static str {
        self.0.name
    }

    /// One more in flight until the returned guard is dropped.
    pub fn enter(&self) -> InFlight {
        let now = self.0.current.fetch_add(1, Ordering::SeqCst) + 1;
        self.0.peak.fetch_max(now, Ordering::SeqCst);
        timeline::level(self.0.name, now);
        InFlight(self.clone())
    }

    /// One more in flight, but only if that keeps the count at or below `max`; `None` means
    /// full (a capacity check and the entry happen as one step, so the gauge never exceeds it).
    pub fn enter_within(&self, max: usize) -> Option<InFlight> {
        self.0
            .current
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |now| {
                (now < max).then_some(now + 1)
            })
            .ok()
            .map(|before| {
                self.0.peak.fetch_max(before + 1, Ordering::SeqCst);
                timeline::level(self.0.name, before + 1);
                InFlight(self.clone())
            })
    }

    pub fn current(&self) -> usize {
        self.0.current.load(Ordering::SeqCst)
    }

    /// The high-water mark.
    pub fn peak(&self) -> usize {
        self.0.peak.load(Ordering::SeqCst)
    }
}

/// "tasks in flight: peak 3412".
impl fmt::Display for Gauge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: peak {}", self.name(), self.peak())
    }
}

/// Held while something is in flight; dropping it takes it out of the gauge.
#[derive(Debug)]
pub struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        let now = self.0.0.current.fetch_sub(1, Ordering::SeqCst) - 1;
        timeline::level(self.0.0.name, now);
    }
}

#[derive(Debug)]
struct CounterState {
    name: &'static str,
    total: AtomicU64,
}

/// Counts events, e.g. look-ups the registry refused.
#[derive(Debug, Clone)]
pub struct Counter(Arc<CounterState>);

impl Counter {
    pub fn new(name: &'static str) -> Self {
        Counter(Arc::new(CounterState {
            name,
            total: AtomicU64::new(0),
        }))
    }

    pub fn name(&self) -> &'static str {
        self.0.name
    }

    pub fn add(&self, n: u64) {
        self.0.total.fetch_add(n, Ordering::SeqCst);
    }

    pub fn total(&self) -> u64 {
        self.0.total.load(Ordering::SeqCst)
    }
}

/// "look-ups refused: 2900".
impl fmt::Display for Counter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name(), self.total())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peak_is_the_most_at_once() {
        let gauge = Gauge::new("tasks in flight");
        let a = gauge.enter();
        let b = gauge.enter();
        drop(a);
        let c = gauge.enter();
        assert_eq!((gauge.current(), gauge.peak()), (2, 2));
        drop((b, c));
        assert_eq!((gauge.current(), gauge.peak()), (0, 2));
        assert_eq!(gauge.to_string(), "tasks in flight: peak 2");
    }

    #[test]
    fn enter_within_never_goes_past_its_max() {
        let gauge = Gauge::new("registry requests");
        let held: Vec<InFlight> = (0..5).filter_map(|_| gauge.enter_within(3)).collect();
        assert_eq!((held.len(), gauge.current(), gauge.peak()), (3, 3, 3));
        drop(held);
        assert!(gauge.enter_within(3).is_some());
    }

    #[test]
    fn counters_count() {
        let refused = Counter::new("look-ups refused");
        refused.clone().add(3);
        assert_eq!(refused.to_string(), "look-ups refused: 3");
    }
}

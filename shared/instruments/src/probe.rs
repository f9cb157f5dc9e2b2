//! Lock probes: how many threads or tasks are waiting for a lock, readable from another thread.
//!
//! A deadlocked demo cannot tell you what it is stuck on: its threads are blocked or its tasks
//! never wake. A probe is a pair of atomics the demo updates around each `lock()`, so the
//! watcher outside can say "1 task is waiting for the cache lock" instead of only "hung".
//! The probe hands back the lock's own guard, untouched, so code reads (and lints) as usual.
//! When a [`timeline`] is recording, each wait and each acquisition goes to it too, with the
//! thread: chapter 4's deadlock diagram (the probe cannot see a release: the guard is the lock's).

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::timeline;

#[derive(Debug)]
pub struct LockProbe {
    name: &'static str,
    waiting: AtomicUsize,
    acquired: AtomicUsize,
}

impl LockProbe {
    pub const fn new(name: &'static str) -> Self {
        LockProbe {
            name,
            waiting: AtomicUsize::new(0),
            acquired: AtomicUsize::new(0),
        }
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    /// How many threads or tasks are waiting to acquire the lock right now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    /// How many times the lock has been acquired so far.
    pub fn acquired(&self) -> usize {
        self.acquired.load(Ordering::SeqCst)
    }

    /// Acquires a blocking lock, e.g. `probe.lock(|| mutex.lock().unwrap())`.
    pub fn lock<G>(&self, acquire: impl FnOnce() -> G) -> G {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        timeline::begin(self.name, "wait");
        let guard = acquire();
        self.got_it();
        guard
    }

    /// Acquires an async lock, e.g. `probe.lock_async(mutex.lock()).await`.
    pub async fn lock_async<G>(&self, acquire: impl Future<Output = G>) -> G {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        timeline::begin(self.name, "wait");
        let guard = acquire.await;
        self.got_it();
        guard
    }

    fn got_it(&self) {
        timeline::end(self.name, "wait");
        timeline::point(self.name, "acquired");
        self.acquired.fetch_add(1, Ordering::SeqCst);
        self.waiting.fetch_sub(1, Ordering::SeqCst);
    }
}

/// "cache lock: 1 waiting (acquired 3 times)".
impl fmt::Display for LockProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} lock: {} waiting (acquired {} times)",
            self.name,
            self.waiting(),
            self.acquired()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use std::thread;

    #[test]
    fn counts_waiters_from_another_thread() {
        // If the waiter never registered, the loop below would spin forever.
        crate::run_with_deadline("probe", crate::TEST_DEADLINE, counts_waiters)
            .expect_finished("a waiter on a probed lock");
    }

    fn counts_waiters() {
        let probe = Arc::new(LockProbe::new("cache"));
        let mutex = Arc::new(Mutex::new(0));
        let held = mutex.lock().unwrap();
        let waiter = {
            let (probe, mutex) = (Arc::clone(&probe), Arc::clone(&mutex));
            // deadline: runs inside its test's `run_with_deadline`, and is joined
            thread::spawn(move || *probe.lock(|| mutex.lock().unwrap()) += 1)
        };
        // Wait (without a clock) until the other thread has registered as a waiter.
        while probe.waiting() == 0 {
            thread::yield_now();
        }
        assert_eq!(
            probe.to_string(),
            "cache lock: 1 waiting (acquired 0 times)"
        );
        drop(held);
        waiter.join().unwrap();
        assert_eq!((probe.waiting(), probe.acquired()), (0, 1));
        assert_eq!(*mutex.lock().unwrap(), 1);
    }
}

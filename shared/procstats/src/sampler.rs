//! The most threads a process had at once, watched from a thread of its own.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::{ProcError, thread_count};

/// Watches [`thread_count`] every millisecond from a thread of its own until stopped: often
/// enough for threads that live as long as a run, rarely enough not to skew it. A moment
/// shorter than a millisecond (all of a run's connections open at once, say) can slip between
/// two looks; count threads at that moment too if it matters.
pub struct ThreadSampler {
    stop: Arc<AtomicBool>,
    sampler: JoinHandle<Result<usize, ProcError>>,
}

impl ThreadSampler {
    /// Starts watching. The sampler's own thread is counted in what it sees.
    pub fn start() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let sampler = {
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                let mut peak = thread_count()?;
                while !stop.load(Ordering::Relaxed) {
                    peak = peak.max(thread_count()?);
                    thread::sleep(Duration::from_millis(1));
                }
                Ok(peak)
            })
        };
        ThreadSampler { stop, sampler }
    }

    /// Stops watching: the most threads this process had at once meanwhile (the sampler
    /// included).
    pub fn peak(self) -> Result<usize, ProcError> {
        self.stop.store(true, Ordering::Relaxed);
        self.sampler
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn a_thread_that_lives_a_while_is_seen() {
        let sampler = ThreadSampler::start();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let worker = thread::spawn(move || {
            let _ = released.recv();
        });
        thread::sleep(Duration::from_millis(20));
        drop(release);
        worker.join().unwrap();
        // This test's thread, the sampler and the worker, at least.
        assert!(sampler.peak().unwrap() >= 3);
    }
}

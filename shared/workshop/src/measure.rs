//! Wall time and OS threads started, for the tour's table. (The bench measures properly, with
//! repetitions and histograms; this is a first look.)

use std::thread;
use std::time::{Duration, Instant};

use procstats::{ThreadSampler, thread_count};

pub struct Measured<T> {
    pub value: T,
    pub wall: Duration,
    /// The most threads that were alive at once during the run, beyond those alive before it.
    /// `None` where the OS does not tell (not Linux: no `/proc/self/task`).
    pub threads_started: Option<usize>,
}

/// Runs `work` while a sampler thread watches the process's thread count every millisecond
/// (often enough for threads that live as long as a run; rarely enough not to skew it).
///
/// `extra_threads` are threads `work` starts that are not the variant's own (the deadline
/// runner's): they are not counted.
pub fn measure<T>(extra_threads: usize, work: impl FnOnce() -> T) -> Measured<T> {
    let sampler = ThreadSampler::start();
    // Give the sampler its first look; the baseline includes the sampler itself.
    thread::sleep(Duration::from_millis(2));
    let baseline = thread_count().ok();
    let started = Instant::now();
    let value = work();
    let wall = started.elapsed();
    let peak = sampler.peak().ok();
    let threads_started = match (baseline, peak) {
        (Some(base), Some(peak)) => Some(peak.saturating_sub(base).saturating_sub(extra_threads)),
        _ => None,
    };
    Measured {
        value,
        wall,
        threads_started,
    }
}

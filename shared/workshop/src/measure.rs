//! Wall time and OS threads started, for the tour's table. (The bench measures properly, with
//! repetitions and histograms; this is a first look.)

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

pub struct Measured<T> {
    pub value: T,
    pub wall: Duration,
    /// The most threads that were alive at once during the run, beyond those alive before it.
    /// `None` where `/proc/self/task` does not exist (not Linux).
    pub threads_started: Option<usize>,
}

/// How many threads this process has right now (Linux only).
fn thread_count() -> Option<usize> {
    std::fs::read_dir("/proc/self/task").ok().map(|d| d.count())
}

/// Runs `work` while a sampler thread watches the process's thread count every millisecond
/// (often enough for threads that live as long as a run; rarely enough not to skew it).
///
/// `extra_threads` are threads `work` starts that are not the variant's own (the deadline
/// runner's): they are not counted.
pub fn measure<T>(extra_threads: usize, work: impl FnOnce() -> T) -> Measured<T> {
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            let mut peak = thread_count()?;
            while !stop.load(Ordering::Relaxed) {
                peak = peak.max(thread_count()?);
                thread::sleep(Duration::from_millis(1));
            }
            Some(peak)
        })
    };
    // Give the sampler its first look; the baseline includes the sampler itself.
    thread::sleep(Duration::from_millis(2));
    let baseline = thread_count();
    let started = Instant::now();
    let value = work();
    let wall = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let peak = sampler.join().ok().flatten();
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

/// Resets the kernel's record of this process's peak resident memory (Linux: `clear_refs` 5).
/// Returns false where that is not possible, and then [`peak_rss_kib`] covers the whole process.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// This process's peak resident memory in KiB (`VmHWM`), where the OS tells (Linux).
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

//! What the experiment measures, read from the kernel (Linux; `None` elsewhere): threads
//! (`/proc/self/task`), resident memory (`VmHWM` in `/proc/self/status`), and the open-file
//! limit (`getrlimit`, raised with the `rlimit` crate).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use pipeline::PipelineError;

/// How many threads this process has right now.
pub fn thread_count() -> Option<usize> {
    std::fs::read_dir("/proc/self/task").ok().map(|d| d.count())
}

/// Resets the kernel's record of this process's peak resident memory (`clear_refs` 5), so that
/// [`peak_rss_kib`] covers what comes next. False where that is not possible.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// This process's peak resident memory (`VmHWM`), in KiB.
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

/// Watches the thread count every millisecond from a thread of its own until stopped. That
/// sees threads that live a while; the moment when all of a run's connections are open at once
/// can be shorter than a millisecond, so the session also counts threads at that moment
/// ([`crate::Session::serving`]).
pub struct ThreadSampler {
    stop: Arc<AtomicBool>,
    sampler: JoinHandle<Option<usize>>,
}

impl ThreadSampler {
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
                Some(peak)
            })
        };
        ThreadSampler { stop, sampler }
    }

    /// The most threads this process had at once while sampling (the sampler included).
    pub fn peak(self) -> Option<usize> {
        self.stop.store(true, Ordering::Relaxed);
        self.sampler.join().ok().flatten()
    }
}

/// The open-file limit, before and after [`raise_fd_limit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdLimit {
    pub before: u64,
    pub soft: u64,
    pub hard: u64,
}

impl fmt::Display for FdLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.before == self.soft {
            write!(
                f,
                "open-file limit {} (soft = hard: nothing to raise)",
                self.soft
            )
        } else {
            write!(
                f,
                "open-file limit raised from {} to {} (the hard limit)",
                self.before, self.soft
            )
        }
    }
}

// ANCHOR: raise_fd_limit
/// Raises this process's soft open-file limit to its hard limit. Every socket is a file
/// descriptor, and the usual soft limit (1,024) is far below 10,000 connections. Raising the
/// *hard* limit needs privileges (or `ulimit -Hn` before starting): this does not try.
pub fn raise_fd_limit() -> Result<FdLimit, PipelineError> {
    let failed = |source| PipelineError::Start {
        what: "a higher open-file limit",
        source,
    };
    let (before, hard) = rlimit::Resource::NOFILE.get().map_err(failed)?;
    let soft = rlimit::increase_nofile_limit(u64::MAX).map_err(failed)?;
    Ok(FdLimit { before, soft, hard })
}
// ANCHOR_END: raise_fd_limit

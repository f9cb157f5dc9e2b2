//! What the kernel says about this process, read from Linux's `/proc`: its threads, its
//! resident, virtual and peak resident memory, its CPU time, and the whole system's kernel
//! stacks, CPU time, steal and load.
//!
//! Chapter 10's experiment, chapter 12's memory child and the workshop's tour and demos all
//! measure the same few figures. They read them here, so a figure means the same thing in every
//! table: resident is `VmRSS`, peak resident is `VmHWM`, threads are `/proc/self/task`'s entries.
//!
//! Only Linux has this `/proc`. Elsewhere (macOS, Windows) every reader returns
//! [`ProcError::NotMeasuredOnThisOs`] — never a panic, never a made-up number — and the caller
//! shows the figure as not measured. Where the text comes from (`source.rs`) is the only part
//! that depends on the OS; how it is read ([`parse`]) is plain string work, tested on real
//! `/proc` text on every OS.
#![forbid(unsafe_code)]

pub mod cpu;
mod error;
pub mod parse;
mod sampler;
mod source;

pub use cpu::{
    MachineCpu, TICKS_PER_SECOND, load_average, machine_cpu, pid_cpu_ticks, process_cpu_ticks,
    threads_cpu_ticks,
};
pub use error::ProcError;
pub use parse::{Status, ThreadState};
pub use sampler::ThreadSampler;

/// How many threads this process has right now (the entries of `/proc/self/task`).
pub fn thread_count() -> Result<usize, ProcError> {
    source::count_entries("/proc/self/task")
}

/// Every thread of this process with its name and scheduler state right now (`R` running or
/// runnable, `S` sleeping: blocked on a lock, a channel, a sleep; `D` in uninterruptible I/O).
/// A sampler reading this every millisecond sees which threads wait: chapter 1's diagram.
pub fn thread_states() -> Result<Vec<ThreadState>, ProcError> {
    Ok(source::read_each("/proc/self/task", "stat")?
        .iter()
        .filter_map(|line| ThreadState::parse(line))
        .collect())
}

/// This process's memory as `/proc/self/status` gives it, all three figures from one read.
pub fn status() -> Result<Status, ProcError> {
    Status::parse(&source::read("/proc/self/status")?)
}

/// This process's peak resident memory (`VmHWM`), in KiB: since it started, or since the last
/// [`reset_peak_rss`].
pub fn peak_rss_kib() -> Result<u64, ProcError> {
    status().map(|s| s.peak_rss_kib)
}

/// Resets the kernel's record of this process's peak resident memory (`5` into
/// `/proc/self/clear_refs`), so that [`peak_rss_kib`] covers only what comes next. An error
/// where that is not possible: then the peak covers the whole life of the process.
pub fn reset_peak_rss() -> Result<(), ProcError> {
    source::write("/proc/self/clear_refs", "5")
}

/// Every thread's kernel stack, system-wide (`KernelStack` in `/proc/meminfo`), in KiB. The
/// kernel holds it for each thread outside any process's RSS; since it covers the whole
/// system, other processes' threads coming and going blur it.
pub fn kernel_stack_kib() -> Result<u64, ProcError> {
    parse::kib_field(
        &source::read("/proc/meminfo")?,
        "/proc/meminfo",
        "KernelStack",
    )
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    //! The real `/proc` of the test process: the readers agree with what the process knows.

    use super::*;

    #[test]
    fn a_thread_blocked_on_a_channel_is_seen_sleeping_under_its_name() {
        let (release, released) = std::sync::mpsc::channel::<()>();
        let waiter = std::thread::Builder::new()
            .name("procstats-wait".into())
            .spawn(move || {
                let _ = released.recv();
            })
            .unwrap();
        // Until the waiter has blocked, it may be seen running: wait (without a clock) for `S`.
        while !thread_states()
            .unwrap()
            .iter()
            .any(|t| t.name == "procstats-wait" && t.state == 'S')
        {
            std::thread::yield_now();
        }
        drop(release);
        waiter.join().unwrap();
    }

    #[test]
    fn a_waiting_thread_is_counted() {
        let (release, released) = std::sync::mpsc::channel::<()>();
        let (started_tx, started) = std::sync::mpsc::channel();
        let waiter = std::thread::spawn(move || {
            started_tx.send(()).unwrap();
            let _ = released.recv();
        });
        started.recv().unwrap();
        // Other tests' threads come and go meanwhile, so only a lower bound is certain: this
        // test's thread and the waiter.
        assert!(thread_count().unwrap() >= 2);
        drop(release);
        waiter.join().unwrap();
    }

    #[test]
    fn the_memory_figures_are_consistent() {
        let s = status().unwrap();
        assert!(s.rss_kib > 0, "{s:?}");
        // Mapped covers resident, and the kernel computes the peak as at least the current.
        assert!(s.vm_kib >= s.rss_kib, "{s:?}");
        assert!(s.peak_rss_kib >= s.rss_kib, "{s:?}");
        assert!(peak_rss_kib().unwrap() > 0);
        assert!(kernel_stack_kib().unwrap() > 0);
    }

    #[test]
    fn the_cpu_figures_are_read() {
        let machine = machine_cpu().unwrap();
        assert!(machine.total >= machine.idle, "{machine:?}");
        let _ = process_cpu_ticks().unwrap();
        // The test's own thread is named after the test (cut to 15 bytes).
        let _ = threads_cpu_ticks("the_cpu").unwrap();
        assert!(load_average().unwrap() >= 0.0);
    }

    #[test]
    fn the_peak_can_be_reset() {
        // Needs a writable clear_refs (some sandboxes refuse); what it does is not checked
        // here, since other tests allocate meanwhile.
        if let Err(e) = reset_peak_rss() {
            assert!(matches!(e, ProcError::Io { .. }), "{e}");
        }
    }
}

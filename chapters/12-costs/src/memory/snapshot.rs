//! What the kernel says about the child process while it measures, as the sample records it.

use pipeline::PipelineError;
use serde::{Deserialize, Serialize};

/// What the kernel says about this process (and, for the kernel stack, the whole system).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcSnapshot {
    /// Resident memory, `VmRSS` in `/proc/self/status`.
    pub rss_kib: u64,
    /// Virtual size, `VmSize`: everything mapped, touched or not.
    pub vm_kib: u64,
    /// `KernelStack` in `/proc/meminfo`: every thread's kernel stack, system-wide.
    pub kernel_stack_kib: Option<u64>,
    /// This process's threads (`/proc/self/task`).
    pub threads: usize,
}

impl ProcSnapshot {
    /// Reads the snapshot now. Linux only: elsewhere it is an error saying so ("not measured
    /// on this OS"). The kernel stack alone may be missing: it is the one figure a table can
    /// leave out.
    pub fn now() -> Result<ProcSnapshot, PipelineError> {
        let unavailable = |e: procstats::ProcError| PipelineError::Start {
            what: "a look at /proc (the memory measurement needs Linux)",
            source: e.into(),
        };
        let status = procstats::status().map_err(unavailable)?;
        let threads = procstats::thread_count().map_err(unavailable)?;
        Ok(ProcSnapshot {
            rss_kib: status.rss_kib,
            vm_kib: status.vm_kib,
            kernel_stack_kib: procstats::kernel_stack_kib().ok(),
            threads,
        })
    }
}

//! The open-file limit the experiment needs and reports (`getrlimit`, raised with the `rlimit`
//! crate). What it measures of each server process — threads, peak resident memory — comes from
//! the kernel through the `procstats` crate.

use std::fmt;

use pipeline::PipelineError;

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

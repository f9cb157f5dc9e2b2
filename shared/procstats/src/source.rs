//! Where `/proc`'s text comes from: the only part of this crate that depends on the OS.
//!
//! On Linux, the files themselves. Anywhere else, no file is touched and every call returns
//! [`ProcError::NotMeasuredOnThisOs`]: a macOS `/proc` does not exist, and a path that happened
//! to exist would not mean the same thing.

#[cfg(not(target_os = "linux"))]
pub(crate) use elsewhere::{count_entries, read, read_each, read_pid_stat, write};
#[cfg(target_os = "linux")]
pub(crate) use linux::{count_entries, read, read_each, read_pid_stat, write};

#[cfg(target_os = "linux")]
mod linux {
    use crate::ProcError;

    pub(crate) fn read(path: &'static str) -> Result<String, ProcError> {
        std::fs::read_to_string(path).map_err(|source| ProcError::Io { path, source })
    }

    pub(crate) fn write(path: &'static str, contents: &str) -> Result<(), ProcError> {
        std::fs::write(path, contents).map_err(|source| ProcError::Io { path, source })
    }

    /// Another process's `stat` line (a child of ours, e.g. the lab's registry service).
    pub(crate) fn read_pid_stat(pid: u32) -> Result<String, ProcError> {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|source| ProcError::Io {
            path: "/proc/<pid>/stat",
            source,
        })
    }

    /// The entries of a directory, e.g. one per thread in `/proc/self/task`.
    pub(crate) fn count_entries(path: &'static str) -> Result<usize, ProcError> {
        std::fs::read_dir(path)
            .map(|entries| entries.count())
            .map_err(|source| ProcError::Io { path, source })
    }

    /// The file `name` of every entry of a directory, e.g. each thread's `stat` in
    /// `/proc/self/task`. An entry gone before its file was read (a thread that ended) is
    /// left out.
    pub(crate) fn read_each(path: &'static str, name: &str) -> Result<Vec<String>, ProcError> {
        let entries = std::fs::read_dir(path).map_err(|source| ProcError::Io { path, source })?;
        Ok(entries
            .filter_map(|entry| std::fs::read_to_string(entry.ok()?.path().join(name)).ok())
            .collect())
    }
}

// Compiled for tests on Linux too, so that the fallback is built and checked where CI runs.
#[cfg(any(not(target_os = "linux"), test))]
mod elsewhere {
    use crate::ProcError;

    pub(crate) fn read(_path: &'static str) -> Result<String, ProcError> {
        Err(ProcError::not_measured_here())
    }

    pub(crate) fn write(_path: &'static str, _contents: &str) -> Result<(), ProcError> {
        Err(ProcError::not_measured_here())
    }

    pub(crate) fn read_pid_stat(_pid: u32) -> Result<String, ProcError> {
        Err(ProcError::not_measured_here())
    }

    pub(crate) fn count_entries(_path: &'static str) -> Result<usize, ProcError> {
        Err(ProcError::not_measured_here())
    }

    pub(crate) fn read_each(_path: &'static str, _name: &str) -> Result<Vec<String>, ProcError> {
        Err(ProcError::not_measured_here())
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn without_linux_every_reader_says_not_measured_and_names_the_os() {
            let os = std::env::consts::OS;
            for e in [
                read("/proc/self/status").unwrap_err(),
                write("/proc/self/clear_refs", "5").unwrap_err(),
                count_entries("/proc/self/task").unwrap_err(),
                read_each("/proc/self/task", "stat").unwrap_err(),
                read_pid_stat(1).unwrap_err(),
            ] {
                assert!(
                    matches!(e, ProcError::NotMeasuredOnThisOs { os: named } if named == os),
                    "{e}"
                );
                assert!(e.to_string().starts_with("not measured on this OS"), "{e}");
            }
        }
    }
}

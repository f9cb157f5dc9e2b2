//! Why a figure could not be read.

use std::io;

/// Why a `/proc` figure is missing. Callers that show a table typically turn it into "not
/// measured" (`.ok()`); callers whose whole point is the figure pass it on.
#[derive(Debug, thiserror::Error)]
pub enum ProcError {
    /// This OS has no Linux `/proc`: the figure is not measured here. (Not "zero": a table
    /// must not show a number nobody measured.)
    #[error("not measured on this OS ({os}): the figure comes from Linux's /proc")]
    NotMeasuredOnThisOs {
        /// `std::env::consts::OS`, e.g. `macos`.
        os: &'static str,
    },
    /// `/proc` is there, but this file could not be read (or written).
    #[error("{path}: {source}")]
    Io {
        path: &'static str,
        #[source]
        source: io::Error,
    },
    /// The file was read, but the field is missing or not a number.
    #[error("no {field} in {path}")]
    Missing {
        path: &'static str,
        field: &'static str,
    },
}

impl ProcError {
    /// The error every reader returns on an OS without Linux's `/proc`.
    pub fn not_measured_here() -> ProcError {
        ProcError::NotMeasuredOnThisOs {
            os: std::env::consts::OS,
        }
    }
}

/// For callers whose errors carry an `io::Error`: the kind says which case it was
/// (`Unsupported` for another OS, `InvalidData` for a missing field).
impl From<ProcError> for io::Error {
    fn from(e: ProcError) -> io::Error {
        let kind = match &e {
            ProcError::NotMeasuredOnThisOs { .. } => io::ErrorKind::Unsupported,
            ProcError::Io { source, .. } => source.kind(),
            ProcError::Missing { .. } => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_os_is_said_to_be_not_measured_and_named() {
        let e = ProcError::NotMeasuredOnThisOs { os: "macos" };
        assert_eq!(
            e.to_string(),
            "not measured on this OS (macos): the figure comes from Linux's /proc"
        );
        assert_eq!(io::Error::from(e).kind(), io::ErrorKind::Unsupported);
    }

    #[test]
    fn a_missing_field_names_the_field_and_the_file() {
        let e = ProcError::Missing {
            path: "/proc/self/status",
            field: "VmRSS",
        };
        assert_eq!(e.to_string(), "no VmRSS in /proc/self/status");
        let io = io::Error::from(e);
        assert_eq!(io.kind(), io::ErrorKind::InvalidData);
        assert_eq!(io.to_string(), "no VmRSS in /proc/self/status");
    }

    #[test]
    fn an_unreadable_file_keeps_its_kind_and_names_the_file() {
        let e = ProcError::Io {
            path: "/proc/self/clear_refs",
            source: io::Error::from(io::ErrorKind::PermissionDenied),
        };
        assert!(e.to_string().starts_with("/proc/self/clear_refs: "), "{e}");
        assert_eq!(io::Error::from(e).kind(), io::ErrorKind::PermissionDenied);
    }
}

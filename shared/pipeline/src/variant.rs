//! The four execution models, in the order they appear everywhere (tables, modules, tests, book).

use std::fmt;
use std::str::FromStr;

use crate::config::Config;
use crate::error::PipelineError;
use crate::input::Input;
use crate::report::Report;

/// The contract every variant of every chapter implements. It is synchronous for all four: the
/// async variants build or enter their runtime inside, so the tests and the tour (and later the
/// bench) can call any variant the same way.
pub type RunFn = fn(&Input, &Config) -> Result<Report, PipelineError>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Variant {
    /// std threads, `std::sync::mpsc` channels, `thread::scope`.
    Sync,
    /// tokio's multi-thread runtime.
    Tokio,
    /// async-std's global executor. Discontinued upstream (RUSTSEC-2025-0052): the legacy
    /// comparison.
    AsyncStd,
    /// smol: an explicit `Executor` on threads we start.
    Smol,
}

impl Variant {
    pub const ALL: [Variant; 4] = [
        Variant::Sync,
        Variant::Tokio,
        Variant::AsyncStd,
        Variant::Smol,
    ];

    /// The name used on the command line and in tables.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Sync => "sync",
            Variant::Tokio => "tokio",
            Variant::AsyncStd => "async-std",
            Variant::Smol => "smol",
        }
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

impl FromStr for Variant {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Variant::ALL
            .into_iter()
            .find(|v| v.name() == s || v.name().replace('-', "_") == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Variant::ALL.iter().map(|v| v.name()).collect();
                format!(
                    "unknown variant `{s}`; expected one of: {}",
                    names.join(", ")
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_in_order() {
        let names: Vec<&str> = Variant::ALL.iter().map(|v| v.name()).collect();
        assert_eq!(names, ["sync", "tokio", "async-std", "smol"]);
        for v in Variant::ALL {
            assert_eq!(v.name().parse::<Variant>(), Ok(v));
        }
        assert_eq!("async_std".parse::<Variant>(), Ok(Variant::AsyncStd));
        assert!(
            "rayon"
                .parse::<Variant>()
                .unwrap_err()
                .contains("sync, tokio")
        );
    }
}

//! Where PostgreSQL is, on Linux and on macOS: one order, used by the test harness
//! ([`crate::postgres`]), `workshop doctor`, and CI (`.ci/run` runs the `find-postgres`
//! example before deciding to install it).
//!
//! The order, first match wins:
//!
//! 1. `DATABASE_URL`, if set and not empty: a server to use, no binaries needed;
//! 2. `PG_BINDIR`, if set: that directory, and only it (an explicit choice that does not work
//!    is reported, not silently replaced);
//! 3. a directory on `PATH` with `initdb` (and `postgres`) in it;
//! 4. `pg_config --bindir` (`pg_config` found on `PATH`);
//! 5. Debian's layout, `/usr/lib/postgresql/<version>/bin`, the highest version;
//! 6. Homebrew's: `/opt/homebrew/opt/postgresql@<version>/bin` (Apple silicon), then
//!    `/usr/local/opt/postgresql@<version>/bin` (Intel), the highest version in each, then
//!    `/opt/homebrew/bin`.
//!
//! A directory counts only if it has both `initdb` and `postgres`. The search is a pure
//! function of a [`Host`] (environment, files, `pg_config`'s answer), so its order is tested
//! here on every OS; the macOS places cannot be tried on CI's Linux, and are not.

use std::path::{Path, PathBuf};

/// What the search needs to know about the machine.
pub trait Host {
    /// An environment variable, if set.
    fn var(&self, name: &str) -> Option<String>;
    /// Whether `path` is a file.
    fn is_file(&self, path: &Path) -> bool;
    /// The names of the entries of `dir` (empty if it cannot be read).
    fn entries(&self, dir: &Path) -> Vec<String>;
    /// What `pg_config --bindir` prints (trimmed), if `pg_config` runs.
    fn pg_config_bindir(&self) -> Option<String>;
}

/// Where the PostgreSQL to test against comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// `DATABASE_URL`: a running server (the value, which may hold a password: never print it).
    Server(String),
    /// A directory with `initdb` and `postgres`, and which rule found it.
    Binaries { dir: PathBuf, via: Via },
}

/// Which rule of the order found the binaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    PgBindir,
    Path,
    PgConfig,
    Debian,
    Homebrew,
}

impl Via {
    /// For messages: `"on PATH"`, `"Debian's layout"`, ...
    pub fn describe(self) -> &'static str {
        match self {
            Via::PgBindir => "PG_BINDIR",
            Via::Path => "on PATH",
            Via::PgConfig => "pg_config --bindir",
            Via::Debian => "Debian's layout",
            Via::Homebrew => "Homebrew's layout",
        }
    }
}

/// The Homebrew prefixes with versioned formulae, Apple silicon first.
const HOMEBREW_OPT: &[&str] = &["/opt/homebrew/opt", "/usr/local/opt"];
/// Homebrew's unversioned `bin` (the `postgresql` formula's links).
const HOMEBREW_BIN: &str = "/opt/homebrew/bin";
/// Debian's and Ubuntu's versioned installations.
const DEBIAN_ROOT: &str = "/usr/lib/postgresql";

/// Finds PostgreSQL in the order above; `Err` says what is missing and where it looked.
pub fn discover(host: &impl Host) -> Result<Found, String> {
    if let Some(url) = host.var("DATABASE_URL").filter(|u| !u.trim().is_empty()) {
        return Ok(Found::Server(url));
    }
    let has_binaries =
        |dir: &Path| host.is_file(&dir.join("initdb")) && host.is_file(&dir.join("postgres"));
    let found = |dir: PathBuf, via: Via| Ok(Found::Binaries { dir, via });
    if let Some(dir) = host.var("PG_BINDIR") {
        let dir = PathBuf::from(dir);
        return if has_binaries(&dir) {
            found(dir, Via::PgBindir)
        } else {
            Err(format!(
                "PG_BINDIR={} has no initdb and postgres",
                dir.display()
            ))
        };
    }
    if let Some(dir) = host
        .var("PATH")
        .unwrap_or_default()
        .split(':')
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .find(|d| has_binaries(d))
    {
        return found(dir, Via::Path);
    }
    if let Some(dir) = host
        .pg_config_bindir()
        .map(PathBuf::from)
        .filter(|d| has_binaries(d))
    {
        return found(dir, Via::PgConfig);
    }
    if let Some(dir) = highest_version(host, Path::new(DEBIAN_ROOT), "", "bin", &has_binaries) {
        return found(dir, Via::Debian);
    }
    for opt in HOMEBREW_OPT {
        if let Some(dir) =
            highest_version(host, Path::new(opt), "postgresql@", "bin", &has_binaries)
        {
            return found(dir, Via::Homebrew);
        }
    }
    if has_binaries(Path::new(HOMEBREW_BIN)) {
        return found(PathBuf::from(HOMEBREW_BIN), Via::Homebrew);
    }
    let homebrew: Vec<String> = HOMEBREW_OPT
        .iter()
        .map(|opt| format!("{opt}/postgresql@<version>/bin"))
        .collect();
    Err(format!(
        "DATABASE_URL is not set, and no initdb and postgres were found on PATH, by pg_config, \
         under {DEBIAN_ROOT}/<version>/bin, {} or {HOMEBREW_BIN}",
        homebrew.join(", ")
    ))
}

/// The entry `<prefix><version>` of `root` with the highest numeric version whose `sub`
/// directory has the binaries (`16` above `9.6` above `9`).
fn highest_version(
    host: &impl Host,
    root: &Path,
    prefix: &str,
    sub: &str,
    has_binaries: &impl Fn(&Path) -> bool,
) -> Option<PathBuf> {
    let mut versions: Vec<(Vec<u32>, PathBuf)> = host
        .entries(root)
        .into_iter()
        .filter_map(|name| {
            let version = name.strip_prefix(prefix)?;
            let parts: Option<Vec<u32>> = version.split('.').map(|p| p.parse().ok()).collect();
            let dir = root.join(&name).join(sub);
            has_binaries(&dir).then_some((parts?, dir))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, dir)| dir)
}

/// This machine, for real. `pg_config` runs with a deadline (it is a program on `PATH`).
#[derive(Debug, Clone, Copy, Default)]
pub struct System;

impl Host for System {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    fn is_file(&self, path: &Path) -> bool {
        path.is_file()
    }

    fn entries(&self, dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .collect()
    }

    fn pg_config_bindir(&self) -> Option<String> {
        let out = crate::process::output_within(
            std::process::Command::new("pg_config").arg("--bindir"),
            std::time::Duration::from_secs(10),
        )
        .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
            .filter(|d| !d.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;

    /// A machine made of a few variables, files and `pg_config`'s answer.
    #[derive(Default)]
    struct Fake {
        vars: BTreeMap<String, String>,
        files: BTreeSet<PathBuf>,
        pg_config: Option<String>,
    }

    impl Fake {
        fn var(mut self, name: &str, value: &str) -> Fake {
            self.vars.insert(name.into(), value.into());
            self
        }
        /// `initdb` and `postgres` in `dir`.
        fn install(mut self, dir: &str) -> Fake {
            self.files.insert(Path::new(dir).join("initdb"));
            self.files.insert(Path::new(dir).join("postgres"));
            self
        }
        fn pg_config(mut self, bindir: &str) -> Fake {
            self.pg_config = Some(bindir.into());
            self
        }
    }

    impl Host for Fake {
        fn var(&self, name: &str) -> Option<String> {
            self.vars.get(name).cloned()
        }
        fn is_file(&self, path: &Path) -> bool {
            self.files.contains(path)
        }
        fn entries(&self, dir: &Path) -> Vec<String> {
            let names: BTreeSet<String> = self
                .files
                .iter()
                .filter_map(|f| {
                    f.strip_prefix(dir)
                        .ok()?
                        .iter()
                        .next()?
                        .to_str()
                        .map(str::to_owned)
                })
                .collect();
            names.into_iter().collect()
        }
        fn pg_config_bindir(&self) -> Option<String> {
            self.pg_config.clone()
        }
    }

    fn binaries(host: &Fake) -> (String, Via) {
        match discover(host) {
            Ok(Found::Binaries { dir, via }) => (dir.display().to_string(), via),
            other => panic!("expected binaries, got {other:?}"),
        }
    }

    /// Every place at once: each rule is taken away in turn, and the next one answers.
    fn everywhere() -> Fake {
        Fake::default()
            .var("PATH", "/usr/bin:/home/u/pg/bin")
            .install("/home/u/pg/bin")
            .pg_config("/opt/pgconfig/bin")
            .install("/opt/pgconfig/bin")
            .install("/usr/lib/postgresql/15/bin")
            .install("/opt/homebrew/opt/postgresql@16/bin")
            .install("/usr/local/opt/postgresql@14/bin")
            .install("/opt/homebrew/bin")
    }

    #[test]
    fn database_url_comes_first_and_an_empty_one_is_unset() {
        let host = everywhere().var("DATABASE_URL", "postgresql://u@db/x");
        assert_eq!(
            discover(&host),
            Ok(Found::Server("postgresql://u@db/x".into()))
        );
        let host = everywhere().var("DATABASE_URL", " ");
        assert_eq!(binaries(&host).1, Via::Path);
    }

    #[test]
    fn pg_bindir_is_taken_at_its_word() {
        let host = everywhere().var("PG_BINDIR", "/usr/lib/postgresql/15/bin");
        assert_eq!(
            binaries(&host),
            ("/usr/lib/postgresql/15/bin".into(), Via::PgBindir)
        );
        let host = everywhere().var("PG_BINDIR", "/nowhere");
        let err = discover(&host).unwrap_err();
        assert!(err.contains("PG_BINDIR=/nowhere has no initdb"), "{err}");
    }

    #[test]
    fn the_order_is_path_pg_config_debian_homebrew() {
        let mut host = everywhere();
        assert_eq!(binaries(&host), ("/home/u/pg/bin".into(), Via::Path));
        host.vars.remove("PATH");
        assert_eq!(binaries(&host), ("/opt/pgconfig/bin".into(), Via::PgConfig));
        host.pg_config = None;
        assert_eq!(
            binaries(&host),
            ("/usr/lib/postgresql/15/bin".into(), Via::Debian)
        );
        host.files.retain(|f| !f.starts_with("/usr/lib/postgresql"));
        assert_eq!(
            binaries(&host),
            ("/opt/homebrew/opt/postgresql@16/bin".into(), Via::Homebrew)
        );
        host.files.retain(|f| !f.starts_with("/opt/homebrew/opt"));
        assert_eq!(
            binaries(&host),
            ("/usr/local/opt/postgresql@14/bin".into(), Via::Homebrew)
        );
        host.files.retain(|f| !f.starts_with("/usr/local/opt"));
        assert_eq!(binaries(&host), ("/opt/homebrew/bin".into(), Via::Homebrew));
        host.files.clear();
        let err = discover(&host).unwrap_err();
        assert!(err.contains("DATABASE_URL is not set"), "{err}");
        assert!(
            err.contains("/opt/homebrew/opt/postgresql@<version>/bin"),
            "{err}"
        );
    }

    #[test]
    fn a_directory_needs_both_initdb_and_postgres() {
        let mut host = Fake::default()
            .var("PATH", "/usr/bin")
            .pg_config("/usr/lib/postgresql/16/bin")
            .install("/usr/lib/postgresql/15/bin");
        // `psql` alone on PATH (a client-only install), and a pg_config of a client package.
        host.files.insert("/usr/bin/initdb".into());
        host.files
            .insert("/usr/lib/postgresql/16/bin/pg_config".into());
        assert_eq!(
            binaries(&host),
            ("/usr/lib/postgresql/15/bin".into(), Via::Debian)
        );
    }

    #[test]
    fn the_highest_version_wins_numerically() {
        let host = Fake::default()
            .install("/usr/lib/postgresql/9.6/bin")
            .install("/usr/lib/postgresql/16/bin")
            .install("/usr/lib/postgresql/13/bin");
        assert_eq!(binaries(&host).0, "/usr/lib/postgresql/16/bin");
        let host = Fake::default()
            .install("/opt/homebrew/opt/postgresql@9.6/bin")
            .install("/opt/homebrew/opt/postgresql@14/bin")
            .install("/opt/homebrew/opt/postgresql@17/bin");
        assert_eq!(binaries(&host).0, "/opt/homebrew/opt/postgresql@17/bin");
    }
}

//! `doctor`: checks a participant's machine before a session and says what to fix. Each check
//! is `ok`, `warn` (a part of the course will not work, the rest will) or `FAIL` (the course
//! will not work); the exit code is non-zero only for a failure.

use crate::stdout::outln;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The oldest Rust the workspace builds with (`rust-version` in Cargo.toml).
const MSRV: (u32, u32) = (1, 88);
/// The mdBook the book is checked with.
const MDBOOK: &str = "0.5";
/// File descriptors chapter 10 needs per process: 10,000 connections (the fleet and the server
/// are separate processes), plus a few.
const FILES_NEEDED: u64 = 10_240;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

#[derive(Debug)]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
    pub detail: String,
    /// What to do about a warning or failure.
    pub fix: Option<String>,
}

impl Check {
    fn ok(name: &'static str, detail: impl Into<String>) -> Check {
        Check {
            name,
            status: Status::Ok,
            detail: detail.into(),
            fix: None,
        }
    }

    fn warn(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            name,
            status: Status::Warn,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    fn fail(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            name,
            status: Status::Fail,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
}

/// The workspace's root (where `Cargo.toml` and `book/` are).
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A program named by an environment variable (`CARGO`, `RUSTC`, `MDBOOK`), else its name.
fn program(var: &str, name: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| name.to_string())
}

/// `program --version`'s first line, or why it did not run.
fn version(program: &str) -> Result<String, String> {
    let output = Command::new(program)
        .arg("--version")
        .output()
        .map_err(|e| format!("`{program}` not found ({e})"))?;
    if !output.status.success() {
        return Err(format!("`{program} --version` failed"));
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .to_string())
}

/// "rustc 1.95.0 (…)" → (1, 95).
fn major_minor(version: &str) -> Option<(u32, u32)> {
    let number = version.split_whitespace().nth(1)?;
    let mut parts = number.split('.');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

fn toolchain() -> Check {
    const NAME: &str = "Rust toolchain";
    let rustc = program("RUSTC", "rustc");
    match version(&rustc) {
        Err(why) => Check::fail(
            NAME,
            why,
            "install Rust with rustup (https://rustup.rs), then open a new shell",
        ),
        Ok(v) => match major_minor(&v) {
            Some(found) if found >= MSRV => {
                Check::ok(NAME, format!("{v} (needs {}.{}+)", MSRV.0, MSRV.1))
            }
            _ => Check::fail(
                NAME,
                format!("{v}: the workspace needs {}.{} or newer", MSRV.0, MSRV.1),
                "rustup update stable",
            ),
        },
    }
}

fn release_build() -> Check {
    const NAME: &str = "release build";
    if cfg!(debug_assertions) {
        Check::warn(
            NAME,
            "this binary is a debug build: demos and the lab would measure unoptimised code",
            "cargo run --release -- doctor",
        )
    } else {
        Check::ok(NAME, "this binary is optimised (--release)")
    }
}

/// Whether the test build's dependencies are compiled: `cargo test`'s first run compiles a few
/// hundred crates, which takes minutes a session cannot spare.
fn warm_build() -> Check {
    const NAME: &str = "warm test build";
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace().join("target"), PathBuf::from);
    let deps = target.join("debug/deps");
    let compiled = |prefix: &str| {
        std::fs::read_dir(&deps)
            .into_iter()
            .flatten()
            .flatten()
            .any(|entry| {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                name.starts_with(prefix) && name.ends_with(".rlib")
            })
    };
    let missing: Vec<&str> = [
        "libtokio-",
        "libasync_std-",
        "libsmol-",
        "libinsta-",
        "libreqwest-",
    ]
    .into_iter()
    .filter(|prefix| !compiled(prefix))
    .collect();
    if missing.is_empty() {
        Check::ok(
            NAME,
            format!("the test dependencies are compiled in {}", deps.display()),
        )
    } else {
        Check::warn(
            NAME,
            format!(
                "not compiled yet in {}: {}",
                deps.display(),
                missing
                    .iter()
                    .map(|p| p.trim_start_matches("lib").trim_end_matches('-'))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "cargo test --no-run   (compiles everything once; a few minutes)",
        )
    }
}

/// Whether every crate the lock file names is downloaded, so the session needs no network.
fn offline_ready() -> Check {
    const NAME: &str = "offline-ready";
    let output = Command::new(program("CARGO", "cargo"))
        .args(["fetch", "--locked", "--offline"])
        .current_dir(workspace())
        .output();
    match output {
        Ok(o) if o.status.success() => Check::ok(
            NAME,
            "every dependency is downloaded (cargo fetch --offline)",
        ),
        Ok(o) => {
            let why = String::from_utf8_lossy(&o.stderr);
            let first = why.lines().find(|l| l.starts_with("error")).unwrap_or("");
            Check::warn(
                NAME,
                format!("some crates are not downloaded: {}", first.trim()),
                "cargo fetch   (while online; see the facilitator guide for an offline room)",
            )
        }
        Err(e) => Check::fail(
            NAME,
            format!("cannot run cargo: {e}"),
            "install Rust with rustup",
        ),
    }
}

fn mdbook() -> Check {
    const NAME: &str = "mdBook";
    let fix = "cargo install mdbook --version 0.5.4 --locked   (only to read the book locally)";
    match version(&program("MDBOOK", "mdbook")) {
        Err(why) => Check::warn(NAME, why, fix),
        Ok(v) if v.contains(&format!("v{MDBOOK}.")) => {
            Check::ok(NAME, format!("{v}: `mdbook serve book` shows the book"))
        }
        Ok(v) => Check::warn(
            NAME,
            format!("{v}: the book is checked with {MDBOOK}.x"),
            fix,
        ),
    }
}

/// PostgreSQL for chapters 9 and 13: the same harness the tests use, really started, found
/// where the tests find it (`testkit::pg_discovery`).
fn postgres() -> Check {
    const NAME: &str = "PostgreSQL";
    use testkit::pg_discovery::{Found, System, discover};
    use testkit::postgres::{Unavailable, try_test_database};
    let source = match discover(&System) {
        Ok(Found::Server(_)) => "DATABASE_URL".to_owned(),
        Ok(Found::Binaries { dir, via }) => format!("{}, {}", dir.display(), via.describe()),
        Err(_) => String::new(),
    };
    match try_test_database("doctor") {
        Ok(db) => Check::ok(
            NAME,
            format!("a test database works ({}; from {source})", db.name()),
        ),
        Err(Unavailable::Missing(why)) => Check::warn(
            NAME,
            format!("none: {why}; chapters 9 and 13 skip their database tests"),
            install_postgres(std::env::consts::OS),
        ),
        Err(Unavailable::Broken(why)) => Check::fail(
            NAME,
            why,
            "fix DATABASE_URL, or unset it to let the tests start their own cluster",
        ),
    }
}

/// How to install PostgreSQL on `os` (`std::env::consts::OS`).
fn install_postgres(os: &str) -> String {
    let install = match os {
        "macos" => "brew install postgresql@16",
        _ => "sudo apt-get install postgresql",
    };
    format!("{install}   (or set DATABASE_URL to a server you may create databases on)")
}

/// What is measured only on Linux, and what the course shows instead elsewhere. One line each
/// in `doctor`'s output on another OS.
const LINUX_ONLY: &[&str] = &[
    "OS threads per variant (/proc/self/task): the tour's and demos' thread column says \
     \"not measured\"",
    "resident and peak memory (/proc/self/status, clear_refs): chapter 10's and 12's memory \
     columns say \"not measured\"",
    "kernel stacks (KernelStack in /proc/meminfo): chapter 12's kernel-stack column says \
     \"not measured\"",
    "the runtime threads a crate hides (/proc/self/task/*/comm): chapter 9's hidden-thread \
     test",
    "the OS's thread limit under `ulimit -v` (chapters 5 and 10's child processes)",
];

/// The measurements skipped on `os`: none on Linux, [`LINUX_ONLY`] elsewhere.
fn skipped_on(os: &str) -> &'static [&'static str] {
    if os == "linux" { &[] } else { LINUX_ONLY }
}

/// Which OS this is, and what the course cannot measure on it.
fn operating_system() -> Check {
    const NAME: &str = "operating system";
    let os = std::env::consts::OS;
    let skipped = skipped_on(os);
    if skipped.is_empty() {
        return Check::ok(NAME, format!("{os}: every measurement works"));
    }
    let lines: Vec<String> = skipped
        .iter()
        .map(|what| format!("\n      {:<16} not measured on this OS: {what}", ""))
        .collect();
    Check::warn(
        NAME,
        format!(
            "{os}: the pipelines, tests and book work; {} measurement(s) need Linux:{}",
            skipped.len(),
            lines.concat()
        ),
        "nothing to fix for a session; for the measured tables use Linux (a VM or container)",
    )
}

fn open_files() -> Check {
    const NAME: &str = "open files";
    match rlimit::getrlimit(rlimit::Resource::NOFILE) {
        Ok((_, hard)) if hard >= FILES_NEEDED => Check::ok(
            NAME,
            format!("hard limit {hard}: enough for 10,000 connections"),
        ),
        Ok((_, hard)) => Check::warn(
            NAME,
            format!(
                "hard limit {hard}: chapter 10's 10,000-connection rows need {FILES_NEEDED} per process"
            ),
            format!(
                "raise it for your user (e.g. `ulimit -Hn {FILES_NEEDED}` as root, or limits.conf)"
            ),
        ),
        Err(e) => Check::warn(NAME, format!("cannot read the limit: {e}"), "run on Linux"),
    }
}

fn machine() -> Check {
    const NAME: &str = "cores";
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores >= 2 {
        Check::ok(NAME, format!("{cores} cores"))
    } else {
        Check::warn(
            NAME,
            "1 core: the parallel variants cannot show parallelism",
            "use a machine (or VM) with at least 2 cores",
        )
    }
}

/// Every check, in the order a participant would fix them.
pub fn checks() -> Vec<Check> {
    vec![
        toolchain(),
        release_build(),
        operating_system(),
        machine(),
        offline_ready(),
        warm_build(),
        mdbook(),
        postgres(),
        open_files(),
    ]
}

pub fn doctor() -> anyhow::Result<()> {
    outln!("Checking this machine for the workshop...\n")?;
    let checks = checks();
    for check in &checks {
        let label = match check.status {
            Status::Ok => "ok  ",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
        };
        outln!("{label}  {:<16} {}", check.name, check.detail)?;
        if let Some(fix) = &check.fix {
            outln!("      {:<16} fix: {fix}", "")?;
        }
    }
    let failed = checks.iter().filter(|c| c.status == Status::Fail).count();
    let warned = checks.iter().filter(|c| c.status == Status::Warn).count();
    outln!()?;
    if failed > 0 {
        anyhow::bail!("{failed} check(s) failed and {warned} warned: fix the FAIL lines first");
    }
    if warned > 0 {
        outln!(
            "Ready, with {warned} warning(s): the parts named above will not work until fixed."
        )?;
    } else {
        outln!("Ready: everything the workshop uses works on this machine.")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linux_skips_nothing_and_macos_says_what_it_skips() {
        assert!(skipped_on("linux").is_empty());
        let mac = skipped_on("macos");
        assert_eq!(mac.len(), LINUX_ONLY.len());
        for needle in ["/proc/self/task", "KernelStack", "clear_refs", "ulimit"] {
            assert!(mac.iter().any(|line| line.contains(needle)), "{needle}");
        }
    }

    #[test]
    fn the_install_hint_fits_the_os() {
        assert!(install_postgres("macos").starts_with("brew install postgresql@"));
        assert!(install_postgres("linux").starts_with("sudo apt-get install postgresql"));
    }
}

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

/// PostgreSQL for chapters 9 and 13: the same harness the tests use, really started.
fn postgres() -> Check {
    const NAME: &str = "PostgreSQL";
    use testkit::postgres::{Unavailable, try_test_database};
    match try_test_database("doctor") {
        Ok(db) => Check::ok(NAME, format!("a test database works ({})", db.name())),
        Err(Unavailable::Missing(why)) => Check::warn(
            NAME,
            format!("none: {why}; chapters 9 and 13 skip their database tests"),
            "sudo apt-get install postgresql   (or set DATABASE_URL to a server you may create databases on)",
        ),
        Err(Unavailable::Broken(why)) => Check::fail(
            NAME,
            why,
            "fix DATABASE_URL, or unset it to let the tests start their own cluster",
        ),
    }
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

//! What each model costs to *build*: the same small pipeline program, once per runtime, as a
//! standalone Cargo package under `standalone/<name>/`, built clean in release mode.
//!
//! Each standalone package
//!
//! - has its own `[workspace]` table, so it is not a member of the book's workspace (and
//!   `cargo metadata` at the root does not list it) — it resolves and builds exactly the
//!   dependencies *it* names, with only the features *it* asks for, not the workspace's
//!   (`tokio` there has `full`);
//! - has its own committed `Cargo.lock`, with the same versions as the workspace's lock (a
//!   test checks), so the comparison is between runtimes, not between releases;
//! - depends on `pipeline` by path, so it runs the real domain code, and compiles chapter 1's
//!   own variant file (`chapters/01-baseline/src/variants/*.rs`) through `#[path]`, as this
//!   crate does: the code the chapter's tests compare with the reference is the code that is
//!   measured, and it is chapter 1's pipeline byte for byte. What `pipeline` adds
//!   (serde, serde_json, thiserror, rand, rand_chacha, fnv and theirs) every program pays;
//!   the `sequential` program — `pipeline::run_sequential`, no concurrency at all — is that
//!   floor.
//!
//! [`measure_build`] times one clean `cargo build --release` of one of them. What the numbers
//! mean: wall-clock seconds on this machine, with whatever else it was doing (run the final
//! measurement on a quiet one); the crates compiled (the dependency footprint: every crate is
//! one more thing to audit and keep up to date); the binary's size. What they do not mean:
//! the cost of an *incremental* rebuild after an edit (usually what a developer waits for,
//! and much smaller), nor anything about run time.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Instant;

use pipeline::{PipelineError, Variant};
use serde::{Deserialize, Serialize};

use crate::serde_variant;

/// One standalone program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standalone {
    /// Its directory under `standalone/`, and its label in tables.
    pub name: &'static str,
    /// Its Cargo package, which is also the binary's name.
    pub package: &'static str,
    /// The variant whose pipeline it runs; `None` for the sequential floor.
    pub variant: Option<Variant>,
    /// What it depends on besides `pipeline`, and what it does, in a line.
    pub what: &'static str,
}

// ANCHOR: standalones
/// The programs, from the floor up. Each reads readings on stdin and prints the report; the
/// two `*-postgres` ones also upsert the windows into PostgreSQL when given a connection
/// string as their argument.
pub const STANDALONES: [Standalone; 7] = [
    Standalone {
        name: "sequential",
        package: "costs-sequential",
        variant: None,
        what: "pipeline only, stages one after the other (the floor every program pays)",
    },
    Standalone {
        name: "sync",
        package: "costs-sync",
        variant: Some(Variant::Sync),
        what: "std threads and channels, no dependency beyond pipeline",
    },
    Standalone {
        name: "tokio",
        package: "costs-tokio",
        variant: Some(Variant::Tokio),
        what: "tokio with rt-multi-thread and sync only",
    },
    Standalone {
        name: "async-std",
        package: "costs-async-std",
        variant: Some(Variant::AsyncStd),
        what: "async-std 1.13.2, default features (discontinued upstream)",
    },
    Standalone {
        name: "smol",
        package: "costs-smol",
        variant: Some(Variant::Smol),
        what: "smol 2",
    },
    Standalone {
        name: "sync-postgres",
        package: "costs-sync-postgres",
        variant: Some(Variant::Sync),
        what: "std threads + the sync postgres client (which runs tokio-postgres on tokio inside)",
    },
    Standalone {
        name: "tokio-postgres",
        package: "costs-tokio-postgres",
        variant: Some(Variant::Tokio),
        what: "tokio (rt-multi-thread, sync) + tokio-postgres",
    },
];
// ANCHOR_END: standalones

/// The standalone's package directory: `chapters/12-costs/standalone/<name>`.
pub fn standalone_dir(s: &Standalone) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("standalone")
        .join(s.name)
}

/// One clean release build of one standalone program.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BuildRow {
    pub name: String,
    pub package: String,
    #[serde(with = "serde_variant::option")]
    pub variant: Option<Variant>,
    /// Wall-clock seconds of `cargo build --release` from an empty target directory
    /// (dependencies already downloaded: `cargo fetch` is not timed).
    pub seconds: f64,
    /// How many crates cargo compiled (its "Compiling" lines): the program, `pipeline` and
    /// every dependency, proc-macros and build scripts' crates included.
    pub crates_compiled: usize,
    /// Those crates, `name vX.Y.Z`, in the order cargo started them.
    pub compiled: Vec<String>,
    /// The release binary as built. Rust's release profile already leaves out debug info
    /// (`strip = "debuginfo"` by default); the symbol table stays.
    pub binary_bytes: u64,
    /// The same binary after `strip` (symbol table gone too): `None` where no `strip`
    /// command exists. The standalones' profiles are left at cargo's defaults on purpose, so
    /// that `binary_bytes` is what anyone's `cargo build --release` gives.
    pub stripped_bytes: Option<u64>,
    /// `cargo --version` of the cargo that built it.
    pub cargo_version: String,
}

/// The crates a cargo build compiled: its `Compiling name vX.Y.Z (…)` lines on stderr, as
/// `name vX.Y.Z`, in order. Every other line (Downloaded, Finished, warnings) is ignored.
pub fn compiled_crates(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix("Compiling "))
        .filter_map(|rest| {
            let mut words = rest.split_whitespace();
            let (name, version) = (words.next()?, words.next()?);
            version
                .starts_with('v')
                .then(|| format!("{name} {version}"))
        })
        .collect()
}

/// Each `[[package]]`'s name and version in a `Cargo.lock`, in file order.
pub fn lock_packages(lock: &str) -> Vec<(String, String)> {
    let mut packages = Vec::new();
    let mut name: Option<String> = None;
    for line in lock.lines() {
        let line = line.trim();
        if line == "[[package]]" {
            name = None;
        } else if let Some(value) = line.strip_prefix("name = ") {
            name = Some(value.trim_matches('"').to_owned());
        } else if let Some(value) = line.strip_prefix("version = ")
            && let Some(name) = name.take()
        {
            packages.push((name, value.trim_matches('"').to_owned()));
        }
    }
    packages
}

/// Environment variables that would make a build measure something else than the program:
/// extra compiler flags, a compiler wrapper (a cache like sccache would turn a clean build
/// into a download), another target directory or profile, a parent's jobserver.
const CLEARED_ENV: [&str; 11] = [
    "RUSTFLAGS",
    "RUSTDOCFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_ENCODED_RUSTDOCFLAGS",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "CARGO_INCREMENTAL",
    "CARGO_MAKEFLAGS",
    "MAKEFLAGS",
    "MFLAGS",
    "CARGO_TARGET_DIR",
];
/// Prefixes of the same kind: `CARGO_BUILD_*` (jobs, rustflags, target, …), `CARGO_PROFILE_*`
/// (opt-level, lto, …), `CARGO_TARGET_*` (per-target linker and rustflags).
const CLEARED_ENV_PREFIXES: [&str; 3] = ["CARGO_BUILD_", "CARGO_PROFILE_", "CARGO_TARGET_"];

/// `$CARGO` (the cargo that runs us, under `cargo run`/`cargo test`) or `cargo`, with the
/// environment cleared of [`CLEARED_ENV`], started in `cwd`. Everything else passes through:
/// `PATH`, `CARGO_HOME` (the downloaded crates), `RUSTUP_TOOLCHAIN` (the same compiler).
fn cargo(cwd: &Path) -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(cwd);
    for (key, _) in std::env::vars_os() {
        if let Some(k) = key.to_str()
            && (CLEARED_ENV.contains(&k) || CLEARED_ENV_PREFIXES.iter().any(|p| k.starts_with(p)))
        {
            command.env_remove(&key);
        }
    }
    command
}

fn io_error(what: &'static str) -> impl FnOnce(std::io::Error) -> PipelineError {
    move |source| PipelineError::Start { what, source }
}

/// Runs a cargo command, hands every stderr line to `on_line`, returns the status and stderr.
fn run_cargo(
    mut command: Command,
    what: &'static str,
    on_line: &mut dyn FnMut(&str),
) -> Result<(ExitStatus, String), PipelineError> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(io_error(what))?;
    let mut stderr = String::new();
    if let Some(pipe) = child.stderr.take() {
        for line in BufReader::new(pipe).lines() {
            let line = line.map_err(io_error(what))?;
            on_line(&line);
            stderr.push_str(&line);
            stderr.push('\n');
        }
    }
    let status = child.wait().map_err(io_error(what))?;
    Ok((status, stderr))
}

/// A failed cargo command as an error, with the end of what it said.
fn cargo_failed(what: &'static str, status: ExitStatus, stderr: &str) -> PipelineError {
    let lines: Vec<&str> = stderr.lines().collect();
    let tail = lines[lines.len().saturating_sub(12)..].join("\n");
    PipelineError::Start {
        what,
        source: std::io::Error::other(format!("cargo exited with {status}:\n{tail}")),
    }
}

// ANCHOR: measure_build
/// Builds standalone `s` from scratch in release mode in `scratch/<name>` (removed first) and
/// measures it. `cargo fetch --locked` runs first and is not timed; the build itself runs
/// `--locked --offline`, so it neither changes the lock nor waits for the network. cargo runs
/// in `scratch`, so no `.cargo/config.toml` of the book's checkout applies (your own
/// `~/.cargo/config.toml` does). `on_line` receives every line cargo prints on stderr.
pub fn measure_build(
    s: &Standalone,
    scratch: &Path,
    on_line: &mut dyn FnMut(&str),
) -> Result<BuildRow, PipelineError> {
    let manifest = standalone_dir(s).join("Cargo.toml");
    std::fs::create_dir_all(scratch).map_err(io_error("the scratch directory"))?;
    let version = cargo(scratch)
        .arg("--version")
        .output()
        .map_err(io_error("cargo --version"))?;
    let cargo_version = String::from_utf8_lossy(&version.stdout).trim().to_owned();

    let mut fetch = cargo(scratch);
    fetch
        .args(["fetch", "--locked", "--color", "never", "--manifest-path"])
        .arg(&manifest);
    let (status, stderr) = run_cargo(fetch, "cargo fetch", on_line)?;
    if !status.success() {
        return Err(cargo_failed("cargo fetch", status, &stderr));
    }

    let target_dir = scratch.join(s.name);
    if target_dir.exists() {
        std::fs::remove_dir_all(&target_dir).map_err(io_error("removing the old target dir"))?;
    }
    let mut build = cargo(scratch);
    build
        .args([
            "build",
            "--release",
            "--locked",
            "--offline",
            "--color",
            "never",
        ])
        .arg("--target-dir")
        .arg(&target_dir)
        .arg("--manifest-path")
        .arg(&manifest);
    let started = Instant::now();
    let (status, stderr) = run_cargo(build, "cargo build", on_line)?;
    let seconds = started.elapsed().as_secs_f64();
    if !status.success() {
        return Err(cargo_failed("cargo build", status, &stderr));
    }
    let compiled = compiled_crates(&stderr);

    let binary =
        target_dir
            .join("release")
            .join(format!("{}{}", s.package, std::env::consts::EXE_SUFFIX));
    let binary_bytes = std::fs::metadata(&binary)
        .map_err(io_error("the built binary"))?
        .len();
    Ok(BuildRow {
        name: s.name.to_owned(),
        package: s.package.to_owned(),
        variant: s.variant,
        seconds,
        crates_compiled: compiled.len(),
        compiled,
        binary_bytes,
        stripped_bytes: stripped_size(&binary),
        cargo_version,
    })
}
// ANCHOR_END: measure_build

/// The size of a stripped copy of `binary` (`strip` on a copy next to it), or `None` if
/// there is no `strip` or it fails.
fn stripped_size(binary: &Path) -> Option<u64> {
    let copy = binary.with_extension("stripped");
    std::fs::copy(binary, &copy).ok()?;
    let status = Command::new("strip")
        .arg(&copy)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()?;
    let size = status
        .success()
        .then(|| std::fs::metadata(&copy).ok().map(|m| m.len()))
        .flatten();
    let _ = std::fs::remove_file(&copy);
    size
}

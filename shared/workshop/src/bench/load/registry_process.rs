//! The registry service in a process of its own (chapter 9's registered child
//! [`ch09_real_io::REGISTRY_CHILD`]), for the HTTP rows: an in-process service would run its
//! tokio runtime on the same threads' cores *and in the same process* as the measured client,
//! so a tokio client would share its reactor's process and the others would not. In a process
//! of its own it is the same server for every client.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};
use registry_service::{Latency, Wait};
use testkit::KillOnDrop;

/// What the process serves (see [`RegistryProcess::start`]).
struct Options {
    latency: Latency,
    seed: u64,
    capacity: usize,
    wait: Wait,
}

/// A running registry process. Dropping it kills and reaps the process (its standard input
/// closes too, which ends it even if this process dies first).
#[derive(Debug)]
pub struct RegistryProcess {
    url: String,
    _process: KillOnDrop,
}

impl RegistryProcess {
    /// This executable as [`ch09_real_io::REGISTRY_CHILD`], serving `latency` with `seed`,
    /// room for `capacity` requests at once, waiting the way `wait` says.
    pub fn start(latency: Latency, seed: u64, capacity: usize, wait: Wait) -> anyhow::Result<Self> {
        Self::start_with(
            ch09_real_io::REGISTRY_CHILD.command(),
            Options {
                latency,
                seed,
                capacity,
                wait,
            },
        )
    }

    /// As [`start`](Self::start), with `command` as the child (a test binary cannot start
    /// itself as a registered child; the tests start a stand-in).
    fn start_with(mut command: Command, options: Options) -> anyhow::Result<Self> {
        command
            .args(["--latency", &options.latency.to_string()])
            .args(["--seed", &options.seed.to_string()])
            .args(["--capacity", &options.capacity.to_string()])
            .args(["--wait", options.wait.name()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut process = KillOnDrop(
            // killed and reaped by KillOnDrop when the measurement is done
            command
                .spawn()
                .context("starting the registry service process")?,
        );
        let stdout = process
            .0
            .stdout
            .take()
            .context("the registry process has no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .context("reading the registry process's URL")?;
        let url = line.trim().to_string();
        if !url.starts_with("http://") {
            bail!("the registry process did not start (it said {line:?})");
        }
        // Its CPU time goes in the server column while it runs (`load::cpu_ticks`).
        super::SERVER_PID.store(process.0.id(), std::sync::atomic::Ordering::SeqCst);
        Ok(RegistryProcess {
            url,
            _process: process,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.url.clone()
    }
}

impl Drop for RegistryProcess {
    fn drop(&mut self) {
        super::SERVER_PID.store(0, std::sync::atomic::Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONE: Options = Options {
        latency: Latency::None,
        seed: 0,
        capacity: 1,
        wait: Wait::Timer,
    };

    /// A stand-in child: says a URL, then waits on its stdin like the registry does.
    fn shell(script: &str) -> Command {
        // deadline: only builds the command; each test starts it inside `run_with_deadline`
        let mut command = Command::new("sh");
        command.args(["-c", script]);
        command
    }

    #[test]
    fn the_process_says_its_url_and_is_killed_when_dropped() {
        testkit::run_with_deadline(
            "the stand-in registry process",
            testkit::TEST_DEADLINE,
            move || {
                let started = RegistryProcess::start_with(
                    shell("echo http://127.0.0.1:9; cat >/dev/null; sleep 60"),
                    NONE,
                )
                .unwrap();
                assert_eq!(started.url(), "http://127.0.0.1:9");
                let pid = started._process.0.id();
                drop(started);
                // Killed and reaped by the drop: `kill -0` finds no such process.
                let alive = Command::new("kill")
                    .args(["-0", &pid.to_string()])
                    .stderr(Stdio::null())
                    .status()
                    .unwrap();
                assert!(!alive.success(), "process {pid} outlived its handle");
            },
        )
        .expect_finished("the stand-in registry process");
    }

    #[test]
    fn a_process_that_says_no_url_is_an_error() {
        testkit::run_with_deadline(
            "the stand-in that says no URL",
            testkit::TEST_DEADLINE,
            move || {
                let error = RegistryProcess::start_with(shell("echo nope"), NONE)
                    .expect_err("no URL, no service");
                assert!(error.to_string().contains("nope"), "{error}");
            },
        )
        .expect_finished("the stand-in that says no URL");
    }
}

//! Child processes in tests, with a deadline: a child that outlives it is killed, never left
//! running.
//!
//! The deadline runner ([`crate::run_with_deadline`]) cannot stop what it watches: a hung
//! closure's thread is left behind. For a child process that is not good enough (it would
//! outlive the test binary, holding ports, locks and CPU), and not needed either: a child has a
//! handle that can kill it. So a test starts its child here, and on the deadline the child is
//! killed by its handle ([`std::process::Child::kill`]) and reaped (`wait`).
//!
//! External commands (`cargo metadata`, `cargo tree`) run here too: they can wait a long time
//! on cargo's locks when another build holds them.

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How often a running child is polled.
const POLL: Duration = Duration::from_millis(10);

/// Runs `command` to its end with its stdout and stderr captured (stdin closed), like
/// [`Command::output`], or kills it once `deadline` has passed.
///
/// # Errors
/// If it cannot be started, or did not end within `deadline` (it is then killed and reaped;
/// the message says what it had printed so far).
pub fn output_within(command: &mut Command, deadline: Duration) -> Result<Output, String> {
    let what = describe(command);
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {what}: {e}"))?;
    // Read both pipes while waiting, so a child that fills one never blocks on it.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let status = wait_within(&mut child, deadline);
    // The child has ended (or was killed): its pipes close, the readers finish.
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    match status {
        Ok(status) => Ok(Output {
            status,
            stdout,
            stderr,
        }),
        Err(e) => Err(format!(
            "{what}: {e}; its stderr so far:\n{}",
            String::from_utf8_lossy(&stderr)
        )),
    }
}

/// Waits for `child` to end, at most `deadline`; past it, kills it and reaps it.
///
/// # Errors
/// If it did not end in time (it has been killed and reaped when this returns), or waiting
/// for it failed.
pub fn wait_within(child: &mut Child, deadline: Duration) -> Result<ExitStatus, String> {
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) if started.elapsed() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "process {} did not end within {deadline:?}: killed",
                    child.id()
                ));
            }
            Ok(None) => thread::sleep(POLL),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("cannot wait for process {}: {e}", child.id()));
            }
        }
    }
}

/// A child that is killed and reaped when dropped, unless it has been waited for: a test that
/// panics half-way (an assertion about a child still running) does not leave it behind.
#[derive(Debug)]
pub struct KillOnDrop(pub Child);

impl KillOnDrop {
    /// [`wait_within`] on the child.
    ///
    /// # Errors
    /// As [`wait_within`].
    pub fn wait_within(&mut self, deadline: Duration) -> Result<ExitStatus, String> {
        wait_within(&mut self.0, deadline)
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

fn describe(command: &Command) -> String {
    let mut words = vec![command.get_program().to_string_lossy().into_owned()];
    words.extend(command.get_args().map(|a| a.to_string_lossy().into_owned()));
    format!("`{}`", words.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quick_command_gives_its_output() {
        let out = output_within(
            Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]),
            Duration::from_secs(30),
        )
        .unwrap();
        assert_eq!(out.status.code(), Some(3));
        assert_eq!(out.stdout, b"out\n");
        assert_eq!(out.stderr, b"err\n");
    }

    #[test]
    fn a_command_past_its_deadline_is_killed_not_left_running() {
        // `exec`: the sleep is the child itself, so killing the child kills the sleep. Had it
        // not been killed, this would return after 600 s (its pipes stay open until then).
        let err = output_within(
            Command::new("sh").args(["-c", "exec sleep 600"]),
            Duration::from_millis(300),
        )
        .unwrap_err();
        assert!(err.contains("did not end within 300ms: killed"), "{err}");
    }

    #[test]
    fn a_child_dropped_while_running_is_killed_and_reaped() {
        let child = KillOnDrop(
            // deadline: killed by KillOnDrop below, which is what this test checks
            Command::new("sleep").arg("600").spawn().unwrap(),
        );
        let pid = child.0.id();
        drop(child);
        // Reaped: the pid is no longer our child (waitpid would fail), and on Linux gone.
        #[cfg(target_os = "linux")]
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "process {pid} still exists"
        );
        let _ = pid;
    }
}

//! The deadline runner.
//!
//! Why a thread and not a timeout inside the runtime: a runtime's timer cannot fire while the
//! runtime's only thread is blocked (a std lock, a deadlock, a busy loop). Watching from
//! *another* thread with `recv_timeout` works whatever the closure does.
//!
//! What it cannot do: kill the closure. A hung closure's thread is left behind (detached) and
//! ends with the process. That is fine for a test binary or a demo; code that must stop a
//! runaway for real runs it in a child process.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// The deadline for one pipeline run in a test. Generous on purpose (debug builds on a loaded
/// 2-core CI machine are slow): it exists to turn a hang into a failure, not to measure speed.
pub const TEST_DEADLINE: Duration = Duration::from_secs(60);

/// How a closure run under a deadline ended.
#[derive(Debug, PartialEq)]
pub enum Outcome<T> {
    /// It returned this value in time.
    Finished(T),
    /// It was still running when the deadline passed; its thread is left behind.
    Hung { after: Duration },
    /// It panicked with this message.
    Panicked(String),
}

impl<T> Outcome<T> {
    pub fn is_hung(&self) -> bool {
        matches!(self, Outcome::Hung { .. })
    }

    /// The value, or a panic whose message says what `what` was and how it went wrong.
    #[track_caller]
    pub fn expect_finished(self, what: &str) -> T {
        match self {
            Outcome::Finished(value) => value,
            Outcome::Hung { after } => panic!(
                "{what} did not finish within {after:?}: it is hung (deadlocked, or waiting on \
                 something that never comes)"
            ),
            Outcome::Panicked(message) => panic!("{what} panicked: {message}"),
        }
    }
}

impl<T> fmt::Display for Outcome<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Finished(_) => write!(f, "finished"),
            Outcome::Hung { after } => write!(f, "hung (no result after {after:?})"),
            Outcome::Panicked(message) => write!(f, "panicked: {message}"),
        }
    }
}

/// Runs `work` on a new thread named `name` and waits at most `deadline` for it.
///
/// Never blocks the caller longer than `deadline` (plus thread start-up).
pub fn run_with_deadline<T, F>(name: &str, deadline: Duration, work: F) -> Outcome<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    // A progress counter nobody moves: the watchdog then waits exactly for the deadline.
    let no_progress = pipeline::Progress::default();
    run_with_watchdog(name, &no_progress, deadline, deadline, work)
}

/// Runs `work` on a new thread and watches `progress`: the outcome is `Hung` as soon as
/// `progress` has not moved for `stall` (or the whole run exceeds `limit`), so a deadlock is
/// reported after `stall`, while a long run that keeps moving is left alone.
pub fn run_with_watchdog<T, F>(
    name: &str,
    progress: &pipeline::Progress,
    stall: Duration,
    limit: Duration,
    work: F,
) -> Outcome<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (done_tx, done_rx) = mpsc::sync_channel(1);
    let started = Instant::now();
    let spawned = thread::Builder::new().name(name.to_owned()).spawn(move || {
        let _ = done_tx.send(catch_unwind(AssertUnwindSafe(work)));
    });
    if let Err(e) = spawned {
        return Outcome::Panicked(format!("could not start thread `{name}`: {e}"));
    }
    let tick = (stall / 10).clamp(Duration::from_millis(1), Duration::from_millis(100));
    let (mut last_seen, mut last_change) = (progress.lines_read(), Instant::now());
    loop {
        match done_rx.recv_timeout(tick) {
            Ok(Ok(value)) => return Outcome::Finished(value),
            Ok(Err(payload)) => return Outcome::Panicked(pipeline::panic_message(&*payload)),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Outcome::Panicked(format!("thread `{name}` ended without a result"));
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let now = progress.lines_read();
                if now != last_seen {
                    (last_seen, last_change) = (now, Instant::now());
                }
                if last_change.elapsed() >= stall || started.elapsed() >= limit {
                    return Outcome::Hung {
                        after: started.elapsed(),
                    };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Barrier};

    #[test]
    fn a_quick_closure_finishes_with_its_value() {
        let outcome = run_with_deadline("quick", Duration::from_secs(10), || 6 * 7);
        assert_eq!(outcome, Outcome::Finished(42));
    }

    #[test]
    fn a_panic_comes_back_as_its_message() {
        let outcome: Outcome<()> = run_with_deadline("panics", Duration::from_secs(10), || {
            panic!("sensor on fire")
        });
        assert_eq!(outcome, Outcome::Panicked("sensor on fire".into()));
    }

    #[test]
    fn a_closure_that_never_finishes_is_reported_hung() {
        // A barrier for two that only one thread ever reaches: blocked for good, no timing luck.
        let never = Arc::new(Barrier::new(2));
        let outcome = run_with_deadline("stuck", Duration::from_millis(50), move || {
            never.wait();
        });
        assert!(outcome.is_hung(), "{outcome}");
        assert!(
            outcome.to_string().starts_with("hung"),
            "the message says it hung: {outcome}"
        );
    }

    #[test]
    fn the_watchdog_reports_a_stall_but_not_a_slow_run_that_moves() {
        let progress = pipeline::Progress::default();
        let never = Arc::new(Barrier::new(2));
        let stuck = run_with_watchdog(
            "stuck",
            &progress,
            Duration::from_millis(50),
            Duration::from_secs(60),
            move || never.wait(),
        );
        assert!(stuck.is_hung(), "{stuck}");

        // Moves a little every few milliseconds and ends on its own: never called hung, because
        // the stall limit (10 s) is far above its step; it finishes when the steps run out.
        let moving = pipeline::Progress::default();
        let steps = moving.clone();
        let outcome = run_with_watchdog(
            "moving",
            &moving,
            Duration::from_secs(10),
            Duration::from_secs(60),
            move || {
                for _ in 0..20 {
                    steps.add(1);
                    thread::sleep(Duration::from_millis(2));
                }
                "done"
            },
        );
        assert_eq!(outcome, Outcome::Finished("done"));
    }

    #[test]
    #[should_panic(expected = "the tokio run did not finish within")]
    fn expect_finished_names_what_hung() {
        Outcome::<()>::Hung {
            after: Duration::from_millis(5),
        }
        .expect_finished("the tokio run");
    }
}

//! `check <id> --watch`: run the checks, then again each time the exercise's files change.
//!
//! The file events come from `notify` (inotify, FSEvents, ReadDirectoryChangesW: what rustlings
//! uses). What this module adds is kept pure so it can be tested without a file system: which
//! paths count ([`relevant`]) and when a burst of events has settled ([`Debounce`]) — an editor
//! saving one file writes a temporary, renames it and touches a backup, and that is one change,
//! not three runs.

use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Context;
use notify::{RecursiveMode, Watcher};

/// How long the files must stay quiet before the checks run again.
pub const QUIET: Duration = Duration::from_millis(300);

/// Whether a change to `path` should re-run the checks of the exercise in `dir`: a Rust source
/// or a manifest inside it, and not an editor's temporary or backup file.
pub fn relevant(path: &Path, dir: &Path) -> bool {
    let Ok(inside) = path.strip_prefix(dir) else {
        return false;
    };
    if inside.components().any(|c| c.as_os_str() == "target") {
        return false;
    }
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    let editor_temporary = name.starts_with(".#") || name.starts_with('#') || name.ends_with('~');
    !editor_temporary && (name.ends_with(".rs") || name == "Cargo.toml")
}

/// A burst of events becomes one run: due once [`QUIET`] has passed since the last event.
#[derive(Debug, Default)]
pub struct Debounce {
    last_event: Option<Instant>,
}

impl Debounce {
    pub fn event(&mut self, now: Instant) {
        self.last_event = Some(now);
    }

    /// True once, when the burst has settled; then it waits for the next event.
    pub fn take_due(&mut self, now: Instant, quiet: Duration) -> bool {
        match self.last_event {
            Some(last) if now.duration_since(last) >= quiet => {
                self.last_event = None;
                true
            }
            _ => false,
        }
    }

    /// How long to wait for the next event before looking again.
    pub fn wait(&self, now: Instant, quiet: Duration) -> Duration {
        match self.last_event {
            Some(last) => quiet.saturating_sub(now.duration_since(last)),
            None => Duration::from_secs(3600),
        }
    }
}

/// Runs `check` now and after every settled change under `dir`, until the process is stopped.
pub fn on_change(dir: &Path, mut check: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<()> {
    let dir = dir
        .canonicalize()
        .with_context(|| format!("cannot find {}", dir.display()))?;
    let (events_tx, events) = mpsc::channel();
    let mut watcher = notify::recommended_watcher(events_tx).context("cannot watch files")?;
    watcher
        .watch(&dir, RecursiveMode::Recursive)
        .with_context(|| format!("cannot watch {}", dir.display()))?;
    check()?;
    let mut debounce = Debounce::default();
    loop {
        match events.recv_timeout(debounce.wait(Instant::now(), QUIET)) {
            Ok(Ok(event)) => {
                let event: notify::Event = event;
                if !event.kind.is_access() && event.paths.iter().any(|p| relevant(p, &dir)) {
                    debounce.event(Instant::now());
                }
            }
            Ok(Err(e)) => return Err(e).context("watching files failed"),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
        }
        if debounce.take_due(Instant::now(), QUIET) {
            check()?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_and_manifests_count_temporaries_and_other_folders_do_not() {
        let dir = Path::new("/ws/exercises/04-mutex-deadlocks");
        assert!(relevant(&dir.join("src/lib.rs"), dir));
        assert!(relevant(&dir.join("tests/checks.rs"), dir));
        assert!(relevant(&dir.join("Cargo.toml"), dir));
        assert!(!relevant(&dir.join("src/lib.rs~"), dir));
        assert!(!relevant(&dir.join("src/.#lib.rs"), dir));
        assert!(!relevant(&dir.join("src/#lib.rs#"), dir));
        assert!(!relevant(&dir.join("src/.lib.rs.swp"), dir));
        assert!(!relevant(&dir.join("src/4913"), dir));
        assert!(!relevant(&dir.join("target/debug/build.rs"), dir));
        assert!(!relevant(Path::new("/ws/exercises/05-x/src/lib.rs"), dir));
    }

    #[test]
    fn a_burst_of_events_is_one_run_once_it_settles() {
        let (t0, quiet) = (Instant::now(), Duration::from_millis(300));
        let at = |ms| t0 + Duration::from_millis(ms);
        let mut debounce = Debounce::default();
        assert!(!debounce.take_due(at(0), quiet), "nothing happened yet");
        debounce.event(at(0));
        debounce.event(at(100));
        debounce.event(at(250));
        assert!(
            !debounce.take_due(at(400), quiet),
            "150 ms after the last event"
        );
        assert_eq!(debounce.wait(at(400), quiet), Duration::from_millis(150));
        assert!(debounce.take_due(at(550), quiet), "settled");
        assert!(!debounce.take_due(at(900), quiet), "one run per burst");
        debounce.event(at(1_000));
        assert!(
            debounce.take_due(at(1_300), quiet),
            "the next burst runs again"
        );
    }
}

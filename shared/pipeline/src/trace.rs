//! A hook for run-time recorders: each stage's work on a batch announces itself, so that a
//! recorder can see which OS thread did which stage's work, and when.
//!
//! This crate depends on nothing of the workshop's, so it only offers the hook:
//! `instruments::timeline` installs a function here when it first records, and the book's
//! diagrams (chapter 1: which worker thread ran which stage) are drawn from what it receives.
//! Until then, and whenever the installed function finds no recording under way, a stage pays
//! one atomic load per batch and nothing else happens: no behaviour depends on it.

use std::sync::OnceLock;

/// Told `(stage, true)` when a stage's work on a batch begins and `(stage, false)` when it ends.
pub type Hook = fn(stage: &'static str, begins: bool);

static HOOK: OnceLock<Hook> = OnceLock::new();

/// Installs the recorder's hook (the first one installed stays).
pub fn install(hook: Hook) {
    let _ = HOOK.set(hook);
}

/// A stage's work on one batch, from now until the guard is dropped.
pub fn work(stage: &'static str) -> Work {
    if let Some(hook) = HOOK.get() {
        hook(stage, true);
    }
    Work(stage)
}

/// Ends its stage's work when dropped.
#[must_use = "the work ends when this is dropped"]
pub struct Work(&'static str);

impl Drop for Work {
    fn drop(&mut self) {
        if let Some(hook) = HOOK.get() {
            hook(self.0, false);
        }
    }
}

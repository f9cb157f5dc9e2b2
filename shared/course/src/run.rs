//! `workshop run` for a chapter that is more than "call a variant": one with flags of its own
//! (`--faults`, `--sink`, `--checkpoint`/`--resume`, `--log`), or whose run can end without a
//! report (stopped by Ctrl-C) or with an exit status that is not 0 (not everything delivered).
//!
//! The chapter owns that logic, so the workshop never asks which chapter it is running: it
//! checks that each flag given is one the chapter declares, calls the chapter's
//! [`CustomRun`], and prints what comes back the same way for every chapter.

use std::fmt;
use std::path::Path;

use pipeline::{Config, Input, Report, Variant};

use crate::BoxError;

/// A flag of `workshop run` that only some chapters understand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunFlag {
    /// `--faults SEED`: run under a seeded fault plan.
    Faults,
    /// `--sink URL`: write the windows to PostgreSQL.
    Sink,
    /// `--checkpoint FILE`: where a stopped run's checkpoint goes.
    Checkpoint,
    /// `--resume`: carry on from a checkpoint.
    Resume,
    /// `--log LEVEL`: the chapter's tracing spans and events on stderr.
    Log,
}

impl RunFlag {
    pub fn spelling(self) -> &'static str {
        match self {
            RunFlag::Faults => "--faults",
            RunFlag::Sink => "--sink",
            RunFlag::Checkpoint => "--checkpoint",
            RunFlag::Resume => "--resume",
            RunFlag::Log => "--log",
        }
    }
}

impl fmt::Display for RunFlag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.spelling())
    }
}

/// One `workshop run`, as a chapter's [`CustomRun`] sees it.
pub struct RunRequest<'a> {
    pub variant: Variant,
    pub input: &'a Input,
    /// The input's path as the user gave it (a checkpoint goes next to it).
    pub input_path: &'a Path,
    pub cfg: &'a Config,
    pub faults: Option<u64>,
    pub sink: Option<&'a str>,
    pub checkpoint: Option<&'a Path>,
    pub resume: bool,
    /// The level `--log` asked for (already checked to be a valid tracing level).
    pub log: Option<&'a str>,
    /// Says a line to the user (stderr), before or during the run.
    pub say: &'a dyn Fn(&str),
}

/// How a custom run ended.
#[derive(Debug, Default)]
pub struct Ran {
    /// The report, printed or written like any run's; `None`: the run stopped before it had
    /// one.
    pub report: Option<Report>,
    /// Lines for stderr after the run's summary line.
    pub after: Vec<String>,
    /// A run that must not exit 0: the exit status and the last message.
    pub exit: Option<Exit>,
}

/// A run that finished (or stopped) and says so in its exit status.
#[derive(Debug)]
pub struct Exit {
    pub code: u8,
    pub message: String,
    /// The flags to add to this very command line to carry on (a resumable run), if any.
    pub rerun_with: Vec<String>,
}

impl Ran {
    /// A run that ended with a report and nothing more to say.
    pub fn report(report: Report) -> Ran {
        Ran {
            report: Some(report),
            ..Ran::default()
        }
    }
}

pub type CustomRun = fn(&RunRequest<'_>) -> Result<Ran, BoxError>;

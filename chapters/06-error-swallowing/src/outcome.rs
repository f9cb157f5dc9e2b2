//! What a run of this chapter's pipeline delivered: the report, how many windows the sink
//! really took, and the dead letters — the records and windows that failed, each with its
//! reason. "Nothing lost" means every line read is accepted or rejected and every window is
//! written or dead-lettered; anything else is a loss, and the fixed pipelines make it visible.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use instruments::SinkLedger;
use pipeline::{
    Aggregator, PipelineError, RejectReason, Rejection, Report, Sink, SinkTarget, WindowSummary,
    error_chain,
};

/// A record or a window that could not go where it should, with the reason.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DeadLetter {
    /// A reading whose look-up failed or panicked (a bad *line* is a plain rejection instead:
    /// there is nothing to retry about it).
    Record {
        line: u64,
        sensor_id: String,
        reason: String,
    },
    /// A window the sink refused.
    Window {
        sensor_id: String,
        window_start: i64,
        error: String,
    },
}

/// The run's result, failures included.
#[derive(Debug)]
pub struct Outcome {
    pub report: Report,
    /// Windows the sink really took (counted by the sink, not by the pipeline).
    pub windows_written: u64,
    pub dead_letters: Vec<DeadLetter>,
}

/// How many record dead letters [`Outcome::text`] shows (the dead-letter file has them all).
const SHOWN_RECORD_LETTERS: usize = 5;

/// What went missing: counted, not guessed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lost {
    /// Lines read that are neither accepted nor rejected.
    pub records: u64,
    /// Windows neither written nor dead-lettered.
    pub windows: u64,
}

impl Lost {
    pub fn nothing(&self) -> bool {
        self.records == 0 && self.windows == 0
    }
}

impl Outcome {
    pub fn lost(&self) -> Lost {
        let report = &self.report;
        let dead_windows = self
            .dead_letters
            .iter()
            .filter(|d| matches!(d, DeadLetter::Window { .. }))
            .count() as u64;
        Lost {
            records: report
                .lines_read()
                .saturating_sub(report.accepted() + report.rejected()),
            windows: (report.windows().len() as u64)
                .saturating_sub(self.windows_written + dead_windows),
        }
    }

    // ANCHOR: exit_code
    /// The process's exit code for this outcome: 0 only when everything was delivered. A run
    /// with dead letters lost nothing, but someone has to look at them: that is not a success
    /// a cron job should stay quiet about.
    pub fn exit_code(&self) -> i32 {
        match (self.lost().nothing(), self.dead_letters.is_empty()) {
            (true, true) => 0,
            (true, false) => 2,
            (false, _) => 3,
        }
    }
    // ANCHOR_END: exit_code

    /// The report, then the delivery: what the snapshot records.
    pub fn text(&self) -> String {
        let mut text = self.report.text().to_owned();
        let lost = self.lost();
        let _ = writeln!(
            text,
            "delivered        {} of {} windows written, {} dead letters, lost: {} records, {} windows",
            self.windows_written,
            self.report.windows().len(),
            self.dead_letters.len(),
            lost.records,
            lost.windows
        );
        // Every window letter (there are few), then the first record letters: the file has all.
        let windows = self
            .dead_letters
            .iter()
            .filter(|d| matches!(d, DeadLetter::Window { .. }));
        let records = self
            .dead_letters
            .iter()
            .filter(|d| matches!(d, DeadLetter::Record { .. }));
        for letter in windows.chain(records.take(SHOWN_RECORD_LETTERS)) {
            let json = serde_json::to_string(letter).unwrap_or_default();
            let _ = writeln!(text, "  dead letter: {json}");
        }
        text
    }

    /// Writes the dead letters as JSON lines.
    pub fn write_dead_letters(&self, path: &Path) -> Result<(), PipelineError> {
        let error = |source| PipelineError::WriteOutput {
            path: path.to_path_buf(),
            source,
        };
        let mut out = BufWriter::new(File::create(path).map_err(error)?);
        for letter in &self.dead_letters {
            serde_json::to_writer(&mut out, letter).map_err(|e| error(e.into()))?;
            out.write_all(b"\n").map_err(error)?;
        }
        out.flush().map_err(error)
    }
}

/// Where the dead letters of a run that writes `windows.jsonl` go: `windows.dead-letters.jsonl`.
pub fn dead_letter_path(sink: &SinkTarget) -> Option<PathBuf> {
    match sink {
        SinkTarget::JsonLines(path) => Some(path.with_extension("dead-letters.jsonl")),
        SinkTarget::ReportOnly => None,
    }
}

/// Rejections that are failures of the system rather than of the input: they go to the dead
/// letters, where they can be retried.
fn is_failure(rejection: &Rejection) -> bool {
    matches!(
        rejection.reason,
        RejectReason::RegistryFailed | RejectReason::LookupPanicked
    )
}

// ANCHOR: deliver_swallowing
/// BROKEN ON PURPOSE: `let _ =` on every write. A window the sink refused is gone, and the run
/// carries on as if it had been written.
pub fn deliver_swallowing(
    lines_read: u64,
    aggregator: Aggregator,
    mut sink: Box<dyn Sink>,
    ledger: &SinkLedger,
) -> Outcome {
    let (windows, tally) = aggregator.finish();
    for window in &windows {
        let _ = sink.write(window);
    }
    let _ = sink.finish();
    Outcome {
        report: Report::new(lines_read, tally, windows),
        windows_written: ledger.written(),
        dead_letters: Vec::new(),
    }
}
// ANCHOR_END: deliver_swallowing

// ANCHOR: deliver
/// FIXED: a window the sink refuses is dead-lettered with the error's whole chain, and so is
/// every reading whose look-up failed. A sink that cannot even `finish` is an error: then we
/// cannot say what was written.
pub fn deliver(
    lines_read: u64,
    aggregator: Aggregator,
    mut sink: Box<dyn Sink>,
    ledger: &SinkLedger,
    dead_letters_to: Option<&Path>,
) -> Result<Outcome, PipelineError> {
    let (windows, tally) = aggregator.finish();
    let mut dead_letters: Vec<DeadLetter> = tally
        .rejections
        .iter()
        .filter(|r| is_failure(r))
        .map(|r| DeadLetter::Record {
            line: r.line,
            sensor_id: r.excerpt.clone(),
            reason: r.reason.kind().to_owned(),
        })
        .collect();
    for window in &windows {
        if let Err(e) = sink.write(window) {
            dead_letters.push(window_letter(window, &e));
        }
    }
    sink.finish()?;
    let outcome = Outcome {
        report: Report::new(lines_read, tally, windows),
        windows_written: ledger.written(),
        dead_letters,
    };
    if let Some(path) = dead_letters_to {
        outcome.write_dead_letters(path)?;
    }
    Ok(outcome)
}
// ANCHOR_END: deliver

fn window_letter(window: &WindowSummary, error: &PipelineError) -> DeadLetter {
    DeadLetter::Window {
        sensor_id: window.sensor_id.clone(),
        window_start: window.window_start,
        error: error_chain(error),
    }
}

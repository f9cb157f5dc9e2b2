//! What a run of this chapter's pipeline delivered: the report, how many windows the sink
//! really took, and the dead letters — the records and windows that failed, each with its
//! reason. "Nothing lost" means every line read is accepted or rejected and every window is
//! written or dead-lettered; anything else is a loss, and the fixed pipelines make it visible.
//! The books can be off the other way too — a record accepted twice, a window written twice —
//! and that is counted apart, as invented: it is no more a success than a loss, and
//! subtracting with `saturating_sub` would have called it "lost: 0".

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

/// Records and windows, counted on one side of the books.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Count {
    pub records: u64,
    pub windows: u64,
}

impl Count {
    pub fn is_zero(&self) -> bool {
        self.records == 0 && self.windows == 0
    }
}

/// What does not add up, both ways: counted, not guessed.
///
/// Two counts rather than one signed difference, because they call for different fixes (a
/// dropped handle loses, a retried write that had succeeded duplicates), and kept apart per
/// kind so a lost window is not netted against an invented record. One limit, stated: counts
/// cannot see a lost record and a duplicated one *of the same kind* in the same run, which
/// cancel; the report's accepted digest can, and the tests compare it with the reference.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Unaccounted {
    /// Lines read that are neither accepted nor rejected; windows neither written nor
    /// dead-lettered.
    pub lost: Count,
    /// Accepted + rejected beyond the lines read; windows written or dead-lettered beyond the
    /// windows there are (duplicates, or records from nowhere).
    pub invented: Count,
}

impl Unaccounted {
    /// From what should be there and what is: the difference goes to one side or the other.
    fn between(expected: Count, found: Count) -> Self {
        let short = |expected: u64, found: u64| expected.saturating_sub(found);
        Unaccounted {
            lost: Count {
                records: short(expected.records, found.records),
                windows: short(expected.windows, found.windows),
            },
            invented: Count {
                records: short(found.records, expected.records),
                windows: short(found.windows, expected.windows),
            },
        }
    }

    /// True when every record and window is accounted for exactly once.
    pub fn nothing(&self) -> bool {
        self.lost.is_zero() && self.invented.is_zero()
    }
}

impl std::fmt::Display for Unaccounted {
    /// `lost: 0 records, 0 windows; invented: 0 records, 0 windows` — always both, so a reader
    /// (and a grep) sees the zero as well as the number.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Unaccounted { lost, invented } = self;
        write!(
            f,
            "lost: {} records, {} windows; invented: {} records, {} windows",
            lost.records, lost.windows, invented.records, invented.windows
        )
    }
}

impl Outcome {
    /// Every line read must be accepted or rejected once, every window written or
    /// dead-lettered once.
    pub fn unaccounted(&self) -> Unaccounted {
        let report = &self.report;
        let dead_windows = self
            .dead_letters
            .iter()
            .filter(|d| matches!(d, DeadLetter::Window { .. }))
            .count() as u64;
        Unaccounted::between(
            Count {
                records: report.lines_read(),
                windows: report.windows().len() as u64,
            },
            Count {
                records: report.accepted() + report.rejected(),
                windows: self.windows_written + dead_windows,
            },
        )
    }

    // ANCHOR: exit_code
    /// The process's exit code for this outcome: 0 only when everything was delivered. A run
    /// with dead letters lost nothing, but someone has to look at them: that is not a success
    /// a cron job should stay quiet about. 3 when the books do not balance either way: lost, or
    /// invented (a duplicate is as wrong as a loss).
    pub fn exit_code(&self) -> i32 {
        match (self.unaccounted().nothing(), self.dead_letters.is_empty()) {
            (true, true) => 0,
            (true, false) => 2,
            (false, _) => 3,
        }
    }
    // ANCHOR_END: exit_code

    /// The report, then the delivery: what the snapshot records.
    pub fn text(&self) -> String {
        let mut text = self.report.text().to_owned();
        let _ = writeln!(
            text,
            "delivered        {} of {} windows written, {} dead letters, {}",
            self.windows_written,
            self.report.windows().len(),
            self.dead_letters.len(),
            self.unaccounted()
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

#[cfg(test)]
mod tests {
    use super::*;
    use pipeline::{Field, Tally};

    fn window(window_start: i64) -> WindowSummary {
        WindowSummary {
            sensor_id: "s-0001".into(),
            site: "ridge".into(),
            window_start,
            count: 1,
            min: 1.0,
            max: 1.0,
            mean: 1.0,
            p95: 1.0,
        }
    }

    /// An outcome whose report read `lines_read` lines, accepted `accepted`, rejected the
    /// lines in `rejected` (a line twice is a duplicate), made `windows` windows and wrote
    /// `written` of them.
    fn outcome(
        lines_read: u64,
        accepted: u64,
        rejected: &[u64],
        windows: i64,
        written: u64,
    ) -> Outcome {
        let tally = Tally {
            accepted,
            accepted_digest: 0,
            rejections: rejected
                .iter()
                .map(|&line| Rejection {
                    line,
                    field: Field::Record,
                    reason: RejectReason::EmptyLine,
                    excerpt: String::new(),
                })
                .collect(),
        };
        let windows = (0..windows).map(|i| window(60 * i)).collect();
        Outcome {
            report: Report::new(lines_read, tally, windows),
            windows_written: written,
            dead_letters: Vec::new(),
        }
    }

    fn count(records: u64, windows: u64) -> Count {
        Count { records, windows }
    }

    #[test]
    fn everything_delivered_is_nothing_unaccounted_and_exit_0() {
        let clean = outcome(3, 2, &[3], 2, 2);
        assert!(clean.unaccounted().nothing());
        assert_eq!(clean.exit_code(), 0);
        assert!(
            clean
                .text()
                .contains("lost: 0 records, 0 windows; invented: 0 records, 0 windows"),
            "{}",
            clean.text()
        );
    }

    #[test]
    fn a_lost_record_and_window_are_lost_and_exit_3() {
        let lost = outcome(4, 2, &[3], 2, 1);
        assert_eq!(
            lost.unaccounted(),
            Unaccounted {
                lost: count(1, 1),
                invented: count(0, 0),
            }
        );
        assert_eq!(lost.exit_code(), 3);
        assert!(
            lost.text()
                .contains("lost: 1 records, 1 windows; invented: 0 records, 0 windows"),
            "{}",
            lost.text()
        );
    }

    /// What `saturating_sub` called "lost: 0": a line rejected twice, a window written twice.
    #[test]
    fn a_duplicated_record_and_window_are_invented_not_nothing_and_exit_3() {
        let duplicated = outcome(3, 2, &[3, 3], 2, 3);
        assert_eq!(
            duplicated.unaccounted(),
            Unaccounted {
                lost: count(0, 0),
                invented: count(1, 1),
            }
        );
        assert!(!duplicated.unaccounted().nothing());
        assert_eq!(duplicated.exit_code(), 3);
        assert!(
            duplicated
                .text()
                .contains("lost: 0 records, 0 windows; invented: 1 records, 1 windows"),
            "{}",
            duplicated.text()
        );
    }

    /// A lost record and a duplicated window (and the other way round) are both reported: one
    /// is not netted against the other.
    #[test]
    fn lost_and_invented_in_one_run_are_both_reported() {
        let both = outcome(5, 2, &[5], 2, 4);
        assert_eq!(
            both.unaccounted(),
            Unaccounted {
                lost: count(2, 0),
                invented: count(0, 2),
            }
        );
        assert_eq!(both.exit_code(), 3);
        let other_way = outcome(2, 2, &[2], 3, 1);
        assert_eq!(
            other_way.unaccounted(),
            Unaccounted {
                lost: count(0, 2),
                invented: count(1, 0),
            }
        );
        assert_eq!(
            other_way.unaccounted().to_string(),
            "lost: 0 records, 2 windows; invented: 1 records, 0 windows"
        );
    }

    #[test]
    fn dead_letters_with_nothing_unaccounted_exit_2_and_a_dead_window_counts_as_delivered() {
        let mut lettered = outcome(3, 2, &[3], 2, 1);
        lettered.dead_letters.push(DeadLetter::Window {
            sensor_id: "s-0001".into(),
            window_start: 60,
            error: "refused".into(),
        });
        assert!(
            lettered.unaccounted().nothing(),
            "{}",
            lettered.unaccounted()
        );
        assert_eq!(lettered.exit_code(), 2);
    }
}

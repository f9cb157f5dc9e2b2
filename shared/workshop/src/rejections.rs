//! What `run` says about the lines it rejected: the first few on stderr, every one in a file
//! with `--rejections FILE`, and the exit status.
//!
//! The report counts every rejected line by reason and quotes the first few; the report keeps
//! them all ([`pipeline::Report::rejections`]), so the file can hold every one without the
//! report's text changing.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use pipeline::{Input, Rejection, Report};

use course::text::group_digits;

/// How many rejected lines `run` lists on stderr (the file has them all).
const SHOWN: usize = 10;

/// `run`'s exit status, the same for every chapter. A chapter's own status (chapter 6's
/// delivery, chapter 7's Ctrl-C) wins over the rejection statuses, which are about the input.
pub const EXIT_STATUS_HELP: &str = "\
Exit status of `run` (the same for every chapter):
  0    finished; every line accepted
  1    an error: nothing ran, or the run failed (no output file is left behind)
  2    a usage error; chapter 6 with --faults: delivered, with dead letters to look at
  3    chapter 6 with --faults: records or windows lost
  4    finished; some lines rejected (all of them: --rejections FILE)
  5    finished, but no line accepted (every line rejected, or an empty input), or more
       lines rejected than --max-rejected N
  130  chapter 7: stopped by Ctrl-C, checkpoint written
  141  standard output closed by its reader (`| head`): the run ends quietly
A chapter's own status (2, 3, 130) wins over 4 and 5. The report and the output files of a
run that exits 4 or 5 are written: they say what was rejected and why.";

/// Some lines were rejected, within the limit.
pub const SOME_REJECTED: u8 = 4;
/// No line was accepted, or more than `--max-rejected` were rejected.
pub const TOO_MANY_REJECTED: u8 = 5;

/// The exit status and last line for a run's rejections: `None` for a clean run.
pub fn status(report: &Report, max_rejected: Option<u64>) -> Option<(u8, String)> {
    let rejected = report.rejected();
    if report.accepted() == 0 {
        let why = if report.lines_read() == 0 {
            "the input has no lines".to_owned()
        } else {
            format!(
                "all {} lines were rejected",
                group_digits(report.lines_read())
            )
        };
        return Some((TOO_MANY_REJECTED, format!("no line accepted: {why}")));
    }
    if let Some(max) = max_rejected.filter(|max| rejected > *max) {
        return Some((
            TOO_MANY_REJECTED,
            format!(
                "{} lines rejected, more than --max-rejected {}",
                group_digits(rejected),
                group_digits(max)
            ),
        ));
    }
    (rejected > 0).then(|| {
        (
            SOME_REJECTED,
            format!(
                "{} of {} lines rejected (exit status {SOME_REJECTED}: see `run --help`)",
                group_digits(rejected),
                group_digits(report.lines_read())
            ),
        )
    })
}

/// Lists the first rejected lines as `file:line: field: reason: "text"`, like a compiler.
pub fn print_first(input: &Input, report: &Report, written_to: Option<&Path>) {
    for rejection in report.rejections().iter().take(SHOWN) {
        // `Rejection` displays as "line N: ..."; make it "file:N: ...".
        let text = rejection.to_string();
        let rest = text
            .split_once(": ")
            .map_or(text.as_str(), |(_, rest)| rest);
        eprintln!("{}:{}: {rest}", input.name(), rejection.line);
    }
    let more = report.rejections().len().saturating_sub(SHOWN);
    if more > 0 {
        let all = written_to.map_or_else(
            || "pass --rejections FILE for every one".to_owned(),
            |path| format!("every one is in {}", path.display()),
        );
        eprintln!(
            "… and {} more rejected lines ({all})",
            group_digits(more as u64)
        );
    }
}

/// One rejected line, as a line of `--rejections FILE`.
#[derive(serde::Serialize)]
struct Line<'a> {
    line: u64,
    field: String,
    /// The stable label the report counts by.
    kind: &'static str,
    reason: String,
    excerpt: &'a str,
}

impl<'a> From<&'a Rejection> for Line<'a> {
    fn from(r: &'a Rejection) -> Self {
        Line {
            line: r.line,
            field: r.field.to_string(),
            kind: r.reason.kind(),
            reason: r.reason.to_string(),
            excerpt: &r.excerpt,
        }
    }
}

/// Writes every rejected line as JSON lines, in line order.
pub fn write_all(path: &Path, report: &Report) -> anyhow::Result<()> {
    let cannot = || format!("cannot write --rejections {}", path.display());
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).with_context(cannot)?);
    for rejection in report.rejections() {
        serde_json::to_writer(&mut out, &Line::from(rejection)).with_context(cannot)?;
        out.write_all(b"\n").with_context(cannot)?;
    }
    out.flush().with_context(cannot)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipeline::{Config, run_sequential};

    fn report(text: &str) -> Report {
        run_sequential(&Input::from_text("t", text), &Config::default()).unwrap()
    }

    #[test]
    fn the_status_tells_clean_some_rejected_and_nothing_accepted_apart() {
        let good = "s-0001,1700000000,1.5\n";
        assert_eq!(status(&report(good), None), None);
        let some = report(&format!("{good}oops\n"));
        assert_eq!(status(&some, None).unwrap().0, SOME_REJECTED);
        assert_eq!(status(&some, Some(1)).unwrap().0, SOME_REJECTED);
        let (code, said) = status(&some, Some(0)).unwrap();
        assert_eq!(code, TOO_MANY_REJECTED);
        assert_eq!(said, "1 lines rejected, more than --max-rejected 0");
        let (code, said) = status(&report("oops\nsensor_id,timestamp,value\n"), None).unwrap();
        assert_eq!(
            (code, said.as_str()),
            (
                TOO_MANY_REJECTED,
                "no line accepted: all 2 lines were rejected"
            )
        );
        let (code, said) = status(&report(""), None).unwrap();
        assert_eq!(
            (code, said.as_str()),
            (
                TOO_MANY_REJECTED,
                "no line accepted: the input has no lines"
            )
        );
    }

    #[test]
    fn every_rejected_line_is_written_with_line_field_reason_and_excerpt() {
        let text: String = (0..25).map(|i| format!("bad{i}\n")).collect();
        let report = report(&format!("s-0001,1700000000,x\n{text}"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rejections.jsonl");
        write_all(&path, &report).unwrap();
        let written = std::fs::read_to_string(&path).unwrap();
        assert_eq!(written.lines().count(), 26);
        assert_eq!(
            written.lines().next().unwrap(),
            r#"{"line":1,"field":"value","kind":"value not a number","reason":"not a number","excerpt":"x"}"#
        );
        assert!(written.lines().last().unwrap().contains(r#""line":26"#));
    }
}

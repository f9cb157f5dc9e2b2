//! The canonical report of a run: the one artefact every variant must reproduce to the byte.
//!
//! It holds only what the *data* determines: counts, rejection reasons, the window aggregates,
//! digests and a checksum. The table prints windows to three decimals for a reader; the windows
//! digest covers every field of every window bit for bit, so a difference the table rounds away
//! (one ulp of one mean) still changes the text, and with it the checksum. No timings, thread names or arrival order — anything that depends on
//! scheduling would make the four variants differ for reasons that are not bugs.

use std::fmt::{self, Write as _};
use std::hash::Hasher;

use fnv::FnvHasher;

use crate::reading::{RejectReason, Rejection};
use crate::window::{Tally, WindowSummary};

/// How many rejected lines the report quotes (all of them are counted).
pub const REJECTION_EXAMPLES: usize = 5;

/// The result of a run. Build it with [`Report::new`]; compare reports by their text.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    lines_read: u64,
    accepted: u64,
    accepted_digest: u64,
    rejections: Vec<Rejection>,
    windows: Vec<WindowSummary>,
    text: String,
    checksum: u64,
}

impl Report {
    /// `lines_read` comes from the source, `tally` from the aggregate stage and `windows` from
    /// what the sink actually wrote, so a record lost between any two stages shows up as an
    /// imbalance.
    pub fn new(lines_read: u64, tally: Tally, windows: Vec<WindowSummary>) -> Self {
        let mut rejections = tally.rejections;
        rejections.sort_by_key(|r| r.line);
        let mut report = Report {
            lines_read,
            accepted: tally.accepted,
            accepted_digest: tally.accepted_digest,
            rejections,
            windows,
            text: String::new(),
            checksum: 0,
        };
        let body = report.render_body();
        let mut h = FnvHasher::default();
        h.write(body.as_bytes());
        report.checksum = h.finish();
        report.text = format!("{body}checksum         {:#018x}\n", report.checksum);
        report
    }

    pub fn lines_read(&self) -> u64 {
        self.lines_read
    }

    pub fn accepted(&self) -> u64 {
        self.accepted
    }

    pub fn rejected(&self) -> u64 {
        self.rejections.len() as u64
    }

    /// Every rejected line, sorted by line number.
    pub fn rejections(&self) -> &[Rejection] {
        &self.rejections
    }

    pub fn windows(&self) -> &[WindowSummary] {
        &self.windows
    }

    /// How many accepted records the windows hold.
    pub fn records_in_windows(&self) -> u64 {
        self.windows.iter().map(|w| w.count).sum()
    }

    /// True when nothing was lost or invented: lines read = accepted + rejected, and the windows
    /// hold exactly the accepted records.
    pub fn is_balanced(&self) -> bool {
        self.lines_read == self.accepted + self.rejected()
            && self.records_in_windows() == self.accepted
    }

    /// FNV-1a 64 of the report text above the checksum line.
    pub fn checksum(&self) -> u64 {
        self.checksum
    }

    /// The canonical text (also what `Display` prints).
    pub fn text(&self) -> &str {
        &self.text
    }

    fn render_body(&self) -> String {
        let mut out = String::new();
        // `write!` to a String cannot fail.
        let w = &mut out;
        let _ = writeln!(w, "sensor pipeline report (format 1)");
        let _ = writeln!(w, "lines read       {}", self.lines_read);
        let _ = writeln!(w, "accepted         {}", self.accepted);
        let _ = writeln!(w, "rejected         {}", self.rejected());
        let _ = writeln!(w, "windows hold     {}", self.records_in_windows());
        let _ = writeln!(w, "balance          {}", self.balance());
        let _ = writeln!(w, "rejected by reason");
        for reason in RejectReason::ALL {
            let n = self
                .rejections
                .iter()
                .filter(|r| r.reason.kind() == reason.kind())
                .count();
            let _ = writeln!(w, "  {:<28}{n:>8}", reason.kind());
        }
        let shown = self.rejections.len().min(REJECTION_EXAMPLES);
        let _ = writeln!(
            w,
            "first rejected lines ({shown} of {})",
            self.rejections.len()
        );
        for rejection in &self.rejections[..shown] {
            let _ = writeln!(w, "  {rejection}");
        }
        let _ = writeln!(w, "windows          {}", self.windows.len());
        let _ = writeln!(
            w,
            "  {:<10} {:<12} {:>12} {:>6} {:>14} {:>14} {:>14} {:>14}",
            "sensor", "site", "window_start", "count", "min", "max", "mean", "p95"
        );
        for s in &self.windows {
            let _ = writeln!(
                w,
                "  {:<10} {:<12} {:>12} {:>6} {:>14.3} {:>14.3} {:>14.3} {:>14.3}",
                s.sensor_id, s.site, s.window_start, s.count, s.min, s.max, s.mean, s.p95
            );
        }
        let _ = writeln!(
            w,
            "digests          accepted {:#018x}  rejected {:#018x}",
            self.accepted_digest,
            rejected_digest(&self.rejections)
        );
        let _ = writeln!(
            w,
            "windows digest   {:#018x}",
            windows_digest(&self.windows)
        );
        out
    }

    fn balance(&self) -> String {
        let accounted = self.accepted + self.rejected();
        let in_windows = self.records_in_windows();
        if self.is_balanced() {
            "ok: lines read = accepted + rejected; windows hold every accepted record".into()
        } else if self.lines_read != accounted {
            format!(
                "MISMATCH: lines read {} but accepted + rejected = {accounted} ({:+})",
                self.lines_read,
                accounted as i128 - self.lines_read as i128
            )
        } else {
            format!(
                "MISMATCH: {} records accepted but the windows hold {in_windows} ({:+})",
                self.accepted,
                in_windows as i128 - self.accepted as i128
            )
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A digest of the rejections, in line order: which lines were rejected, where and why.
fn rejected_digest(rejections: &[Rejection]) -> u64 {
    let mut h = FnvHasher::default();
    for r in rejections {
        h.write(&r.line.to_le_bytes());
        h.write(&[r.field as u8, r.reason.ordinal() as u8]);
        h.write(r.excerpt.as_bytes());
        h.write(&[0xff]);
    }
    h.finish()
}

/// A digest of the windows, in report order (sensor, then window start), over every field,
/// floats by their bits: the table's three decimals are for reading, this is for comparing.
fn windows_digest(windows: &[WindowSummary]) -> u64 {
    let mut h = FnvHasher::default();
    for window in windows {
        // Destructured, not read field by field: a field added to `WindowSummary` does not
        // compile here until it is hashed too.
        let WindowSummary {
            sensor_id,
            site,
            window_start,
            count,
            min,
            max,
            mean,
            p95,
        } = window;
        for text in [sensor_id, site] {
            h.write(text.as_bytes());
            h.write(&[0xff]);
        }
        h.write(&window_start.to_le_bytes());
        h.write(&count.to_le_bytes());
        for value in [min, max, mean, p95] {
            h.write(&value.to_bits().to_le_bytes());
        }
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reading::{Field, RejectReason};

    fn window(count: u64) -> WindowSummary {
        WindowSummary {
            sensor_id: "s-0001".into(),
            site: "ridge".into(),
            window_start: 60,
            count,
            min: 1.0,
            max: 2.0,
            mean: 1.5,
            p95: 2.0,
        }
    }

    fn tally(accepted: u64, rejected: u64) -> Tally {
        Tally {
            accepted,
            accepted_digest: 42,
            rejections: (0..rejected)
                .map(|i| Rejection {
                    line: 100 - i,
                    field: Field::Record,
                    reason: RejectReason::EmptyLine,
                    excerpt: String::new(),
                })
                .collect(),
        }
    }

    #[test]
    fn a_balanced_report_says_ok_and_lists_rejections_in_line_order() {
        let report = Report::new(5, tally(2, 3), vec![window(2)]);
        assert!(report.is_balanced());
        assert!(report.text().contains("balance          ok"));
        let lines: Vec<u64> = report.rejections().iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![98, 99, 100]);
        assert!(
            report
                .text()
                .ends_with(&format!("{:#018x}\n", report.checksum()))
        );
    }

    #[test]
    fn a_lost_line_is_a_mismatch() {
        let report = Report::new(6, tally(2, 3), vec![window(2)]);
        assert!(!report.is_balanced());
        assert!(
            report
                .text()
                .contains("MISMATCH: lines read 6 but accepted + rejected = 5 (-1)"),
            "{report}"
        );
    }

    #[test]
    fn a_lost_window_is_a_mismatch() {
        let report = Report::new(5, tally(2, 3), vec![]);
        assert!(!report.is_balanced());
        assert!(
            report
                .text()
                .contains("MISMATCH: 2 records accepted but the windows hold 0 (-2)"),
            "{report}"
        );
    }

    #[test]
    fn the_checksum_covers_the_text() {
        let a = Report::new(5, tally(2, 3), vec![window(2)]);
        let mut other = window(2);
        other.max = 2.5;
        let b = Report::new(5, tally(2, 3), vec![other]);
        assert_ne!(a.checksum(), b.checksum());
    }

    /// One ulp of one window's mean is far below the printed three decimals: the windows digest
    /// still changes, so the text (and the checksum) does.
    #[test]
    fn one_ulp_of_one_mean_changes_the_text() {
        let windows = vec![window(1), window(1)];
        let a = Report::new(5, tally(2, 3), windows.clone());
        type Field = fn(&mut WindowSummary) -> &mut f64;
        let fields: [(&str, Field); 4] = [
            ("mean", |w| &mut w.mean),
            ("min", |w| &mut w.min),
            ("max", |w| &mut w.max),
            ("p95", |w| &mut w.p95),
        ];
        for (field, value_of) in fields {
            let mut changed = windows.clone();
            let value = value_of(&mut changed[1]);
            *value = f64::from_bits(value.to_bits() + 1);
            let b = Report::new(5, tally(2, 3), changed);
            assert_ne!(a.text(), b.text(), "field {field}");
            assert_ne!(a.checksum(), b.checksum(), "field {field}");
            let differing: Vec<(&str, &str)> = a
                .text()
                .lines()
                .zip(b.text().lines())
                .filter(|(x, y)| x != y)
                .collect();
            assert_eq!(
                differing.len(),
                2,
                "the digest and checksum lines: {differing:?}"
            );
            assert!(
                differing[0].0.starts_with("windows digest"),
                "{differing:?}"
            );
            assert!(differing[1].0.starts_with("checksum"), "{differing:?}");
        }
    }

    #[test]
    fn the_windows_digest_sees_every_key_the_count_and_the_order() {
        let base = vec![window(1), window(2)];
        let digest = windows_digest(&base);
        // (the four floats: `one_ulp_of_one_mean_changes_the_text`)
        let changes: [fn(&mut WindowSummary); 4] = [
            |w| w.sensor_id.push('x'),
            |w| w.site.push('x'),
            |w| w.window_start += 60,
            |w| w.count += 1,
        ];
        for (i, change) in changes.iter().enumerate() {
            let mut changed = base.clone();
            change(&mut changed[0]);
            assert_ne!(windows_digest(&changed), digest, "change {i}");
        }
        let swapped = vec![base[1].clone(), base[0].clone()];
        assert_ne!(windows_digest(&swapped), digest, "order");
        // the boundary between sensor and site is hashed: ("s-0001", "ridge") is not ("s-0001r", "idge")
        let mut moved = base.clone();
        moved[0].sensor_id.push('r');
        moved[0].site.remove(0);
        assert_ne!(windows_digest(&moved), digest, "boundary");
    }
}

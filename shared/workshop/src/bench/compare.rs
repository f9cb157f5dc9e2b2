//! `bench --compare OLD NEW`: which cells of two runs' tables moved by more than their spread.
//!
//! A cell's figure is its first number with its unit ("1.23 M/s ±4%" is 1.23 million, give or
//! take 4%). Two cells differ when the figures are further apart than the two spreads added:
//! each run could have landed anywhere in its own range. Cells without a spread (one run) are
//! counted but not judged: nobody knows how far they could move on their own.
//!
//! `--mark` is for two full runs of the same code, the second one the book's: a cell of NEW
//! whose figure is more than [`AGREE_PERCENT`] away from the same cell of OLD gets a ‡, and the
//! file says what ‡ means, with OLD's commit. The book's prose leans only on cells without one
//! (and without a †, the mark for runs that strayed within one run).

use std::path::Path;

use anyhow::Context;

/// A figure read from a cell: its value in base units and its spread in % (if the cell has one).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Figure {
    pub value: f64,
    pub spread: Option<f64>,
}

/// Reads a cell's first figure: "1.23 M/s ±4%", "310.5 k/s", "6.1 ms ±2%†", "1387 B".
pub fn figure(cell: &str) -> Option<Figure> {
    let start = cell.find(|c: char| c.is_ascii_digit())?;
    let rest = &cell[start..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let mut value: f64 = rest[..end].parse().ok()?;
    let after = rest[end..].trim_start();
    let unit = after
        .split(|c: char| c.is_whitespace() || c == '/')
        .next()?;
    value *= match unit {
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "ms" => 1e-3,
        "µs" => 1e-6,
        "ns" => 1e-9,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        _ => 1.0,
    };
    let spread = cell.find('±').and_then(|i| {
        let s = &cell[i + '±'.len_utf8()..];
        let end = s.find('%')?;
        s[..end].trim().parse().ok()
    });
    Some(Figure { value, spread })
}

/// What happened to one cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Moved by more than the two spreads: (change in %, the two spreads added).
    Moved { percent: f64, allowed: f64 },
    /// Within the spreads.
    Same,
    /// One side has no spread: not judged.
    Unjudged,
}

/// Compares two cells.
pub fn change(old: &Figure, new: &Figure) -> Change {
    let (Some(a), Some(b)) = (old.spread, new.spread) else {
        return Change::Unjudged;
    };
    if old.value == 0.0 {
        return Change::Unjudged;
    }
    let percent = (new.value - old.value) / old.value.abs() * 100.0;
    let allowed = a + b;
    if percent.abs() > allowed {
        Change::Moved { percent, allowed }
    } else {
        Change::Same
    }
}

/// How far apart (in %) the same cell of two full runs may be and still agree.
pub const AGREE_PERCENT: f64 = 10.0;

/// The goals table's first column: its cells are not marked.
const GOALS_HEADER: &str = "the lab's goal";

/// The mark for a cell two full runs disagree on.
pub const DISAGREE: &str = "‡";

/// Whether two runs' figures for one cell are more than [`AGREE_PERCENT`] apart (spreads
/// aside: the goal is that two runs agree, not that each is steady).
pub fn disagree(old: &Figure, new: &Figure) -> bool {
    if old.value == 0.0 && new.value == 0.0 {
        return false;
    }
    let base = old.value.abs().max(f64::MIN_POSITIVE);
    ((new.value - old.value) / base * 100.0).abs() > AGREE_PERCENT
}

/// The tables of a markdown file: rows of cells, header first.
fn tables(text: &str) -> Vec<Vec<Vec<String>>> {
    let mut out: Vec<Vec<Vec<String>>> = Vec::new();
    let mut current: Vec<Vec<String>> = Vec::new();
    for line in text.lines() {
        if line.starts_with('|') {
            let cells = split_row(line);
            if !cells.iter().all(|c| c.chars().all(|ch| ch == '-')) {
                current.push(cells);
            }
        } else if !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Whether a cell names its row rather than measures: words, a whole number (a C, a batch
/// size), a latency asked for ("50 ms").
fn is_label(cell: &str) -> bool {
    if cell.contains('±') {
        return false;
    }
    let number = cell.strip_suffix(" ms").unwrap_or(cell);
    !cell.starts_with(|c: char| c.is_ascii_digit()) || number.chars().all(|c| c.is_ascii_digit())
}

/// Compares the tables of two markdown texts: one line per moved cell, and the counts.
pub fn compare_text(file: &str, old: &str, new: &str) -> (Vec<String>, Counts) {
    let mut lines = Vec::new();
    let mut counts = Counts::default();
    for (t, (old, new)) in tables(old).iter().zip(tables(new).iter()).enumerate() {
        let (Some(header), Some(new_header)) = (old.first(), new.first()) else {
            continue;
        };
        if header != new_header {
            lines.push(format!("{file}, table {}: the columns differ", t + 1));
            continue;
        }
        // Rows are matched by their labels (the leading cells that are not a rate, a share or
        // a spread: a transport, a latency, a C), so a quick run's rows meet the same rows of
        // a full run.
        for new_row in new.iter().skip(1) {
            let Some(old_row) = old.iter().skip(1).find(|r| key(r) == key(new_row)) else {
                continue;
            };
            // The label columns name the row; the rest are compared.
            let labels = key(new_row).len().max(1);
            for (column, (a, b)) in header.iter().zip(old_row.iter().zip(new_row)).skip(labels) {
                let (Some(fa), Some(fb)) = (figure(a), figure(b)) else {
                    continue;
                };
                match change(&fa, &fb) {
                    Change::Moved { percent, allowed } => {
                        counts.moved += 1;
                        lines.push(format!(
                            "{file}, table {}, row \"{}\", {column}: {a} → {b} ({percent:+.0}%, \
                             more than the spreads' ±{allowed:.0}%)",
                            t + 1,
                            key(new_row).join(" / ")
                        ));
                    }
                    Change::Same => counts.same += 1,
                    Change::Unjudged => counts.unjudged += 1,
                }
            }
        }
    }
    (lines, counts)
}

/// The row key: the leading cells that are not a rate, a share or a spread (a transport, a
/// latency, a C), at most three.
fn key(row: &[String]) -> Vec<String> {
    row.iter()
        .take_while(|c| is_label(c))
        .take(3)
        .cloned()
        .collect()
}

fn split_row(line: &str) -> Vec<String> {
    line.trim()
        .trim_matches('|')
        .split(" | ")
        .map(|c| c.trim().to_string())
        .collect()
}

/// NEW's text with a [`DISAGREE`] mark on every cell more than [`AGREE_PERCENT`] away from
/// OLD's, and a line saying what the mark means (naming `other`, OLD's run) if any is; and
/// how many are (marked now or before: marking twice changes nothing), of how many compared.
pub fn mark_text(old: &str, new: &str, other: &str) -> (String, usize, usize) {
    let old_tables = tables(old);
    let (mut marked, mut compared) = (0, 0);
    let mut out = String::new();
    let mut table = 0;
    let mut header: Option<Vec<String>> = None;
    for line in new.lines() {
        if !line.starts_with('|') {
            if header.take().is_some() {
                table += 1;
            }
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let cells = split_row(line);
        if cells.iter().all(|c| c.chars().all(|ch| ch == '-')) {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let Some(columns) = &header else {
            header = Some(cells);
            out.push_str(line);
            out.push('\n');
            continue;
        };
        // The goals judge this run; their figures are not a measurement to reproduce.
        if columns.first().map(String::as_str) == Some(GOALS_HEADER) {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let old_row = old_tables
            .get(table)
            .filter(|t| t.first() == Some(columns))
            .and_then(|t| t.iter().skip(1).find(|r| key(r) == key(&cells)));
        let Some(old_row) = old_row else {
            out.push_str(line);
            out.push('\n');
            continue;
        };
        let labels = key(&cells).len().max(1);
        let mut row = cells.clone();
        for (i, (a, b)) in old_row.iter().zip(&cells).enumerate().skip(labels) {
            let (Some(fa), Some(fb)) = (figure(a), figure(b)) else {
                continue;
            };
            compared += 1;
            if disagree(&fa, &fb) {
                marked += 1;
                if !b.ends_with(DISAGREE) {
                    row[i] = format!("{b} {DISAGREE}");
                }
            }
        }
        out.push_str(&format!("| {} |\n", row.join(" | ")));
    }
    let legend = format!("\n{DISAGREE}: this cell and the same cell of a second full run");
    if marked > 0 && !out.contains(&legend) {
        out.push_str(&format!(
            "{legend} ({other}) are more than {AGREE_PERCENT:.0}% apart: the figure does not \
             reproduce; do not lean on it.\n"
        ));
    }
    (out, marked, compared)
}

/// Marks every markdown file of `new` against the same file of `old` ([`mark_text`]), the
/// checklist's sentences as the summary's cells, and fills in the summary's agreement goal;
/// returns the report's lines. Marking twice changes nothing.
pub fn mark_dirs(old: &Path, new: &Path) -> anyhow::Result<Vec<String>> {
    let mut lines = Vec::new();
    let (mut marked, mut compared) = (0, 0);
    for name in markdown_files(new)? {
        let Ok(old_text) = std::fs::read_to_string(old.join(&name)) else {
            lines.push(format!("{name}: only in {}, not marked", new.display()));
            continue;
        };
        let path = new.join(&name);
        let new_text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let other = provenance_of(&old_text).unwrap_or_else(|| old.display().to_string());
        let (text, m, c) = mark_text(&old_text, &new_text, &other);
        if text != new_text {
            std::fs::write(&path, &text).with_context(|| format!("writing {}", path.display()))?;
            // The marked file must still pass the check its run passed.
            if name == "checklist.md" {
                super::checklist::check(&path)?;
            } else {
                super::doc::check_markdown(&path)?;
            }
        }
        if m > 0 {
            lines.push(format!("{name}: {m} of {c} cell(s) marked {DISAGREE}"));
        }
        marked += m;
        compared += c;
    }
    lines.push(format!(
        "{marked} of {compared} cell(s) are more than {AGREE_PERCENT:.0}% away from the other \
         run's and are marked {DISAGREE}."
    ));
    // The checklist says the summary's figures in sentences: the same marks.
    let (summary, checklist) = (new.join("summary.md"), new.join("checklist.md"));
    if let (Ok(summary_text), Ok(checklist_text)) = (
        std::fs::read_to_string(&summary),
        std::fs::read_to_string(&checklist),
    ) {
        let (text, m) = super::checklist::mark(&checklist_text, &summary_text, DISAGREE);
        if m > 0 {
            let legend = format!(
                "\n{DISAGREE}: this figure and the same figure of a second full run (named in \
                 summary.md) are more than {AGREE_PERCENT:.0}% apart: do not lean on it.\n"
            );
            let text = if text.contains(&legend) {
                text
            } else {
                text + &legend
            };
            std::fs::write(&checklist, text)
                .with_context(|| format!("writing {}", checklist.display()))?;
            super::checklist::check(&checklist)?;
            lines.push(format!("checklist.md: {m} figure(s) marked {DISAGREE}"));
        }
    }
    // The summary's goal that two full runs agree: now it is known.
    if let Ok(text) = std::fs::read_to_string(&summary) {
        let other = std::fs::read_to_string(old.join("summary.md"))
            .ok()
            .and_then(|t| provenance_of(&t))
            .unwrap_or_else(|| old.display().to_string());
        let row = super::goals::agreement_row(marked, compared, &other);
        let prefix = format!("| {}", super::goals::AGREEMENT);
        if text.lines().any(|l| l.starts_with(&prefix)) {
            let updated: String = text
                .lines()
                .map(|l| {
                    if l.starts_with(&prefix) {
                        row.as_str()
                    } else {
                        l
                    }
                })
                .flat_map(|l| [l, "\n"])
                .collect();
            std::fs::write(&summary, updated)
                .with_context(|| format!("writing {}", summary.display()))?;
            super::doc::check_markdown(&summary)?;
            lines.push(format!(
                "summary.md: the agreement goal's row filled in: {row}"
            ));
        }
    }
    Ok(lines)
}

/// The commit and date a generated file's header names ("commit `abc`, 2026-12-05").
fn provenance_of(text: &str) -> Option<String> {
    let commit = text
        .lines()
        .find_map(|l| l.split("Commit `").nth(1)?.split('`').next())?;
    let date = text.lines().find_map(|l| {
        l.rsplit(" · ")
            .next()
            .filter(|d| d.len() == 10 && d.starts_with("20"))
    });
    Some(match date {
        Some(date) => format!("commit `{commit}`, {date}"),
        None => format!("commit `{commit}`"),
    })
}

fn markdown_files(dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".md"))
        .collect();
    names.sort();
    Ok(names)
}

/// How many cells moved, stayed within their spreads, or could not be judged.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub moved: usize,
    pub same: usize,
    pub unjudged: usize,
}

/// Compares every markdown file the two directories share; returns the report's lines.
pub fn compare_dirs(old: &Path, new: &Path) -> anyhow::Result<Vec<String>> {
    let mut lines = Vec::new();
    let mut total = Counts::default();
    for name in markdown_files(new)? {
        let Ok(old_text) = std::fs::read_to_string(old.join(&name)) else {
            lines.push(format!("{name}: only in {}", new.display()));
            continue;
        };
        let new_text = std::fs::read_to_string(new.join(&name))
            .with_context(|| format!("reading {}", new.join(&name).display()))?;
        let (moved, counts) = compare_text(&name, &old_text, &new_text);
        lines.extend(moved);
        total.moved += counts.moved;
        total.same += counts.same;
        total.unjudged += counts.unjudged;
    }
    lines.push(format!(
        "{} cell(s) moved by more than their spread, {} stayed within it, {} had no spread \
         (one run) and were not judged.",
        total.moved, total.same, total.unjudged
    ));
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_gives_its_figure_in_base_units_and_its_spread() {
        let f = figure("1.23 M/s ±4% (98%)").unwrap();
        assert!((f.value - 1.23e6).abs() < 1e-6);
        assert_eq!(f.spread, Some(4.0));
        let f = figure("6.1 ms ±12%†").unwrap();
        assert!((f.value - 6.1e-3).abs() < 1e-12, "{f:?}");
        assert_eq!(f.spread, Some(12.0));
        assert_eq!(figure("310.5 k/s").unwrap().spread, None);
        assert_eq!(figure("—"), None);
        assert_eq!(figure("1387 B").unwrap().value, 1387.0);
        for label in [
            "in-process",
            "50 ms",
            "4096",
            "an OS thread",
            "records/s, batches of 1024",
        ] {
            assert!(is_label(label), "{label}");
        }
        for measured in ["10.5 KiB", "6.1 ms", "98%", "1.0 k/s", "client 9% ±5%"] {
            assert!(!is_label(measured), "{measured}");
        }
    }

    #[test]
    fn a_change_counts_only_beyond_both_spreads() {
        let at = |value, spread| Figure {
            value,
            spread: Some(spread),
        };
        assert_eq!(change(&at(100.0, 3.0), &at(104.0, 2.0)), Change::Same);
        assert_eq!(
            change(&at(100.0, 3.0), &at(110.0, 2.0)),
            Change::Moved {
                percent: 10.0,
                allowed: 5.0
            }
        );
        let one_run = Figure {
            value: 50.0,
            spread: None,
        };
        assert_eq!(change(&one_run, &at(100.0, 1.0)), Change::Unjudged);
    }

    #[test]
    fn two_files_are_compared_cell_by_cell() {
        let old = "> header\n\n| C | sync | tokio |\n| --- | --- | --- |\n| 16 | 300/s ±2% | 310/s ±1% |\n| 256 | 1.00 k/s | 4.0 k/s ±3% |\n";
        let new = "> header\n\n| C | sync | tokio |\n| --- | --- | --- |\n| 16 | 330/s ±2% | 312/s ±1% |\n| 256 | 2.00 k/s | 4.1 k/s ±3% |\n";
        let (lines, counts) = compare_text("fan-out.md", old, new);
        assert_eq!(
            counts,
            Counts {
                moved: 1,
                same: 2,
                unjudged: 1
            }
        );
        assert_eq!(
            lines,
            [
                "fan-out.md, table 1, row \"16\", sync: 300/s ±2% → 330/s ±2% (+10%, more than \
                 the spreads' ±4%)"
            ]
        );
    }

    #[test]
    fn a_second_run_marks_the_cells_more_than_ten_percent_away_and_says_so() {
        let old = "> **T.** x  \n> Commit `aaa`; load\n\n| C | sync | tokio |\n| --- | --- | --- |\n| 16 | 300/s ±2% | 310/s ±1% |\n| 256 | 1.00 k/s | 4.0 k/s ±3% (80%) |\n\ntext\n\n| C | sync | tokio |\n| --- | --- | --- |\n| 16 | 1.2 ms | 2.0 ms |\n";
        let new = "> **T.** x  \n> Commit `bbb`; load\n\n| C | sync | tokio |\n| --- | --- | --- |\n| 16 | 331/s ±2% | 340/s ±1% |\n| 256 | 1.10 k/s | 3.5 k/s ±3% (70%) |\n\ntext\n\n| C | sync | tokio |\n| --- | --- | --- |\n| 16 | 1.2 ms | 2.5 ms |\n";
        let (text, marked, compared) = mark_text(old, new, "commit `aaa`");
        assert_eq!((marked, compared), (3, 6), "{text}");
        assert!(text.contains("| 16 | 331/s ±2% ‡ | 340/s ±1% |"), "{text}");
        assert!(
            text.contains("| 256 | 1.10 k/s | 3.5 k/s ±3% (70%) ‡ |"),
            "{text}"
        );
        assert!(text.contains("| 16 | 1.2 ms | 2.5 ms ‡ |"), "{text}");
        assert!(text.ends_with("(commit `aaa`) are more than 10% apart: the figure does not reproduce; do not lean on it.\n"), "{text}");
        // Marking again changes nothing, and still counts the cells that disagree.
        let (again, marked, _) = mark_text(old, &text, "commit `aaa`");
        assert_eq!(marked, 3);
        assert_eq!(again, text);
        // Two runs that agree leave the file as it was.
        let (same, marked, _) = mark_text(old, old, "commit `aaa`");
        assert_eq!((same.as_str(), marked), (old, 0));
        assert_eq!(provenance_of(old).as_deref(), Some("commit `aaa`"));
    }
}

//! The figures chapter 14's checklist quotes, one anchored snippet per measurement group,
//! written from the very summary rows of the run (`generated/checklist.md`).
//!
//! Why a file of snippets, not numbers typed into the checklist: every number in the book comes
//! from the run that produced the tables beside it. A checklist item includes its group's
//! snippet by anchor (`{{#include generated/checklist.md:fan-out}}`), so a new run changes the
//! prose's figures with the tables, and a group that stops producing a line is a missing
//! anchor, which the book's build reports.

use std::path::Path;

use anyhow::{Context, bail};

use super::doc::{Doc, check_header};

/// One summary row: the group, what it measures, one cell per variant in the canonical order.
pub type SummaryRow = (String, String, Vec<String>);

/// The variants' names, in the order of the summary's cells.
const VARIANTS: [&str; 4] = ["sync", "tokio", "async-std", "smol"];

/// Appends to `doc` one anchored snippet per group that has summary rows, in the order the
/// groups first appear: one line (so it can sit inside a list item of the checklist), a clause
/// per row, "measure: sync X · tokio Y · async-std Z · smol W".
pub fn snippets(doc: &mut Doc, rows: &[SummaryRow]) {
    let mut groups: Vec<&str> = Vec::new();
    for (group, _, _) in rows {
        if !groups.contains(&group.as_str()) {
            groups.push(group);
        }
    }
    for group in groups {
        let clauses: Vec<String> = rows
            .iter()
            .filter(|(g, _, _)| g == group)
            .map(|(_, measure, cells)| {
                let figures: Vec<String> = VARIANTS
                    .iter()
                    .zip(cells)
                    .map(|(variant, cell)| format!("{variant} {cell}"))
                    .collect();
                format!("{measure}: {}", figures.join(" · "))
            })
            .collect();
        let text = format!(
            "<!-- ANCHOR: {group} -->\n*Measured in this run ({group}):* {}.\n<!-- ANCHOR_END: {group} -->",
            clauses.join("; ")
        );
        doc.text(&text);
    }
}

/// The checklist's text with a `mark` after every figure the summary (`summary`, its markdown)
/// carries that mark on (`bench --compare --mark` marks the summary's table; the snippets say
/// the same figures in sentences); and how many figures it marked.
pub fn mark(text: &str, summary: &str, mark: &str) -> (String, usize) {
    let mut text = text.to_string();
    let mut marked = 0;
    for line in summary.lines().filter(|l| l.starts_with('|')) {
        let cells: Vec<&str> = line
            .trim()
            .trim_matches('|')
            .split(" | ")
            .map(str::trim)
            .collect();
        let [group, measure, figures @ ..] = cells.as_slice() else {
            continue;
        };
        for (variant, cell) in VARIANTS.iter().zip(figures) {
            let Some(value) = cell.strip_suffix(mark).map(str::trim_end) else {
                continue;
            };
            let opening = format!("*Measured in this run ({group}):* ");
            let Some(start) = text.find(&opening) else {
                continue;
            };
            let end = text[start..].find('\n').map_or(text.len(), |e| start + e);
            let Some(clause) = text[start..end].find(&format!("{measure}: ")) else {
                continue;
            };
            let figure = format!("{variant} {value}");
            let from = start + clause;
            let Some(at) = text[from..end].find(&figure) else {
                continue;
            };
            let after = from + at + figure.len();
            if !text[after..].starts_with(&format!(" {mark}")) {
                text.insert_str(after, &format!(" {mark}"));
                marked += 1;
            }
        }
    }
    (text, marked)
}

/// Checks the written file: the lab's header, at least one snippet, and every `ANCHOR: x`
/// closed by its `ANCHOR_END: x` before the next one opens (an unclosed anchor would make
/// mdBook include the rest of the file). Returns how many snippets it holds.
pub fn check(path: &Path) -> anyhow::Result<usize> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    check_header(&text, path)?;
    let mut open: Option<&str> = None;
    let mut snippets = 0;
    for (number, line) in text.lines().enumerate() {
        if let Some(rest) = line.strip_prefix("<!-- ANCHOR: ") {
            if let Some(name) = open {
                bail!("{}:{}: `{name}` is not closed", path.display(), number + 1);
            }
            open = Some(rest.trim_end_matches(" -->"));
        } else if let Some(rest) = line.strip_prefix("<!-- ANCHOR_END: ") {
            let name = rest.trim_end_matches(" -->");
            if open != Some(name) {
                bail!("{}:{}: `{name}` closes nothing", path.display(), number + 1);
            }
            open = None;
            snippets += 1;
        }
    }
    if let Some(name) = open {
        bail!("{}: `{name}` is not closed", path.display());
    }
    if snippets == 0 {
        bail!("{}: no snippet", path.display());
    }
    Ok(snippets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::doc::Provenance;

    fn row(group: &str, measure: &str, cells: [&str; 4]) -> SummaryRow {
        (
            group.to_string(),
            measure.to_string(),
            cells.iter().map(|c| c.to_string()).collect(),
        )
    }

    /// Each group gets exactly one anchor pair, holding its rows and no other group's, with
    /// every variant named beside its own figure.
    #[test]
    fn one_anchor_per_group_with_its_own_rows() {
        let rows = [
            row("fan-out", "% of limit", ["91%", "94%", "99%", "99%"]),
            row(
                "memory",
                "RSS per task",
                ["10 KiB", "486 B", "1 KiB", "1 KiB"],
            ),
            row("fan-out", "HTTP", ["9%", "15%", "15%", "16%"]),
        ];
        let mut doc = Doc::new(&Provenance::here("test".into()), "t", "h");
        snippets(&mut doc, &rows);
        let text = doc.into_string();
        assert_eq!(text.matches("<!-- ANCHOR: fan-out -->").count(), 1);
        assert_eq!(text.matches("<!-- ANCHOR_END: fan-out -->").count(), 1);
        assert_eq!(text.matches("<!-- ANCHOR: memory -->").count(), 1);
        let fan_out =
            &text[text.find("ANCHOR: fan-out").unwrap()..text.find("ANCHOR_END: fan-out").unwrap()];
        assert!(fan_out.contains(
            "% of limit: sync 91% · tokio 94% · async-std 99% · smol 99%; HTTP: sync 9%"
        ));
        let between: Vec<&str> = fan_out
            .lines()
            .filter(|l| !l.contains("ANCHOR") && l.trim() != "<!--")
            .collect();
        assert_eq!(
            between.len(),
            1,
            "one line between the anchors: {between:?}"
        );
        assert!(!fan_out.contains("RSS per task"));
    }

    #[test]
    fn a_figure_marked_in_the_summary_is_marked_in_its_snippet_once() {
        let summary = "| group | measure | sync | tokio | async-std | smol |\n| --- | --- | --- | --- | --- | --- |\n| fan-out | share: C = 4096 | 84% | 96% ‡ | 99% | 99% |\n| cpu | late | 0.3 ms ‡ | 9 ms | 9 ms | 9 ms |\n";
        let text = "<!-- ANCHOR: fan-out -->\n*Measured in this run (fan-out):* other: sync 96% · tokio 96% · async-std 1% · smol 1%; share: C = 4096: sync 84% · tokio 96% · async-std 99% · smol 99%.\n<!-- ANCHOR_END: fan-out -->\n<!-- ANCHOR: cpu -->\n*Measured in this run (cpu):* late: sync 0.3 ms · tokio 9 ms · async-std 9 ms · smol 9 ms.\n<!-- ANCHOR_END: cpu -->\n";
        let (marked, count) = mark(text, summary, "‡");
        assert_eq!(count, 2, "{marked}");
        // The clause of the marked measure, not the first "tokio 96%" of the line.
        assert!(
            marked.contains("other: sync 96% · tokio 96% · async-std"),
            "{marked}"
        );
        assert!(
            marked.contains("share: C = 4096: sync 84% · tokio 96% ‡ · async-std 99%"),
            "{marked}"
        );
        assert!(
            marked.contains("late: sync 0.3 ms ‡ · tokio 9 ms"),
            "{marked}"
        );
        let (again, count) = mark(&marked, summary, "‡");
        assert_eq!((again.as_str(), count), (marked.as_str(), 0));
    }
}

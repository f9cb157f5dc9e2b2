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
}

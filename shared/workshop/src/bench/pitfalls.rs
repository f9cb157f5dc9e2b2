//! Group 8, **pitfalls**: every live demo of chapters 3–7, broken and fixed, in every variant
//! that has it, under the same watchdog the `demo` command uses. What each broken pipeline did
//! (stuck, exploded, lost records) and what its fix did instead: one table per chapter,
//! included into that chapter's page. (No memory column: runs share one process, and the
//! allocator keeps what an earlier run freed, so a per-run peak would mostly measure the runs
//! before it. Chapter 3's own demo prints its peak memory in a fresh process.)

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::bail;
use instruments::{Demo, Pitfall, Verdict, run_demo};
use pipeline::{Config, Report, Variant};

use super::doc::{Doc, Table};
use super::{Ctx, GroupOutput, Step};
use crate::chapters::all_demos;
use crate::demo::{limited_peak, quiet_panics};
use course::text::group_digits;

/// No progress for this long counts as stuck (the `demo` command's default).
const STALL: Duration = Duration::from_secs(2);

/// What one run did, in a table cell.
struct Outcome {
    what: String,
}

fn lines_missing(report: &Report) -> u64 {
    report
        .lines_read()
        .saturating_sub(report.accepted() + report.rejected())
}

/// Runs one side of a demo and says what happened, checking it is what the book says.
fn run_side(demo: &Demo, variant: Variant, fixed: bool) -> anyhow::Result<Option<Outcome>> {
    let case = demo.case(variant);
    let Some(run) = (if fixed { case.fixed } else { case.broken }) else {
        return Ok(None);
    };
    let input = (demo.input)();
    let cfg = Config::default();
    let reference = (demo.reference)(&input, &cfg)?;
    let (verdict, signals) = run_demo(run, &demo.watch, &input, &cfg, STALL);
    let side = if fixed { "fixed" } else { "broken" };
    let what = match (&verdict, fixed, demo.pitfall) {
        (Verdict::Stalled { after, .. }, false, Pitfall::Deadlock) => format!(
            "stuck: no progress for {} s after {:.1} s; {}",
            STALL.as_secs(),
            after.as_secs_f64(),
            signals.describe()
        ),
        (Verdict::Finished(_), false, Pitfall::Explosion) => {
            let peak = limited_peak(demo, &signals);
            if peak <= cfg.concurrency {
                bail!("{} ({variant}, broken) stayed within its limit", demo.name);
            }
            format!(
                "exploded: {} (the limit is {})",
                signals.describe(),
                cfg.concurrency
            )
        }
        (Verdict::Finished(report), false, Pitfall::Loss) => {
            if report.text() == reference.text() {
                bail!("{} ({variant}, broken) lost nothing this time", demo.name);
            }
            format!(
                "lost, and reported success: {} of {} lines neither accepted nor rejected; \
                 {} accepted where the reference accepts {}",
                group_digits(lines_missing(report)),
                group_digits(report.lines_read()),
                group_digits(report.accepted()),
                group_digits(reference.accepted())
            )
        }
        (Verdict::Finished(report), true, pitfall) => {
            if report.text() != reference.text() {
                bail!(
                    "{} ({variant}, fixed): the report differs from the reference",
                    demo.name
                );
            }
            match pitfall {
                Pitfall::Explosion => format!(
                    "the reference report; within the limit of {}: {}",
                    cfg.concurrency,
                    signals.describe()
                ),
                _ => "the reference report, every line accounted for".to_string(),
            }
        }
        _ => bail!(
            "{} ({variant}, {side}): unexpected: {verdict} ({})",
            demo.name,
            signals.describe()
        ),
    };
    Ok(Some(Outcome { what }))
}

pub fn run(ctx: &mut Ctx) -> anyhow::Result<GroupOutput> {
    // The quick run shows one variant per demo; the full run every variant that has the demo.
    let cases: Vec<(&Demo, Variant)> = all_demos()
        .flat_map(|demo| {
            demo.cases
                .iter()
                .filter(|c| c.broken.is_some())
                .map(move |c| (demo, c.variant))
        })
        .filter(|(demo, variant)| {
            // Quick: the first variant that has the demo.
            !ctx.quick
                || Some(*variant)
                    == demo
                        .cases
                        .iter()
                        .find(|c| c.broken.is_some())
                        .map(|c| c.variant)
        })
        .collect();
    quiet_panics();
    let mut step = Step::new(ctx, cases.len());
    // Per chapter: each demo and variant with its broken and (if any) fixed outcome.
    type Rows<'a> = Vec<(&'a Demo, Variant, Outcome, Option<Outcome>)>;
    let mut per_chapter: BTreeMap<u32, Rows> = BTreeMap::new();
    for (demo, variant) in cases {
        step.next(&format!("{} ({variant}): broken, then fixed", demo.name));
        let Some(broken) = run_side(demo, variant, false)? else {
            continue;
        };
        let fixed = run_side(demo, variant, true)?;
        per_chapter
            .entry(demo.chapter)
            .or_default()
            .push((demo, variant, broken, fixed));
    }
    step.finish();
    let _ = std::panic::take_hook();

    let mut chapter_docs = Vec::new();
    let mut overview = Table::new(["chapter", "demo", "variants", "broken", "fixed"]);
    for (chapter, rows) in &per_chapter {
        let mut table = Table::new([
            "demo",
            "variant",
            "broken: what it did",
            "fixed: what it did",
        ]);
        for (demo, variant, broken, fixed) in rows {
            table.row([
                format!("`{}`", demo.name),
                variant.to_string(),
                broken.what.clone(),
                fixed
                    .as_ref()
                    .map_or_else(|| "—".to_string(), |f| f.what.clone()),
            ]);
        }
        let mut doc = Doc::new(
            &ctx.provenance,
            &format!("Chapter {chapter}'s live demos, broken and fixed"),
            &format!(
                "One run per cell, under the `demo` command's watchdog (stuck = no progress for \
                 {} s); every fixed run's report checked against the reference.",
                STALL.as_secs()
            ),
        );
        doc.table(&table);
        chapter_docs.push((format!("pitfalls-ch{chapter:02}"), doc));
        let mut demos: Vec<&str> = rows.iter().map(|(d, ..)| d.name).collect();
        demos.dedup();
        for name in demos {
            let of: Vec<_> = rows.iter().filter(|(d, ..)| d.name == name).collect();
            let broken_kind = match of[0].0.pitfall {
                Pitfall::Deadlock => "stuck",
                Pitfall::Explosion => "exploded",
                Pitfall::Loss => "lost records",
            };
            overview.row([
                chapter.to_string(),
                format!("`{name}`"),
                of.iter()
                    .map(|(_, v, ..)| v.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                format!("{broken_kind}, in every variant run ({})", of.len()),
                "the reference report".to_string(),
            ]);
        }
    }
    let mut doc = Doc::new(
        &ctx.provenance,
        "Every pitfall demo, broken and fixed",
        "The chapters' tables have what each run did.",
    );
    doc.table(&overview);
    let mut out = GroupOutput::new("pitfalls", doc);
    for (file, doc) in chapter_docs {
        out.extra(&file, doc);
    }
    Ok(out)
}

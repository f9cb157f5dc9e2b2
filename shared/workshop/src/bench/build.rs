//! Group 7, **build cost**: chapter 12's standalone programs — the same small pipeline, one
//! per model, each its own workspace with its own lock file — built clean in release mode,
//! each in a target directory of its own: wall time, crates compiled, binary size.
//!
//! A clean build's time varies from one build to the next by more than some of the differences
//! between programs, so the full run builds every program [`BUILDS`] times, round-robin (one
//! build of each program per round, so a slow minute of the machine falls on all of them), and
//! shows the median and the spread (fastest to slowest). A verdict compares two programs only
//! against that spread ([`verdict`]).

use anyhow::Context;
use ch12_costs::build_cost::{BuildRow, STANDALONES, Standalone, measure_build};

use super::doc::{Doc, Table, bytes, median, ratio};
use super::{Claim, Ctx, GroupOutput, Step};

/// Clean builds per program in the full run.
const BUILDS: usize = 3;

/// "±1.2 s (40.1–42.5 s)": half the distance from the fastest build to the slowest, and both.
fn spread(builds: &[f64]) -> String {
    let (low, high) = min_max(builds);
    if builds.len() < 2 {
        return "— (one build)".to_string();
    }
    format!("±{:.1} s ({low:.1}–{high:.1} s)", (high - low) / 2.0)
}

fn min_max(values: &[f64]) -> (f64, f64) {
    values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        })
}

/// Whether two programs' build times differ by more than the builds vary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// Every build of one was slower than every build of the other: the ranges do not overlap.
    Exceeds,
    /// The ranges overlap: the difference is within the builds' own spread.
    Within,
    /// Fewer than two builds of one of them: there is no spread to compare with.
    Unknown,
}

impl Verdict {
    fn words(self) -> &'static str {
        match self {
            Verdict::Exceeds => "a difference larger than the spread of either's builds",
            Verdict::Within => {
                "within the spread of their builds: this run does not show a difference"
            }
            Verdict::Unknown => {
                "from one build each, so whether it exceeds the spread is not known"
            }
        }
    }
}

/// [`Verdict`] of `a`'s builds against `b`'s.
fn verdict(a: &[f64], b: &[f64]) -> Verdict {
    if a.len() < 2 || b.len() < 2 {
        return Verdict::Unknown;
    }
    let ((a_lo, a_hi), (b_lo, b_hi)) = (min_max(a), min_max(b));
    if a_lo > b_hi || b_lo > a_hi {
        Verdict::Exceeds
    } else {
        Verdict::Within
    }
}

pub fn run(ctx: &mut Ctx) -> anyhow::Result<GroupOutput> {
    // A clean build is a minute or more of CPU per program; the quick run builds the sync
    // program only (so CI proves the measurement works) and says so in its table.
    let chosen: Vec<&Standalone> = STANDALONES
        .iter()
        .filter(|s| !ctx.quick || s.name == "sync")
        .collect();
    let scratch = std::env::temp_dir().join(format!("workshop-build-cost-{}", std::process::id()));
    let builds = if ctx.quick { 1 } else { BUILDS };
    let mut step = Step::new(ctx, chosen.len() * builds);
    // The first round's rows (crates and sizes do not change between builds) and every
    // build's seconds, per program in `chosen`'s order.
    let mut rows: Vec<BuildRow> = Vec::new();
    let mut seconds: Vec<Vec<f64>> = vec![Vec::new(); chosen.len()];
    for round in 0..builds {
        for (i, standalone) in chosen.iter().enumerate() {
            let what = format!(
                "clean release build {}/{builds} of `{}`",
                round + 1,
                standalone.name
            );
            step.next(&what);
            let mut compiled = 0;
            let row = measure_build(standalone, &scratch, &mut |line: &str| {
                if line.trim_start().starts_with("Compiling") {
                    compiled += 1;
                    step.detail(&format!("{what}: {compiled} crates compiled"));
                }
            })
            .with_context(|| format!("building the `{}` program", standalone.name))?;
            seconds[i].push(row.seconds);
            if round == 0 {
                rows.push(row);
            }
        }
    }
    step.finish();
    let _ = std::fs::remove_dir_all(&scratch);

    let builds_of = |name: &str| {
        chosen
            .iter()
            .position(|s| s.name == name)
            .map(|i| seconds[i].as_slice())
    };
    let seconds_of = |name: &str| builds_of(name).map(|b| median(b.to_vec()));
    let sync_seconds = seconds_of("sync").unwrap_or(f64::NAN);
    let mut table = Table::new([
        "program",
        "what it adds to the pipeline",
        "clean build (median)",
        "spread",
        "vs sync",
        "crates compiled",
        "binary",
        "stripped",
    ]);
    for (row, builds) in rows.iter().zip(&seconds) {
        let what = STANDALONES
            .iter()
            .find(|s| s.name == row.name)
            .map_or("", |s| s.what);
        table.row([
            format!("`{}`", row.name),
            what.to_string(),
            format!("{:.1} s", median(builds.clone())),
            spread(builds),
            ratio(median(builds.clone()), sync_seconds),
            row.crates_compiled.to_string(),
            bytes(row.binary_bytes as f64),
            row.stripped_bytes
                .map_or_else(|| "—".into(), |b| bytes(b as f64)),
        ]);
    }
    let skipped: Vec<&str> = STANDALONES
        .iter()
        .filter(|s| !chosen.iter().any(|c| c.name == s.name))
        .map(|s| s.name)
        .collect();
    let mut doc = Doc::new(
        &ctx.provenance,
        "Clean release builds of the same small pipeline, one program per model",
        &format!(
            "{}, each in an empty target directory of its own, dependencies downloaded \
             beforehand; {}.",
            if builds == 1 {
                "One clean build per program (this quick run: no spread measured)".to_string()
            } else {
                format!(
                    "Median of {builds} clean builds per program, round-robin; spread: fastest \
                     to slowest"
                )
            },
            rows.first()
                .map_or_else(|| "cargo".to_string(), |r| r.cargo_version.clone())
        ),
    );
    doc.table(&table);
    if !skipped.is_empty() {
        doc.text(&format!(
            "Not built in this quick run: {}. The full run (`cargo run --release -- bench`) \
             builds every program.",
            skipped.join(", ")
        ));
    }
    let mut out = GroupOutput::new("build", doc);
    let per_variant = ["sync", "tokio", "async-std", "smol"].map(|name| {
        seconds_of(name).map_or_else(|| "not built".to_string(), |s| format!("{s:.1} s"))
    });
    out.summary("clean release build of the pipeline", per_variant);
    if let (Some(sync_pg), Some(tokio_pg), Some(sync_builds), Some(tokio_builds)) = (
        seconds_of("sync-postgres"),
        seconds_of("tokio-postgres"),
        builds_of("sync-postgres"),
        builds_of("tokio-postgres"),
    ) {
        out.claim(Claim {
            order: 3,
            claim: "A pipeline on tokio with an async SQL driver (sqlx, in the article's \
                    scenario) took \"30% longer to compile\" than a sync one (on rusqlite); \
                    measured here with this workspace's drivers: tokio-postgres vs postgres.",
            measured: format!(
                "tokio + tokio-postgres {tokio_pg:.1} s vs std threads + postgres {sync_pg:.1} s \
                 (medians): {:+.0}%, {}. The sync `postgres` crate runs tokio-postgres on tokio inside, so both \
                 build tokio. Against a std-only program ({:.1} s), tokio + tokio-postgres takes \
                 {}.",
                (tokio_pg / sync_pg - 1.0) * 100.0,
                verdict(tokio_builds, sync_builds).words(),
                sync_seconds,
                ratio(tokio_pg, sync_seconds)
            ),
            details: "[Costs: build time](ch12-costs.md#build-time-binary-size-and-dependencies)",
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_difference_counts_only_beyond_the_builds_own_spread() {
        assert_eq!(
            verdict(&[60.0, 61.0, 62.0], &[55.0, 56.0, 57.0]),
            Verdict::Exceeds
        );
        assert_eq!(
            verdict(&[55.0, 56.0, 57.0], &[60.0, 61.0, 62.0]),
            Verdict::Exceeds
        );
        // Medians 5% apart, but one slow build of the faster program overlaps: not shown.
        assert_eq!(
            verdict(&[59.0, 59.4, 60.0], &[56.0, 56.7, 59.5]),
            Verdict::Within
        );
        assert_eq!(verdict(&[59.4], &[56.7]), Verdict::Unknown);
        assert_eq!(verdict(&[59.4, 60.0], &[]), Verdict::Unknown);
    }

    #[test]
    fn the_spread_is_half_the_range_and_says_when_there_is_none() {
        assert_eq!(spread(&[40.1, 42.5, 41.0]), "±1.2 s (40.1–42.5 s)");
        assert_eq!(spread(&[40.0]), "— (one build)");
    }
}

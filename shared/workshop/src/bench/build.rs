//! Group 7, **build cost**: chapter 12's standalone programs — the same small pipeline, one
//! per model, each its own workspace with its own lock file — built clean in release mode,
//! each in a target directory of its own: wall time, crates compiled, binary size.

use anyhow::Context;
use ch12_costs::build_cost::{BuildRow, STANDALONES, Standalone, measure_build};

use super::doc::{Doc, Table, bytes, ratio};
use super::{Claim, Ctx, GroupOutput, Step};

pub fn run(ctx: &mut Ctx) -> anyhow::Result<GroupOutput> {
    // A clean build is a minute or more of CPU per program; the quick run builds the sync
    // program only (so CI proves the measurement works) and says so in its table.
    let chosen: Vec<&Standalone> = STANDALONES
        .iter()
        .filter(|s| !ctx.quick || s.name == "sync")
        .collect();
    let scratch = std::env::temp_dir().join(format!("workshop-build-cost-{}", std::process::id()));
    let mut step = Step::new(ctx, chosen.len());
    let mut rows: Vec<BuildRow> = Vec::new();
    for standalone in &chosen {
        step.next(&format!("clean release build of `{}`", standalone.name));
        let mut compiled = 0;
        let row = measure_build(standalone, &scratch, &mut |line: &str| {
            if line.trim_start().starts_with("Compiling") {
                compiled += 1;
                step.detail(&format!(
                    "clean release build of `{}`: {compiled} crates compiled",
                    standalone.name
                ));
            }
        })
        .with_context(|| format!("building the `{}` program", standalone.name))?;
        rows.push(row);
    }
    step.finish();
    let _ = std::fs::remove_dir_all(&scratch);

    let seconds_of = |name: &str| rows.iter().find(|r| r.name == name).map(|r| r.seconds);
    let sync_seconds = seconds_of("sync").unwrap_or(f64::NAN);
    let mut table = Table::new([
        "program",
        "what it adds to the pipeline",
        "clean build",
        "vs sync",
        "crates compiled",
        "binary",
        "stripped",
    ]);
    for row in &rows {
        let what = STANDALONES
            .iter()
            .find(|s| s.name == row.name)
            .map_or("", |s| s.what);
        table.row([
            format!("`{}`", row.name),
            what.to_string(),
            format!("{:.1} s", row.seconds),
            ratio(row.seconds, sync_seconds),
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
            "One clean build per program (a build is minutes of CPU), each in an empty target \
             directory of its own, dependencies downloaded beforehand; {}.",
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
    if let (Some(sync_pg), Some(tokio_pg)) =
        (seconds_of("sync-postgres"), seconds_of("tokio-postgres"))
    {
        out.claim(Claim {
            order: 3,
            claim: "A pipeline on tokio with an async SQL driver (sqlx, in the article's \
                    scenario) took \"30% longer to compile\" than a sync one (on rusqlite); \
                    measured here with this workspace's drivers: tokio-postgres vs postgres.",
            measured: format!(
                "tokio + tokio-postgres {tokio_pg:.1} s vs std threads + postgres {sync_pg:.1} s: \
                 {:+.0}%. The sync `postgres` crate runs tokio-postgres on tokio inside, so both \
                 build tokio. Against a std-only program ({:.1} s), tokio + tokio-postgres takes \
                 {}.",
                (tokio_pg / sync_pg - 1.0) * 100.0,
                sync_seconds,
                ratio(tokio_pg, sync_seconds)
            ),
            details: "[Costs: build time](ch12-costs.md#build-time-binary-size-and-dependencies)",
        });
    }
    Ok(out)
}

//! Group 1, **throughput**: chapter 1's pipeline (source → parse → enrich → aggregate → sink,
//! five stages and four bounded channels) on an in-memory dataset, with 1, 64 and 1024 lines per
//! batch. With one line per batch every record is one message and one wake-up per channel; with
//! 1024 that cost is shared by 1024 records. The difference is the per-message cost of each model's channels
//! and scheduler.

use std::time::Instant;

use anyhow::bail;
use pipeline::{Config, DatasetSpec, Input, run_sequential};

use super::doc::{Doc, Table, rate, runs};
use super::plot::{Chart, Corner, Series};
use super::stats::{self, Sample};
use super::{Ctx, GroupOutput, Step};

pub const BATCH_SIZES: [usize; 3] = [1, 64, 1024];

/// Runs per cell in a full run: two cores shared by five stages give noisy single runs (cells
/// moved by more than 1.5× between two full runs of three), so this group takes more.
const FULL_REPEATS: usize = 5;

/// What the throughput floor is measured with: one thread, no channels, the same batches.
const SEQUENTIAL: &str = "sequential";

pub fn run(ctx: &mut Ctx) -> anyhow::Result<GroupOutput> {
    let lines = if ctx.quick { 100_000 } else { 1_000_000 };
    let input = Input::generated(&DatasetSpec {
        lines,
        ..DatasetSpec::default()
    });
    let reference = run_sequential(&input, &Config::default())?;
    let repeats = if ctx.quick { 3 } else { FULL_REPEATS };
    let variants = ch01_baseline::VARIANTS.len();
    // The floor runs beside the largest batches: one more contender in their repeats.
    let mut step = Step::new(ctx, (BATCH_SIZES.len() * variants + 1) * repeats);
    let mut floor = Sample::new();
    // per batch size, per variant: records per second, and the ratio to sync in the same repeat
    let mut results: Vec<(usize, Vec<Sample>, Vec<Sample>)> = Vec::new();
    for batch_size in BATCH_SIZES {
        let cfg = Config {
            batch_size,
            ..Config::default()
        };
        let with_floor = batch_size == BATCH_SIZES[BATCH_SIZES.len() - 1];
        let contenders = variants + usize::from(with_floor);
        let mut rates = vec![vec![f64::NAN; repeats]; variants];
        // The variants take turns within each repeat, in a seeded shuffled order, so that a
        // slow moment of the machine is shared out instead of landing on one variant.
        for (repeat, i) in stats::schedule(contenders, repeats, stats::SEED ^ batch_size as u64) {
            let contender = ch01_baseline::VARIANTS.get(i);
            let name = contender.map_or(SEQUENTIAL.to_string(), |(variant, _)| variant.to_string());
            step.next(&format!("{name}, {batch_size} lines per batch"));
            let started = Instant::now();
            let report = match contender {
                Some((_, run)) => run(&input, &cfg)?,
                None => run_sequential(&input, &cfg)?,
            };
            let seconds = started.elapsed().as_secs_f64();
            if report.text() != reference.text() {
                bail!("{name} with batches of {batch_size}: the report differs from the reference");
            }
            match rates.get_mut(i) {
                Some(variant) => variant[repeat] = lines as f64 / seconds,
                None => floor.push(lines as f64 / seconds),
            }
        }
        let ratios = rates
            .iter()
            .map(|variant| {
                variant
                    .iter()
                    .zip(&rates[0])
                    .map(|(r, sync)| r / sync)
                    .collect()
            })
            .collect();
        let samples = rates.into_iter().map(Sample::from_iter).collect();
        results.push((batch_size, samples, ratios));
    }
    step.finish();

    let cores = ctx.provenance.cores;
    let ceiling = floor.median() * cores as f64;
    let mut table = Table::new(["lines per batch", "sync", "tokio", "async-std", "smol"]);
    let mut efficiency = Table::new(["lines per batch", "sync", "tokio", "async-std", "smol"]);
    for (batch_size, per_variant, ratios) in &results {
        let mut cells = vec![batch_size.to_string()];
        cells.extend(
            per_variant
                .iter()
                .zip(ratios)
                .enumerate()
                .map(|(i, (r, ratio))| {
                    let figure = r.cell(&format!("{}/s", rate(r.median())));
                    if i == 0 {
                        figure
                    } else {
                        format!(
                            "{figure} ({})",
                            ratio.cell(&format!("{:.2}×", ratio.median()))
                        )
                    }
                }),
        );
        table.row(cells);
        let mut cells = vec![batch_size.to_string()];
        cells.extend(
            per_variant
                .iter()
                .map(|r| format!("{:.0}%", r.median() / ceiling * 100.0)),
        );
        efficiency.row(cells);
    }
    let mut doc = Doc::new(
        &ctx.provenance,
        &format!("Records per second through chapter 1's pipeline, {lines} lines in memory"),
        &format!(
            "{} per cell, the variants (and the floor) taking turns in a seeded shuffled order \
             within each repeat; in brackets, the ratio to sync, taken within each repeat. \
             Every run's report was checked against the sequential reference.",
            runs(repeats)
        ),
    );
    doc.table(&table);
    doc.text(&stats::legend());
    doc.text(&format!(
        "The floor: the same work on one thread with no channels (`pipeline::run_sequential`) \
         moved {}. Each variant's efficiency against {cores} cores × that floor ({}/s), \
         what the cores could do if the stages shared them perfectly:",
        floor.cell(&format!("{}/s", rate(floor.median()))),
        rate(ceiling)
    ));
    doc.table(&efficiency);
    let chart = Chart {
        title: "Records per second by batch size (chapter 1's pipeline)",
        x_label: "lines per batch (log)",
        y_label: "records per second",
        x_log: true,
        y_log: true,
        series: ch01_baseline::VARIANTS
            .iter()
            .enumerate()
            .map(|(i, (variant, _))| Series {
                name: variant.to_string(),
                points: results
                    .iter()
                    .map(|(b, per_variant, _)| (*b as f64, per_variant[i].median()))
                    .collect(),
            })
            .collect(),
        x_format: None,
        legend: Corner::LowerRight,
    };
    let mut out = GroupOutput::new("throughput", doc);
    out.plot("throughput", &chart, &ctx.provenance)?;
    let largest = &results[results.len() - 1].1;
    let smallest = &results[0].1;
    out.summary(
        "records/s, batches of 1024",
        largest
            .iter()
            .map(|r| r.cell(&format!("{}/s", rate(r.median())))),
    );
    out.summary(
        "records/s, batches of 1",
        smallest
            .iter()
            .map(|r| r.cell(&format!("{}/s", rate(r.median())))),
    );
    out.summary(
        &format!("efficiency, batches of 1024, against {cores} × one thread with no channels"),
        largest
            .iter()
            .map(|r| format!("{:.0}%", r.median() / ceiling * 100.0)),
    );
    out.facts.throughput = Some(super::claims::Throughput {
        batch_1024: largest.iter().map(Sample::median).collect(),
        batch_1: smallest.iter().map(Sample::median).collect(),
        noisy: largest.iter().chain(smallest).any(Sample::noisy),
    });
    Ok(out)
}

//! Group 1, **throughput**: chapter 1's pipeline (source → parse → enrich → aggregate → sink,
//! five stages and four bounded channels) on an in-memory dataset, with 1, 64 and 1024 lines per
//! batch. With one line per batch every record is one message and one wake-up per channel; with
//! 1024 that cost is shared by 1024 records. The difference is the per-message cost of each model's channels
//! and scheduler.

use std::time::Instant;

use anyhow::bail;
use pipeline::{Config, DatasetSpec, Input, run_sequential};

use super::doc::{Doc, Table, median, rate, ratio, runs};
use super::plot::{Chart, Corner, Series};
use super::{Ctx, GroupOutput, Step};

pub const BATCH_SIZES: [usize; 3] = [1, 64, 1024];

/// Runs per cell in a full run: two cores shared by five stages give noisy single runs (cells
/// moved by more than 1.5× between two full runs of three), so this group takes more.
const FULL_REPEATS: usize = 5;

pub fn run(ctx: &mut Ctx) -> anyhow::Result<GroupOutput> {
    let lines = if ctx.quick { 100_000 } else { 1_000_000 };
    let input = Input::generated(&DatasetSpec {
        lines,
        ..DatasetSpec::default()
    });
    let reference = run_sequential(&input, &Config::default())?;
    let repeats = if ctx.quick { ctx.repeats } else { FULL_REPEATS };
    let mut step = Step::new(ctx, BATCH_SIZES.len() * 4 * repeats);
    // per batch size, per variant: records per second (median)
    let mut results = Vec::new();
    for batch_size in BATCH_SIZES {
        let cfg = Config {
            batch_size,
            ..Config::default()
        };
        let mut per_variant = Vec::new();
        for (variant, run) in ch01_baseline::VARIANTS {
            let mut seconds = Vec::new();
            for _ in 0..repeats {
                step.next(&format!("{variant}, {batch_size} lines per batch"));
                let started = Instant::now();
                let report = run(&input, &cfg)?;
                seconds.push(started.elapsed().as_secs_f64());
                if report.text() != reference.text() {
                    bail!(
                        "{variant} with batches of {batch_size}: the report differs from the reference"
                    );
                }
            }
            let rates: Vec<f64> = seconds.iter().map(|s| lines as f64 / s).collect();
            let (low, high) = rates
                .iter()
                .fold((f64::MAX, f64::MIN), |(lo, hi), r| (lo.min(*r), hi.max(*r)));
            per_variant.push((variant, median(rates), low, high));
        }
        results.push((batch_size, per_variant));
    }
    step.finish();

    let mut table = Table::new(["lines per batch", "sync", "tokio", "async-std", "smol"]);
    for (batch_size, per_variant) in &results {
        let sync = per_variant[0].1;
        let mut cells = vec![batch_size.to_string()];
        cells.extend(per_variant.iter().map(|&(_, r, low, high)| {
            if low < high {
                format!(
                    "{}/s ({}; {}–{})",
                    rate(r),
                    ratio(r, sync),
                    rate(low),
                    rate(high)
                )
            } else {
                format!("{}/s ({})", rate(r), ratio(r, sync))
            }
        }));
        table.row(cells);
    }
    let mut doc = Doc::new(
        &ctx.provenance,
        &format!("Records per second through chapter 1's pipeline, {lines} lines in memory"),
        &format!(
            "{} per cell; in brackets, the ratio to sync in the same run and the \
             range of the runs. Every run's report was checked against the sequential reference.",
            runs(repeats)
        ),
    );
    doc.table(&table);
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
                    .map(|(b, per_variant)| (*b as f64, per_variant[i].1))
                    .collect(),
            })
            .collect(),
        x_format: None,
        legend: Corner::LowerRight,
    };
    let mut out = GroupOutput::new("throughput", doc);
    out.plot("throughput", &chart, &ctx.provenance)?;
    let largest = &results[results.len() - 1].1;
    out.claim(super::Claim {
        order: 1,
        claim: "Sync code is enough \"up to tens of thousands of records per second\".",
        measured: format!(
            "In chapter 1's pipeline (five stages, bounded channels), on {} cores, records/s \
             in batches of 1024 / one record per message: {}.",
            ctx.provenance.cores,
            largest
                .iter()
                .zip(&results[0].1)
                .map(|((v, big, ..), (_, one, ..))| format!("{v} {} / {}", rate(*big), rate(*one)))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        details: "[Costs: throughput](ch12-costs.md#throughput-and-the-cost-of-a-message)",
    });
    let smallest = &results[0].1;
    out.summary(
        "records/s, batches of 1024",
        largest.iter().map(|(_, r, ..)| format!("{}/s", rate(*r))),
    );
    out.summary(
        "records/s, batches of 1",
        smallest.iter().map(|(_, r, ..)| format!("{}/s", rate(*r))),
    );
    Ok(out)
}

//! Group 5, **CPU-bound work**: chapter 8's pipeline, whose aggregate stage computes a digest
//! over every window, run with the work on one thread, inline in async tasks, on the runtime's
//! blocking pool and on rayon — while a heartbeat on the same runtime wants to wake every 5 ms.
//! Wall time says what the work costs; the heartbeat's lateness says what it costs everyone
//! else.

use anyhow::bail;
use ch08_blocking_and_cpu::work::CpuWork;
use ch08_blocking_and_cpu::{Mode, chapter_input, experiment_row, experiment_rows, work};
use pipeline::{Config, Variant};

use super::doc::{Doc, Table, millis, ratio};
use super::stats::{self, Sample};
use super::{Ctx, GroupOutput, Step};

pub fn run(ctx: &mut Ctx) -> anyhow::Result<GroupOutput> {
    let input = chapter_input();
    let cfg = Config::default();
    let reference = work::reference(&input, &cfg, CpuWork::DEMO)?;
    let rows = experiment_rows();
    let mut step = Step::new(ctx, ctx.repeats * rows.len());
    // Per row of the experiment (in chapter 8's order): (variant, mode) and (wall, max
    // lateness, p99 lateness, ticks) of every repeat; the rows take turns in a seeded shuffled
    // order within each repeat, like every group's variants.
    type Runs = Vec<((Variant, Mode), Vec<(f64, f64, f64, f64)>)>;
    let mut runs: Runs = rows.iter().map(|&row| (row, Vec::new())).collect();
    for (_, i) in stats::schedule(rows.len(), step.repeats(), stats::SEED ^ 0xc9) {
        let (variant, mode) = rows[i];
        step.next(&format!("{variant}, {}", mode.label(variant)));
        let row = experiment_row(variant, mode, &input, &cfg, CpuWork::DEMO, &reference)?;
        if !row.same_result() {
            bail!(
                "{} ({}): the result differs from the reference",
                row.variant,
                row.mode.label(row.variant)
            );
        }
        runs[i].1.push((
            row.wall.as_secs_f64(),
            row.beats.max_late.as_secs_f64(),
            row.beats.p99_late.as_secs_f64(),
            row.beats.ticks as f64,
        ));
    }
    step.finish();
    let sample = |v: &[(f64, f64, f64, f64)], f: fn(&(f64, f64, f64, f64)) -> f64| -> Sample {
        v.iter().map(f).collect()
    };
    let med =
        |v: &[(f64, f64, f64, f64)], f: fn(&(f64, f64, f64, f64)) -> f64| sample(v, f).median();
    let timed = |s: Sample| s.cell(&millis(s.median()));
    let sync_one_thread = runs
        .iter()
        .find(|((v, m), _)| *v == Variant::Sync && *m == Mode::Inline)
        .map_or(f64::NAN, |(_, v)| med(v, |r| r.0));
    let mut table = Table::new([
        "variant",
        "where the work runs",
        "wall",
        "vs sync, one thread",
        "heartbeat ticks",
        "max lateness",
        "p99 lateness",
    ]);
    let mut worst_inline = Vec::new();
    let mut best_offloaded = Vec::new();
    for ((variant, mode), v) in &runs {
        let wall = med(v, |r| r.0);
        table.row([
            variant.to_string(),
            mode.label(*variant).to_string(),
            timed(sample(v, |r| r.0)),
            ratio(wall, sync_one_thread),
            format!("{:.0}", med(v, |r| r.3)),
            timed(sample(v, |r| r.1)),
            timed(sample(v, |r| r.2)),
        ]);
        if *mode == Mode::Inline {
            worst_inline.push((*variant, med(v, |r| r.1)));
        }
        if *mode == Mode::Rayon {
            best_offloaded.push((*variant, med(v, |r| r.1), wall));
        }
    }
    let mut doc = Doc::new(
        &ctx.provenance,
        &format!(
            "CPU-bound stage: where the work runs, and what the heartbeat (every 5 ms) saw; {}",
            input.name()
        ),
        &format!(
            "{} per row; {} worker threads; every run's report and digest checked \
             against the reference.",
            super::doc::runs(ctx.repeats),
            cfg.worker_threads
        ),
    );
    doc.table(&table);
    doc.text(&stats::legend());
    doc.text(
        "The rows take turns in a seeded shuffled order within each repeat, so that a slow \
         moment of the machine is shared out.",
    );
    let mut out = GroupOutput::new("cpu", doc);
    out.summary(
        "heartbeat max lateness, work inline (sync: one thread)",
        worst_inline.iter().map(|(_, late)| millis(*late)),
    );
    out.summary(
        "heartbeat max lateness, work on rayon",
        best_offloaded.iter().map(|(_, late, _)| millis(*late)),
    );
    Ok(out)
}

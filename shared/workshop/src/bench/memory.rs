//! Group 4, **memory per operation in flight**: N idle operations, all started and all waiting
//! at once, as OS threads (sync) or as tasks, each measurement in a child process of its own
//! (chapter 12's `memory` module; the child is its registered `IDLE_CHILD`).

use ch12_costs::memory::{DEFAULT_COUNT, measure_memory};
use pipeline::Variant;

use super::doc::{Doc, Table, bytes};
use super::{Ctx, GroupOutput, Step};

fn micros(ns: f64) -> String {
    format!("{:.2} µs", ns / 1e3)
}

pub fn run(ctx: &mut Ctx) -> anyhow::Result<GroupOutput> {
    let count = if ctx.quick { 2_000 } else { DEFAULT_COUNT };
    let mut step = Step::new(ctx, 1);
    step.next(&format!(
        "{count} idle threads, then {count} idle tasks per runtime, {} child process(es) each",
        ctx.repeats
    ));
    let rows = measure_memory(&ch12_costs::workshop_idle, count, ctx.repeats)?;
    step.finish();
    let mut table = Table::new([
        "variant",
        "one unit is",
        "RSS per unit",
        "virtual per unit",
        "kernel stack per unit",
        "spawn call per unit",
        "until all started, per unit",
        "threads while waiting",
        "state handed to spawn",
    ]);
    for row in &rows {
        table.row([
            row.variant.to_string(),
            match row.variant {
                Variant::Sync => "an OS thread".to_string(),
                _ => "a task".to_string(),
            },
            bytes(row.rss_per_unit_bytes),
            bytes(row.virtual_per_unit_bytes),
            row.kernel_stack_per_unit_bytes
                .map_or_else(|| "—".into(), bytes),
            micros(row.spawn_ns_per_unit),
            micros(row.ready_ns_per_unit),
            row.threads.to_string(),
            format!("{} B", row.unit_bytes),
        ]);
    }
    let mut doc = Doc::new(
        &ctx.provenance,
        &format!("{count} idle operations in flight: threads vs tasks"),
        &format!(
            "{} per row, each in a fresh child process; per-unit figures are (during − before) / \
             {count}. Kernel stack is read system-wide, so other processes blur it.",
            super::doc::runs(ctx.repeats)
        ),
    );
    doc.table(&table);
    let mut out = GroupOutput::new("memory", doc);
    out.summary(
        &format!("RSS per idle operation ({count} at once)"),
        rows.iter().map(|r| bytes(r.rss_per_unit_bytes)),
    );
    out.summary(
        "spawn call per operation",
        rows.iter().map(|r| micros(r.spawn_ns_per_unit)),
    );
    // What the claims need: a thread and a task in flight, and each runtime's fixed memory
    // (its process before spawning, against the sync process's, which has no runtime).
    if let Some(thread) = rows.iter().find(|r| r.variant == Variant::Sync) {
        out.facts.memory = Some(super::claims::Memory {
            count,
            thread_rss: thread.rss_per_unit_bytes,
            thread_virtual: thread.virtual_per_unit_bytes,
            thread_stack: thread
                .thread_stack_bytes
                .map_or(thread.virtual_per_unit_bytes, |b| b as f64),
            tasks: rows
                .iter()
                .filter(|r| r.variant != Variant::Sync)
                .map(|r| {
                    (
                        r.variant,
                        r.rss_per_unit_bytes,
                        r.rss_before_bytes - thread.rss_before_bytes,
                    )
                })
                .collect(),
        });
        out.summary(
            "the runtime's fixed RSS (process before spawning, minus sync's)",
            rows.iter()
                .map(|r| bytes((r.rss_before_bytes - thread.rss_before_bytes).max(0.0))),
        );
    }
    Ok(out)
}

//! Group 4, **memory per operation in flight**: N idle operations, all started and all waiting
//! at once, as OS threads (sync) or as tasks, each measurement in a child process of its own
//! (chapter 12's `memory` module; the child is its registered `IDLE_CHILD`).

use ch12_costs::memory::{DEFAULT_COUNT, MemoryRow, measure_memory};
use pipeline::Variant;

use super::doc::{Doc, Table, bytes};
use super::{Claim, Ctx, GroupOutput, Step};

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
    let thread = rows.iter().find(|r| r.variant == Variant::Sync);
    let tasks: Vec<&MemoryRow> = rows.iter().filter(|r| r.variant != Variant::Sync).collect();
    if let Some(thread) = thread {
        out.claim(Claim {
            order: 2,
            claim: "Tasks \"can be as small as a few hundred bytes\"; threads have \"a default \
                    stack size of 2 MB\".",
            measured: format!(
                "{count} idle units. A thread: {} virtual (the reserved stack), {} resident, {} \
                 of kernel stack. A task: {} resident ({}).",
                bytes(thread.virtual_per_unit_bytes),
                bytes(thread.rss_per_unit_bytes),
                thread
                    .kernel_stack_per_unit_bytes
                    .map_or_else(|| "unknown".into(), bytes),
                tasks
                    .iter()
                    .map(|r| format!("{} {}", r.variant, bytes(r.rss_per_unit_bytes)))
                    .collect::<Vec<_>>()
                    .join(", "),
                "its future, the runtime's task header and its wake-up channel",
            ),
            details: "[Costs: memory](ch12-costs.md#memory-per-operation-in-flight)",
        });
    }
    Ok(out)
}

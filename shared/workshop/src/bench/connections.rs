//! Group 6, **many connections**: chapter 10's experiment — a fleet of N sensor connections
//! streaming into one server process per model (thread per connection, a pool of threads,
//! a task per connection), each server in a child process of its own so its threads and
//! memory are its own.
//!
//! RSS leaves out what the kernel holds per thread: its stack, 16 KiB on x86-64 and arm64
//! (`THREAD_SIZE`), so the table shows threads × 16 KiB beside it. Records/s are shown twice:
//! over the whole run, and once every connection was being served (the steady state: no
//! sensor streams before that moment, so what comes before it is connection set-up).

use anyhow::bail;
use ch10_many_connections::Model;
use ch10_many_connections::experiment::{Row, Setup, experiment_with, workshop_server};

use super::doc::{Doc, Table, bytes, median, rate};
use super::{Ctx, GroupOutput, Step};

/// The kernel's stack per thread on x86-64 and arm64 (`THREAD_SIZE`), which RSS does not count.
const KERNEL_STACK: f64 = 16.0 * 1024.0;

/// The kernel stacks `threads` threads hold, in bytes.
fn kernel_stacks(threads: f64) -> f64 {
    threads * KERNEL_STACK
}

/// The table's footer, as chapter 10's page describes it: what every server process held
/// when its run began (part of each peak), and the open-file limits the processes ran with.
fn footer<'a>(rows: impl Iterator<Item = &'a Row>, said: &[String]) -> String {
    let starts: Vec<u64> = rows.filter_map(|r| r.start_rss_kib).collect();
    let mut text = match (starts.iter().min(), starts.iter().max()) {
        (Some(&low), Some(&high)) => format!(
            "Every server process started its run at {} to {} resident (the input, the \
             reference report): that is part of each peak.",
            bytes(low as f64 * 1024.0),
            bytes(high as f64 * 1024.0)
        ),
        _ => "The servers' resident memory at the start was not measured on this OS.".into(),
    };
    for line in said {
        text.push_str(&format!(" {}.", line.trim_end_matches('.')));
    }
    text
}

pub fn run(ctx: &mut Ctx) -> anyhow::Result<GroupOutput> {
    let connections: &[usize] = if ctx.quick {
        &[100]
    } else {
        &[100, 1_000, 10_000]
    };
    // One run of the whole experiment per repeat; the pool's stall at N > its size costs a
    // grace period each time, so the full run measures it once.
    let repeats = if ctx.quick { 1 } else { ctx.repeats };
    let mut step = Step::new(ctx, repeats * connections.len());
    let mut runs: Vec<Vec<Row>> = Vec::new();
    // What the experiment printed besides its rows: the processes' open-file limits.
    let mut said: Vec<String> = Vec::new();
    for r in 0..repeats {
        let mut rows = Vec::new();
        for &n in connections {
            step.next(&format!("{n} connections, run {}", r + 1));
            let mut printed = Vec::new();
            rows.extend(experiment_with(
                &mut printed,
                &Setup::live(&[n], workshop_server),
            )?);
            for line in String::from_utf8_lossy(&printed).lines() {
                if line.contains("process: open-file limit") && !said.iter().any(|s| s == line) {
                    said.push(line.to_string());
                }
            }
        }
        runs.push(rows);
    }
    step.finish();
    for row in runs.iter().flatten() {
        if row.outcome == Ok(false) {
            bail!(
                "{}, {} connections: the report differs from the reference",
                row.label(),
                row.connections
            );
        }
    }
    let mut table = Table::new([
        "N",
        "server",
        "threads",
        "peak RSS",
        "kernel stacks (threads × 16 KiB)",
        "records/s",
        "records/s, steady",
        "outcome",
    ]);
    let first = &runs[0];
    let mut summary: Vec<String> = Vec::new();
    let biggest = connections[connections.len() - 1];
    for (i, row) in first.iter().enumerate() {
        let same: Vec<&Row> = runs.iter().filter_map(|run| run.get(i)).collect();
        let pick =
            |f: &dyn Fn(&Row) -> Option<f64>| median(same.iter().filter_map(|r| f(r)).collect());
        let threads = pick(&|r| r.threads_peak.map(|t| t as f64));
        let rss = pick(&|r| r.peak_rss_kib.map(|k| k as f64 * 1024.0));
        let per_second = pick(&|r| r.records_per_second());
        let steady = pick(&|r| r.steady_records_per_second());
        let outcome = match row.failure() {
            // Keep the table readable: from "stalled:" on, the experiment's own words.
            Some(why) => why
                .split_once("stalled: ")
                .map_or_else(|| why.to_string(), |(_, rest)| format!("stalled: {rest}")),
            None => "same report".to_string(),
        };
        let show = |v: f64, f: &dyn Fn(f64) -> String| if v.is_nan() { "—".into() } else { f(v) };
        table.row([
            row.connections.to_string(),
            row.label(),
            show(threads, &|t| format!("{t:.0}")),
            show(rss, &|b| bytes(b)),
            show(threads, &|t| bytes(kernel_stacks(t))),
            show(per_second, &|r| format!("{}/s", rate(r))),
            show(steady, &|r| format!("{}/s", rate(r))),
            outcome,
        ]);
        if row.connections == biggest && row.model != Model::Pool {
            summary.push(show(rss, &|b| bytes(b)));
        }
    }
    let mut doc = Doc::new(
        &ctx.provenance,
        "Many connections: N sensors streaming into one server process",
        &format!(
            "{} per row; threads and peak RSS of the server process; records/s from the first \
             connection to the last acknowledgement, and (steady) from the moment every \
             connection was being served.",
            super::doc::runs(repeats)
        ),
    );
    doc.table(&table);
    doc.text(&footer(runs.iter().flatten(), &said));
    let mut out = GroupOutput::new("connections", doc);
    if summary.len() == 4 {
        out.summary(&format!("server peak RSS, {biggest} connections"), summary);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use pipeline::Variant;

    use super::*;

    #[test]
    fn kernel_stacks_are_16_kib_a_thread() {
        assert_eq!(kernel_stacks(10_000.0), 10_000.0 * 16.0 * 1024.0);
    }

    #[test]
    fn the_footer_gives_the_start_range_and_the_limits() {
        let row = |start: Option<u64>| Row {
            connections: 100,
            variant: Variant::Tokio,
            model: Model::TaskPerConnection,
            pool_threads: 4,
            threads_peak: Some(3),
            peak_rss_kib: Some(9_000),
            start_rss_kib: start,
            records: 10,
            wall: Duration::from_secs(1),
            setup: None,
            outcome: Ok(true),
        };
        let rows = [row(Some(4_096)), row(None), row(Some(6_144))];
        let said = ["server process: open-file limit 20000".to_string()];
        let text = footer(rows.iter(), &said);
        assert!(text.contains("4.0 MiB to 6.0 MiB"), "{text}");
        assert!(
            text.ends_with("server process: open-file limit 20000."),
            "{text}"
        );
        assert!(footer([row(None)].iter(), &[]).contains("not measured"));
    }
}

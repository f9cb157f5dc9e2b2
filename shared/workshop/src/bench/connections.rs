//! Group 6, **many connections**: chapter 10's experiment — a fleet of N sensor connections
//! streaming into one server process per model (thread per connection, a pool of threads,
//! a task per connection), each server in a child process of its own so its threads and
//! memory are its own.

use anyhow::bail;
use ch10_many_connections::Model;
use ch10_many_connections::experiment::{Row, Setup, experiment_with, workshop_server};

use super::doc::{Doc, Table, bytes, median, rate};
use super::{Ctx, GroupOutput, Step};

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
    for r in 0..repeats {
        let mut rows = Vec::new();
        for &n in connections {
            step.next(&format!("{n} connections, run {}", r + 1));
            rows.extend(experiment_with(
                &mut std::io::sink(),
                &Setup::live(&[n], workshop_server),
            )?);
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
    let mut table = Table::new(["N", "server", "threads", "peak RSS", "records/s", "outcome"]);
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
            show(per_second, &|r| format!("{}/s", rate(r))),
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
            "{} per row; threads and peak RSS of the server process; \
             records/s from the first connection to the last acknowledgement.",
            super::doc::runs(repeats)
        ),
    );
    doc.table(&table);
    let mut out = GroupOutput::new("connections", doc);
    if summary.len() == 4 {
        out.summary(&format!("server peak RSS, {biggest} connections"), summary);
    }
    Ok(out)
}

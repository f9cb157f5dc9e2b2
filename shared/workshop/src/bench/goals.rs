//! The lab's own goals, checked by the lab on every run that measures every group, and written
//! under the summary: each goal, what this run measured, and whether that meets it. Speed
//! targets live here, in the lab's output, never in a timed test.
//!
//! One goal cannot be judged by one run: that two full runs agree. `bench --compare OLD NEW
//! --mark` fills its row in ([`agreement_row`]) when it marks the cells that do not.

use std::time::Duration;

use pipeline::Variant;

use super::claims::Facts;
use super::doc::Table;

/// The async variants' share of Little's limit, in-process at W = 50 ms, must reach this (%)
/// for every C the run measured.
pub const ASYNC_SHARE: f64 = 90.0;
/// The lab's own cost, at most, in % of any timed window.
pub const LAB_COST: f64 = 2.0;
/// How long a full run and a quick run may take.
pub const FULL_RUN: Duration = Duration::from_secs(15 * 60);
pub const QUICK_RUN: Duration = Duration::from_secs(90);

/// The first cell of the agreement goal's row: `--mark` finds the row by it.
pub const AGREEMENT: &str =
    "two full runs agree within ±10% on every cell, or the cell is marked ‡";

fn verdict(met: bool) -> String {
    if met { "met" } else { "**not met**" }.to_string()
}

/// The goals table of a run that measured every group: `elapsed` is the run's time so far.
pub fn table(facts: &Facts, elapsed: Duration, quick: bool) -> Table {
    let mut table = Table::new(["the lab's goal", "this run", "verdict"]);
    let async_points: Vec<(usize, Variant, f64)> = facts
        .fan_out
        .iter()
        .filter(|p| p.in_process && p.latency == Duration::from_millis(50))
        .flat_map(|p| {
            Variant::ALL
                .into_iter()
                .zip(&p.share)
                .filter(|(v, _)| *v != Variant::Sync)
                .map(move |(v, share)| (p.concurrency, v, *share))
        })
        .collect();
    if let Some(&(c, variant, share)) = async_points.iter().min_by(|a, b| a.2.total_cmp(&b.2)) {
        let largest = async_points.iter().map(|p| p.0).max().unwrap_or(c);
        table.row([
            format!(
                "the async variants reach ≥ {ASYNC_SHARE:.0}% of Little's limit in-process at \
                 W = 50 ms, for every C up to {largest}"
            ),
            format!("lowest: {variant} at C = {c}, {share:.1}%"),
            verdict(share >= ASYNC_SHARE),
        ]);
    }
    if let Some(cost) = facts.lab_cost {
        table.row([
            format!("the lab's own cost is ≤ {LAB_COST:.0}% of each timed window"),
            format!("at most {cost:.2}% (fan-out's calibration table)"),
            verdict(cost <= LAB_COST),
        ]);
    }
    let (limit, what) = if quick {
        (QUICK_RUN, "`--quick` takes at most 90 seconds")
    } else {
        (FULL_RUN, "the full lab takes at most 15 minutes")
    };
    table.row([
        what.to_string(),
        format!(
            "{} min {:02} s",
            elapsed.as_secs() / 60,
            elapsed.as_secs() % 60
        ),
        verdict(elapsed <= limit),
    ]);
    if !quick {
        table.row([
            AGREEMENT.to_string(),
            "not known from one run: `bench --compare OLD NEW --mark` fills this in".to_string(),
            "—".to_string(),
        ]);
    }
    table
}

/// The agreement goal's row once `--mark` compared two full runs: `marked` cells of `compared`
/// were more than 10% apart (and are marked), `other` names the other run.
pub fn agreement_row(marked: usize, compared: usize, other: &str) -> String {
    format!(
        "| {AGREEMENT} | {} of {compared} cells within 10% of a second full run ({other}); \
         {marked} marked ‡ | met: every cell agrees or is marked |",
        compared - marked
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::claims::tests::point;

    #[test]
    fn each_goal_is_judged_from_what_the_run_measured() {
        let facts = Facts {
            lab_cost: Some(1.4),
            fan_out: vec![
                point(16, [99.0, 98.0, 99.0, 99.0]),
                // Sync's 60% does not count: the goal is the async variants'.
                point(4096, [60.0, 89.5, 99.0, 99.0]),
            ],
            ..Facts::default()
        };
        let text = table(&facts, Duration::from_secs(14 * 60 + 2), false).markdown();
        assert!(
            text.contains("| lowest: tokio at C = 4096, 89.5% | **not met** |"),
            "{text}"
        );
        assert!(
            text.contains("| at most 1.40% (fan-out's calibration table) | met |"),
            "{text}"
        );
        assert!(text.contains("| 14 min 02 s | met |"), "{text}");
        assert!(text.contains(AGREEMENT), "{text}");

        let facts = Facts {
            lab_cost: Some(2.5),
            ..Facts::default()
        };
        let quick = table(&facts, Duration::from_secs(91), true).markdown();
        assert!(quick.contains("| at most 2.50% (fan-out's calibration table) | **not met** |"));
        assert!(quick.contains("`--quick` takes at most 90 seconds | 1 min 31 s | **not met** |"));
        assert!(
            !quick.contains(AGREEMENT),
            "one quick run says nothing of two full runs"
        );
        assert!(!quick.contains("Little's limit"), "no fan-out, no row");
    }
}

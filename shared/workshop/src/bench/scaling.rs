//! Group 9, **scaling out**: chapter 13's experiment — four worker processes, one per variant,
//! share a PostgreSQL work queue (`FOR UPDATE SKIP LOCKED`); one is killed inside a batch. What
//! each worker committed, what happened to the killed worker's batch, and whether the report
//! built from the tables equals the reference. Needs PostgreSQL (the tests' harness starts a
//! throwaway cluster); without it the table says why it was not measured.

use anyhow::bail;
use ch13_scaling_out::experiment::Exit;
use testkit::postgres::{Unavailable, try_test_database};

use super::doc::{Doc, Table};
use super::{Ctx, GroupOutput, Step};

pub fn run(ctx: &mut Ctx) -> anyhow::Result<GroupOutput> {
    let mut step = Step::new(ctx, 1);
    step.next("four worker processes, one PostgreSQL queue, one killed mid-batch");
    let db = match try_test_database("bench_scaling_out") {
        Ok(db) => db,
        Err(Unavailable::Missing(why)) => {
            step.finish();
            let mut table = Table::new(["measured", "why not"]);
            table.row(["no".to_string(), format!("no PostgreSQL here: {why}")]);
            let mut doc = Doc::new(
                &ctx.provenance,
                "Scaling out: not measured on this machine",
                "Install PostgreSQL (Debian: `postgresql`) or set DATABASE_URL, and run again.",
            );
            doc.table(&table);
            return Ok(GroupOutput::new("scaling-out", doc));
        }
        Err(Unavailable::Broken(why)) => bail!("PostgreSQL does not work: {why}"),
    };
    let outcome = ch13_scaling_out::experiment(&mut std::io::sink(), db.conninfo())?;
    step.finish();
    if !outcome.matches_reference() {
        bail!("the report built from the tables differs from the reference");
    }
    let mut workers = Table::new([
        "worker",
        "variant",
        "batches committed",
        "lines",
        "how it ended",
    ]);
    for row in &outcome.rows {
        workers.row([
            row.name.clone(),
            row.variant.to_string(),
            row.batches.to_string(),
            row.lines.to_string(),
            match &row.exit {
                Exit::Finished => "drained the queue, exit 0".to_string(),
                Exit::Killed => "SIGKILL inside a batch".to_string(),
                Exit::Failed(why) => format!("failed: {why}"),
            },
        ]);
    }
    let mut doc = Doc::new(
        &ctx.provenance,
        &format!(
            "Scaling out: {} batches, four worker processes, one killed mid-batch",
            outcome.batches
        ),
        "One run; the report built from the tables was checked against the reference.",
    );
    doc.table(&workers);
    if let Some(killed) = &outcome.killed {
        let mut table = Table::new(["the killed worker's batch", "what was seen"]);
        table.row([
            format!("batch {} of {}", killed.batch, killed.worker),
            format!(
                "while it was stopped: row locked = {}, its rows visible = {}; at the end: \
                 committed by {}, {} committed attempt(s)",
                if killed.locked_while_stopped {
                    "yes"
                } else {
                    "no"
                },
                killed.rows_visible_while_stopped,
                killed.done_by.as_deref().unwrap_or("nobody"),
                killed.attempts
            ),
        ]);
        doc.table(&table);
    }
    doc.text(&format!(
        "The report built from the tables {} the reference: nothing lost, nothing counted twice.",
        if outcome.matches_reference() {
            "equals"
        } else {
            "DIFFERS from"
        }
    ));
    Ok(GroupOutput::new("scaling-out", doc))
}

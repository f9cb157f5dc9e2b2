//! # Exercise 13 — a worker you can kill (chapter 13)
//!
//! Workers take jobs from a PostgreSQL queue (`ex13.jobs`). A job's effect is one row per
//! sensor in a ledger (`ex13.ledger`), an append-only feed like a bill: posted twice is a double
//! charge, never posted is a lost one, and the table stops neither. Workers die — deployed,
//! OOM-killed, their machine lost — at any point. The worker below, killed between two of its
//! statements, leaves a job half-posted or done-but-empty, and the next worker posts it again.
//!
//! Make `work_one` safe to kill at any statement: after a kill and a rerun, every job's effect
//! is in the ledger exactly once. And while one worker holds a job, another must pass over it,
//! not do it too. (~20 min)
//!
//! The checks kill your worker before each of its statements in turn (a count, not a timer)
//! and let a second worker drain the queue; then they pause it before each statement and run a
//! second worker meanwhile. Your SQL goes through `Db` (`ch13_scaling_out::ledger`): constant
//! text, values as parameters. Chapter 13, "The queue and the claim", shows the one transaction
//! per batch.
//!
//! Check: `cargo test -p ex13-idempotent-worker` (or `cargo run --release -- check 13`); it
//! needs PostgreSQL (`cargo run --release -- doctor`).
//! Stuck: `cargo run --release -- hint 13`. Don't change the harness or the checks.
#![forbid(unsafe_code)]

use ch13_scaling_out::ledger::{CLAIM, Db, DbError, Job, MARK_DONE, POST, Worked};

// ANCHOR: task
/// One step of worker `worker`: claim a pending job, post its entries, mark it done.
// TODO: every statement commits on its own, so a kill between two of them leaves half a job.
pub fn work_one(db: &mut Db, worker: &str) -> Result<Worked, DbError> {
    let Some(row) = db.query_opt(CLAIM, &[])? else {
        return Ok(Worked::NothingToClaim);
    };
    let job = Job::from_row(&row);
    for entry in job.entries() {
        db.execute(
            POST,
            &[&job.id, &entry.sensor_id, &entry.readings, &entry.rejected],
        )?;
    }
    db.execute(MARK_DONE, &[&job.id, &worker])?;
    Ok(Worked::Job(job.id))
}
// ANCHOR_END: task

// The checks: one file, shared with the solution crate (its `tests` folder links to this one).
#[cfg(test)]
#[path = "../tests/checks.rs"]
mod checks;

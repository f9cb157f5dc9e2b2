//! # Exercise 13 — a worker you can kill (chapter 13): SOLUTION
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

// ANCHOR: solution
/// The claim, the entries and the mark are one transaction. Until COMMIT nobody sees any of
/// it, and the claim's row lock keeps other workers off the job (`SKIP LOCKED` passes over
/// it). A worker killed anywhere before COMMIT leaves nothing: its connection closes, the
/// server rolls the transaction back and releases the lock, and the job is pending again, as
/// if it had never been claimed. At COMMIT, everything becomes visible at once.
pub fn work_one(db: &mut Db, worker: &str) -> Result<Worked, DbError> {
    let mut tx = db.transaction()?;
    let Some(row) = tx.query_opt(CLAIM, &[])? else {
        tx.commit()?;
        return Ok(Worked::NothingToClaim);
    };
    let job = Job::from_row(&row);
    for entry in job.entries() {
        tx.execute(
            POST,
            &[&job.id, &entry.sensor_id, &entry.readings, &entry.rejected],
        )?;
    }
    // The claim holds the lock, so this changes one row; if it ever did not, someone else did
    // the job: return without committing, and the entries are rolled back with the transaction.
    if tx.execute(MARK_DONE, &[&job.id, &worker])? != 1 {
        return Ok(Worked::NothingToClaim);
    }
    tx.commit()?;
    Ok(Worked::Job(job.id))
}
// ANCHOR_END: solution

// The checks: one file, shared with the solution crate (its `tests` folder links to this one).
#[cfg(test)]
#[path = "../tests/checks.rs"]
mod checks;

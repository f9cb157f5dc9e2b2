//! The queue with the sync `postgres` client: the sync worker's transaction ([`work_one`]), and
//! (re-exported from [`tables`](super::tables), sync too) setting the queue up and reading the
//! result.

use pgstore::{db_error, state_error};
use pipeline::PipelineError;
use postgres::{Client, Statement};

use super::partial::process;
use super::sql::{CLAIM, IDLE_TIMEOUT, INSERT_REJECTION, INSERT_WINDOW, MARK_DONE, PENDING};
use crate::claim::{Claimed, Step};
use crate::worker::Worker;

pub use super::tables::{batch, client, done_by_worker, enqueue, held, report};

/// A worker's connection with its statements prepared.
pub struct Lane {
    client: Client,
    place: String,
    claim: Statement,
    pending: Statement,
    insert_window: Statement,
    insert_rejection: Statement,
    mark_done: Statement,
}

/// Sets the session's idle-in-transaction timeout and prepares the worker's statements.
pub fn lane(mut client: Client, place: String, worker: &Worker) -> Result<Lane, PipelineError> {
    client
        .execute(IDLE_TIMEOUT, &[&worker.idle_timeout_ms()])
        .map_err(|e| db_error(&place, "cannot set the idle timeout", &e))?;
    let mut prepare = |sql| {
        client
            .prepare(sql)
            .map_err(|e| db_error(&place, "cannot prepare (is the queue there?)", &e))
    };
    Ok(Lane {
        claim: prepare(CLAIM)?,
        pending: prepare(PENDING)?,
        insert_window: prepare(INSERT_WINDOW)?,
        insert_rejection: prepare(INSERT_REJECTION)?,
        mark_done: prepare(MARK_DONE)?,
        client,
        place,
    })
}

// ANCHOR: work_one_blocking
/// One transaction: claim a batch, process it, write its results, mark it done, commit.
/// No batch to claim: [`Step::Wait`] if others still hold some, [`Step::Drained`] if
/// none is pending.
pub fn work_one(lane: &mut Lane, worker: &Worker) -> Result<Step, PipelineError> {
    let place = &lane.place;
    let e = |what: String| move |e: postgres::Error| db_error(place, what, &e);
    let mut tx = lane
        .client
        .transaction()
        .map_err(e("cannot begin".into()))?;
    let Some(row) = tx
        .query_opt(&lane.claim, &[])
        .map_err(e("cannot claim".into()))?
    else {
        let pending: i64 = tx
            .query_one(&lane.pending, &[])
            .map_err(e("cannot count".into()))?
            .get(0);
        tx.commit().map_err(e("cannot end".into()))?;
        return Ok(if pending > 0 {
            Step::Wait
        } else {
            Step::Drained
        });
    };
    let batch = Claimed {
        id: row.get(0),
        first_line: row.get(1),
        lines: row.get(2),
    };
    let at = format!(
        "batch {} (lines {}..={})",
        batch.id,
        batch.first_line,
        batch.last_line()
    );
    let results = process(&batch, worker.registry());
    for w in &results.windows {
        let row: [&(dyn postgres::types::ToSql + Sync); 8] = [
            &w.sensor_id,
            &w.window_start,
            &batch.id,
            &w.site,
            &w.count,
            &w.min,
            &w.max,
            &w.state,
        ];
        tx.execute(&lane.insert_window, &row)
            .map_err(e(format!("cannot write a window of {at}")))?;
    }
    for r in &results.rejections {
        let row: [&(dyn postgres::types::ToSql + Sync); 5] =
            [&r.line, &batch.id, &r.field, &r.reason, &r.rejection];
        tx.execute(&lane.insert_rejection, &row)
            .map_err(e(format!("cannot write a rejection of {at}")))?;
    }
    worker.before_commit(&batch)?; // the test hook: may stop here, holding the lock
    let marked = tx
        .execute(&lane.mark_done, &[&batch.id, &worker.name()])
        .map_err(e(format!("cannot mark {at} done")))?;
    if marked != 1 {
        return Err(state_error(
            place,
            format!("{at} was already done; rolled back"),
        ));
    }
    tx.commit().map_err(e(format!("cannot commit {at}")))?;
    Ok(worker.committed(&batch))
}
// ANCHOR_END: work_one_blocking

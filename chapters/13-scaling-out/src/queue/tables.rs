//! The queue seen from outside a worker, with the sync client: filling it, reading the result
//! back, and looking at one batch. Every variant's `run` does these outside its runtime, and
//! the experiment does them while the workers run.

use pgstore::{config, db_error, describe, state_error};
use pipeline::{Input, PipelineError, Report};
use postgres::error::SqlState;
use postgres::{Client, IsolationLevel, NoTls};

use super::partial::{batches, merge};
use super::sql::{
    COUNT_ROWS_OF, ENQUEUE, LOAD_BATCH, LOAD_REJECTIONS, LOAD_TOTALS, LOAD_WINDOWS, LOAD_WORKERS,
    LOCK_NOWAIT, RESET, SCHEMA,
};

/// A plain connection, for setting up and reading back.
pub fn client(conninfo: &str) -> Result<(Client, String), PipelineError> {
    let config = config(conninfo)?;
    let place = describe(&config);
    let client = postgres::Config::from(config)
        .connect(NoTls)
        .map_err(|e| db_error(&place, "cannot connect", &e))?;
    Ok((client, place))
}

/// Creates the tables if needed, empties them, and queues `input` in batches of
/// `batch_size` lines, in one transaction. Returns how many batches there are.
pub fn enqueue(conninfo: &str, input: &Input, batch_size: usize) -> Result<usize, PipelineError> {
    let (mut client, place) = client(conninfo)?;
    let e = |what: &'static str| {
        let place = place.clone();
        move |e: postgres::Error| db_error(&place, what, &e)
    };
    let batches = batches(input, batch_size);
    if let Some(line) = input.text().lines().position(|l| l.contains('\0')) {
        // PostgreSQL's text cannot hold a NUL byte; say which line instead of a
        // server error about encodings.
        return Err(state_error(
            &place,
            format!(
                "line {} contains a NUL byte, which PostgreSQL text cannot hold",
                line + 1
            ),
        ));
    }
    client
        .batch_execute(SCHEMA)
        .map_err(e("cannot create the tables"))?;
    let mut tx = client.transaction().map_err(e("cannot begin"))?;
    tx.batch_execute(RESET)
        .map_err(e("cannot empty the queue"))?;
    let insert = tx.prepare(ENQUEUE).map_err(e("cannot prepare"))?;
    for (id, first_line, lines) in &batches {
        tx.execute(&insert, &[id, first_line, lines])
            .map_err(e("cannot queue a batch"))?;
    }
    tx.commit().map_err(e("cannot commit the queue"))?;
    Ok(batches.len())
}

/// The report of everything the workers committed, read in one snapshot. An error if
/// any batch is still pending: the queue is not drained, so the report would be partial.
pub fn report(conninfo: &str) -> Result<Report, PipelineError> {
    let (mut client, place) = client(conninfo)?;
    let e = |e: postgres::Error| db_error(&place, "cannot read the results", &e);
    let mut tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .map_err(e)?;
    let totals = tx.query_one(LOAD_TOTALS, &[]).map_err(e)?;
    let (pending, batches, lines): (i64, i64, i64) = (totals.get(0), totals.get(1), totals.get(2));
    if pending > 0 {
        return Err(state_error(
            &place,
            format!("the queue is not drained: {pending} of {batches} batches are pending"),
        ));
    }
    let windows: Vec<String> = tx
        .query(LOAD_WINDOWS, &[])
        .map_err(e)?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let rejections: Vec<String> = tx
        .query(LOAD_REJECTIONS, &[])
        .map_err(e)?
        .iter()
        .map(|row| row.get(0))
        .collect();
    tx.commit().map_err(e)?;
    merge(lines as u64, &windows, &rejections)
        .map_err(|why| state_error(&place, format!("cannot merge the results: {why}")))
}

/// Who did how much, from the table.
pub fn done_by_worker(conninfo: &str) -> Result<Vec<Done>, PipelineError> {
    let (mut client, place) = client(conninfo)?;
    let rows = client
        .query(LOAD_WORKERS, &[])
        .map_err(|e| db_error(&place, "cannot read the queue", &e))?;
    Ok(rows
        .iter()
        .map(|row| Done {
            worker: row.get(0),
            batches: row.get(1),
            lines: row.get(2),
        })
        .collect())
}

/// One batch's row.
pub fn batch(conninfo: &str, id: i64) -> Result<BatchRow, PipelineError> {
    let (mut client, place) = client(conninfo)?;
    let row = client
        .query_one(LOAD_BATCH, &[&id])
        .map_err(|e| db_error(&place, format!("cannot read batch {id}"), &e))?;
    Ok(BatchRow {
        state: row.get(0),
        claimed_by: row.get(1),
        attempts: row.get(2),
    })
}

/// Seen from another connection: whether batch `id`'s row is locked (`FOR UPDATE NOWAIT`
/// fails at once instead of waiting), and how many result rows of it are visible — none,
/// while they are not committed.
pub fn held(conninfo: &str, id: i64) -> Result<(bool, i64), PipelineError> {
    let (mut client, place) = client(conninfo)?;
    let e = |e: postgres::Error| db_error(&place, format!("cannot look at batch {id}"), &e);
    let mut tx = client.transaction().map_err(e)?;
    let locked = match tx.query_opt(LOCK_NOWAIT, &[&id]) {
        Ok(_) => false,
        Err(err) if err.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) => true,
        Err(err) => return Err(e(err)),
    };
    tx.rollback().map_err(e)?;
    let visible = client.query_one(COUNT_ROWS_OF, &[&id]).map_err(e)?.get(0);
    Ok((locked, visible))
}

/// What each worker has done, from the table: `(worker, batches, lines)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    pub worker: String,
    pub batches: i64,
    pub lines: i64,
}

/// One batch's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchRow {
    pub state: String,
    pub claimed_by: Option<String>,
    pub attempts: i32,
}

//! The work queue, the result tables, and the one transaction a worker runs per batch.
//!
//! The input is cut into batches and put into `ch13.batches` (the lines themselves, so a worker
//! needs nothing but the database). A worker takes one batch at a time:
//!
//! ```text
//! BEGIN
//!   SELECT ... FROM ch13.batches WHERE state = 'pending' ... FOR UPDATE SKIP LOCKED  -- claim
//!   parse, enrich, aggregate the batch's lines (in this process)
//!   INSERT its partial windows and its rejections
//!   UPDATE ch13.batches SET state = 'done' ...
//! COMMIT
//! ```
//!
//! The claim is a row lock, not a write: it lasts exactly as long as the transaction. A worker
//! that commits has done the batch once, with all its results; a worker that dies before its
//! commit — crash, SIGKILL, lost connection — has its transaction rolled back by the server,
//! which also releases the lock, and the batch is `pending` and claimable again, with no trace
//! of the attempt. `SKIP LOCKED` makes the other workers pass over a locked batch instead of
//! queueing behind it.
//!
//! A window's records can come from several batches (readings arrive up to three minutes
//! late), so no worker ever holds a whole window. Each batch writes its own **partial** rows,
//! keyed by (sensor, window, batch), each holding its records' [`Aggregator`] state; the final
//! result is their merge ([`merge`]), which is exact and independent of order — the same merge
//! that lets the four variants of every chapter agree to the byte.
//!
//! Every value goes in as a query parameter; the SQL text is constant.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::PathBuf;
use std::str::FromStr;

use pipeline::window::WINDOW_SECS;
use pipeline::{
    Aggregator, Input, PipelineError, RawLine, Registry, Rejection, Report, ReportOnlySink,
    enrich_batch, parse_batch,
};

use crate::worker::{Step, Worker};

// ANCHOR: schema
/// The tables, in their own schema, created if they do not exist.
///
/// `attempts` counts *committed* attempts: a claim that was rolled back left no trace, so
/// every batch ends with exactly 1 (the book says what it takes to count failed ones too).
/// `state` in `windows` is the partial window's `Aggregator` as JSON text (not `jsonb`, which
/// would store numbers as `numeric` and lose `-0.0`): every value, so the merge is exact.
pub const SCHEMA: &str = "
CREATE SCHEMA IF NOT EXISTS ch13;
CREATE TABLE IF NOT EXISTS ch13.batches (
    id          bigint  PRIMARY KEY,
    first_line  bigint  NOT NULL,
    lines       text[]  NOT NULL CHECK (cardinality(lines) > 0),
    state       text    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done')),
    claimed_by  text,
    attempts    integer NOT NULL DEFAULT 0,
    CHECK ((state = 'done') = (claimed_by IS NOT NULL))
);
CREATE INDEX IF NOT EXISTS batches_pending ON ch13.batches (id) WHERE state = 'pending';
CREATE TABLE IF NOT EXISTS ch13.windows (
    sensor_id    text             NOT NULL,
    window_start bigint           NOT NULL,
    batch_id     bigint           NOT NULL REFERENCES ch13.batches (id),
    site         text             NOT NULL,
    count        bigint           NOT NULL CHECK (count > 0),
    min          double precision NOT NULL,
    max          double precision NOT NULL,
    state        text             NOT NULL,
    PRIMARY KEY (sensor_id, window_start, batch_id)
);
CREATE TABLE IF NOT EXISTS ch13.rejections (
    line      bigint PRIMARY KEY,
    batch_id  bigint NOT NULL REFERENCES ch13.batches (id),
    field     text   NOT NULL,
    reason    text   NOT NULL,
    rejection text   NOT NULL
);
";
// ANCHOR_END: schema

/// Empties the queue and the results (only this chapter's schema).
pub const RESET: &str = "TRUNCATE ch13.windows, ch13.rejections, ch13.batches";
pub const ENQUEUE: &str = "INSERT INTO ch13.batches (id, first_line, lines) VALUES ($1, $2, $3)";

// ANCHOR: claim
/// The claim: the first pending batch that no one else has locked, locked for this
/// transaction. A batch another worker holds is skipped, not waited for.
pub const CLAIM: &str = "
SELECT id, first_line, lines
FROM ch13.batches
WHERE state = 'pending'
ORDER BY id
LIMIT 1
FOR UPDATE SKIP LOCKED";
// ANCHOR_END: claim

// ANCHOR: write
/// No `ON CONFLICT`: a batch's rows are written once, by the transaction that marks it done.
/// A second write would be a bug, and the primary key turns it into an error.
pub const INSERT_WINDOW: &str = "
INSERT INTO ch13.windows (sensor_id, window_start, batch_id, site, count, min, max, state)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

pub const INSERT_REJECTION: &str = "
INSERT INTO ch13.rejections (line, batch_id, field, reason, rejection)
VALUES ($1, $2, $3, $4, $5)";

/// Only a pending batch can be marked done: if this changes no row, something else did the
/// batch, and the transaction must not commit.
pub const MARK_DONE: &str = "
UPDATE ch13.batches SET state = 'done', claimed_by = $2, attempts = attempts + 1
WHERE id = $1 AND state = 'pending'";
// ANCHOR_END: write

/// A session setting, as a parameter: how long this session may sit idle inside a transaction
/// (milliseconds) before the server ends it (see [`crate::worker::IDLE_IN_TRANSACTION`]).
pub const IDLE_TIMEOUT: &str =
    "SELECT set_config('idle_in_transaction_session_timeout', $1, false)";

/// How many batches are still to do, locked by someone or not.
pub const PENDING: &str = "SELECT count(*) FROM ch13.batches WHERE state = 'pending'";

pub const LOAD_TOTALS: &str = "
SELECT count(*) FILTER (WHERE state = 'pending'),
       count(*),
       coalesce(sum(cardinality(lines)), 0)::bigint
FROM ch13.batches";
pub const LOAD_WINDOWS: &str =
    "SELECT state FROM ch13.windows ORDER BY sensor_id, window_start, batch_id";
pub const LOAD_REJECTIONS: &str = "SELECT rejection FROM ch13.rejections ORDER BY line";
pub const LOAD_WORKERS: &str = "
SELECT claimed_by, count(*), sum(cardinality(lines))::bigint
FROM ch13.batches WHERE state = 'done'
GROUP BY claimed_by ORDER BY claimed_by";
pub const LOAD_BATCH: &str = "SELECT state, claimed_by, attempts FROM ch13.batches WHERE id = $1";
pub const LOCK_NOWAIT: &str = "SELECT id FROM ch13.batches WHERE id = $1 FOR UPDATE NOWAIT";
pub const COUNT_ROWS_OF: &str = "
SELECT (SELECT count(*) FROM ch13.windows WHERE batch_id = $1)
     + (SELECT count(*) FROM ch13.rejections WHERE batch_id = $1)";

/// A batch a worker has claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    pub id: i64,
    pub first_line: i64,
    pub lines: Vec<String>,
}

impl Claimed {
    pub fn last_line(&self) -> i64 {
        self.first_line + self.lines.len() as i64 - 1
    }
}

/// One partial window: the records of one batch that fall in one sensor's minute.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowRow {
    pub sensor_id: String,
    pub window_start: i64,
    pub site: String,
    pub count: i64,
    pub min: f64,
    pub max: f64,
    /// The partial's [`Aggregator`], as JSON.
    pub state: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectionRow {
    pub line: i64,
    pub field: String,
    pub reason: String,
    /// The whole [`Rejection`], as JSON, so the report can quote it.
    pub rejection: String,
}

/// What one batch's transaction writes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Results {
    pub windows: Vec<WindowRow>,
    pub rejections: Vec<RejectionRow>,
}

// ANCHOR: process
/// The pipeline's stages on one batch, in the worker: parse, enrich, and aggregate into one
/// partial per (sensor, window). Pure and sync; the same in every variant.
pub fn process(batch: &Claimed, registry: &dyn Registry) -> Results {
    let lines = (batch.first_line as u64..)
        .zip(&batch.lines)
        .map(|(number, text)| RawLine {
            number,
            text: text.clone(),
        })
        .collect();
    let mut windows: BTreeMap<(String, i64), Aggregator> = BTreeMap::new();
    let mut rejections = Vec::new();
    for record in enrich_batch(registry, parse_batch(lines)) {
        match record {
            Ok(r) => {
                let start = r.timestamp.div_euclid(WINDOW_SECS) * WINDOW_SECS;
                let key = (r.sensor_id.clone(), start);
                windows.entry(key).or_default().add(Ok(r));
            }
            Err(rejection) => rejections.push(rejection_row(&rejection)),
        }
    }
    Results {
        windows: windows.into_values().map(window_row).collect(),
        rejections,
    }
}
// ANCHOR_END: process

fn window_row(partial: Aggregator) -> WindowRow {
    let state = serde_json::to_string(&partial).expect("an aggregator serializes");
    let (mut summaries, _) = partial.finish();
    let w = summaries.pop().expect("a partial window has a record");
    WindowRow {
        sensor_id: w.sensor_id,
        window_start: w.window_start,
        site: w.site,
        count: w.count as i64,
        min: w.min,
        max: w.max,
        state,
    }
}

fn rejection_row(rejection: &Rejection) -> RejectionRow {
    RejectionRow {
        line: rejection.line as i64,
        field: rejection.field.to_string(),
        reason: rejection.reason.kind().to_owned(),
        rejection: serde_json::to_string(rejection).expect("a rejection serializes"),
    }
}

// ANCHOR: merge
/// The result of the whole queue: every partial window and every rejection merged into one
/// `Aggregator`, then the same `finish` as every pipeline. Which worker wrote which partial,
/// and in what order, cannot change it.
pub fn merge(
    lines_read: u64,
    partial_windows: &[String],
    rejections: &[String],
) -> Result<Report, String> {
    let mut all = Aggregator::new();
    for state in partial_windows {
        let partial: Aggregator = serde_json::from_str(state)
            .map_err(|e| format!("a partial window does not read back: {e}"))?;
        all.merge(partial);
    }
    for json in rejections {
        let rejection: Rejection = serde_json::from_str(json)
            .map_err(|e| format!("a rejection does not read back: {e}"))?;
        all.add(Err(rejection));
    }
    pipeline::finish(lines_read, all, Box::new(ReportOnlySink)).map_err(|e| e.to_string())
}
// ANCHOR_END: merge

/// The input, cut into the batches the queue holds: `(id, first_line, lines)`, ids from 1.
pub fn batches(input: &Input, batch_size: usize) -> Vec<(i64, i64, Vec<String>)> {
    input
        .batches(batch_size)
        .zip(1i64..)
        .map(|(batch, id)| {
            let first = batch[0].number as i64;
            (id, first, batch.into_iter().map(|l| l.text).collect())
        })
        .collect()
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

/// The parsed connection string. The error does not repeat the string: it may hold a password.
pub fn config(conninfo: &str) -> Result<tokio_postgres::Config, PipelineError> {
    tokio_postgres::Config::from_str(conninfo).map_err(|e| {
        PipelineError::Config(format!("the PostgreSQL connection string is invalid: {e}"))
    })
}

// The connection helpers are chapter 9's: one description of a database without its password,
// one TCP address for `connect_raw`, one shape for a database error.
pub use ch09_real_io::store::{db_error, describe, tcp_address};

fn state_error(place: &str, what: impl fmt::Display) -> PipelineError {
    PipelineError::WriteOutput {
        path: PathBuf::from(place),
        source: io::Error::other(what.to_string()),
    }
}

/// The queue with the sync `postgres` client: setting it up and reading the result (every
/// variant's `run` does both outside its runtime), and the sync worker's transaction.
pub mod blocking {
    use super::*;
    use postgres::error::SqlState;
    use postgres::{Client, IsolationLevel, NoTls, Statement};

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
    pub fn enqueue(
        conninfo: &str,
        input: &Input,
        batch_size: usize,
    ) -> Result<usize, PipelineError> {
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
        let (pending, batches, lines): (i64, i64, i64) =
            (totals.get(0), totals.get(1), totals.get(2));
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
}

/// The worker's transaction with `tokio-postgres`, on whatever drives its connection (the
/// three async variants): the same statements in the same order as [`blocking::work_one`],
/// with `.await`.
pub mod nonblocking {
    use super::*;
    use tokio_postgres::types::ToSql;
    use tokio_postgres::{Client, Statement};

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
    pub async fn lane(
        client: Client,
        place: String,
        worker: &Worker,
    ) -> Result<Lane, PipelineError> {
        client
            .execute(IDLE_TIMEOUT, &[&worker.idle_timeout_ms()])
            .await
            .map_err(|e| db_error(&place, "cannot set the idle timeout", &e))?;
        let e =
            |e: tokio_postgres::Error| db_error(&place, "cannot prepare (is the queue there?)", &e);
        Ok(Lane {
            claim: client.prepare(CLAIM).await.map_err(e)?,
            pending: client.prepare(PENDING).await.map_err(e)?,
            insert_window: client.prepare(INSERT_WINDOW).await.map_err(e)?,
            insert_rejection: client.prepare(INSERT_REJECTION).await.map_err(e)?,
            mark_done: client.prepare(MARK_DONE).await.map_err(e)?,
            client,
            place,
        })
    }

    // ANCHOR: work_one
    /// One transaction: claim a batch, process it, write its results, mark it done, commit.
    pub async fn work_one(lane: &mut Lane, worker: &Worker) -> Result<Step, PipelineError> {
        let place = &lane.place;
        let e = |what: String| move |e: tokio_postgres::Error| db_error(place, what, &e);
        let tx = lane
            .client
            .transaction()
            .await
            .map_err(e("cannot begin".into()))?;
        let Some(row) = tx
            .query_opt(&lane.claim, &[])
            .await
            .map_err(e("cannot claim".into()))?
        else {
            let pending: i64 = tx
                .query_one(&lane.pending, &[])
                .await
                .map_err(e("cannot count".into()))?
                .get(0);
            tx.commit().await.map_err(e("cannot end".into()))?;
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
            let row: [&(dyn ToSql + Sync); 8] = [
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
                .await
                .map_err(e(format!("cannot write a window of {at}")))?;
        }
        for r in &results.rejections {
            let row: [&(dyn ToSql + Sync); 5] =
                [&r.line, &batch.id, &r.field, &r.reason, &r.rejection];
            tx.execute(&lane.insert_rejection, &row)
                .await
                .map_err(e(format!("cannot write a rejection of {at}")))?;
        }
        worker.before_commit(&batch)?; // the test hook: may stop here, holding the lock
        let marked = tx
            .execute(&lane.mark_done, &[&batch.id, &worker.name()])
            .await
            .map_err(e(format!("cannot mark {at} done")))?;
        if marked != 1 {
            return Err(state_error(
                place,
                format!("{at} was already done; rolled back"),
            ));
        }
        tx.commit()
            .await
            .map_err(e(format!("cannot commit {at}")))?;
        Ok(worker.committed(&batch))
    }
    // ANCHOR_END: work_one
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipeline::{Config, DatasetSpec, FleetRegistry};

    /// Batches processed one by one, their partial rows merged in any order: the reference.
    #[test]
    fn the_merge_of_every_batch_s_partials_is_the_reference_report() {
        let input = Input::generated(&DatasetSpec {
            lines: 3_000,
            ..DatasetSpec::default()
        });
        let reference = pipeline::run_sequential(&input, &Config::default()).unwrap();
        let fleet = FleetRegistry::default();
        for batch_size in [7, 100, 5_000] {
            let mut windows = Vec::new();
            let mut rejections = Vec::new();
            // Backwards, as if the last batch were done first.
            for (id, first_line, lines) in batches(&input, batch_size).into_iter().rev() {
                let results = process(
                    &Claimed {
                        id,
                        first_line,
                        lines,
                    },
                    &fleet,
                );
                windows.extend(results.windows.into_iter().map(|w| w.state));
                rejections.extend(results.rejections.into_iter().map(|r| r.rejection));
            }
            let report = merge(input.line_count(), &windows, &rejections).unwrap();
            assert_eq!(report.text(), reference.text(), "batches of {batch_size}");
        }
    }

    #[test]
    fn a_window_spread_over_batches_has_one_partial_row_per_batch() {
        // s-0001's minute 0 has records in both batches of two lines.
        let input = Input::from_text("t", "s-0001,1,1.0\ns-0001,2,2.0\ns-0001,3,3.0\nbad\n");
        let fleet = FleetRegistry::default();
        let parts: Vec<Results> = batches(&input, 2)
            .into_iter()
            .map(|(id, first_line, lines)| {
                process(
                    &Claimed {
                        id,
                        first_line,
                        lines,
                    },
                    &fleet,
                )
            })
            .collect();
        let counts: Vec<Vec<i64>> = parts
            .iter()
            .map(|p| p.windows.iter().map(|w| w.count).collect())
            .collect();
        assert_eq!(counts, vec![vec![2], vec![1]]);
        assert_eq!(parts[1].rejections[0].line, 4);
        assert_eq!(parts[1].rejections[0].reason, "wrong field count");
    }

    #[test]
    fn a_connection_string_in_messages_has_no_password() {
        let config = config("postgresql://ana:secret@db.example:6543/queue").unwrap();
        assert_eq!(describe(&config), "postgresql://ana@db.example:6543/queue");
        let err = config_error("postgresql://ana:secret@db.example:notaport/x");
        assert!(!err.contains("secret"), "{err}");
    }

    fn config_error(conninfo: &str) -> String {
        config(conninfo).unwrap_err().to_string()
    }
}

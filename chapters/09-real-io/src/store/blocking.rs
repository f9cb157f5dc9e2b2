//! The sink with the sync `postgres` client (the sync variant).

use pgstore::{db_error, state_error};
use pipeline::{Input, PipelineError};
use postgres::{Client, IsolationLevel, Statement};

use super::sql::{
    BACKEND_PID, INSERT_REJECTION, LOAD_CHECKPOINT, LOAD_REJECTIONS, LOAD_WINDOWS, MOVE_CHECKPOINT,
    SCHEMA, UPSERT_WINDOW,
};
use super::state::{Batch, State};
use super::target::{BeforeCommit, PgTarget};

/// A connected, prepared sink.
pub struct Db {
    client: Client,
    place: String,
    backend_pid: i32,
    before_commit: Option<BeforeCommit>,
    upsert_window: Statement,
    insert_rejection: Statement,
    move_checkpoint: Statement,
}

/// Creates the tables if needed and prepares the statements.
pub fn open(mut client: Client, target: &PgTarget) -> Result<Db, PipelineError> {
    let place = target.place()?;
    let e = |what: &'static str| {
        let place = place.clone();
        move |e: postgres::Error| db_error(&place, what, &e)
    };
    client
        .batch_execute(SCHEMA)
        .map_err(e("cannot create the tables"))?;
    let backend_pid = client
        .query_one(BACKEND_PID, &[])
        .map_err(e("cannot ask for the backend"))?
        .get(0);
    let upsert_window = client.prepare(UPSERT_WINDOW).map_err(e("cannot prepare"))?;
    let insert_rejection = client
        .prepare(INSERT_REJECTION)
        .map_err(e("cannot prepare"))?;
    let move_checkpoint = client
        .prepare(MOVE_CHECKPOINT)
        .map_err(e("cannot prepare"))?;
    Ok(Db {
        client,
        place,
        backend_pid,
        before_commit: target.before_commit.clone(),
        upsert_window,
        insert_rejection,
        move_checkpoint,
    })
}

/// The state the last commit left, read in one snapshot.
pub fn resume(db: &mut Db, input: &Input) -> Result<State, PipelineError> {
    let place = db.place.clone();
    let e = |e: postgres::Error| db_error(&place, "cannot read the checkpoint", &e);
    let mut tx = db
        .client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .map_err(e)?;
    let checkpoint = tx
        .query_opt(LOAD_CHECKPOINT, &[])
        .map_err(e)?
        .map(|row| (row.get(0), row.get(1), row.get(2)));
    let windows = tx
        .query(LOAD_WINDOWS, &[])
        .map_err(e)?
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect();
    let rejections = tx
        .query(LOAD_REJECTIONS, &[])
        .map_err(e)?
        .iter()
        .map(|row| row.get(0))
        .collect();
    tx.commit().map_err(e)?;
    State::restore(input, checkpoint, windows, rejections)
        .map_err(|why| state_error(&place, format!("cannot resume: {why}")))
}

// ANCHOR: commit_blocking
/// One batch, one transaction: its windows, its rejections, the checkpoint.
pub fn commit(db: &mut Db, batch: &Batch) -> Result<(), PipelineError> {
    let (place, lines) = (&db.place, batch.lines());
    let mut tx = db
        .client
        .transaction()
        .map_err(|e| db_error(place, format!("cannot begin {lines}"), &e))?;
    for w in &batch.windows {
        tx.execute(
            &db.upsert_window,
            &[
                &w.sensor_id,
                &w.window_start,
                &w.site,
                &w.count,
                &w.min,
                &w.max,
                &w.mean,
                &w.p95,
                &w.state,
            ],
        )
        .map_err(|e| {
            db_error(
                place,
                format!("cannot write window {} ({lines})", w.name()),
                &e,
            )
        })?;
    }
    for r in &batch.rejections {
        tx.execute(&db.insert_rejection, &[&r.line, &r.reason, &r.rejection])
            .map_err(|e| db_error(place, format!("cannot write rejected line {}", r.line), &e))?;
    }
    if let Some(hook) = &db.before_commit {
        hook(&batch.point(db.backend_pid))
            .map_err(|why| state_error(place, format!("{why} (before committing {lines})")))?;
    }
    let moved = tx
        .execute(
            &db.move_checkpoint,
            &[
                &batch.source,
                &batch.input_digest,
                &batch.from_line,
                &batch.next_line,
            ],
        )
        .map_err(|e| {
            db_error(
                place,
                format!("cannot move the checkpoint past {lines}"),
                &e,
            )
        })?;
    if moved != 1 {
        return Err(state_error(
            place,
            format!(
                "another run moved the checkpoint while this one read {lines}; nothing of them \
             was committed"
            ),
        ));
    }
    tx.commit()
        .map_err(|e| db_error(place, format!("cannot commit {lines}"), &e))
}
// ANCHOR_END: commit_blocking

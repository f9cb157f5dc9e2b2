//! Writes a report's windows to PostgreSQL with the sync `postgres` client, in one
//! transaction. Used by the `sync-postgres` standalone program (through `#[path]`).
//!
//! `postgres` is a blocking API over `tokio-postgres`: it starts a tokio runtime inside the
//! client. That is what the `sync-postgres` build measures — a sync program that compiles tokio.

use pipeline::{PipelineError, WindowSummary};
use postgres::{Client, NoTls};

use crate::sql::{CREATE_TABLE, UPSERT_WINDOW, count, db_error};

/// Upserts every window; returns how many rows were written.
pub fn write_windows(conninfo: &str, windows: &[WindowSummary]) -> Result<u64, PipelineError> {
    let mut client = Client::connect(conninfo, NoTls).map_err(|e| db_error("connect", &e))?;
    client
        .batch_execute(CREATE_TABLE)
        .map_err(|e| db_error("create the table", &e))?;
    let mut transaction = client
        .transaction()
        .map_err(|e| db_error("begin a transaction", &e))?;
    let upsert = transaction
        .prepare(UPSERT_WINDOW)
        .map_err(|e| db_error("prepare the upsert", &e))?;
    let mut written = 0;
    for w in windows {
        written += transaction
            .execute(
                &upsert,
                &[
                    &w.sensor_id,
                    &w.window_start,
                    &w.site,
                    &count(w)?,
                    &w.min,
                    &w.max,
                    &w.mean,
                    &w.p95,
                ],
            )
            .map_err(|e| db_error("upsert a window", &e))?;
    }
    transaction.commit().map_err(|e| db_error("commit", &e))?;
    Ok(written)
}

//! Writes a report's windows to PostgreSQL with `tokio-postgres`, in one transaction. Used by
//! the `tokio-postgres` standalone program (through `#[path]`); must run inside a tokio runtime
//! (the connection is a task of its own); [`runtime`] builds the one that program runs both
//! the pipeline and the store on.

use pipeline::{Config, PipelineError, WindowSummary};
use tokio_postgres::{Client, NoTls};

use crate::sql::{CREATE_TABLE, UPSERT_WINDOW, count, db_error};

/// A multi-thread runtime with `cfg.worker_threads` workers, the I/O and timer drivers on (the
/// connection needs them; `enable_all` turns on those that tokio-postgres's tokio features
/// compile in). Built here rather than through the workspace's `runtimes` crate, which depends
/// on tokio with `full`: the standalone program would pay for it.
pub fn runtime(cfg: &Config) -> Result<tokio::runtime::Runtime, PipelineError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cfg.worker_threads)
        .enable_all()
        .build()
        .map_err(|source| PipelineError::Start {
            what: "the tokio runtime",
            source,
        })
}

/// Upserts every window; returns how many rows were written.
pub async fn write_windows(
    conninfo: &str,
    windows: &[WindowSummary],
) -> Result<u64, PipelineError> {
    let (mut client, connection) = tokio_postgres::connect(conninfo, NoTls)
        .await
        .map_err(|e| db_error("connect", &e))?;
    // The connection does the socket I/O; it runs until the client is dropped.
    let connection = tokio::spawn(connection);
    let written = upsert(&mut client, windows).await;
    drop(client);
    let closed = match connection.await {
        Ok(result) => result.map_err(|e| db_error("the connection", &e)),
        Err(e) => Err(db_error("the connection task", &e)),
    };
    let written = written?;
    closed?;
    Ok(written)
}

async fn upsert(client: &mut Client, windows: &[WindowSummary]) -> Result<u64, PipelineError> {
    client
        .batch_execute(CREATE_TABLE)
        .await
        .map_err(|e| db_error("create the table", &e))?;
    let transaction = client
        .transaction()
        .await
        .map_err(|e| db_error("begin a transaction", &e))?;
    let upsert = transaction
        .prepare(UPSERT_WINDOW)
        .await
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
            .await
            .map_err(|e| db_error("upsert a window", &e))?;
    }
    transaction
        .commit()
        .await
        .map_err(|e| db_error("commit", &e))?;
    Ok(written)
}

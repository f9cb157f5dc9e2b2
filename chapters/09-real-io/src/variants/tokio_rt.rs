//! Chapter 9, **tokio** variant: `reqwest` and `tokio-postgres` on their home runtime.
//!
//! Compared with `sync.rs`: the look-ups of a batch are futures polled together by
//! `buffer_unordered` in one task, so `cfg.concurrency` requests wait at once without a thread
//! each; `tokio_postgres::connect` hands back a client and a `connection` future that does the
//! socket I/O, which must be spawned (or nothing is ever sent).

use futures::stream::{self, StreamExt};
use tokio::task::JoinHandle;
use tokio_postgres::NoTls;

use pipeline::{
    Config, Enriched, Input, Parsed, PipelineError, Report, ReportOnlySink, Sink, enrich_with,
    parse_batch,
};

use crate::store::{self, PgTarget, State, nonblocking::Db};
use crate::{Setup, http, registry_for};

/// The pipeline with its own registry service, writing to `cfg.sink`.
pub fn run(input: &Input, cfg: &Config) -> Result<Report, PipelineError> {
    run_with(input, cfg, &Setup::default())
}

// ANCHOR: run
/// Builds a multi-thread runtime and runs the pipeline on it.
pub fn run_with(input: &Input, cfg: &Config, setup: &Setup) -> Result<Report, PipelineError> {
    cfg.validate()?;
    let (registry, _service) = registry_for(setup, cfg)?;
    let runtime = runtimes::tokio_runtime(cfg)?;
    runtime.block_on(run_async(input, cfg, setup, &registry))
}

/// The pipeline: open the store (and resume from its checkpoint), then batch by batch: look
/// the readings up over HTTP, fold them in, commit.
pub async fn run_async(
    input: &Input,
    cfg: &Config,
    setup: &Setup,
    registry: &str,
) -> Result<Report, PipelineError> {
    // The store opens first: a database that is down fails the run before any look-up.
    let (mut store, mut state) = open_store(input, cfg, setup).await?;
    let client = http::client()?;
    cfg.progress.add(state.lines_done());
    for batch in input.batches_from(state.next_line(), cfg.batch_size) {
        cfg.progress.add(batch.len());
        let (first, last) = (batch[0].number, batch[batch.len() - 1].number);
        let records = enrich(&client, registry, parse_batch(batch), cfg.concurrency).await?;
        let written = state.apply(first, last, records);
        if let Store::Postgres(db, _) = &mut store {
            store::nonblocking::commit(db, &written).await?;
        }
    }
    close(store, state).await
}
// ANCHOR_END: run

// ANCHOR: enrich
/// One batch's look-ups, `concurrency` at a time, all in this one task.
async fn enrich(
    client: &reqwest::Client,
    registry: &str,
    batch: Vec<Parsed>,
    concurrency: usize,
) -> Result<Vec<Enriched>, PipelineError> {
    Ok(stream::iter(batch)
        .map(|parsed| async move {
            let reading = parsed?;
            let found = http::lookup(client, registry, &reading).await;
            enrich_with(reading, found)
        })
        .buffer_unordered(concurrency)
        .collect()
        .await)
}
// ANCHOR_END: enrich

/// Where the windows go.
enum Store {
    /// `cfg.sink`, written when the run ends.
    Sink(Box<dyn Sink>),
    /// PostgreSQL, committed batch by batch; the task that drives the connection.
    Postgres(Box<Db>, JoinHandle<Result<(), tokio_postgres::Error>>),
}

async fn open_store(
    input: &Input,
    cfg: &Config,
    setup: &Setup,
) -> Result<(Store, State), PipelineError> {
    match &setup.postgres {
        None => Ok((Store::Sink(cfg.sink.open()?), State::new(input))),
        Some(target) => {
            let (mut db, connection) = connect(target).await?;
            let state = store::nonblocking::resume(&mut db, input).await?;
            Ok((Store::Postgres(Box::new(db), connection), state))
        }
    }
}

// ANCHOR: connect
/// `tokio_postgres::connect` opens a tokio `TcpStream`; the `connection` future it returns
/// reads and writes that socket, on a task of its own.
async fn connect(
    target: &PgTarget,
) -> Result<(Db, JoinHandle<Result<(), tokio_postgres::Error>>), PipelineError> {
    let place = target.place()?;
    let (client, connection) = target
        .config()?
        .connect(NoTls)
        .await
        .map_err(|e| store::db_error(&place, "cannot connect", &e))?;
    let connection = tokio::spawn(connection);
    Ok((store::nonblocking::open(client, target).await?, connection))
}
// ANCHOR_END: connect

async fn close(store: Store, state: State) -> Result<Report, PipelineError> {
    match store {
        Store::Sink(sink) => state.finish(sink),
        Store::Postgres(db, connection) => {
            drop(db); // the connection task ends once its client is gone
            let _ = connection.await;
            state.finish(Box::new(ReportOnlySink))
        }
    }
}

//! Chapter 9, **async-std** variant: tokio's crates without tokio's runtime.
//!
//! Compared with `tokio_rt.rs`: `reqwest` needs tokio's reactor and timers while it is polled,
//! so each look-up runs inside `async_compat::Compat`, which enters a tokio runtime that
//! async-compat starts on a hidden thread. PostgreSQL needs no tokio at all:
//! `Config::connect_raw` speaks the protocol over any socket, so we open async-std's own
//! `TcpStream`, adapt its `futures::io` traits to tokio's (`tokio_util::compat`), and drive the
//! `connection` future on async-std. The `Compat` route (one line, and the hidden tokio
//! runtime) is here too, as [`connect_through_compat`].

use async_compat::Compat;
use async_std::net::TcpStream;
use async_std::task::{self, JoinHandle};
use futures::stream::{self, StreamExt};
use tokio_postgres::NoTls;
use tokio_util::compat::FuturesAsyncReadCompatExt;

use pipeline::{
    Config, Enriched, Input, Parsed, PipelineError, Report, ReportOnlySink, Sink, enrich_with,
    parse_batch,
};

use crate::store::{self, PgRoute, PgTarget, State, nonblocking::Db};
use crate::{Setup, http, registry_for};

/// The pipeline with its own registry service, writing to `cfg.sink`.
pub fn run(input: &Input, cfg: &Config) -> Result<Report, PipelineError> {
    run_with(input, cfg, &Setup::default())
}

// ANCHOR: run
/// Runs the pipeline on async-std's global executor.
pub fn run_with(input: &Input, cfg: &Config, setup: &Setup) -> Result<Report, PipelineError> {
    cfg.validate()?;
    let (registry, _service) = registry_for(setup, cfg)?;
    task::block_on(run_async(input, cfg, setup, &registry))
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
/// One batch's look-ups, `concurrency` at a time, all in this one task; each inside `Compat`,
/// which gives reqwest the tokio context it needs.
async fn enrich(
    client: &reqwest::Client,
    registry: &str,
    batch: Vec<Parsed>,
    concurrency: usize,
) -> Result<Vec<Enriched>, PipelineError> {
    Ok(stream::iter(batch)
        .map(|parsed| async move {
            let reading = parsed?;
            let found = Compat::new(http::lookup(client, registry, &reading)).await;
            enrich_with(reading, found)
        })
        .buffer_unordered(concurrency)
        .collect()
        .await)
}
// ANCHOR_END: enrich

/// What drives a connection: a task on async-std's executor.
type ConnectionTask = JoinHandle<Result<(), tokio_postgres::Error>>;

/// Where the windows go.
enum Store {
    /// `cfg.sink`, written when the run ends.
    Sink(Box<dyn Sink>),
    /// PostgreSQL, committed batch by batch; the task that drives the connection.
    Postgres(Box<Db>, ConnectionTask),
}

async fn open_store(
    input: &Input,
    cfg: &Config,
    setup: &Setup,
) -> Result<(Store, State), PipelineError> {
    match &setup.postgres {
        None => Ok((Store::Sink(cfg.sink.open()?), State::new(input))),
        Some(target) => {
            let (mut db, connection) = match setup.pg_route {
                PgRoute::ConnectRaw => connect(target).await?,
                PgRoute::AsyncCompat => connect_through_compat(target).await?,
            };
            let state = store::nonblocking::resume(&mut db, input).await?;
            Ok((Store::Postgres(Box::new(db), connection), state))
        }
    }
}

// ANCHOR: connect
/// Our own socket, adapted (`.compat()`: futures-io → tokio-io), handed to `connect_raw`; the
/// `connection` future runs on async-std. No tokio runtime anywhere on this path.
async fn connect(target: &PgTarget) -> Result<(Db, ConnectionTask), PipelineError> {
    let (place, config) = (target.place()?, target.config()?);
    let cannot = |e: &dyn std::error::Error| store::db_error(&place, "cannot connect", e);
    let (host, port) = store::tcp_address(&config)?;
    let socket = TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| cannot(&e))?;
    socket.set_nodelay(true).map_err(|e| cannot(&e))?;
    let (client, connection) = config
        .connect_raw(socket.compat(), NoTls)
        .await
        .map_err(|e| cannot(&e))?;
    let connection = task::spawn(connection);
    Ok((store::nonblocking::open(client, target).await?, connection))
}
// ANCHOR_END: connect

// ANCHOR: connect_through_compat
/// The other route: tokio-postgres's own `connect` (a tokio `TcpStream`) inside `Compat`, and
/// the connection future too. Shorter; it starts async-compat's tokio runtime on a hidden
/// thread ("async-compat/tokio-1"), which then does this connection's I/O.
async fn connect_through_compat(target: &PgTarget) -> Result<(Db, ConnectionTask), PipelineError> {
    let place = target.place()?;
    let (client, connection) = Compat::new(target.config()?.connect(NoTls))
        .await
        .map_err(|e| store::db_error(&place, "cannot connect", &e))?;
    let connection = task::spawn(Compat::new(connection));
    Ok((store::nonblocking::open(client, target).await?, connection))
}
// ANCHOR_END: connect_through_compat

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

//! Chapter 13, **async-std** variant: a worker's lanes are tasks on async-std's global
//! executor, each with a `tokio_postgres::Client` — and no tokio runtime anywhere.
//!
//! Compared with `tokio_rt.rs`: `Config::connect_raw` speaks PostgreSQL's protocol over any
//! socket, so we open async-std's own `TcpStream`, adapt its `futures::io` traits to tokio's
//! (`tokio_util::compat`), and drive the `connection` future on async-std. (Chapter 9 shows the
//! other route, `async_compat::Compat` around `tokio_postgres::connect`, which starts a hidden
//! tokio runtime.) A task's panic is caught where it happens: async-std would re-raise it in
//! whoever awaits the handle.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use async_std::net::TcpStream;
use async_std::task;
use futures_lite::FutureExt;
use tokio_postgres::NoTls;
use tokio_util::compat::FuturesAsyncReadCompatExt;

use pipeline::{Config, Input, PipelineError, Report, Variant, joined};

use crate::claim::Step;
use crate::queue::{self, nonblocking::Lane};
use crate::worker::{POLL, Summary, Worker};

/// One worker of this variant, alone, on the queue at [`crate::database_from_env`] (the
/// tour's and the workshop's contract; it fails clearly without a database).
pub fn run(input: &Input, cfg: &Config) -> Result<Report, PipelineError> {
    run_on(input, cfg, &crate::database_from_env()?)
}

/// Queues `input`, drains the queue with one worker of this variant (`cfg.worker_threads`
/// lanes), and reads the report back from the tables.
pub fn run_on(input: &Input, cfg: &Config, conninfo: &str) -> Result<Report, PipelineError> {
    crate::run_alone(Variant::AsyncStd, input, cfg, conninfo)
}

// ANCHOR: work
/// The worker: one connection per lane, all made first (a database that is down fails the
/// worker before it claims anything), then a task per lane, each claiming batches until the
/// queue is drained.
pub fn work(conninfo: &str, worker: &Arc<Worker>) -> Result<Summary, PipelineError> {
    task::block_on(async {
        let mut connections = Vec::new();
        for _ in 0..worker.lanes() {
            connections.push(connect(conninfo, worker).await?);
        }
        let lanes: Vec<_> = connections
            .into_iter()
            .map(|lane| {
                task::spawn(AssertUnwindSafe(drain(lane, Arc::clone(worker))).catch_unwind())
            })
            .collect();
        let mut result = Ok(());
        for handle in lanes {
            result = result.and(joined("worker lane", handle.await));
        }
        result.map(|()| worker.summary())
    })
}

/// One batch per transaction, until nothing is pending.
async fn drain(mut lane: Lane, worker: Arc<Worker>) -> Result<(), PipelineError> {
    loop {
        match queue::nonblocking::work_one(&mut lane, &worker).await? {
            Step::Committed { .. } => {}
            Step::Wait => task::sleep(POLL).await,
            Step::Drained => return Ok(()),
        }
    }
}
// ANCHOR_END: work

// ANCHOR: connect
/// Our own socket, adapted (`.compat()`: futures-io → tokio-io), handed to `connect_raw`; the
/// `connection` future runs on async-std.
async fn connect(conninfo: &str, worker: &Worker) -> Result<Lane, PipelineError> {
    let config = queue::config(conninfo)?;
    let place = queue::describe(&config);
    let cannot = |e: &dyn std::error::Error| queue::db_error(&place, "cannot connect", e);
    let (host, port) = queue::tcp_address(&config)?;
    let socket = TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| cannot(&e))?;
    socket.set_nodelay(true).map_err(|e| cannot(&e))?;
    let (client, connection) = config
        .connect_raw(socket.compat(), NoTls)
        .await
        .map_err(|e| cannot(&e))?;
    task::spawn(connection);
    queue::nonblocking::lane(client, place, worker).await
}
// ANCHOR_END: connect

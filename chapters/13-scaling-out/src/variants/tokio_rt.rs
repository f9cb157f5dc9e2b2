//! Chapter 13, **tokio** variant: a worker's lanes are tasks on a multi-thread runtime, each
//! with a `tokio_postgres::Client`.
//!
//! Compared with `sync.rs`: `tokio_postgres::connect` hands back a client and a `connection`
//! future that does the socket I/O, which must be spawned (or nothing is ever sent); waiting
//! for a batch held by another worker is `tokio::time::sleep`, which frees the thread.

use std::sync::Arc;

use tokio::task::JoinSet;
use tokio_postgres::NoTls;

use pipeline::{Config, Input, PipelineError, Report, Variant, panic_message};

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
    crate::run_alone(Variant::Tokio, input, cfg, conninfo)
}

// ANCHOR: work
/// The worker: one connection per lane, all made first (a database that is down fails the
/// worker before it claims anything), then a task per lane, each claiming batches until the
/// queue is drained.
pub fn work(conninfo: &str, worker: &Arc<Worker>) -> Result<Summary, PipelineError> {
    let runtime = runtimes::tokio_runtime(worker.cfg())?;
    runtime.block_on(async {
        let mut connections = Vec::new();
        for _ in 0..worker.lanes() {
            connections.push(connect(conninfo, worker).await?);
        }
        let mut lanes = JoinSet::new();
        for lane in connections {
            lanes.spawn(drain(lane, Arc::clone(worker)));
        }
        let mut result = Ok(());
        while let Some(joined) = lanes.join_next().await {
            result = result.and(joined.unwrap_or_else(|e| {
                Err(PipelineError::StagePanicked {
                    stage: "worker lane",
                    message: panic_message(&*e.into_panic()),
                })
            }));
        }
        result.map(|()| worker.summary())
    })
}

/// One batch per transaction, until nothing is pending.
async fn drain(mut lane: Lane, worker: Arc<Worker>) -> Result<(), PipelineError> {
    loop {
        match queue::nonblocking::work_one(&mut lane, &worker).await? {
            Step::Committed { .. } => {}
            Step::Wait => tokio::time::sleep(POLL).await,
            Step::Drained => return Ok(()),
        }
    }
}
// ANCHOR_END: work

// ANCHOR: connect
/// `tokio_postgres::connect` opens a tokio `TcpStream`; the `connection` future it returns
/// reads and writes that socket, on a task of its own, until the client is dropped.
async fn connect(conninfo: &str, worker: &Worker) -> Result<Lane, PipelineError> {
    let config = queue::config(conninfo)?;
    let place = queue::describe(&config);
    let (client, connection) = config
        .connect(NoTls)
        .await
        .map_err(|e| queue::db_error(&place, "cannot connect", &e))?;
    tokio::spawn(connection);
    queue::nonblocking::lane(client, place, worker).await
}
// ANCHOR_END: connect

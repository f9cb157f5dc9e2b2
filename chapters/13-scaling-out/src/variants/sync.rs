//! Chapter 13, **sync** variant: a worker's lanes are threads, each with a `postgres::Client`.
//!
//! `postgres::Client` blocks the calling thread for every query (it runs a small tokio runtime
//! inside and `block_on`s it), which is exactly what a worker thread wants: claim, process,
//! write, commit, one statement after the other. More lanes are more threads, each with its
//! own connection, scoped to the call.

use std::sync::Arc;
use std::thread;

use pipeline::{Config, Input, PipelineError, Report, Variant, joined};
use postgres::NoTls;

use crate::claim::Step;
use crate::queue::{self, blocking::Lane};
use crate::worker::{POLL, Summary, Worker};

/// One worker of this variant, alone, on the queue at [`crate::database_from_env`] (the
/// tour's and the workshop's contract; it fails clearly without a database).
pub fn run(input: &Input, cfg: &Config) -> Result<Report, PipelineError> {
    run_on(input, cfg, &crate::database_from_env()?)
}

/// Queues `input`, drains the queue with one worker of this variant (`cfg.worker_threads`
/// lanes), and reads the report back from the tables.
pub fn run_on(input: &Input, cfg: &Config, conninfo: &str) -> Result<Report, PipelineError> {
    crate::run_alone(Variant::Sync, input, cfg, conninfo)
}

// ANCHOR: work
/// The worker: one connection per lane, all made first (a database that is down fails the
/// worker before it claims anything), then a thread per lane, each claiming batches until the
/// queue is drained.
pub fn work(conninfo: &str, worker: &Arc<Worker>) -> Result<Summary, PipelineError> {
    let connections = (0..worker.lanes())
        .map(|_| connect(conninfo, worker))
        .collect::<Result<Vec<_>, _>>()?;
    thread::scope(|s| {
        let lanes: Vec<_> = connections
            .into_iter()
            .map(|lane| s.spawn(move || drain(lane, worker)))
            .collect();
        let mut result = Ok(());
        for handle in lanes {
            result = result.and(joined("worker lane", handle.join()));
        }
        result.map(|()| worker.summary())
    })
}

/// One batch per transaction, until nothing is pending.
fn drain(mut lane: Lane, worker: &Worker) -> Result<(), PipelineError> {
    loop {
        match queue::blocking::work_one(&mut lane, worker)? {
            Step::Committed { .. } => {}
            Step::Wait => thread::sleep(POLL),
            Step::Drained => return Ok(()),
        }
    }
}
// ANCHOR_END: work

// ANCHOR: connect
/// `postgres::Config::connect`: this thread blocks until the connection is up.
fn connect(conninfo: &str, worker: &Worker) -> Result<Lane, PipelineError> {
    let config = queue::config(conninfo)?;
    let place = queue::describe(&config);
    let client = postgres::Config::from(config)
        .connect(NoTls)
        .map_err(|e| queue::db_error(&place, "cannot connect", &e))?;
    queue::blocking::lane(client, place, worker)
}
// ANCHOR_END: connect

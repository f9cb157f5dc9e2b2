//! # Chapter 13 — scaling out
//!
//! One process has a ceiling: its machine's cores, its one failure domain. The next step does
//! not need a new system when the team already runs PostgreSQL: put the work in a table, and
//! let K worker processes — any mix of sync and async, on any machines — claim it.
//!
//! ```text
//! queue (ch13.batches) ──claim: SELECT … FOR UPDATE SKIP LOCKED──▶ worker 1 (sync)      ─┐
//!                     ──────────────────────────────────────────▶ worker 2 (tokio)     ─┤ INSERT partial windows,
//!                     ──────────────────────────────────────────▶ worker 3 (async-std) ─┤ rejections, mark done:
//!                     ──────────────────────────────────────────▶ worker 4 (smol)      ─┘ ONE transaction per batch
//! ```
//!
//! A worker's claim and its results are one transaction ([`queue`]): a worker that dies
//! mid-batch has its transaction rolled back and its row lock released by the server, and
//! another worker takes the batch. Nothing is lost, nothing is done twice, and the merged
//! result is byte-identical to the single-process reference.
//!
//! | variant | a worker's lanes | PostgreSQL client | who drives the connection |
//! |---|---|---|---|
//! | sync | scoped threads | `postgres` | its hidden runtime, on the calling thread |
//! | tokio | tasks in a `JoinSet` | `tokio-postgres` | `tokio::spawn(connection)` |
//! | async-std | `task::spawn` | `tokio-postgres` via `connect_raw` over async-std's `TcpStream` | `task::spawn(connection)` |
//! | smol | `executor.spawn` | `tokio-postgres` via `connect_raw` over smol's `TcpStream` | `executor.spawn(connection).detach()` |
//!
//! Every variant needs a database. [`VARIANTS`]' `run` takes it from [`ENV_DATABASE`] and
//! fails with a message saying so when it is not set; [`RUN_ON_VARIANTS`] takes it as an
//! argument. [`experiment`] starts K worker *processes* and kills one mid-batch.
//!
//! [`ledger`] is exercise 13's harness: a queue whose effect is not idempotent, and a
//! connection the checks kill (or pause) at a chosen statement.
#![forbid(unsafe_code)]

pub mod claim;
pub mod experiment;
pub mod ledger;
pub mod queue;
pub mod worker;

/// One module per variant, in the canonical order (`rustfmt.toml` keeps rustfmt from sorting them).
pub mod variants {
    pub mod sync;
    pub mod tokio_rt;
    pub mod async_std_rt;
    pub mod smol_rt;
}

use std::sync::Arc;

use pipeline::{Config, DatasetSpec, Input, PipelineError, Report, RunFn, Variant};

pub use claim::Step;
pub use experiment::{Exit, Outcome, Setup, WorkerRow, WorkerSpec, experiment, experiment_with};
pub use worker::{
    ENV_DATABASE, ENV_LANES, ENV_NAME, ENV_STOP_IN_BATCH, ENV_VARIANT, Event, Summary, Worker,
    WorkerOptions, conninfo_from, database_from_env, worker_main, worker_main_from_env,
};

use variants::{async_std_rt, smol_rt, sync, tokio_rt};

/// The chapter's input: 2,000 lines of the default dataset's kind, queued in batches of
/// [`BATCH_SIZE`] (40 batches), which is what the tests use. The experiment queues ten times
/// as much.
pub fn chapter_input() -> Input {
    Input::generated(&DatasetSpec {
        lines: 2_000,
        ..DatasetSpec::default()
    })
}

/// Lines per queued batch in the tests and the experiment.
pub const BATCH_SIZE: usize = 50;

// ANCHOR: variants
/// ONE worker of each variant, alone, in this process: queue the input, drain the queue, read
/// the report back. Needs [`ENV_DATABASE`]; without it, each fails with a message saying so.
pub const VARIANTS: [(Variant, RunFn); 4] = [
    (Variant::Sync, sync::run),
    (Variant::Tokio, tokio_rt::run),
    (Variant::AsyncStd, async_std_rt::run),
    (Variant::Smol, smol_rt::run),
];
// ANCHOR_END: variants

/// The same, on the database at a connection string given as an argument: `variants::*::run_on`.
pub type RunOnFn = fn(&Input, &Config, &str) -> Result<Report, PipelineError>;

pub const RUN_ON_VARIANTS: [(Variant, RunOnFn); 4] = [
    (Variant::Sync, sync::run_on),
    (Variant::Tokio, tokio_rt::run_on),
    (Variant::AsyncStd, async_std_rt::run_on),
    (Variant::Smol, smol_rt::run_on),
];

/// A variant's worker: drain the queue at the connection string with this [`Worker`].
pub type WorkFn = fn(&str, &Arc<Worker>) -> Result<Summary, PipelineError>;

pub const WORK_VARIANTS: [(Variant, WorkFn); 4] = [
    (Variant::Sync, sync::work),
    (Variant::Tokio, tokio_rt::work),
    (Variant::AsyncStd, async_std_rt::work),
    (Variant::Smol, smol_rt::work),
];

/// Runs `variant`'s worker until the queue at `conninfo` is drained.
pub fn work(
    variant: Variant,
    conninfo: &str,
    worker: &Arc<Worker>,
) -> Result<Summary, PipelineError> {
    let (_, work) = WORK_VARIANTS
        .iter()
        .find(|(v, _)| *v == variant)
        .expect("every variant is listed");
    work(conninfo, worker)
}

// ANCHOR: run_alone
/// What every variant's `run` does: queue `input` (emptying the queue first), drain it with
/// one worker of `variant` with `cfg.worker_threads` lanes, and build the report from what
/// the tables hold. Setting up and reading back use the sync client, outside any runtime.
pub fn run_alone(
    variant: Variant,
    input: &Input,
    cfg: &Config,
    conninfo: &str,
) -> Result<Report, PipelineError> {
    cfg.validate()?;
    queue::blocking::enqueue(conninfo, input, cfg.batch_size)?;
    let worker = Arc::new(Worker::new(variant.name(), cfg, cfg.worker_threads));
    work(variant, conninfo, &worker)?;
    queue::blocking::report(conninfo)
}
// ANCHOR_END: run_alone

/// A queue worker in a process of its own, configured by the `CH13_*` variables
/// ([`experiment::workshop_worker`] starts it).
pub const WORKER_CHILD: course::Child = course::Child {
    name: "ch13-worker",
    main: |_| Ok(worker_main_from_env()?),
};

/// The session's experiment: four worker processes share the queue at the database the
/// workshop provides; one is killed mid-batch.
fn session_experiment(io: &mut course::ExperimentIo<'_>) -> Result<(), course::BoxError> {
    let conninfo = io
        .database
        .ok_or("this experiment needs a PostgreSQL database")?;
    let outcome = experiment(io.out, conninfo)?;
    if outcome.matches_reference() {
        Ok(())
    } else {
        Err("the report built from the tables differs from the reference".into())
    }
}

/// What the workshop knows of this chapter (see the `course` crate). Not in the tour: its
/// variants need a PostgreSQL server, which the tour does not start.
pub const CHAPTER: course::Chapter = course::Chapter {
    number: 13,
    slug: "13-scaling-out",
    title: "scaling out: worker processes sharing a PostgreSQL work queue",
    variants: VARIANTS,
    in_tour: false,
    experiments: &[course::Experiment {
        name: "scaling-out",
        title: "four worker processes share a PostgreSQL queue; one is killed mid-batch",
        needs_database: true,
        run: session_experiment,
    }],
    children: &[WORKER_CHILD],
    ..course::Chapter::BASE
};

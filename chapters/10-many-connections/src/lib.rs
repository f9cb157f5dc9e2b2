//! # Chapter 10 — many connections
//!
//! The source is no longer a file but a fleet of sensors, each on its own TCP connection, each
//! streaming its share of the readings ([`fleet`]). The server takes the frames in, validates,
//! enriches and aggregates them, and gives the same report as every other chapter: where a line
//! travelled, and when it arrived, changes nothing ([`frame`]).
//!
//! | variant | how N connections are served | costs per connection |
//! |---|---|---|
//! | sync | a thread per connection, blocking reads ([`variants::sync::serve`]) | a thread: stack, kernel task, context switches |
//! | sync, bounded | a pool of C threads, one connection each at a time ([`variants::sync::serve_pool`]) | none past C — the (C+1)th sensor is not served until one hangs up |
//! | tokio | a task per connection, `tokio::net` | a task: a heap-allocated future |
//! | async-std | a task per connection, `async_std::net` | the same |
//! | smol | a task per connection, `smol::net` | the same |
//!
//! Every connection also costs, in every variant, a file descriptor at each end and the
//! kernel's socket buffers. [`experiment`] measures threads, memory and throughput for each
//! variant at 100, 1,000 and 10,000 connections, with the fleet in a child process.
#![forbid(unsafe_code)]

pub mod exercise;
pub mod experiment;
pub mod fleet;
pub mod frame;
pub mod harness;
pub mod measure;
pub mod session;

/// One module per variant, in the canonical order (`rustfmt.toml` keeps rustfmt from sorting them).
pub mod variants {
    pub mod sync;
    pub mod tokio_rt;
    pub mod async_std_rt;
    pub mod smol_rt;
}

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use pipeline::{Config, Input, PipelineError, Report, RunFn, Variant};

pub use experiment::{Row, experiment};
pub use harness::{Fleet, Limits, serve};
pub use session::{ServeFn, Session};

use variants::{async_std_rt, smol_rt, sync, tokio_rt};

/// Where every server listens: loopback, a port the OS picks.
pub const LOOPBACK: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0));

/// How many sensors the tour's runs ([`VARIANTS`]) connect, from this same process.
pub const DEFAULT_CONNECTIONS: usize = 100;

/// The tour's runs stop if nothing happens for 10 s, or after a minute.
pub const RUN_LIMITS: Limits = Limits {
    stall: Duration::from_secs(10),
    deadline: Duration::from_secs(60),
};

// ANCHOR: variants
/// A thread per connection, and a task per connection in each runtime, in the canonical order,
/// for the tests and the tour: each connects [`DEFAULT_CONNECTIONS`] sensors from this process.
pub const VARIANTS: [(Variant, RunFn); 4] = [
    (Variant::Sync, sync::run),
    (Variant::Tokio, tokio_rt::run),
    (Variant::AsyncStd, async_std_rt::run),
    (Variant::Smol, smol_rt::run),
];
// ANCHOR_END: variants

/// How a server serves its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Model {
    ThreadPerConnection,
    /// `cfg.concurrency` threads, one connection each at a time.
    Pool,
    TaskPerConnection,
}

impl Model {
    pub fn label(self) -> &'static str {
        match self {
            Model::ThreadPerConnection => "thread per connection",
            Model::Pool => "pool of threads",
            Model::TaskPerConnection => "task per connection",
        }
    }
}

/// Every server the experiment measures: the four variants, and the bounded pool after the
/// sync one.
pub const SERVERS: [(Variant, Model, ServeFn); 5] = [
    (Variant::Sync, Model::ThreadPerConnection, sync::serve),
    (Variant::Sync, Model::Pool, sync::serve_pool),
    (Variant::Tokio, Model::TaskPerConnection, tokio_rt::serve),
    (
        Variant::AsyncStd,
        Model::TaskPerConnection,
        async_std_rt::serve,
    ),
    (Variant::Smol, Model::TaskPerConnection, smol_rt::serve),
];

/// `server` against [`DEFAULT_CONNECTIONS`] sensors on a thread of this process: the report.
pub fn run_with(server: ServeFn, input: &Input, cfg: &Config) -> Result<Report, PipelineError> {
    harness::serve(
        server,
        DEFAULT_CONNECTIONS,
        Fleet::InProcess(input.clone()),
        cfg,
        RUN_LIMITS,
    )
    .map(|served| served.report)
}

/// The sensor fleet, in a process of its own ([`harness::workshop_fleet`] starts it).
pub const FLEET_CHILD: course::Child = course::Child {
    name: "ch10-fleet",
    main: |args| {
        Ok(fleet::main(
            args.value("--connect")?,
            args.value("--connections")?,
        )?)
    },
};

/// A measured server, in a process of its own ([`experiment::workshop_server`] starts it).
pub const SERVER_CHILD: course::Child = course::Child {
    name: "ch10-server",
    main: |args| {
        Ok(experiment::server_main(
            &args.value::<String>("--server")?,
            args.value("--connections")?,
            args.value("--pool-threads")?,
        )?)
    },
};

/// The session's experiment: [`experiment::CONNECTIONS`] connections to every server.
fn session_experiment(io: &mut course::ExperimentIo<'_>) -> Result<(), course::BoxError> {
    experiment(io.out, &experiment::CONNECTIONS)?;
    Ok(())
}

/// What the workshop knows of this chapter (see the `course` crate).
pub const CHAPTER: course::Chapter = course::Chapter {
    number: 10,
    slug: "10-many-connections",
    title: "many connections: 100 sensors over loopback TCP, a thread or a task each",
    variants: VARIANTS,
    experiments: &[course::Experiment {
        name: "many-connections",
        title: "100, 1,000 and 10,000 sensor connections: threads, memory, throughput",
        needs_database: false,
        run: session_experiment,
    }],
    children: &[FLEET_CHILD, SERVER_CHILD],
    ..course::Chapter::BASE
};

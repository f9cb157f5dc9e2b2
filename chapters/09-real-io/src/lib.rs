//! # Chapter 9 — real I/O: HTTP and PostgreSQL
//!
//! Until now the registry was a function call and the sink a file. Here the enrich stage asks a
//! real HTTP service ([`registry_service::RegistryService`]: axum on its own tokio runtime, with
//! latency, a capacity and injected faults) and the sink writes to PostgreSQL, each batch in
//! one transaction with the source checkpoint, so a run that crashes can be restarted and
//! neither loses nor duplicates a row ([`store`]).
//!
//! The crates do the I/O, and each is built for one runtime:
//!
//! | variant | HTTP | PostgreSQL | who drives the connection |
//! |---|---|---|---|
//! | sync | `reqwest::blocking` | `postgres` | each runs a tokio runtime inside: reqwest on a thread of its own, postgres on the calling thread |
//! | tokio | `reqwest` | `tokio-postgres` | `tokio::spawn(connection)` |
//! | async-std | `reqwest` in `async_compat::Compat` | `tokio-postgres` via `Config::connect_raw` over async-std's `TcpStream` | `async_std::task::spawn(connection)` |
//! | smol | `reqwest` in `async_compat::Compat` | `tokio-postgres` via `Config::connect_raw` over smol's `TcpStream` | `executor.spawn(connection)` |
//!
//! That is the lock-in: the sync crates cannot be called from an async task (they panic inside
//! tokio), and the async crates need tokio's reactor (they panic without it) unless you bring
//! your own socket. [`lockin`] holds each fact as code; the tests assert what it does.
//!
//! Each run reads its input in batches, in line order; inside a batch the look-ups run
//! concurrently, at most `cfg.concurrency` at once (threads for sync, `buffer_unordered` for the
//! async variants). Batches are committed in order because the checkpoint is a line number.
#![forbid(unsafe_code)]

pub mod exercise;
pub mod http;
pub mod lockin;
pub mod store;

/// One module per variant, in the canonical order (`rustfmt.toml` keeps rustfmt from sorting them).
pub mod variants {
    pub mod sync;
    pub mod tokio_rt;
    pub mod async_std_rt;
    pub mod smol_rt;
}

use std::time::Duration;

use pipeline::{Config, DatasetSpec, Input, PipelineError, Report, RunFn, Variant};
use registry_service::{Latency, RegistryOptions, RegistryService};

pub use store::{BatchPoint, PgRoute, PgTarget};
use variants::{async_std_rt, smol_rt, sync, tokio_rt};

/// The chapter's input for the tour: 2,000 lines of the default dataset's kind. Every reading
/// is an HTTP request to a service that takes a fraction of a millisecond to answer, so the
/// default 50,000 lines would spend the tour's minutes on loopback HTTP; 2,000 take a fraction
/// of a second per run in a release build.
pub fn chapter_input() -> Input {
    Input::generated(&DatasetSpec {
        lines: 2_000,
        ..DatasetSpec::default()
    })
}

/// The registry service in a process of its own, `--latency L --seed S --capacity C --wait W`
/// (a [`Latency`] and a [`registry_service::Wait`] in their text forms): prints its URL, serves until its standard input closes. The
/// measurement lab's HTTP rows talk to it, so the server shares neither the client's runtime
/// nor its threads.
pub const REGISTRY_CHILD: course::Child = course::Child {
    name: "ch09-registry",
    main: |args| {
        let options = RegistryOptions {
            latency: args.value("--latency")?,
            seed: args.value("--seed")?,
            capacity: args.value("--capacity")?,
            wait: args.value("--wait")?,
            ..RegistryOptions::default()
        };
        let (mut out, mut until) = (std::io::stdout().lock(), std::io::stdin().lock());
        Ok(registry_service::serve_until_closed(
            options, &mut out, &mut until,
        )?)
    },
};

/// What a run is given besides its input and config.
#[derive(Debug, Clone, Default)]
pub struct Setup {
    /// The registry service to ask (`http://host:port`); `None`: the run starts its own
    /// ([`own_registry`]) and stops it when it ends.
    pub registry: Option<String>,
    /// Write the windows to PostgreSQL (committed per batch, resumable); `None`: to
    /// `cfg.sink` at the end, like every other chapter.
    pub postgres: Option<PgTarget>,
    /// How async-std and smol reach PostgreSQL (sync and tokio use their own crates).
    pub pg_route: PgRoute,
}

/// The registry a run starts for itself: in front of `cfg.registry`, with a small seeded
/// latency, room for every look-up the run can have in flight, and no faults — so its
/// report is the sequential reference's.
pub fn own_registry(cfg: &Config) -> RegistryOptions {
    RegistryOptions {
        registry: std::sync::Arc::clone(&cfg.registry),
        seed: 9,
        latency: Latency::Uniform {
            min: Duration::from_micros(100),
            max: Duration::from_micros(500),
        },
        capacity: cfg.concurrency.max(64),
        ..RegistryOptions::default()
    }
}

/// The registry URL for a run, and the service to keep alive for it if the run started one.
pub fn registry_for(
    setup: &Setup,
    cfg: &Config,
) -> Result<(String, Option<RegistryService>), PipelineError> {
    match &setup.registry {
        Some(url) => Ok((url.clone(), None)),
        None => {
            let service = RegistryService::start(own_registry(cfg)).map_err(|source| {
                PipelineError::Start {
                    what: "the registry service",
                    source,
                }
            })?;
            Ok((service.url(), Some(service)))
        }
    }
}

// ANCHOR: variants
/// The pipelines, in the canonical order, for the tests and the tour: each starts its own
/// registry service and writes to `cfg.sink`.
pub const VARIANTS: [(Variant, RunFn); 4] = [
    (Variant::Sync, sync::run),
    (Variant::Tokio, tokio_rt::run),
    (Variant::AsyncStd, async_std_rt::run),
    (Variant::Smol, smol_rt::run),
];
// ANCHOR_END: variants

/// The same, with a [`Setup`]: `variants::*::run_with`.
pub type RunWithFn = fn(&Input, &Config, &Setup) -> Result<Report, PipelineError>;

pub const RUN_WITH_VARIANTS: [(Variant, RunWithFn); 4] = [
    (Variant::Sync, sync::run_with),
    (Variant::Tokio, tokio_rt::run_with),
    (Variant::AsyncStd, async_std_rt::run_with),
    (Variant::Smol, smol_rt::run_with),
];

/// `workshop run --chapter 9 --sink postgres://...`: the variant's pipeline with its own
/// registry service, writing to PostgreSQL at `conninfo` (a `postgresql://` URL or
/// `key=value` string). A run that stopped part-way (a crash, Ctrl-C) goes on from its
/// checkpoint when started again with the same input; one that finished reports the same again
/// without redoing anything.
pub fn run_postgres(
    variant: Variant,
    input: &Input,
    cfg: &Config,
    conninfo: &str,
) -> Result<Report, PipelineError> {
    let setup = Setup {
        postgres: Some(PgTarget::new(conninfo)),
        ..Setup::default()
    };
    run_with(variant, input, cfg, &setup)
}

/// The variant's pipeline with a [`Setup`].
pub fn run_with(
    variant: Variant,
    input: &Input,
    cfg: &Config,
    setup: &Setup,
) -> Result<Report, PipelineError> {
    let (_, run) = RUN_WITH_VARIANTS
        .iter()
        .find(|(v, _)| *v == variant)
        .expect("every variant is listed");
    run(input, cfg, setup)
}

/// A connection string as it may be shown: the driver's own parser reads it (URL or
/// `key=value` form alike; the same `pgstore::config` the connection is made with) and only
/// user, host, port and database come back, never the password. One that does not parse is
/// not shown at all: it may hold a password in a form the parser did not recognise. Every
/// message about a database says it in these words (`pgstore::describe`); there is no second
/// redaction that knows only one form.
pub fn redact(conninfo: &str) -> String {
    match pgstore::config(conninfo) {
        Ok(config) => store::describe(&config),
        Err(_) => "a connection string that does not parse; not shown".to_owned(),
    }
}

/// `workshop run --chapter 9 [--sink URL]`: the windows go to PostgreSQL when a connection
/// string is given (or `DATABASE_URL` is set), else the variant's ordinary run.
fn run_with_flags(request: &course::RunRequest<'_>) -> Result<course::Ran, course::BoxError> {
    let conninfo = request
        .sink
        .map(str::to_owned)
        .or_else(|| std::env::var("DATABASE_URL").ok());
    let report = match conninfo {
        Some(conninfo) => {
            (request.say)(&format!(
                "writing the windows to PostgreSQL ({})",
                redact(&conninfo)
            ));
            run_postgres(request.variant, request.input, request.cfg, &conninfo)?
        }
        None => CHAPTER.run_fn(request.variant)(request.input, request.cfg)?,
    };
    Ok(course::Ran::report(report))
}

/// What the workshop knows of this chapter (see the `course` crate).
pub const CHAPTER: course::Chapter = course::Chapter {
    number: 9,
    slug: "09-real-io",
    title: "real I/O: enrich over HTTP from a local registry service",
    variants: VARIANTS,
    input: Some(chapter_input),
    flags: &[course::RunFlag::Sink],
    custom_run: Some(run_with_flags),
    children: &[REGISTRY_CHILD],
    ..course::Chapter::BASE
};

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redact_shows_no_password_in_either_form_of_connection_string() {
        assert_eq!(
            redact("host=127.0.0.1 port=1 user=u password=s3cret dbname=d"),
            "postgresql://u@127.0.0.1:1/d"
        );
        assert_eq!(
            redact("postgresql://u:s3cret@127.0.0.1:1/d?sslmode=disable"),
            "postgresql://u@127.0.0.1:1/d"
        );
        assert_eq!(
            redact("host='a b' password='s3 cret' port=5"),
            "postgresql://a b:5/"
        );
        let broken = redact("host=127.0.0.1 port=x password=s3cret");
        assert!(!broken.contains("s3cret"), "{broken}");
        assert!(broken.contains("not shown"), "{broken}");
    }
}

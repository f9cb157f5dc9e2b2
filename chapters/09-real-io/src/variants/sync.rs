//! Chapter 9, **sync** variant: `reqwest::blocking` and `postgres`.
//!
//! Both crates look synchronous and are not: each runs a tokio runtime inside. A
//! `reqwest::blocking::Client` starts a thread ("reqwest-internal-sync-runtime") where every
//! request really runs; the calling thread parks until the answer is back. A
//! `postgres::Client` owns a current-thread tokio runtime and `block_on`s it on the calling
//! thread for every query. Which is fine on a thread of your own, and a panic inside a tokio
//! task (see `lockin`).
//!
//! Concurrency: `cfg.concurrency` scoped threads per batch take readings from one queue.

use std::sync::Mutex;
use std::thread;

use pipeline::{
    Config, Enriched, Input, Parsed, PipelineError, Report, ReportOnlySink, Sink, enrich_with,
    joined, parse_batch,
};
use postgres::NoTls;

use crate::store::{self, PgTarget, State, blocking::Db};
use crate::{Setup, http, registry_for};

/// The pipeline with its own registry service, writing to `cfg.sink`.
pub fn run(input: &Input, cfg: &Config) -> Result<Report, PipelineError> {
    run_with(input, cfg, &Setup::default())
}

// ANCHOR: run
/// The pipeline: open the store (and resume from its checkpoint), then batch by batch: look
/// the readings up over HTTP, fold them in, commit.
pub fn run_with(input: &Input, cfg: &Config, setup: &Setup) -> Result<Report, PipelineError> {
    cfg.validate()?;
    let (registry, _service) = registry_for(setup, cfg)?;
    // The store opens first: a database that is down fails the run before any look-up.
    let (mut store, mut state) = open_store(input, cfg, setup)?;
    let client = http::blocking_client()?;
    cfg.progress.add(state.lines_done());
    for batch in input.batches_from(state.next_line(), cfg.batch_size) {
        cfg.progress.add(batch.len());
        let (first, last) = (batch[0].number, batch[batch.len() - 1].number);
        let records = enrich(&client, &registry, parse_batch(batch), cfg.concurrency)?;
        let written = state.apply(first, last, records);
        if let Store::Postgres(db) = &mut store {
            store::blocking::commit(db, &written)?;
        }
    }
    close(store, state)
}
// ANCHOR_END: run

// ANCHOR: enrich
/// One batch's look-ups, `concurrency` at a time: that many threads, each taking the next
/// reading from a shared queue and waiting for its answer.
fn enrich(
    client: &reqwest::blocking::Client,
    registry: &str,
    batch: Vec<Parsed>,
    concurrency: usize,
) -> Result<Vec<Enriched>, PipelineError> {
    let workers = concurrency.min(batch.len()).max(1);
    let queue = Mutex::new(batch.into_iter());
    thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let next = queue.lock().expect("a worker panicked").next();
                        let Some(parsed) = next else { break };
                        out.push(parsed.and_then(|reading| {
                            let found = http::lookup_blocking(client, registry, &reading);
                            enrich_with(reading, found)
                        }));
                    }
                    out
                })
            })
            .collect();
        let mut records = Vec::new();
        for handle in handles {
            records.extend(joined("enrich", handle.join().map(Ok))?);
        }
        Ok(records)
    })
}
// ANCHOR_END: enrich

/// Where the windows go.
enum Store {
    /// `cfg.sink`, written when the run ends.
    Sink(Box<dyn Sink>),
    /// PostgreSQL, committed batch by batch.
    Postgres(Box<Db>),
}

fn open_store(input: &Input, cfg: &Config, setup: &Setup) -> Result<(Store, State), PipelineError> {
    match &setup.postgres {
        None => Ok((Store::Sink(cfg.sink.open()?), State::new(input))),
        Some(target) => {
            let mut db = connect(target)?;
            let state = store::blocking::resume(&mut db, input)?;
            Ok((Store::Postgres(Box::new(db)), state))
        }
    }
}

// ANCHOR: connect
/// `postgres::Client::connect`: builds a current-thread tokio runtime and blocks this thread
/// on it until the connection is up.
fn connect(target: &PgTarget) -> Result<Db, PipelineError> {
    let place = target.place()?;
    let client = postgres::Config::from(target.config()?)
        .connect(NoTls)
        .map_err(|e| store::db_error(&place, "cannot connect", &e))?;
    store::blocking::open(client, target)
}
// ANCHOR_END: connect

fn close(store: Store, state: State) -> Result<Report, PipelineError> {
    match store {
        Store::Sink(sink) => state.finish(sink),
        Store::Postgres(db) => {
            drop(db); // closes the connection
            state.finish(Box::new(ReportOnlySink))
        }
    }
}

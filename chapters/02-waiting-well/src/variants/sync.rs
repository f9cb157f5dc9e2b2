//! Chapter 2, **sync** variant: a pool of `cfg.concurrency` OS threads. Each waits for its
//! look-up with `thread::sleep`: the thread is blocked, and the OS runs another one meanwhile.
//!
//! `C` look-ups in flight cost `C` threads: a stack each (2 MiB of address space by default, of
//! which the pages touched become memory), a kernel task each, and a context switch per
//! look-up. That is cheap for tens and hundreds; the OS caps the count (chapter 5 runs into
//! that cap).

use std::sync::Arc;
use std::thread;

use instruments::Gauge;
use pipeline::{
    Aggregator, Config, Enriched, Input, PipelineError, Registry, Report, Work, enrich, finish,
    joined,
};

use crate::registry::latency;
use crate::{LOOKUPS_IN_FLIGHT, WorkQueue};

// ANCHOR: run
/// Runs the pipeline with `cfg.concurrency` look-ups in flight.
pub fn run(input: &Input, cfg: &Config) -> Result<Report, PipelineError> {
    run_watched(input, cfg, &Gauge::new(LOOKUPS_IN_FLIGHT))
}

/// The same, entering `in_flight` for every look-up it waits on.
pub fn run_watched(
    input: &Input,
    cfg: &Config,
    in_flight: &Gauge,
) -> Result<Report, PipelineError> {
    cfg.validate()?;
    let sink = cfg.sink.open()?;
    let Work { lines_read, parts } = Work::split(input, cfg, 1);
    let queue = Arc::new(WorkQueue::new(parts.into_iter().flatten().collect()));
    let aggregator = enrich_concurrently(
        queue,
        Arc::clone(&cfg.registry),
        in_flight.clone(),
        cfg.concurrency,
    )?;
    finish(lines_read, aggregator, sink)
}
// ANCHOR_END: run

// ANCHOR: look_up
/// One look-up: wait out the registry's latency — blocking this thread — then take the answer.
fn look_up(registry: &dyn Registry, in_flight: &Gauge, record: pipeline::Parsed) -> Enriched {
    let reading = record?;
    let _in_flight = in_flight.enter();
    thread::sleep(latency(reading.line));
    enrich(registry, reading)
}
// ANCHOR_END: look_up

// ANCHOR: fan_out
/// Starts `concurrency` workers, waits for all of them, merges what they aggregated.
pub fn enrich_concurrently(
    queue: Arc<WorkQueue>,
    registry: Arc<dyn Registry>,
    in_flight: Gauge,
    concurrency: usize,
) -> Result<Aggregator, PipelineError> {
    let (queue, registry, in_flight) = (&*queue, &*registry, &in_flight);
    thread::scope(|s| {
        let mut workers = Vec::with_capacity(concurrency);
        for _ in 0..concurrency {
            // If the OS refuses a thread, return the error; the scope still joins the
            // workers already started, which finish the queue between them.
            let worker = thread::Builder::new()
                .name("ch02-lookup".into())
                .spawn_scoped(s, move || worker(queue, registry, in_flight))
                .map_err(|source| PipelineError::Start {
                    what: "a look-up thread",
                    source,
                })?;
            workers.push(worker);
        }
        let mut total = Aggregator::new();
        for worker in workers {
            total.merge(joined("enrich", worker.join().map(Ok))?);
        }
        Ok(total)
    })
}

/// One worker: takes the next reading, looks it up, until the queue is empty.
fn worker(queue: &WorkQueue, registry: &dyn Registry, in_flight: &Gauge) -> Aggregator {
    let mut aggregator = Aggregator::new();
    while let Some(record) = queue.next() {
        aggregator.add(look_up(registry, in_flight, record));
    }
    aggregator
}
// ANCHOR_END: fan_out

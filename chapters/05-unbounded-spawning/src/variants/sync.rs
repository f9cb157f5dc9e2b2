//! Chapter 5, **sync** variant: a thread per reading (broken), or a fixed pool of
//! `cfg.concurrency` threads fed through a bounded channel (fixed).

use std::sync::mpsc::{Receiver, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use instruments::{Gauge, Signals};
use pipeline::{
    Aggregator, Config, Enriched, Input, Parsed, PipelineError, Progress, Report, Work,
    enrich_with, finish, joined,
};

use crate::registry::{REGISTRY_LATENCY, SlowRegistry, TASKS_IN_FLIGHT};

/// The fixed pipeline, for the tour and the tests.
pub fn run(input: &Input, cfg: &Config) -> Result<Report, PipelineError> {
    fixed_unbounded_spawn(input, cfg, &Signals::new(&crate::WATCH))
}

/// FIXED: at most `cfg.concurrency` look-ups in flight.
pub fn fixed_unbounded_spawn(
    input: &Input,
    cfg: &Config,
    signals: &Signals,
) -> Result<Report, PipelineError> {
    pipeline(Limit::Bounded, input, cfg, signals, REGISTRY_LATENCY)
}

/// BROKEN ON PURPOSE: a thread per reading, all at once.
pub fn broken_unbounded_spawn(
    input: &Input,
    cfg: &Config,
    signals: &Signals,
) -> Result<Report, PipelineError> {
    broken_unbounded_spawn_with_latency(input, cfg, signals, REGISTRY_LATENCY)
}

/// The broken pipeline against a registry with the given latency: with a long one, threads
/// pile up until the OS refuses to start another (the test does this in a child process with
/// a memory limit).
pub fn broken_unbounded_spawn_with_latency(
    input: &Input,
    cfg: &Config,
    signals: &Signals,
    latency: Duration,
) -> Result<Report, PipelineError> {
    pipeline(Limit::Unbounded, input, cfg, signals, latency)
}

#[derive(Debug, Clone, Copy)]
enum Limit {
    Unbounded,
    Bounded,
}

fn pipeline(
    limit: Limit,
    input: &Input,
    cfg: &Config,
    signals: &Signals,
    latency: Duration,
) -> Result<Report, PipelineError> {
    cfg.validate()?;
    let sink = cfg.sink.open()?;
    let Work { lines_read, parts } = Work::split(input, cfg, 1);
    let records = parts.into_iter().flatten().collect();
    let registry = Arc::new(SlowRegistry::new(
        Arc::clone(&cfg.registry),
        latency,
        signals,
    ));
    let in_flight = signals.gauge(TASKS_IN_FLIGHT).clone();
    let aggregator = match limit {
        Limit::Unbounded => enrich_unbounded(records, registry, in_flight, &cfg.progress),
        Limit::Bounded => {
            enrich_bounded(records, registry, in_flight, cfg.concurrency, &cfg.progress)
        }
    }?;
    finish(lines_read, aggregator, sink)
}

// ANCHOR: enrich_one
/// One look-up: the registry may refuse it; if not, wait out its latency, then take the answer.
fn enrich_one(record: Parsed, registry: &SlowRegistry) -> Enriched {
    let reading = record?;
    let found = match registry.admit() {
        Ok(ticket) => {
            thread::sleep(registry.latency());
            ticket.answer(&reading.sensor_id)
        }
        Err(refused) => Err(refused),
    };
    enrich_with(reading, found)
}
// ANCHOR_END: enrich_one

// ANCHOR: broken
/// BROKEN ON PURPOSE: the loop never waits, so every reading gets its own OS thread at once.
/// `thread::spawn` panics when the OS refuses a thread ("failed to spawn thread").
fn enrich_unbounded(
    records: Vec<Parsed>,
    registry: Arc<SlowRegistry>,
    in_flight: Gauge,
    progress: &Progress,
) -> Result<Aggregator, PipelineError> {
    let mut threads = Vec::with_capacity(records.len());
    for record in records {
        let (registry, in_flight) = (Arc::clone(&registry), in_flight.enter());
        threads.push(thread::spawn(move || {
            let enriched = enrich_one(record, &registry);
            drop(in_flight);
            enriched
        }));
    }
    let mut aggregator = Aggregator::new();
    for thread in threads {
        aggregator.add(joined("enrich", thread.join().map(Ok))?);
        progress.add(1);
    }
    Ok(aggregator)
}
// ANCHOR_END: broken

// ANCHOR: fixed
/// FIXED: `limit` worker threads take readings from one bounded channel; the loop feeding it
/// blocks while the channel is full (backpressure). Each worker aggregates its share.
fn enrich_bounded(
    records: Vec<Parsed>,
    registry: Arc<SlowRegistry>,
    in_flight: Gauge,
    limit: usize,
    progress: &Progress,
) -> Result<Aggregator, PipelineError> {
    let (queue, work) = sync_channel::<Parsed>(limit);
    // std's Receiver has one owner: the workers take turns. Only the workers hold it, so if
    // they all die, the channel closes and `send` below fails instead of blocking for ever.
    let work = Arc::new(Mutex::new(work));
    let (registry, in_flight) = (&*registry, &in_flight);
    thread::scope(|s| {
        let workers: Vec<_> = (0..limit)
            .map(|_| {
                let work = Arc::clone(&work);
                s.spawn(move || worker(&work, registry, in_flight, progress))
            })
            .collect();
        drop(work);
        for record in records {
            queue
                .send(record)
                .map_err(|_| PipelineError::closed("feed"))?;
        }
        drop(queue); // no more work: each worker's `recv` now ends its loop
        let mut total = Aggregator::new();
        for handle in workers {
            total.merge(joined("enrich", handle.join().map(Ok))?);
        }
        Ok(total)
    })
}

/// One pool thread: takes a reading, looks it up, until the queue is closed and empty.
fn worker(
    work: &Mutex<Receiver<Parsed>>,
    registry: &SlowRegistry,
    in_flight: &Gauge,
    progress: &Progress,
) -> Aggregator {
    let mut aggregator = Aggregator::new();
    loop {
        // The lock is held only while waiting for the next reading, never during a look-up.
        let next = work.lock().expect("a worker panicked").recv();
        let Ok(record) = next else { break };
        let _in_flight = in_flight.enter();
        aggregator.add(enrich_one(record, registry));
        progress.add(1);
    }
    aggregator
}
// ANCHOR_END: fixed

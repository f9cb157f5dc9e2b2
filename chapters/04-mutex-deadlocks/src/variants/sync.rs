//! Chapter 4, **sync** variant.
//!
//! Threads cannot hold a lock "across an `.await`" — there is none — so the first pitfall does
//! not exist here. Holding the cache lock across the blocking look-up is legal and cannot
//! deadlock on its own; it only makes every other worker wait (scope the guard anyway). The
//! second pitfall, lock-order inversion, is exactly as real with threads as with tasks.

use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;

use instruments::{LockProbe, Signals};
use pipeline::{
    Aggregator, Config, Input, Parsed, PipelineError, Progress, Registry, Report, enrich_with,
    joined,
};

use crate::cache::{Lookup, POISONED, SensorCache, SiteStats, WORKERS, Work, count_site, finish};
use crate::{CACHE_LOCK, Fix, STATS_LOCK};

// ANCHOR: run
/// The fixed pipeline: two worker threads share the cache through a scoped guard.
pub fn run(input: &Input, cfg: &Config) -> Result<Report, PipelineError> {
    run_with(
        Fix::ScopedGuard,
        input,
        cfg,
        &Signals::with_locks(crate::LOCKS),
    )
}

/// The pipeline with the given fix (not `AsyncLock`: there is no `.await` to hold it across).
pub fn run_with(
    fix: Fix,
    input: &Input,
    cfg: &Config,
    signals: &Signals,
) -> Result<Report, PipelineError> {
    on_threads(fix, input, cfg, signals)
}
// ANCHOR_END: run

// ANCHOR: driver
/// Two enrich worker threads — and the cache owner thread, for message passing.
fn on_threads(
    fix: Fix,
    input: &Input,
    cfg: &Config,
    signals: &Signals,
) -> Result<Report, PipelineError> {
    let (cache, owner) = Cache::new(fix, cfg.channel_capacity)?; // first: it may refuse `fix`
    cfg.validate()?;
    let sink = cfg.sink.open()?;
    let Work { lines_read, parts } = Work::split(input, cfg, WORKERS);
    let [first, second]: [Vec<Parsed>; WORKERS] = parts.try_into().expect("WORKERS parts");
    let registry = &*cfg.registry;
    let partials = thread::scope(|s| {
        let first = s.spawn({
            let cache = cache.clone();
            move || enrich_worker(first, cache, registry, signals, &cfg.progress)
        });
        let second =
            s.spawn(move || enrich_worker(second, cache, registry, signals, &cfg.progress));
        let owner = s.spawn(move || run_owner(owner, registry));
        let partials = [
            joined("enrich", first.join()),
            joined("enrich", second.join()),
        ];
        joined("cache owner", owner.join().map(Ok))?;
        let [first, second] = partials;
        Ok::<_, PipelineError>([first?, second?])
    })?;
    finish(lines_read, partials, sink)
}
// ANCHOR_END: driver

// ANCHOR: worker
/// An enrich worker: looks every reading up through `cache`, aggregates what it enriched.
fn enrich_worker(
    records: Vec<Parsed>,
    cache: Cache,
    registry: &dyn Registry,
    signals: &Signals,
    progress: &Progress,
) -> Result<Aggregator, PipelineError> {
    let probe = signals.lock(CACHE_LOCK);
    let mut aggregator = Aggregator::new();
    for record in records {
        let enriched = match record {
            Ok(reading) => {
                let found = cache.lookup(registry, probe, &reading.sensor_id)?;
                enrich_with(reading, found)
            }
            Err(rejection) => Err(rejection),
        };
        aggregator.add(enriched);
        progress.add(1);
    }
    Ok(aggregator)
}
// ANCHOR_END: worker

/// A worker's handle on the cache: one per [`Fix`] this variant can run.
#[derive(Clone)]
enum Cache {
    ScopedGuard(Arc<Mutex<SensorCache>>),
    MessagePassing(SyncSender<Request>),
}

/// A question for the cache owner, with where to send the answer.
type Request = (String, SyncSender<Lookup>);

impl Cache {
    /// The handle for `fix`, and for message passing the owner's end of the channel. Not
    /// `AsyncLock`: there is no `.await` to hold it across.
    fn new(fix: Fix, capacity: usize) -> Result<(Cache, Option<Receiver<Request>>), PipelineError> {
        Ok(match fix {
            Fix::ScopedGuard => (
                Cache::ScopedGuard(Arc::new(Mutex::new(SensorCache::new()))),
                None,
            ),
            Fix::MessagePassing => {
                let (requests, owner) = mpsc::sync_channel(capacity);
                (Cache::MessagePassing(requests), Some(owner))
            }
            Fix::AsyncLock => {
                return Err(PipelineError::Config(
                    "the sync variant has no .await to hold an async lock across".into(),
                ));
            }
        })
    }

    fn lookup(
        &self,
        registry: &dyn Registry,
        probe: &LockProbe,
        sensor_id: &str,
    ) -> Result<Lookup, PipelineError> {
        match self {
            Cache::ScopedGuard(cache) => Ok(lookup_scoped(cache, probe, registry, sensor_id)),
            Cache::MessagePassing(requests) => lookup_via_owner(requests, sensor_id),
        }
    }
}

// ANCHOR: fix_scoped
/// FIXED (for throughput; with threads it was never a deadlock): no lock held during the
/// blocking look-up, so the other worker can use the cache meanwhile.
pub fn lookup_scoped(
    cache: &Mutex<SensorCache>,
    probe: &LockProbe,
    registry: &dyn Registry,
    sensor_id: &str,
) -> Lookup {
    let hit = probe
        .lock(|| cache.lock().expect(POISONED))
        .get(sensor_id)
        .cloned(); // <- the guard is dropped here
    if let Some(hit) = hit {
        return hit;
    }
    let found = registry.lookup(sensor_id); // blocking I/O, no lock held
    probe
        .lock(|| cache.lock().expect(POISONED))
        .entry(sensor_id.to_owned())
        .or_insert(found)
        .clone()
}
// ANCHOR_END: fix_scoped

// ANCHOR: fix_message_passing
/// FIXED, without a lock: ask the thread that owns the cache, and wait for its answer.
fn lookup_via_owner(
    requests: &SyncSender<Request>,
    sensor_id: &str,
) -> Result<Lookup, PipelineError> {
    let (reply, answer) = mpsc::sync_channel(1);
    requests
        .send((sensor_id.to_owned(), reply))
        .map_err(|_| PipelineError::closed("cache owner"))?;
    answer
        .recv()
        .map_err(|_| PipelineError::closed("cache owner"))
}

/// The cache owner: the only code that touches the cache, one request at a time. It ends when
/// every worker has dropped its sender.
fn cache_owner(registry: &dyn Registry, requests: Receiver<Request>) {
    let mut cache = SensorCache::new();
    for (sensor_id, reply) in requests {
        let found = cache
            .entry(sensor_id)
            .or_insert_with_key(|id| registry.lookup(id))
            .clone();
        // Fails only if the asking worker has already stopped; its own error says why, and
        // the answer is lost to nobody. (Chapter 6 is about the sends where that is not true.)
        let _ = reply.send(found);
    }
}
// ANCHOR_END: fix_message_passing

fn run_owner(owner: Option<Receiver<Request>>, registry: &dyn Registry) {
    if let Some(requests) = owner {
        cache_owner(registry, requests);
    }
}

// ANCHOR: broken_lock_order
/// BROKEN ON PURPOSE: the enrich thread takes cache → stats, the snapshot thread stats → cache,
/// and a barrier makes sure each holds its first lock before asking for its second. Hangs
/// every time.
pub fn broken_lock_order(
    input: &Input,
    cfg: &Config,
    signals: &Signals,
) -> Result<Report, PipelineError> {
    lock_order(Order::Inverted, input, cfg, signals)
}
// ANCHOR_END: broken_lock_order

/// FIXED: the snapshot takes the locks in the worker's order, cache → stats.
pub fn fixed_lock_order(
    input: &Input,
    cfg: &Config,
    signals: &Signals,
) -> Result<Report, PipelineError> {
    lock_order(Order::Consistent, input, cfg, signals)
}

#[derive(Debug, Clone, Copy)]
enum Order {
    Inverted,
    Consistent,
}

/// One enrich thread that counts look-ups per site, and a metrics snapshot thread.
fn lock_order(
    order: Order,
    input: &Input,
    cfg: &Config,
    signals: &Signals,
) -> Result<Report, PipelineError> {
    cfg.validate()?;
    let sink = cfg.sink.open()?;
    let Work { lines_read, parts } = Work::split(input, cfg, 1);
    let records = parts.into_iter().flatten().collect();
    let registry = &*cfg.registry;
    let cache = Mutex::new(SensorCache::new());
    let stats = Mutex::new(SiteStats::new());
    let barrier = Barrier::new(2);
    let shared = (&cache, &stats, &barrier);
    let aggregator = thread::scope(|s| {
        let worker =
            s.spawn(move || enrich_counting(records, shared, registry, signals, &cfg.progress));
        let snapshot = s.spawn(move || snapshot(order, shared, signals));
        let aggregator = joined("enrich", worker.join().map(Ok));
        joined("snapshot", snapshot.join().map(Ok))?;
        aggregator
    })?;
    finish(lines_read, [aggregator], sink)
}

/// The two locks and the barrier the lock-order demo shares.
type Shared<'a> = (&'a Mutex<SensorCache>, &'a Mutex<SiteStats>, &'a Barrier);

// ANCHOR: lock_order_worker
/// The enrich worker: cache lock, then stats lock, for every reading. On its first reading it
/// meets the snapshot at the barrier while holding the cache lock.
fn enrich_counting(
    records: Vec<Parsed>,
    (cache, stats, barrier): Shared<'_>,
    registry: &dyn Registry,
    signals: &Signals,
    progress: &Progress,
) -> Aggregator {
    let mut first_reading = Some(barrier);
    let mut aggregator = Aggregator::new();
    for record in records {
        if let Ok(reading) = record {
            let mut cache = signals
                .lock(CACHE_LOCK)
                .lock(|| cache.lock().expect(POISONED));
            let found = cache
                .entry(reading.sensor_id.clone())
                .or_insert_with_key(|id| registry.lookup(id))
                .clone();
            if let Some(barrier) = first_reading.take() {
                barrier.wait(); // the snapshot now holds what it takes first
            }
            let mut stats = signals
                .lock(STATS_LOCK)
                .lock(|| stats.lock().expect(POISONED));
            count_site(&mut stats, &found);
            aggregator.add(enrich_with(reading, found));
        } else if let Err(rejection) = record {
            aggregator.add(Err(rejection));
        }
        progress.add(1);
    }
    if let Some(barrier) = first_reading {
        barrier.wait(); // no reading at all: still release the snapshot
    }
    aggregator
}

/// The metrics snapshot: cache size and look-ups so far. `Inverted` is the bug.
fn snapshot(order: Order, (cache, stats, barrier): Shared<'_>, signals: &Signals) -> u64 {
    match order {
        Order::Inverted => {
            let stats = signals
                .lock(STATS_LOCK)
                .lock(|| stats.lock().expect(POISONED));
            barrier.wait();
            let cache = signals
                .lock(CACHE_LOCK)
                .lock(|| cache.lock().expect(POISONED)); // never returns
            cache.len() as u64 + stats.values().sum::<u64>()
        }
        Order::Consistent => {
            barrier.wait();
            let cache = signals
                .lock(CACHE_LOCK)
                .lock(|| cache.lock().expect(POISONED));
            let stats = signals
                .lock(STATS_LOCK)
                .lock(|| stats.lock().expect(POISONED));
            cache.len() as u64 + stats.values().sum::<u64>()
        }
    }
}
// ANCHOR_END: lock_order_worker

//! Chapter 4, **tokio** variant.
//!
//! Every pipeline here runs its workers on ONE thread (a current-thread runtime, the workers
//! joined with `tokio::join!`): the executor where a std lock held across `.await` deadlocks
//! every time, and so the fairest place to show that the fixes work. `tokio::spawn` refuses the
//! broken code on any runtime flavour (the future is not `Send`: see `tests/compile_fail/`);
//! that is the compiler's protection, and it covers only `spawn`: `block_on`, `join!` inside
//! `block_on`, and `spawn_local` on a `LocalSet` need no `Send`.

use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use tokio::sync::{Barrier, Mutex as AsyncMutex, mpsc, oneshot};

use instruments::{LockProbe, Signals};
use pipeline::{
    Aggregator, Config, Input, Parsed, PipelineError, Progress, Registry, Report, enrich_with,
};

use crate::cache::{
    Lookup, SensorCache, SiteStats, WORKERS, Work, count_site, finish, lookup_holding_guard,
    lookup_scoped, registry_lookup,
};
use crate::{CACHE_LOCK, Fix, STATS_LOCK};

/// How long the in-runtime timeouts of the `_with_timeout` demos wait.
pub const INNER_TIMEOUT: Duration = Duration::from_millis(200);

// ANCHOR: run
/// The fixed pipeline: two workers share the cache through a scoped std guard.
pub fn run(input: &Input, cfg: &Config) -> Result<Report, PipelineError> {
    run_with(
        Fix::ScopedGuard,
        input,
        cfg,
        &Signals::with_locks(crate::LOCKS),
    )
}

/// The pipeline with the given fix.
pub fn run_with(
    fix: Fix,
    input: &Input,
    cfg: &Config,
    signals: &Signals,
) -> Result<Report, PipelineError> {
    on_one_thread(Some(fix), input, cfg, signals, None)
}
// ANCHOR_END: run

/// BROKEN ON PURPOSE: the workers hold a std guard across the look-up's `.await`. Hangs.
pub fn broken_guard_across_await(
    input: &Input,
    cfg: &Config,
    signals: &Signals,
) -> Result<Report, PipelineError> {
    on_one_thread(None, input, cfg, signals, None)
}

/// The same workers on the same executor with the guard scoped: finishes.
pub fn fixed_guard_across_await(
    input: &Input,
    cfg: &Config,
    signals: &Signals,
) -> Result<Report, PipelineError> {
    run_with(Fix::ScopedGuard, input, cfg, signals)
}

/// BROKEN ON PURPOSE, with a `tokio::time::timeout` around the workers *inside* the runtime.
/// Still hangs: the timer is driven by the runtime's only thread, which is blocked in `lock()`.
pub fn broken_guard_across_await_with_timeout(
    input: &Input,
    cfg: &Config,
    signals: &Signals,
) -> Result<Report, PipelineError> {
    on_one_thread(None, input, cfg, signals, Some(INNER_TIMEOUT))
}

// ANCHOR: driver
/// Two enrich workers — and the cache owner, for message passing — joined on one thread. With
/// `fix: None` they hold the std guard across the look-up: the broken pipeline.
fn on_one_thread(
    fix: Option<Fix>,
    input: &Input,
    cfg: &Config,
    signals: &Signals,
    timeout: Option<Duration>,
) -> Result<Report, PipelineError> {
    cfg.validate()?;
    let sink = cfg.sink.open()?;
    let Work { lines_read, parts } = Work::split(input, cfg, WORKERS);
    let [first, second]: [Vec<Parsed>; WORKERS] = parts.try_into().expect("WORKERS parts");
    let registry = &*cfg.registry;
    let partials =
        one_thread()?.block_on(async {
            let (cache, owner) = Cache::new(fix, cfg.channel_capacity);
            let workers = async {
                let (first, second, ()) = tokio::join!(
                    enrich_worker(first, cache.clone(), registry, signals, &cfg.progress),
                    enrich_worker(second, cache, registry, signals, &cfg.progress),
                    run_owner(owner, registry),
                );
                Ok::<_, PipelineError>([first?, second?])
            };
            match timeout {
                None => workers.await,
                Some(after) => tokio::time::timeout(after, workers).await.map_err(|_| {
                    PipelineError::TimedOut {
                        stage: "enrich",
                        after,
                    }
                })?,
            }
        })?;
    finish(lines_read, partials, sink)
}

/// A current-thread runtime: every task it runs shares one OS thread.
fn one_thread() -> Result<tokio::runtime::Runtime, PipelineError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| PipelineError::Start {
            what: "a tokio current-thread runtime",
            source,
        })
}
// ANCHOR_END: driver

// ANCHOR: worker
/// An enrich worker: looks every reading up through `cache`, aggregates what it enriched.
async fn enrich_worker(
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
                let found = cache.lookup(registry, probe, &reading.sensor_id).await?;
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

/// A worker's handle on the cache: one per [`Fix`], and the broken one.
#[derive(Clone)]
enum Cache {
    HoldingGuard(Arc<StdMutex<SensorCache>>),
    ScopedGuard(Arc<StdMutex<SensorCache>>),
    AsyncLock(Arc<AsyncMutex<SensorCache>>),
    MessagePassing(mpsc::Sender<Request>),
}

/// A question for the cache owner, with where to send the answer.
type Request = (String, oneshot::Sender<Lookup>);

impl Cache {
    /// The handle for `fix` (`None`: no fix, the std guard held across the `.await`), and for
    /// message passing the owner's end of the channel.
    fn new(fix: Option<Fix>, capacity: usize) -> (Cache, Option<mpsc::Receiver<Request>>) {
        let std_cache = || Arc::new(StdMutex::new(SensorCache::new()));
        match fix {
            None => (Cache::HoldingGuard(std_cache()), None),
            Some(Fix::ScopedGuard) => (Cache::ScopedGuard(std_cache()), None),
            Some(Fix::AsyncLock) => (
                Cache::AsyncLock(Arc::new(AsyncMutex::new(SensorCache::new()))),
                None,
            ),
            Some(Fix::MessagePassing) => {
                let (requests, owner) = mpsc::channel(capacity);
                (Cache::MessagePassing(requests), Some(owner))
            }
        }
    }

    async fn lookup(
        &self,
        registry: &dyn Registry,
        probe: &LockProbe,
        sensor_id: &str,
    ) -> Result<Lookup, PipelineError> {
        Ok(match self {
            Cache::HoldingGuard(cache) => {
                lookup_holding_guard(cache, probe, registry, sensor_id).await
            }
            Cache::ScopedGuard(cache) => lookup_scoped(cache, probe, registry, sensor_id).await,
            Cache::AsyncLock(cache) => lookup_async_lock(cache, probe, registry, sensor_id).await,
            Cache::MessagePassing(requests) => return lookup_via_owner(requests, sensor_id).await,
        })
    }
}

// ANCHOR: fix_async_lock
/// FIXED: `tokio::sync::Mutex`. Waiting for it suspends the task instead of blocking the thread,
/// so holding it across the look-up's `.await` is allowed — at the price of serialising
/// look-ups. Use it when the lock really must span an `.await`.
pub async fn lookup_async_lock(
    cache: &AsyncMutex<SensorCache>,
    probe: &LockProbe,
    registry: &dyn Registry,
    sensor_id: &str,
) -> Lookup {
    let mut cache = probe.lock_async(cache.lock()).await;
    if let Some(hit) = cache.get(sensor_id) {
        return hit.clone();
    }
    let found = registry_lookup(registry, sensor_id).await; // held across .await: fine here
    cache.insert(sensor_id.to_owned(), found.clone());
    found
}
// ANCHOR_END: fix_async_lock

// ANCHOR: fix_message_passing
/// FIXED, without a lock: ask the task that owns the cache, and await its answer.
async fn lookup_via_owner(
    requests: &mpsc::Sender<Request>,
    sensor_id: &str,
) -> Result<Lookup, PipelineError> {
    let (reply, answer) = oneshot::channel();
    requests
        .send((sensor_id.to_owned(), reply))
        .await
        .map_err(|_| PipelineError::closed("cache owner"))?;
    answer
        .await
        .map_err(|_| PipelineError::closed("cache owner"))
}

/// The cache owner: the only code that touches the cache, one request at a time. It ends when
/// every worker has dropped its sender.
async fn cache_owner(registry: &dyn Registry, mut requests: mpsc::Receiver<Request>) {
    let mut cache = SensorCache::new();
    while let Some((sensor_id, reply)) = requests.recv().await {
        let found = match cache.get(&sensor_id) {
            Some(hit) => hit.clone(),
            None => {
                let found = registry_lookup(registry, &sensor_id).await;
                cache.insert(sensor_id, found.clone());
                found
            }
        };
        // Fails only if the asking worker has already stopped; its own error says why, and
        // the answer is lost to nobody. (Chapter 6 is about the sends where that is not true.)
        let _ = reply.send(found);
    }
}
// ANCHOR_END: fix_message_passing

async fn run_owner(owner: Option<mpsc::Receiver<Request>>, registry: &dyn Registry) {
    if let Some(requests) = owner {
        cache_owner(registry, requests).await;
    }
}

// ANCHOR: broken_lock_order
/// BROKEN ON PURPOSE: the enrich worker takes cache → stats, the snapshot stats → cache, and a
/// barrier makes sure each holds its first lock before asking for its second. Hangs every time.
pub fn broken_lock_order(
    input: &Input,
    cfg: &Config,
    signals: &Signals,
) -> Result<Report, PipelineError> {
    lock_order(Order::Inverted, input, cfg, signals, None)
}
// ANCHOR_END: broken_lock_order

/// FIXED: the snapshot takes the locks in the worker's order, cache → stats.
pub fn fixed_lock_order(
    input: &Input,
    cfg: &Config,
    signals: &Signals,
) -> Result<Report, PipelineError> {
    lock_order(Order::Consistent, input, cfg, signals, None)
}

/// BROKEN ON PURPOSE, with a timeout inside the runtime. This one *does* fire: both tasks wait
/// on async locks, the thread is idle, not blocked, and the runtime's timer still runs.
pub fn broken_lock_order_with_timeout(
    input: &Input,
    cfg: &Config,
    signals: &Signals,
) -> Result<Report, PipelineError> {
    lock_order(Order::Inverted, input, cfg, signals, Some(INNER_TIMEOUT))
}

#[derive(Debug, Clone, Copy)]
enum Order {
    Inverted,
    Consistent,
}

/// One enrich worker that counts look-ups per site, and a metrics snapshot, on one thread.
fn lock_order(
    order: Order,
    input: &Input,
    cfg: &Config,
    signals: &Signals,
    timeout: Option<Duration>,
) -> Result<Report, PipelineError> {
    cfg.validate()?;
    let sink = cfg.sink.open()?;
    let Work { lines_read, parts } = Work::split(input, cfg, 1);
    let records = parts.into_iter().flatten().collect();
    let registry = &*cfg.registry;
    let aggregator = one_thread()?.block_on(async {
        let cache = AsyncMutex::new(SensorCache::new());
        let stats = AsyncMutex::new(SiteStats::new());
        let barrier = Barrier::new(2);
        let both = async {
            let (aggregator, _snapshot) = tokio::join!(
                enrich_counting(
                    records,
                    (&cache, &stats, &barrier),
                    registry,
                    signals,
                    &cfg.progress
                ),
                snapshot(order, (&cache, &stats, &barrier), signals),
            );
            aggregator
        };
        match timeout {
            None => Ok(both.await),
            Some(after) => {
                tokio::time::timeout(after, both)
                    .await
                    .map_err(|_| PipelineError::TimedOut {
                        stage: "enrich",
                        after,
                    })
            }
        }
    })?;
    finish(lines_read, [aggregator], sink)
}

/// The two locks and the barrier the lock-order demo shares.
type Shared<'a> = (
    &'a AsyncMutex<SensorCache>,
    &'a AsyncMutex<SiteStats>,
    &'a Barrier,
);

// ANCHOR: lock_order_worker
/// The enrich worker: cache lock, then stats lock, for every reading. On its first reading it
/// meets the snapshot at the barrier while holding the cache lock.
async fn enrich_counting(
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
            let mut cache = signals.lock(CACHE_LOCK).lock_async(cache.lock()).await;
            let found = match cache.get(&reading.sensor_id) {
                Some(hit) => hit.clone(),
                None => registry_lookup(registry, &reading.sensor_id).await,
            };
            cache.insert(reading.sensor_id.clone(), found.clone());
            if let Some(barrier) = first_reading.take() {
                barrier.wait().await; // the snapshot now holds what it takes first
            }
            let mut stats = signals.lock(STATS_LOCK).lock_async(stats.lock()).await;
            count_site(&mut stats, &found);
            aggregator.add(enrich_with(reading, found));
        } else if let Err(rejection) = record {
            aggregator.add(Err(rejection));
        }
        progress.add(1);
    }
    if let Some(barrier) = first_reading {
        barrier.wait().await; // no reading at all: still release the snapshot
    }
    aggregator
}

/// The metrics snapshot: cache size and look-ups so far. `Inverted` is the bug.
async fn snapshot(order: Order, (cache, stats, barrier): Shared<'_>, signals: &Signals) -> u64 {
    match order {
        Order::Inverted => {
            let stats = signals.lock(STATS_LOCK).lock_async(stats.lock()).await;
            barrier.wait().await;
            let cache = signals.lock(CACHE_LOCK).lock_async(cache.lock()).await; // never returns
            cache.len() as u64 + stats.values().sum::<u64>()
        }
        Order::Consistent => {
            barrier.wait().await;
            let cache = signals.lock(CACHE_LOCK).lock_async(cache.lock()).await;
            let stats = signals.lock(STATS_LOCK).lock_async(stats.lock()).await;
            cache.len() as u64 + stats.values().sum::<u64>()
        }
    }
}
// ANCHOR_END: lock_order_worker

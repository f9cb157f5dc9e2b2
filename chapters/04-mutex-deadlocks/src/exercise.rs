//! The harness of exercise 04 (`exercises/04-mutex-deadlocks`): what the learner's functions
//! are handed and how they are run. It lives here, out of the learner's file, so the starter
//! and the solution share one copy and a fix cannot reach the probes the checks rely on.
//!
//! - Steps 1 and 2: two enrich workers on ONE thread ([`run_tokio`], [`run_smol`]), each
//!   look-up counted when it gives the thread back ([`TOKIO_SUSPENSIONS`], [`SMOL_SUSPENSIONS`]),
//!   and the smol half's [`RegistryClient`], which counts how many were made ([`CLIENTS_MADE`]):
//!   the workers must share one.
//! - Step 3: two threads and two locks ([`Locks`]): an enrich worker that records each look-up
//!   in the cache and the stats, and a metrics snapshot that reads both ([`run_order`]). The
//!   locks note, like Linux's lockdep, every time one is taken while the other is held, so a
//!   lock-order inversion is seen on every run, not only on the rare run where it hangs.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;

use pipeline::{
    Aggregator, Config, Input, Parsed, PipelineError, Progress, Registry, Report, Work,
    enrich_with, finish,
};

use crate::cache::{Lookup, POISONED, SensorCache, SiteStats, count_site};

/// A registry client that keeps state between requests (think: a connection), so a look-up
/// needs `&mut self`, across its `.await`.
pub struct RegistryClient {
    registry: Arc<dyn Registry>,
    requests: u64,
}

/// How many [`RegistryClient`]s were made: the smol workers share one, so a run makes one.
pub static CLIENTS_MADE: AtomicUsize = AtomicUsize::new(0);

impl RegistryClient {
    pub fn new(registry: Arc<dyn Registry>) -> Self {
        CLIENTS_MADE.fetch_add(1, Ordering::SeqCst);
        RegistryClient {
            registry,
            requests: 0,
        }
    }

    pub async fn lookup(&mut self, sensor_id: &str) -> Lookup {
        self.requests += 1;
        futures_lite::future::yield_now().await;
        self.registry.lookup(sensor_id)
    }

    pub fn requests(&self) -> u64 {
        self.requests
    }
}

/// How often a look-up gave the executor back (returned `Pending`) in each half. A look-up
/// that never does — one that blocks the thread until its answer is in — cannot deadlock, but
/// it stops everything else on the thread: the checks ask for real `.await`s.
pub static TOKIO_SUSPENSIONS: AtomicUsize = AtomicUsize::new(0);
pub static SMOL_SUSPENSIONS: AtomicUsize = AtomicUsize::new(0);

/// Step 1, tokio: a current-thread runtime, the two workers joined with `tokio::join!`, each
/// looking its readings up with `lookup` (the learner's `lookup_tokio`, bound to a cache).
pub fn run_tokio<F, Fut>(input: &Input, cfg: &Config, lookup: F) -> Result<Report, PipelineError>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Lookup>,
{
    let sink = cfg.sink.open()?;
    let Work { lines_read, parts } = Work::split(input, cfg, 2);
    let [first, second]: [Vec<Parsed>; 2] = parts.try_into().expect("two parts");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| PipelineError::Start {
            what: "a tokio current-thread runtime",
            source,
        })?;
    let (first, second) = runtime.block_on(async {
        let worker = |records| enrich(records, &cfg.progress, &TOKIO_SUSPENSIONS, &lookup);
        tokio::join!(worker(first), worker(second))
    });
    finish(lines_read, merge(first, second), sink)
}

/// Step 2, smol: `smol::block_on`, the two workers joined with `zip`, sharing the client
/// `new_client` makes (the learner's `new_shared_client`) through `lookup` (`lookup_smol`).
pub fn run_smol<C, N, F, Fut>(
    input: &Input,
    cfg: &Config,
    new_client: N,
    lookup: F,
) -> Result<Report, PipelineError>
where
    N: FnOnce(Arc<dyn Registry>) -> C,
    F: Fn(Arc<C>, String) -> Fut,
    Fut: Future<Output = Lookup>,
{
    let sink = cfg.sink.open()?;
    let Work { lines_read, parts } = Work::split(input, cfg, 2);
    let [first, second]: [Vec<Parsed>; 2] = parts.try_into().expect("two parts");
    let client = Arc::new(new_client(Arc::clone(&cfg.registry)));
    let (first, second) = smol::block_on(async {
        let worker = |records| {
            let client = &client;
            let lookup = &lookup;
            enrich(records, &cfg.progress, &SMOL_SUSPENSIONS, move |id| {
                lookup(Arc::clone(client), id)
            })
        };
        futures_lite::future::zip(worker(first), worker(second)).await
    });
    finish(lines_read, merge(first, second), sink)
}

/// One worker: looks every reading up with `lookup`, aggregates what it enriched.
async fn enrich<F, Fut>(
    records: Vec<Parsed>,
    progress: &Progress,
    suspensions: &AtomicUsize,
    lookup: F,
) -> Aggregator
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Lookup>,
{
    let mut aggregator = Aggregator::new();
    for record in records {
        let enriched = match record {
            Ok(reading) => {
                let found = counting_pending(lookup(reading.sensor_id.clone()), suspensions).await;
                enrich_with(reading, found)
            }
            Err(rejection) => Err(rejection),
        };
        aggregator.add(enriched);
        progress.add(1);
    }
    aggregator
}

/// Awaits `future`, counting every time it returns `Pending` to the executor.
async fn counting_pending<F: Future>(future: F, pendings: &AtomicUsize) -> F::Output {
    let mut future = std::pin::pin!(future);
    std::future::poll_fn(|cx| {
        let poll = future.as_mut().poll(cx);
        if poll.is_pending() {
            pendings.fetch_add(1, Ordering::Relaxed);
        }
        poll
    })
    .await
}

fn merge(mut first: Aggregator, second: Aggregator) -> Aggregator {
    first.merge(second);
    first
}

// ---------------------------------------------------------------------------------------------
// Step 3: two locks, two threads.
// ---------------------------------------------------------------------------------------------

/// The stats the enrich worker keeps next to the cache: look-ups per site, and how many
/// look-ups missed the cache (went to the registry). The worker updates both while it holds
/// the cache, so a snapshot that holds both locks sees `misses` equal to the cache's size.
#[derive(Debug, Default)]
pub struct LookupStats {
    pub per_site: SiteStats,
    pub misses: usize,
}

impl LookupStats {
    /// Counts one look-up: for its site, and as a miss if it went to the registry.
    pub fn record(&mut self, found: &Lookup, missed: bool) {
        count_site(&mut self.per_site, found);
        self.misses += usize::from(missed);
    }
}

/// What a metrics snapshot reports: the cache's size and the misses the stats counted. Taken
/// with both locks held, the two are equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    pub cached_sensors: usize,
    pub misses: usize,
}

/// Which of the two locks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    Cache,
    Stats,
}

thread_local! {
    /// The locks this thread holds now, in the order it took them.
    static HELD: RefCell<Vec<Which>> = const { RefCell::new(Vec::new()) };
}

/// The two locks of step 3, and what they saw: each time one was asked for while the other
/// was held (before waiting for it: a run that deadlocks has still told us its order).
#[derive(Default)]
pub struct Locks {
    cache: Mutex<SensorCache>,
    stats: Mutex<LookupStats>,
    cache_then_stats: AtomicUsize,
    stats_then_cache: AtomicUsize,
    /// How often the snapshot thread, and the enrich thread, asked for one lock while they held
    /// the other.
    both_in_snapshot: AtomicUsize,
    both_in_worker: AtomicUsize,
    elsewhere: AtomicUsize,
}

/// A guard of one of the [`Locks`]: the std guard, and a note in the thread's list of held
/// locks until it is dropped.
pub struct Held<'a, T> {
    guard: MutexGuard<'a, T>,
    which: Which,
}

impl<T> std::ops::Deref for Held<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> std::ops::DerefMut for Held<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

impl<T> Drop for Held<'_, T> {
    fn drop(&mut self) {
        HELD.with_borrow_mut(|held| {
            if let Some(at) = held.iter().rposition(|w| *w == self.which) {
                held.remove(at);
            }
        });
    }
}

impl Locks {
    /// Takes the cache lock (waiting for it).
    pub fn cache(&self) -> Held<'_, SensorCache> {
        self.note(Which::Cache);
        Held {
            guard: self.cache.lock().expect(POISONED),
            which: Which::Cache,
        }
    }

    /// Takes the stats lock (waiting for it).
    pub fn stats(&self) -> Held<'_, LookupStats> {
        self.note(Which::Stats);
        Held {
            guard: self.stats.lock().expect(POISONED),
            which: Which::Stats,
        }
    }

    /// How often the cache was asked for while the stats were held by the same thread, and the
    /// other way round: (cache → stats, stats → cache). Both non-zero is an inversion.
    pub fn orders_seen(&self) -> (usize, usize) {
        (
            self.cache_then_stats.load(Ordering::SeqCst),
            self.stats_then_cache.load(Ordering::SeqCst),
        )
    }

    fn note(&self, wanted: Which) {
        let other = match wanted {
            Which::Cache => Which::Stats,
            Which::Stats => Which::Cache,
        };
        HELD.with_borrow_mut(|held| {
            if held.contains(&other) {
                match wanted {
                    Which::Stats => &self.cache_then_stats,
                    Which::Cache => &self.stats_then_cache,
                }
                .fetch_add(1, Ordering::SeqCst);
                match thread::current().name() {
                    Some(SNAPSHOT_THREAD) => &self.both_in_snapshot,
                    Some(ENRICH_THREAD) => &self.both_in_worker,
                    _ => &self.elsewhere,
                }
                .fetch_add(1, Ordering::SeqCst);
            }
            held.push(wanted);
        });
    }
}

const SNAPSHOT_THREAD: &str = "ex04-snapshot";
const ENRICH_THREAD: &str = "ex04-enrich";

/// What [`run_order`] saw besides the report.
#[derive(Debug, Default)]
pub struct OrderRun {
    /// Every snapshot taken, in order (at least one).
    pub snapshots: Vec<Snapshot>,
    /// How many of them held both locks at once at some point.
    pub snapshots_holding_both: usize,
    /// How many look-ups the enrich worker recorded (`record` calls).
    pub lookups: usize,
    /// How many of them held both locks at once at some point.
    pub lookups_holding_both: usize,
}

/// Step 3: an enrich worker thread calls `record` (the learner's `record_lookup`) for every
/// reading, while a snapshot thread calls `snapshot` (the learner's) until the worker is done,
/// at least once. Both share `locks`.
pub fn run_order(
    input: &Input,
    cfg: &Config,
    locks: &Locks,
    record: fn(&Locks, &dyn Registry, &str) -> Lookup,
    snapshot: fn(&Locks) -> Snapshot,
) -> Result<(Report, OrderRun), PipelineError> {
    let sink = cfg.sink.open()?;
    let Work { lines_read, parts } = Work::split(input, cfg, 1);
    let records: Vec<Parsed> = parts.into_iter().flatten().collect();
    let registry = &*cfg.registry;
    let done = AtomicBool::new(false);
    let ((aggregator, lookups, lookups_holding_both), run) = thread::scope(|s| {
        let worker = thread::Builder::new()
            .name(ENRICH_THREAD.into())
            .spawn_scoped(s, || {
                let (mut aggregator, mut lookups, mut holding_both) = (Aggregator::new(), 0, 0);
                for parsed in records {
                    aggregator.add(match parsed {
                        Ok(reading) => {
                            let before = locks.both_in_worker.load(Ordering::SeqCst);
                            let found = record(locks, registry, &reading.sensor_id);
                            lookups += 1;
                            if locks.both_in_worker.load(Ordering::SeqCst) > before {
                                holding_both += 1;
                            }
                            enrich_with(reading, found)
                        }
                        Err(rejection) => Err(rejection),
                    });
                    cfg.progress.add(1);
                }
                done.store(true, Ordering::SeqCst);
                (aggregator, lookups, holding_both)
            })
            .expect("the enrich thread starts");
        let snapshots = thread::Builder::new()
            .name(SNAPSHOT_THREAD.into())
            .spawn_scoped(s, || {
                let mut run = OrderRun::default();
                loop {
                    let finished = done.load(Ordering::SeqCst);
                    let before = locks.both_in_snapshot.load(Ordering::SeqCst);
                    run.snapshots.push(snapshot(locks));
                    if locks.both_in_snapshot.load(Ordering::SeqCst) > before {
                        run.snapshots_holding_both += 1;
                    }
                    if finished {
                        break run;
                    }
                    thread::yield_now();
                }
            })
            .expect("the snapshot thread starts");
        (
            worker.join().expect("the enrich thread panicked"),
            snapshots.join().expect("the snapshot thread panicked"),
        )
    });
    let run = OrderRun {
        lookups,
        lookups_holding_both,
        ..run
    };
    Ok((finish(lines_read, aggregator, sink)?, run))
}

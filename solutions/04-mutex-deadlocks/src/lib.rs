//! # Exercise 04 — the cache that deadlocks (chapter 4): SOLUTION
//!
//! Two enrich workers share a cache of registry answers, and the harness at the bottom of this
//! file runs them on ONE thread, as `#[tokio::test]` or `block_on` would. As shipped, they
//! deadlock. Two tasks, about ten minutes each:
//!
//! 1. **tokio** — `lookup_tokio`: the cache is a `std::sync::Mutex`. Keep it, and change the
//!    code so that no guard is alive at the `.await`.
//! 2. **smol** — `lookup_smol`: here the registry *client* sits behind the lock, and its
//!    `lookup` needs `&mut self` across its own `.await`, so you cannot let go of the lock in
//!    the middle. Change the lock instead.
//!
//! Check: `cargo test -p ex04-mutex-deadlocks` (or `cargo run --release -- check 04`).
//! Stuck: `cargo run --release -- hint 04`. Don't change the harness or the checks.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use pipeline::{
    Aggregator, Config, Input, LookupError, Parsed, PipelineError, Progress, Registry, Report,
    SensorInfo, Work, enrich_with, finish,
};

/// A registry answer, as the cache keeps it.
pub type Lookup = Result<SensorInfo, LookupError>;
/// The shared cache: sensor id → registry answer.
pub type SensorCache = HashMap<String, Lookup>;

/// The registry as the I/O it stands for: one suspension point, then the answer.
pub async fn registry_lookup(registry: &dyn Registry, sensor_id: &str) -> Lookup {
    futures_lite::future::yield_now().await;
    registry.lookup(sensor_id)
}

// ANCHOR: solution_tokio
/// Looks `sensor_id` up through the shared cache. Each guard is a temporary that dies at the
/// end of its statement, so none is alive at the `.await`.
pub async fn lookup_tokio(
    cache: &Mutex<SensorCache>,
    registry: &dyn Registry,
    sensor_id: &str,
) -> Lookup {
    let hit = cache
        .lock()
        .expect("the cache lock is poisoned")
        .get(sensor_id)
        .cloned();
    if let Some(hit) = hit {
        return hit;
    }
    let found = registry_lookup(registry, sensor_id).await;
    cache
        .lock()
        .expect("the cache lock is poisoned")
        .entry(sensor_id.to_owned())
        .or_insert(found)
        .clone()
}
// ANCHOR_END: solution_tokio

/// A registry client that keeps state between requests (think: a connection), so a look-up
/// needs `&mut self`, across its `.await`.
pub struct RegistryClient {
    registry: Arc<dyn Registry>,
    requests: u64,
}

impl RegistryClient {
    pub fn new(registry: Arc<dyn Registry>) -> Self {
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

// ANCHOR: solution_smol
/// The registry client every smol worker shares, behind an async lock: a task waiting for it
/// is suspended, not blocking the thread, so the holder can finish its `.await` and let go.
pub type SharedClient = smol::lock::Mutex<RegistryClient>;

pub fn new_shared_client(registry: Arc<dyn Registry>) -> SharedClient {
    smol::lock::Mutex::new(RegistryClient::new(registry))
}

pub async fn lookup_smol(client: &SharedClient, sensor_id: &str) -> Lookup {
    let mut client = client.lock().await;
    client.lookup(sensor_id).await
}
// ANCHOR_END: solution_smol

// ---------------------------------------------------------------------------------------------
// The harness: two workers on one thread. You should not need to change anything below.
// ---------------------------------------------------------------------------------------------

/// tokio: a current-thread runtime, the two workers joined with `tokio::join!`. The cache is
/// the caller's (the checks look into it while a registry request is in flight).
pub fn run_tokio(
    input: &Input,
    cfg: &Config,
    cache: &Mutex<SensorCache>,
) -> Result<Report, PipelineError> {
    let sink = cfg.sink.open()?;
    let Work { lines_read, parts } = Work::split(input, cfg, 2);
    let [first, second]: [Vec<Parsed>; 2] = parts.try_into().expect("two parts");
    let registry = &*cfg.registry;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| PipelineError::Start {
            what: "a tokio current-thread runtime",
            source,
        })?;
    let (first, second) = runtime.block_on(async {
        let worker = |records: Vec<Parsed>| {
            enrich(
                records,
                &cfg.progress,
                &TOKIO_SUSPENSIONS,
                move |id| async move { lookup_tokio(cache, registry, &id).await },
            )
        };
        tokio::join!(worker(first), worker(second))
    });
    finish(lines_read, merge(first, second), sink)
}

/// smol: `smol::block_on`, the two workers joined with `zip`.
pub fn run_smol(input: &Input, cfg: &Config) -> Result<Report, PipelineError> {
    let sink = cfg.sink.open()?;
    let Work { lines_read, parts } = Work::split(input, cfg, 2);
    let [first, second]: [Vec<Parsed>; 2] = parts.try_into().expect("two parts");
    let client = new_shared_client(Arc::clone(&cfg.registry));
    let (first, second) = smol::block_on(async {
        let worker = |records: Vec<Parsed>| {
            let client = &client;
            enrich(
                records,
                &cfg.progress,
                &SMOL_SUSPENSIONS,
                move |id| async move { lookup_smol(client, &id).await },
            )
        };
        futures_lite::future::zip(worker(first), worker(second)).await
    });
    finish(lines_read, merge(first, second), sink)
}

/// How often a look-up gave the executor back (returned `Pending`) in each half. A look-up
/// that never does — one that blocks the thread until its answer is in — cannot deadlock, but
/// it stops everything else on the thread: the checks ask for real `.await`s.
pub static TOKIO_SUSPENSIONS: AtomicUsize = AtomicUsize::new(0);
pub static SMOL_SUSPENSIONS: AtomicUsize = AtomicUsize::new(0);

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

// The checks: one file, shared with the solution crate (its `tests` folder links to this one).
#[cfg(test)]
#[path = "../tests/checks.rs"]
mod checks;

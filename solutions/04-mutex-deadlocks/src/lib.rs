//! # Exercise 04 — the cache that deadlocks (chapter 4): SOLUTION
//!
//! Two enrich workers share a cache of registry answers, and the harness
//! (`ch04_mutex_deadlocks::exercise`) runs them on ONE thread, as `#[tokio::test]` or
//! `block_on` would. As shipped, they deadlock. Three tasks:
//!
//! 1. **tokio** — `lookup_tokio`: the cache is a `std::sync::Mutex`. Keep it, and change the
//!    code so that no guard is alive at the `.await`. (~6 min)
//! 2. **smol** — `lookup_smol`: here the registry *client* sits behind the lock, and its
//!    `lookup` needs `&mut self` across its own `.await`, so you cannot let go of the lock in
//!    the middle. Change the lock instead; the workers still share one client. (~6 min)
//! 3. **lock order** — `record_lookup` and `snapshot`: on two threads now, an enrich worker
//!    records each look-up in the cache and in the stats, and a metrics snapshot reads both.
//!    Each takes both locks, and they do not agree in which order. Make them agree, and keep
//!    the snapshot consistent: it must hold both locks at once. (~10 min)
//!
//! Check: `cargo test -p ex04-mutex-deadlocks` (or `cargo run --release -- check 04`).
//! Stuck: `cargo run --release -- hint 04`. Don't change the harness or the checks.
#![forbid(unsafe_code)]

use std::sync::{Arc, Mutex};

use ch04_mutex_deadlocks::cache::{Lookup, SensorCache, registry_lookup};
use ch04_mutex_deadlocks::exercise::{Locks, RegistryClient, Snapshot};
use pipeline::Registry;

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

// ANCHOR: solution_order
// One lock order for the two locks: the cache, then the stats. Both functions take them in it,
// so neither can hold the stats while it waits for the cache, and no cycle of waits can form.

/// The enrich worker's look-up: through the cache, then counted in the stats, both under the
/// cache lock so the stats never disagree with the cache.
pub fn record_lookup(locks: &Locks, registry: &dyn Registry, sensor_id: &str) -> Lookup {
    let mut cache = locks.cache();
    let (found, missed) = match cache.get(sensor_id) {
        Some(hit) => (hit.clone(), false),
        None => {
            let found = registry.lookup(sensor_id);
            cache.insert(sensor_id.to_owned(), found.clone());
            (found, true)
        }
    };
    let mut stats = locks.stats();
    stats.record(&found, missed);
    found
}

/// The metrics snapshot, in the worker's order: cache, then stats. Both are held while it
/// reads, so the two numbers are from one moment.
pub fn snapshot(locks: &Locks) -> Snapshot {
    let cache = locks.cache();
    let stats = locks.stats();
    Snapshot {
        cached_sensors: cache.len(),
        misses: stats.misses,
    }
}
// ANCHOR_END: solution_order

// The checks: one file, shared with the solution crate (its `tests` folder links to this one).
#[cfg(test)]
#[path = "../tests/checks.rs"]
mod checks;

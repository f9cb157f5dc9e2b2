//! # Exercise 04 — the cache that deadlocks (chapter 4)
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

// ANCHOR: task_tokio
/// Looks `sensor_id` up through the shared cache.
//
// TODO(1): the guard below is still alive at the `.await`, so the other worker blocks the only
// thread in `lock()` and nobody can ever release it. Keep the std `Mutex`; rearrange the code
// so that no guard lives across the `.await`. (Then delete the `#[allow]`: clippy agrees.)
#[allow(clippy::await_holding_lock)]
pub async fn lookup_tokio(
    cache: &Mutex<SensorCache>,
    registry: &dyn Registry,
    sensor_id: &str,
) -> Lookup {
    let mut cache = cache.lock().expect("the cache lock is poisoned");
    if let Some(hit) = cache.get(sensor_id) {
        return hit.clone();
    }
    let found = registry_lookup(registry, sensor_id).await;
    cache.insert(sensor_id.to_owned(), found.clone());
    found
}
// ANCHOR_END: task_tokio

// ANCHOR: task_smol
// TODO(2): a std `Mutex` cannot be held across the client's `.await` on one thread without
// deadlocking, and here it must be held: the client needs `&mut` until its answer is in.
// Change `SharedClient` to a lock made for that, then `new_shared_client` and `lookup_smol`.

/// The registry client every smol worker shares.
pub type SharedClient = Mutex<RegistryClient>;

pub fn new_shared_client(registry: Arc<dyn Registry>) -> SharedClient {
    Mutex::new(RegistryClient::new(registry))
}

#[allow(clippy::await_holding_lock)]
pub async fn lookup_smol(client: &SharedClient, sensor_id: &str) -> Lookup {
    let mut client = client.lock().expect("the client lock is poisoned");
    client.lookup(sensor_id).await
}
// ANCHOR_END: task_smol

// ANCHOR: task_order
// TODO(3): `record_lookup` takes the cache, then the stats; `snapshot` the stats, then the
// cache. When each has its first lock and wants its second, both wait for ever (the checks see
// the two orders even on a run where that does not happen). Give the two locks one order.

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

/// The metrics snapshot: the cache's size and the misses counted, read at one moment.
pub fn snapshot(locks: &Locks) -> Snapshot {
    let stats = locks.stats();
    let cache = locks.cache();
    Snapshot {
        cached_sensors: cache.len(),
        misses: stats.misses,
    }
}
// ANCHOR_END: task_order

// The checks: one file, shared with the solution crate (its `tests` folder links to this one).
#[cfg(test)]
#[path = "../tests/checks.rs"]
mod checks;

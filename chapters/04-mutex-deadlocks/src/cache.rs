//! What the four variants of chapter 4 share: the cache and its second lock, the probes the
//! demos report from, the look-up as I/O, and how the work is dealt out and put back together.
//! None of it is about a concurrency model; the variant files are.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use instruments::LockProbe;
pub use pipeline::Work;
use pipeline::{Aggregator, LookupError, PipelineError, Registry, Report, SensorInfo, Sink};

/// A registry answer, as the cache keeps it (unknown sensors are cached too).
pub type Lookup = Result<SensorInfo, LookupError>;

/// The enrich stage's cache: sensor id → what the registry said.
pub type SensorCache = HashMap<String, Lookup>;

/// Look-ups per site: the second piece of shared state, which the lock-order demo needs.
pub type SiteStats = BTreeMap<Arc<str>, u64>;

/// How many enrich workers share the cache.
pub const WORKERS: usize = 2;

/// The registry look-up as the I/O it stands for: one suspension point, then the answer.
///
/// `yield_now` returns `Pending` once and wakes itself at once, on any executor, so the task is
/// really suspended here — which is all a deadlock needs — without any timer or clock.
pub async fn registry_lookup(registry: &dyn Registry, sensor_id: &str) -> Lookup {
    futures_lite::future::yield_now().await;
    registry.lookup(sensor_id)
}

/// The message when a lock is poisoned: only possible if a worker panicked while holding it.
pub const POISONED: &str = "a worker panicked while holding the cache lock";

// ANCHOR: broken_guard
/// BROKEN ON PURPOSE. `cache` — the std guard — lives to the end of the function, so it is still
/// held while the task is suspended at the look-up's `.await`. Any other task that wants the
/// lock now blocks its thread; on a one-thread executor that thread was the holder's only hope.
///
/// The same code in tokio, async-std and smol: a std lock does not know about any runtime.
#[allow(clippy::await_holding_lock)] // the deadlock this chapter demonstrates; fixed below
pub async fn lookup_holding_guard(
    cache: &Mutex<SensorCache>,
    probe: &LockProbe,
    registry: &dyn Registry,
    sensor_id: &str,
) -> Lookup {
    let mut cache = probe.lock(|| cache.lock().expect(POISONED));
    if let Some(hit) = cache.get(sensor_id) {
        return hit.clone();
    }
    let found = registry_lookup(registry, sensor_id).await; // suspended here, still holding it
    cache.insert(sensor_id.to_owned(), found.clone());
    found
}
// ANCHOR_END: broken_guard

// ANCHOR: fix_scoped
/// FIXED: the guard is a temporary, dropped at the end of its statement, so no lock is held
/// while the task is suspended. The same std `Mutex`, the same code in all three runtimes.
pub async fn lookup_scoped(
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
    let found = registry_lookup(registry, sensor_id).await; // no lock held while suspended
    // Both workers may have missed and looked the same sensor up: the first answer stays.
    probe
        .lock(|| cache.lock().expect(POISONED))
        .entry(sensor_id.to_owned())
        .or_insert(found)
        .clone()
}
// ANCHOR_END: fix_scoped

/// Merges the workers' partial aggregates (order does not matter: chapter 1's property tests
/// prove it), writes the windows and makes the report.
pub fn finish(
    lines_read: u64,
    partials: impl IntoIterator<Item = Aggregator>,
    sink: Box<dyn Sink>,
) -> Result<Report, PipelineError> {
    let mut total = Aggregator::new();
    partials.into_iter().for_each(|part| total.merge(part));
    pipeline::finish(lines_read, total, sink)
}

/// Counts one look-up for the reading's site.
pub fn count_site(stats: &mut SiteStats, found: &Lookup) {
    if let Ok(info) = found {
        *stats.entry(Arc::clone(&info.site)).or_default() += 1;
    }
}

//! Exercise 04's checks. Each runs the two workers under a watchdog: a deadlock fails the check
//! after two seconds without progress, with a pointer to what to look at, instead of hanging.
//!
//! Finishing is not enough: a fix can dodge the deadlock and still miss the lesson. So the
//! checks also pin the mechanism, with probes of their own, out of the learner's file: the
//! registry they hand in counts its requests per sensor (the cache must really be used) and, in
//! the tokio half, looks at the cache lock while each request is in flight (no guard may live
//! across the `.await`, however it was acquired — `try_lock` included); the smol half's lock
//! must be one made to be held across an `.await`, and its workers must share one client (a
//! client per look-up is no shared client); and no `#[allow]` may silence clippy's
//! `await_holding_lock` on the two functions.
//!
//! The third check runs the enrich worker and the snapshot on two threads, and the harness's
//! locks note every time one is asked for while the other is held: both orders seen is an
//! inversion, whether or not this run happened to hang; a snapshot (or a look-up) that never
//! holds both at once is not consistent.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, TryLockError};
use std::time::Duration;

use pipeline::{
    Config, DatasetSpec, Input, LookupError, PipelineError, Registry, Report, SensorInfo,
    error_chain, run_sequential,
};
use testkit::{Outcome, TEST_DEADLINE, run_with_watchdog};

use ch04_mutex_deadlocks::cache::SensorCache;
use ch04_mutex_deadlocks::exercise::{
    self, CLIENTS_MADE, Locks, SMOL_SUSPENSIONS, Snapshot, TOKIO_SUSPENSIONS,
};

/// How long the workers may make no progress before the check calls them stuck.
const STALL: Duration = Duration::from_secs(2);
/// Two workers: each may miss the cache once for a sensor while the other's request for it is
/// still in flight. More requests than that for one sensor means the cache is not used.
const MAX_REQUESTS_PER_SENSOR: usize = 2;

/// The registry the checks hand in: the fleet, counting the requests it gets per sensor and,
/// when it is given the tokio half's cache, whether the cache lock was held during a request.
struct ProbedRegistry {
    fleet: Arc<dyn Registry>,
    requests: Mutex<HashMap<String, usize>>,
    cache: Option<Arc<Mutex<SensorCache>>>,
    held_during_request: AtomicUsize,
}

impl Registry for ProbedRegistry {
    fn lookup(&self, sensor_id: &str) -> Result<SensorInfo, LookupError> {
        *self
            .requests
            .lock()
            .expect("the probe's own lock")
            .entry(sensor_id.to_owned())
            .or_default() += 1;
        // One thread runs both workers, and only this call is running on it now: if the lock
        // is taken, a guard is alive in a suspended look-up (or in this very one).
        if let Some(cache) = &self.cache
            && let Err(TryLockError::WouldBlock) = cache.try_lock()
        {
            self.held_during_request.fetch_add(1, Ordering::SeqCst);
        }
        self.fleet.lookup(sensor_id)
    }
}

impl ProbedRegistry {
    /// The sensor asked for most often, and how often.
    fn busiest(&self) -> (String, usize) {
        self.requests
            .lock()
            .expect("the probe's own lock")
            .iter()
            .map(|(id, n)| (id.clone(), *n))
            .max_by_key(|(_, n)| *n)
            .unwrap_or_default()
    }
}

const HINT: &str = "hint: `cargo run --release -- hint 04`";
const HINT_2: &str = "hint: `cargo run --release -- hint 04 2`";
const HINT_3: &str = "hint: `cargo run --release -- hint 04 3`";

/// A half of the exercise, run with the checks' registry in its `Config`.
type Half = Box<dyn FnOnce(&Input, &Config) -> Result<Report, PipelineError> + Send>;

fn check(
    runtime: &str,
    cache: Option<Arc<Mutex<SensorCache>>>,
    half: Half,
    suspensions: &AtomicUsize,
) -> Arc<ProbedRegistry> {
    let input = Input::generated(&DatasetSpec {
        lines: 5_000,
        ..DatasetSpec::default()
    });
    let expected = run_sequential(&input, &Config::default()).expect("the reference runs");
    let registry = Arc::new(ProbedRegistry {
        fleet: Config::default().registry,
        requests: Mutex::default(),
        cache,
        held_during_request: AtomicUsize::new(0),
    });
    let cfg = Config {
        registry: Arc::clone(&registry) as Arc<dyn Registry>,
        ..Config::default()
    };
    let (moved_input, moved_cfg) = (input.clone(), cfg.clone());
    let outcome = run_with_watchdog(runtime, &cfg.progress, STALL, TEST_DEADLINE, move || {
        half(&moved_input, &moved_cfg)
    });
    match outcome {
        Outcome::Finished(Ok(report)) => assert!(
            report.text() == expected.text(),
            "the {runtime} workers finished, but not with chapter 1's report: expected {} \
             accepted and {} rejected readings, got {} and {}",
            expected.accepted(),
            expected.rejected(),
            report.accepted(),
            report.rejected()
        ),
        Outcome::Finished(Err(e)) => panic!("the {runtime} run failed: {}", error_chain(&e)),
        Outcome::Hung { .. } => panic!(
            "no progress after {STALL:?}: the two {runtime} workers are stuck on one thread — \
             is a lock held across an .await? hint: `cargo run --release -- hint 04`"
        ),
        Outcome::Panicked(message) => panic!("the {runtime} run panicked: {message}"),
    }
    assert!(
        suspensions.load(Ordering::Relaxed) > 0,
        "the {runtime} workers finished, but no look-up ever gave the thread back to the other \
         worker: is something blocking the thread until the answer is in (a `block_on` inside \
         the lock?) instead of awaiting it? That hides the deadlock by stopping everything else \
         (chapter 8). hint: `cargo run --release -- hint 04 2`"
    );
    registry
}

/// The learner's file, as compiled (the starter's or the solution's).
const LEARNER_FILE: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/src/lib.rs"));

/// The attributes and signature of `function` in the learner's file: from the end of the item
/// before it to its opening brace.
fn head_of(function: &str) -> &'static str {
    let at = LEARNER_FILE
        .find(&format!("fn {function}("))
        .unwrap_or_else(|| panic!("`{function}` is gone from src/lib.rs: keep its name"));
    let start = LEARNER_FILE[..at].rfind("\n}").map_or(0, |i| i + 2);
    let end = at + LEARNER_FILE[at..].find('{').unwrap_or(0);
    &LEARNER_FILE[start..end]
}

/// Clippy's `await_holding_lock` sees a std guard alive at an `.await`, however it was taken;
/// an `#[allow]` (or `#[expect]`) on the function, or on the whole crate, silences it.
fn assert_clippy_may_look(runtime: &str, function: &str) {
    let silenced = |text: &str| {
        text.contains("allow(clippy::await_holding_lock")
            || text.contains("expect(clippy::await_holding_lock")
    };
    let crate_level = LEARNER_FILE
        .lines()
        .any(|line| line.trim_start().starts_with("#![") && silenced(line));
    assert!(
        !crate_level && !silenced(head_of(function)),
        "the {runtime} half works, but `{function}` still silences clippy's \
         `await_holding_lock`: delete the `#[allow]` — with no guard alive at an `.await` \
         clippy has nothing to say, and if it does, the lesson is not done. hint: `cargo run \
         --release -- hint 04`"
    );
}

#[test]
fn tokio_workers_share_the_cache_without_deadlocking() {
    let cache = Arc::new(Mutex::new(SensorCache::new()));
    let registry = check(
        "tokio",
        Some(Arc::clone(&cache)),
        Box::new(move |input, cfg| {
            let registry = Arc::clone(&cfg.registry);
            exercise::run_tokio(input, cfg, move |id: String| {
                let (cache, registry) = (Arc::clone(&cache), Arc::clone(&registry));
                async move { super::lookup_tokio(&cache, &*registry, &id).await }
            })
        }),
        &TOKIO_SUSPENSIONS,
    );
    let held = registry.held_during_request.load(Ordering::SeqCst);
    assert!(
        held == 0,
        "the tokio workers finished, but the cache lock was held while {held} registry requests \
         were in flight: a std guard is still alive across the `.await` (taking it with \
         `try_lock` does not change that — the other worker just never waits for it). Let go of \
         the guard before the `.await`. hint: `cargo run --release -- hint 04 2`"
    );
    let (sensor, requests) = registry.busiest();
    assert!(
        requests <= MAX_REQUESTS_PER_SENSOR,
        "the tokio workers finished, but the registry was asked about {sensor} {requests} times: \
         the cache is not used (a look-up that misses must put the answer in, and the next one \
         must find it there). hint: `cargo run --release -- hint 04 2`"
    );
    assert_clippy_may_look("tokio", "lookup_tokio");
}

#[test]
fn smol_workers_share_the_client_without_deadlocking() {
    let clients_before = CLIENTS_MADE.load(Ordering::SeqCst);
    check(
        "smol",
        None,
        Box::new(|input, cfg| {
            exercise::run_smol(
                input,
                cfg,
                super::new_shared_client,
                |client: Arc<super::SharedClient>, id: String| async move {
                    super::lookup_smol(&client, &id).await
                },
            )
        }),
        &SMOL_SUSPENSIONS,
    );
    let clients = CLIENTS_MADE.load(Ordering::SeqCst) - clients_before;
    assert!(
        clients == 1,
        "the smol workers finished, but {clients} registry clients were made: the workers must \
         share the one client (`new_shared_client`), its connection and its request count — a \
         client made per look-up needs no lock, because it shares nothing. Keep one client \
         and change the lock it sits behind. {HINT_3}"
    );
    let lock = std::any::type_name::<super::SharedClient>();
    assert!(
        !lock.starts_with("std::sync::"),
        "the smol workers finished, but `SharedClient` is still `{lock}`: its guard is held \
         across the client's `.await`, and with a std lock that only works while nobody else \
         wants it at that moment (a `try_lock` spin keeps the thread busy instead of waiting). \
         Use a lock whose `lock()` is awaited. hint: `cargo run --release -- hint 04 3`"
    );
    assert_clippy_may_look("smol", "lookup_smol");
}

/// Step 3: the enrich worker and the metrics snapshot, on two threads, share two locks.
#[test]
fn order_worker_and_snapshot_agree_on_one_lock_order() {
    let input = Input::generated(&DatasetSpec {
        lines: 2_000,
        ..DatasetSpec::default()
    });
    let expected = run_sequential(&input, &Config::default()).expect("the reference runs");
    let cfg = Config::default();
    let locks = Arc::new(Locks::default());
    let (moved_input, moved_cfg, moved_locks) = (input.clone(), cfg.clone(), Arc::clone(&locks));
    let outcome = run_with_watchdog("order", &cfg.progress, STALL, TEST_DEADLINE, move || {
        exercise::run_order(
            &moved_input,
            &moved_cfg,
            &moved_locks,
            super::record_lookup,
            super::snapshot,
        )
    });
    let (cache_then_stats, stats_then_cache) = locks.orders_seen();
    let inverted = format!(
        "the cache was taken while the stats were held {stats_then_cache} times, and the stats \
         while the cache was held {cache_then_stats} times: two lock orders. The enrich worker \
         and the snapshot each hold one lock and want the other; when they meet there, both \
         wait for ever. Pick one order and take the locks in it everywhere"
    );
    let (report, run) = match outcome {
        Outcome::Finished(Ok(finished)) => finished,
        Outcome::Finished(Err(e)) => panic!("the lock-order run failed: {}", error_chain(&e)),
        Outcome::Hung { .. } if cache_then_stats > 0 && stats_then_cache > 0 => {
            panic!("the enrich worker and the snapshot deadlocked: {inverted}. {HINT_2}")
        }
        Outcome::Hung { .. } => panic!(
            "no progress after {STALL:?} in the lock-order run: is a lock never let go? {HINT}"
        ),
        Outcome::Panicked(message) => panic!("the lock-order run panicked: {message}"),
    };
    assert!(
        cache_then_stats == 0 || stats_then_cache == 0,
        "the lock-order run finished this time, but {inverted} (this run was lucky: it did not \
         hang). {HINT_2}"
    );
    let (taken, holding_both) = (run.snapshots.len(), run.snapshots_holding_both);
    assert!(
        holding_both == taken,
        "{} of the {taken} snapshots never held both locks at once: they read one, let go, then \
         read the other, and in between the worker moves on — such a snapshot mixes two \
         moments (the cache's size from one, the misses counted from another). Hold both, in \
         the one order. {HINT_2}",
        taken - holding_both
    );
    let (lookups, recorded_both) = (run.lookups, run.lookups_holding_both);
    assert!(
        recorded_both == lookups,
        "{} of the {lookups} look-ups let go of one lock before taking the other: a snapshot \
         in between sees a sensor in the cache that the stats have not counted. `record_lookup` \
         must hold both while it updates them. {HINT_2}",
        lookups - recorded_both
    );
    let torn: Vec<&Snapshot> = run
        .snapshots
        .iter()
        .filter(|s| s.cached_sensors != s.misses)
        .collect();
    assert!(
        torn.is_empty(),
        "{} snapshots saw the cache and the stats disagree (first: {:?}): each must read both \
         while it holds both locks. {HINT_2}",
        torn.len(),
        torn.first()
    );
    assert!(
        report.text() == expected.text(),
        "the lock-order run finished, but not with chapter 1's report: expected {} accepted and \
         {} rejected readings, got {} and {} — does `record_lookup` still return what the cache \
         (or the registry) said? {HINT}",
        expected.accepted(),
        expected.rejected(),
        report.accepted(),
        report.rejected()
    );
}

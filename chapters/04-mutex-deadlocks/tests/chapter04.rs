//! Chapter 4's claims, as tests: each broken demo really deadlocks (every time, seen from
//! outside), each fix really finishes with chapter 1's report, the compiler rejects a std guard
//! held across `.await` in a spawned task, and an in-runtime timeout cannot rescue a blocked
//! runtime.

use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use ch04_mutex_deadlocks::cache::{SensorCache, lookup_scoped};
use ch04_mutex_deadlocks::variants::{async_std_rt, smol_rt, sync, tokio_rt};
use ch04_mutex_deadlocks::{CACHE_LOCK, DEMOS, Fix, LOCKS, RUN_WITH_VARIANTS, VARIANTS, WATCH};
use instruments::{DemoFn, LockProbe, Signals, Verdict, run_demo};
use pipeline::{
    Config, Dataset, FleetRegistry, Input, PipelineError, Report, Variant, error_chain,
};
use testkit::{TEST_DEADLINE, assert_variants_agree, run_with_deadline};

/// How long a broken demo may make no progress before it counts as stuck. Its deadlock is
/// permanent, so any stall limit gives the same verdict; short keeps the suite fast.
const BROKEN_STALL: Duration = Duration::from_millis(500);
/// For the in-runtime timeout demos: at least ten times their inner timeout, so a timeout that
/// could fire would have fired long before the watcher gives up.
const TIMEOUT_STALL: Duration = Duration::from_secs(3);
/// For runs that must finish: long, so a slow CI machine never looks stuck.
const FIXED_STALL: Duration = TEST_DEADLINE;
/// For trybuild's compile of the compile-fail cases: a cold build, on a loaded machine.
const COMPILE_DEADLINE: Duration = Duration::from_secs(900);

/// Chapter 1's report on the default dataset: what every fix must reproduce.
fn chapter_1_report(input: &Input) -> Report {
    let (variant, run) = ch01_baseline::VARIANTS[0];
    assert_eq!(variant, Variant::Sync);
    let input = input.clone();
    run_with_deadline("chapter 1", TEST_DEADLINE, move || {
        run(&input, &Config::default())
    })
    .expect_finished("chapter 1's sync variant")
    .expect("chapter 1 runs")
}

fn demo_fns(broken: bool) -> Vec<(String, DemoFn)> {
    DEMOS
        .iter()
        .flat_map(|demo| {
            demo.cases.iter().filter_map(move |case| {
                let run = if broken { case.broken } else { case.fixed };
                run.map(|run| (format!("{} / {}", demo.name, case.variant), run))
            })
        })
        .collect()
}

/// Runs demos side by side (each stalls on its own clock) and returns their verdicts and what
/// their signals say.
fn verdicts(demos: Vec<(String, DemoFn)>, stall: Duration) -> Vec<(String, Verdict, Arc<Signals>)> {
    let input = Input::dataset(Dataset::Default);
    thread::scope(|s| {
        let running: Vec<_> = demos
            .into_iter()
            .map(|(name, run)| {
                let input = &input;
                let cfg = Config::default(); // its own progress counter
                (
                    name,
                    // deadline: the thread runs `run_demo`, whose watchdog ends it on a stall
                    s.spawn(move || run_demo(run, &WATCH, input, &cfg, stall)),
                )
            })
            .collect();
        running
            .into_iter()
            .map(|(name, handle)| {
                let (verdict, signals) = handle.join().expect("run_demo does not panic");
                (name, verdict, signals)
            })
            .collect()
    })
}

/// What the probes say once they match `expected`, or after a bounded wait. A starved machine
/// can call a run stuck a moment before its deadlock has formed; the deadlock, once formed, is
/// permanent, so waiting for it cannot turn a wrong verdict into a right one.
fn settled(signals: &Signals, expected: &str) -> String {
    for _ in 0..100 {
        if signals.describe() == expected {
            break;
        }
        thread::sleep(Duration::from_millis(50));
    }
    signals.describe()
}

// ANCHOR: broken_demos_hang
#[test]
fn every_broken_demo_deadlocks() {
    let broken = demo_fns(true);
    assert_eq!(broken.len(), 7, "3 guard-across-await + 4 lock-order demos");
    for (name, verdict, signals) in verdicts(broken, BROKEN_STALL) {
        assert!(
            verdict.is_stalled(),
            "{name}: expected a deadlock, got: {verdict}"
        );
        let expected = if name.starts_with("guard-across-await") {
            // one task suspended holding the lock, the other blocking the thread waiting for it
            "1 waiting for the cache lock, 0 waiting for the stats lock"
        } else {
            // each side waits for the lock the other holds
            "1 waiting for the cache lock, 1 waiting for the stats lock"
        };
        assert_eq!(settled(&signals, expected), expected, "{name}: {verdict}");
    }
}
// ANCHOR_END: broken_demos_hang

#[test]
fn every_fixed_demo_finishes_with_the_chapter_1_report() {
    let input = Input::dataset(Dataset::Default);
    let expected = chapter_1_report(&input);
    let fixed = demo_fns(false);
    assert_eq!(fixed.len(), 7);
    for (name, verdict, _) in verdicts(fixed, FIXED_STALL) {
        match verdict {
            Verdict::Finished(report) => assert!(
                report.text() == expected.text(),
                "{name}: finished, but not with chapter 1's report"
            ),
            other => panic!("{name}: expected it to finish, got: {other}"),
        }
    }
}

// ANCHOR: every_fix
#[test]
fn every_fix_in_every_variant_gives_the_chapter_1_report() {
    let input = Input::dataset(Dataset::Default);
    let expected = chapter_1_report(&input);
    let mut reports = Vec::new();
    for (variant, run_with) in RUN_WITH_VARIANTS {
        for fix in Fix::ALL.into_iter().filter(|f| f.applies_to(variant)) {
            let what = format!("the {variant} variant with the {} fix", fix.name());
            let input = input.clone();
            let result = run_with_deadline(variant.name(), TEST_DEADLINE, move || {
                run_with(fix, &input, &Config::default(), &Signals::with_locks(LOCKS))
            })
            .expect_finished(&what);
            let report = result.unwrap_or_else(|e| panic!("{what} failed: {}", error_chain(&e)));
            reports.push((variant, report));
        }
    }
    assert_eq!(reports.len(), 2 + 3 * 3);
    assert_variants_agree("default", &expected, &reports);
    // The chapter's VARIANTS table (the tour's entry) is the scoped-guard fix.
    for (variant, run) in VARIANTS {
        let input = input.clone();
        let report = run_with_deadline(variant.name(), TEST_DEADLINE, move || {
            run(&input, &Config::default())
        })
        .expect_finished(&format!("the {variant} VARIANTS entry"))
        .unwrap();
        assert!(
            report.text() == expected.text(),
            "{variant}: VARIANTS entry"
        );
    }
    insta::assert_snapshot!("fixed_default", expected.text());
}
// ANCHOR_END: every_fix

#[test]
fn the_sync_variant_has_no_async_lock_fix() {
    let err = run_with_deadline("sync", TEST_DEADLINE, || {
        sync::run_with(
            Fix::AsyncLock,
            &Input::dataset(Dataset::Empty),
            &Config::default(),
            &Signals::with_locks(LOCKS),
        )
    })
    .expect_finished("the sync variant with the async-lock fix")
    .unwrap_err();
    assert!(err.to_string().contains("no .await"), "{err}");
}

// ANCHOR: inner_timeout
/// A timeout *inside* the stuck runtime: when the runtime's only thread is blocked in a std
/// `lock()`, the timeout can never take effect. (tokio's timer is driven by that thread, so it
/// does not even fire; async-std's and smol's fire on async-io's own thread, but the future
/// that would return the timeout error is never polled again.) Only a watcher outside sees it.
#[test]
fn an_in_runtime_timeout_cannot_fire_while_the_thread_is_blocked() {
    let demos: Vec<(String, DemoFn)> = vec![
        (
            "tokio".into(),
            tokio_rt::broken_guard_across_await_with_timeout,
        ),
        (
            "async-std".into(),
            async_std_rt::broken_guard_across_await_with_timeout,
        ),
        (
            "smol".into(),
            smol_rt::broken_guard_across_await_with_timeout,
        ),
    ];
    for (name, verdict, signals) in verdicts(demos, TIMEOUT_STALL) {
        let expected = "1 waiting for the cache lock, 0 waiting for the stats lock";
        assert_eq!(settled(&signals, expected), expected, "{name}: {verdict}");
        assert!(
            verdict.is_stalled(),
            "{name}: the inner timeout ({:?}) must not be able to fire, got: {verdict}",
            tokio_rt::INNER_TIMEOUT
        );
    }
}

/// The async lock-order deadlock is different: every task waits on an async lock, the thread
/// is idle rather than blocked, and the runtime's own timer fires.
#[test]
fn an_in_runtime_timeout_does_fire_when_tasks_only_wait() {
    let demos: Vec<(String, DemoFn)> = vec![
        ("tokio".into(), tokio_rt::broken_lock_order_with_timeout),
        (
            "async-std".into(),
            async_std_rt::broken_lock_order_with_timeout,
        ),
        ("smol".into(), smol_rt::broken_lock_order_with_timeout),
    ];
    for (name, verdict, _) in verdicts(demos, FIXED_STALL) {
        assert!(
            matches!(verdict, Verdict::Failed(PipelineError::TimedOut { .. })),
            "{name}: expected the inner timeout to fire, got: {verdict}"
        );
    }
}
// ANCHOR_END: inner_timeout

/// The fixed look-ups can go to `spawn` on a multi-thread runtime: their futures are `Send`.
/// (The broken one cannot: see the compile-fail cases.)
#[test]
fn the_fixed_lookups_are_send() {
    fn assert_send<F: Future + Send>(_: F) {}
    let registry = FleetRegistry::default();
    let probe = LockProbe::new(CACHE_LOCK);
    let std_cache = Mutex::new(SensorCache::new());
    assert_send(lookup_scoped(&std_cache, &probe, &registry, "s-0001"));
    let tokio_cache = tokio::sync::Mutex::new(SensorCache::new());
    assert_send(tokio_rt::lookup_async_lock(
        &tokio_cache,
        &probe,
        &registry,
        "s-0001",
    ));
    let async_std_cache = async_std::sync::Mutex::new(SensorCache::new());
    assert_send(async_std_rt::lookup_async_lock(
        &async_std_cache,
        &probe,
        &registry,
        "s-0001",
    ));
    let smol_cache = smol::lock::Mutex::new(SensorCache::new());
    assert_send(smol_rt::lookup_async_lock(
        &smol_cache,
        &probe,
        &registry,
        "s-0001",
    ));
}

// ANCHOR: compile_fail
/// `tokio::spawn`, `async_std::task::spawn` and `smol::spawn` all require `Send` futures, and a
/// future that holds a `std::sync::MutexGuard` across an `.await` is not `Send`: the compiler
/// rejects the chapter's bug — but only where it is spawned (on any runtime flavour), never
/// where it is `block_on`-ed or spawned locally.
#[test]
fn spawn_rejects_a_std_guard_held_across_await() {
    // trybuild runs cargo (which may wait on cargo's locks): under a deadline long enough for a
    // cold build of the cases on a slow machine. On a hang the test fails; trybuild's cargo is
    // not ours to kill (trybuild owns it), it ends with its build.
    run_with_deadline("trybuild", COMPILE_DEADLINE, || {
        let cases = trybuild::TestCases::new();
        cases.compile_fail("tests/compile_fail/*.rs");
    })
    .expect_finished("the compile-fail cases (trybuild)");
}
// ANCHOR_END: compile_fail

//! Chapter 5's claims, as tests: without a limit, far more is in flight than the limit and the
//! registry refuses look-ups; with one, the gauge never passes the limit and the report is
//! chapter 1's. A thread per reading runs into the OS's limit, shown in a child process.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use ch05_unbounded_spawning::registry::{
    REFUSED, REGISTRY_CAPACITY, REGISTRY_REQUESTS, TASKS_IN_FLIGHT,
};
use ch05_unbounded_spawning::variants::{async_std_rt, smol_rt, sync, tokio_rt};
use ch05_unbounded_spawning::{WATCH, chapter_input};
use instruments::{DemoFn, Signals, Verdict, run_demo};
use pipeline::{Config, Input, PipelineError, RejectReason, Report, Variant, error_chain};
use testkit::{TEST_DEADLINE, assert_variants_agree, output_within, run_with_deadline};

type WithLatency = fn(&Input, &Config, &Signals, Duration) -> Result<Report, PipelineError>;

const BROKEN: [(Variant, WithLatency); 4] = [
    (Variant::Sync, sync::broken_unbounded_spawn_with_latency),
    (
        Variant::Tokio,
        tokio_rt::broken_unbounded_spawn_with_latency,
    ),
    (
        Variant::AsyncStd,
        async_std_rt::broken_unbounded_spawn_with_latency,
    ),
    (Variant::Smol, smol_rt::broken_unbounded_spawn_with_latency),
];

/// The broken pipelines run against a registry ten times slower than the demo's, so the first
/// look-ups are still in progress long after any machine has started the next 32: whether the
/// registry fills up cannot depend on how fast this machine spawns.
const SLOW_REGISTRY: Duration = Duration::from_millis(50);

const FIXED: [(Variant, DemoFn); 4] = [
    (Variant::Sync, sync::fixed_unbounded_spawn),
    (Variant::Tokio, tokio_rt::fixed_unbounded_spawn),
    (Variant::AsyncStd, async_std_rt::fixed_unbounded_spawn),
    (Variant::Smol, smol_rt::fixed_unbounded_spawn),
];

/// Runs a demo to completion and returns its report and what its gauges saw.
fn finished(variant: Variant, run: DemoFn) -> (Report, std::sync::Arc<Signals>) {
    let (verdict, signals) = run_demo(
        run,
        &WATCH,
        &chapter_input(),
        &Config::default(),
        TEST_DEADLINE,
    );
    match verdict {
        Verdict::Finished(report) => (report, signals),
        other => panic!("{variant}: expected the run to finish, got: {other}"),
    }
}

fn overloaded(report: &Report) -> u64 {
    report
        .rejections()
        .iter()
        .filter(|r| r.reason == RejectReason::RegistryOverloaded)
        .count() as u64
}

// ANCHOR: fixed_within_limit
#[test]
fn a_bounded_pipeline_never_passes_its_limit_and_gives_the_chapter_1_report() {
    let input = chapter_input();
    let limit = Config::default().concurrency;
    let (_, ch01_sync) = ch01_baseline::VARIANTS[0];
    let expected = {
        let input = input.clone();
        run_with_deadline("chapter 1", TEST_DEADLINE, move || {
            ch01_sync(&input, &Config::default())
        })
        .expect_finished("chapter 1's sync variant")
        .expect("chapter 1 runs")
    };
    let mut reports = Vec::new();
    for (variant, run) in FIXED {
        let (report, signals) = finished(variant, run);
        let peak = signals.gauge(TASKS_IN_FLIGHT).peak();
        assert!(
            (1..=limit).contains(&peak),
            "{variant}: {peak} look-ups were in flight at once; the limit is {limit}"
        );
        assert_eq!(
            signals.counter(REFUSED).total(),
            0,
            "{variant}: within the limit ({limit} ≤ capacity {REGISTRY_CAPACITY}) nothing is refused"
        );
        reports.push((variant, report));
    }
    assert_variants_agree(input.name(), &expected, &reports);
    // (`VARIANTS`, the tour's entry, is `fixed` with fresh signals; the tour checks it.)
    insta::assert_snapshot!("fixed", expected.text());
}
// ANCHOR_END: fixed_within_limit

// ANCHOR: broken_past_limit
#[test]
fn an_unbounded_pipeline_goes_past_its_limit_and_the_registry_refuses_look_ups() {
    let limit = Config::default().concurrency;
    for (variant, run) in BROKEN {
        let signals = Arc::new(Signals::new(&WATCH));
        let watched = Arc::clone(&signals);
        let report = run_with_deadline(variant.name(), TEST_DEADLINE, move || {
            run(
                &chapter_input(),
                &Config::default(),
                &watched,
                SLOW_REGISTRY,
            )
        })
        .expect_finished(&format!("the broken {variant} pipeline"))
        .unwrap_or_else(|e| panic!("{variant}: {}", error_chain(&e)));
        let peak = signals.gauge(TASKS_IN_FLIGHT).peak();
        assert!(
            peak > limit,
            "{variant}: only {peak} in flight at once; without a limit it should pass {limit}"
        );
        assert_eq!(
            signals.gauge(REGISTRY_REQUESTS).peak(),
            REGISTRY_CAPACITY,
            "{variant}: the registry should have been full"
        );
        assert!(
            signals.counter(REFUSED).total() > 0,
            "{variant}: the registry should have refused look-ups"
        );
        // Every refusal is a counted rejection, nothing vanishes: the report still balances.
        assert!(report.is_balanced(), "{variant}:\n{report}");
        assert_eq!(
            overloaded(&report),
            signals.counter(REFUSED).total(),
            "{variant}: every refused look-up is a rejected reading"
        );
    }
}
// ANCHOR_END: broken_past_limit

/// The child role of the next test: a thread per reading against a registry that takes a
/// minute to answer, so every thread stays alive and they pile up.
const CHILD_ROLE: &str = "CH05_CHILD_ROLE";

// ANCHOR: os_limit
/// A thread per reading, in a child process whose address space is capped (`ulimit -v`, which
/// applies to root too): every thread reserves a stack, and past the cap the OS refuses the
/// next one. That is the error a real service meets, only later and with the whole machine.
#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "not measured on this OS: the thread limit under `ulimit -v` is Linux's"
)]
fn a_thread_per_reading_runs_into_the_os_limit() {
    if std::env::var_os(CHILD_ROLE).is_some() {
        let input = chapter_input(); // 2,000 readings: far more threads than the cap allows
        let signals = Signals::new(&WATCH);
        let _ = sync::broken_unbounded_spawn_with_latency(
            &input,
            &Config::default(),
            &signals,
            Duration::from_secs(60),
        );
        unreachable!("the OS should have refused a thread before this point");
    }
    let test_binary = std::env::current_exe().unwrap();
    // A child past its deadline is killed by its handle, not left running.
    let output = output_within(
        Command::new("sh")
            .arg("-c")
            .arg(r#"ulimit -v 1048576 && exec "$0" "$@""#) // 1 GiB of address space
            .arg(&test_binary)
            .args([
                "--exact",
                "a_thread_per_reading_runs_into_the_os_limit",
                "--nocapture",
            ])
            .env(CHILD_ROLE, "explode")
            .env_remove("RUST_MIN_STACK"), // a tiny stack would let every thread fit under the cap
        TEST_DEADLINE,
    )
    .unwrap_or_else(|e| panic!("the child process: {e}"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "the child should have failed:\n{stderr}"
    );
    assert!(
        stderr.contains("failed to spawn thread"),
        "the child should fail to spawn a thread:\n{stderr}"
    );
    assert!(
        stderr.contains("Resource temporarily unavailable"),
        "with the OS's own error (EAGAIN):\n{stderr}"
    );
}
// ANCHOR_END: os_limit

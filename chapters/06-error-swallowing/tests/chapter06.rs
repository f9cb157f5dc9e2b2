//! Chapter 6's claims, as tests. Under the same seeded fault plan, every broken variant
//! "succeeds" and loses records and a window; every fixed variant accounts for all of them and
//! delivers exactly what the reference does. Then the runtime differences the chapter's table
//! states, one test per row.

use std::process::Command;

use ch06_error_swallowing::facts::{self, AfterDrop, PanicSeen};
use ch06_error_swallowing::{
    Handles, Outcome, RUN_WITH_VARIANTS, VARIANTS, chapter_input, demo_plan, reference,
};
use instruments::{FaultPlan, INJECTED_PANIC};
use pipeline::{Config, Dataset, Input, RejectReason, Report, Variant};
use testkit::{TEST_DEADLINE, assert_variants_agree, output_within, run_with_deadline};

fn under_deadline<T: Send + 'static>(what: &str, work: impl FnOnce() -> T + Send + 'static) -> T {
    quiet_expected_panics();
    run_with_deadline(what, TEST_DEADLINE, work).expect_finished(what)
}

/// The panics these tests provoke on purpose (the fault plan's injected look-up panic, the
/// runtime facts' task panic) are caught and checked; printed by the default hook, each with
/// its backtrace, they would come before a failing test's assertion and bury it. So they are
/// not printed. Every other panic — an assertion, a real bug — still goes to the default hook.
/// One hook for the whole test binary, installed once: tests run in parallel, and a hook swapped
/// in and out around one test would silence (or un-silence) another test's panics.
/// (The rayon child process installs none: its parent looks for the message on its stderr.)
fn quiet_expected_panics() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let message = pipeline::panic_message(info.payload());
            let expected = message.starts_with(INJECTED_PANIC) || message == facts::MESSAGE;
            if !expected {
                default(info);
            }
        }));
    });
}

fn count(report: &Report, reason: RejectReason) -> usize {
    report
        .rejections()
        .iter()
        .filter(|r| r.reason == reason)
        .count()
}

#[test]
fn without_faults_every_fixed_variant_gives_the_reference_report() {
    let input = Input::dataset(Dataset::Default);
    let cfg = Config::default();
    let expected = pipeline::run_sequential(&input, &cfg).unwrap();
    let reports: Vec<(Variant, Report)> = VARIANTS
        .iter()
        .map(|&(variant, run)| {
            let (input, cfg) = (input.clone(), cfg.clone());
            let report = under_deadline("a fixed run", move || run(&input, &cfg))
                .unwrap_or_else(|e| panic!("{variant}: {e}"));
            (variant, report)
        })
        .collect();
    assert_variants_agree("default", &expected, &reports);
}

#[test]
fn under_faults_the_fixed_variants_account_for_everything_and_agree() {
    let input = chapter_input();
    let cfg = Config::default();
    let plan = demo_plan(&input);
    let expected = reference(&input, &cfg, &plan).unwrap();
    assert!(
        expected.unaccounted().nothing(),
        "the reference lost or invented something: {}",
        expected.unaccounted()
    );
    assert!(expected.report.is_balanced());
    let report = &expected.report;
    assert!(
        count(report, RejectReason::RegistryFailed) > 0,
        "no registry error injected"
    );
    assert_eq!(count(report, RejectReason::LookupPanicked), 1);
    assert_eq!(
        expected.exit_code(),
        2,
        "dead letters must make the exit code non-zero"
    );
    for (variant, run_with) in RUN_WITH_VARIANTS {
        let (input, cfg, plan) = (input.clone(), cfg.clone(), plan.clone());
        let outcome = under_deadline("a fixed run under faults", move || {
            run_with(Handles::Joined, &input, &cfg, &plan)
        })
        .unwrap_or_else(|e| panic!("{variant}: {e}"));
        assert!(
            outcome.unaccounted().nothing(),
            "{variant}: {}",
            outcome.unaccounted()
        );
        assert_eq!(
            outcome.text(),
            expected.text(),
            "{variant}'s fixed pipeline delivered something other than the reference"
        );
    }
    insta::assert_snapshot!("fixed_under_faults", expected.text());
}

#[test]
fn under_faults_every_broken_variant_succeeds_and_loses_records_and_a_window() {
    let input = chapter_input();
    let cfg = Config::default();
    let plan = demo_plan(&input);
    let expected = reference(&input, &cfg, &plan).unwrap();
    let failed = count(&expected.report, RejectReason::RegistryFailed) as u64;
    for (variant, run_with) in RUN_WITH_VARIANTS {
        let (input, cfg, plan) = (input.clone(), cfg.clone(), plan.clone());
        let outcome: Outcome = under_deadline("a broken run under faults", move || {
            run_with(Handles::Dropped, &input, &cfg, &plan)
        })
        .unwrap_or_else(|e| panic!("{variant}: the broken run returned an error: {e}"));
        let unaccounted = outcome.unaccounted();
        assert!(
            unaccounted.invented.is_zero(),
            "{variant}: dropping handles loses, it does not invent: {unaccounted}"
        );
        let lost = unaccounted.lost;
        // Every reading of the failing sensors, and more: the task that panicked took the
        // rest of its share with it.
        assert!(
            lost.records > failed,
            "{variant}: expected more than the {failed} failed look-ups to vanish, lost {lost:?}"
        );
        assert_eq!(
            lost.windows, 1,
            "{variant}: the refused window should vanish"
        );
        assert!(
            !outcome.report.is_balanced(),
            "{variant}: the report balances"
        );
        assert!(
            outcome.dead_letters.is_empty(),
            "{variant}: nobody dead-letters"
        );
        assert_eq!(count(&outcome.report, RejectReason::RegistryFailed), 0);
        assert_eq!(count(&outcome.report, RejectReason::LookupPanicked), 0);
        assert_eq!(
            outcome.exit_code(),
            3,
            "{variant}: the outcome must call the loss what it is"
        );
    }
}

#[test]
fn the_fixed_pipeline_writes_its_dead_letters_next_to_the_output() {
    let dir = std::env::temp_dir().join(format!("ch06-dead-letters-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let output = dir.join("windows.jsonl");
    let input = chapter_input();
    let cfg = Config {
        sink: pipeline::SinkTarget::JsonLines(output.clone()),
        ..Config::default()
    };
    let plan = demo_plan(&input);
    let outcome = under_deadline("a fixed run writing files", {
        let (input, cfg, plan) = (input.clone(), cfg.clone(), plan.clone());
        move || {
            ch06_error_swallowing::variants::tokio_rt::run_with(
                Handles::Joined,
                &input,
                &cfg,
                &plan,
            )
        }
    })
    .unwrap();
    let windows = std::fs::read_to_string(&output).unwrap();
    let letters = std::fs::read_to_string(dir.join("windows.dead-letters.jsonl")).unwrap();
    assert_eq!(windows.lines().count() as u64, outcome.windows_written);
    assert_eq!(letters.lines().count(), outcome.dead_letters.len());
    assert!(letters.contains(r#""kind":"window""#), "{letters}");
    assert!(letters.contains("injected fault"), "{letters}");
    assert!(
        letters.contains(r#""reason":"look-up panicked""#),
        "{letters}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn without_injected_faults_the_broken_pipelines_lose_exactly_the_unknown_sensors() {
    // No fault injected, yet `if let Ok` still swallows the one look-up failure ordinary data
    // has — unknown sensors — so those readings vanish. Nothing else does: that is why the
    // broken code passes a happy-path test and survives review.
    let input = chapter_input();
    let cfg = Config::default();
    let expected = reference(&input, &cfg, &FaultPlan::none()).unwrap();
    let unknown = count(&expected.report, RejectReason::UnknownSensor) as u64;
    assert!(
        unknown > 0,
        "the chapter's input should have unknown sensors"
    );
    for (variant, run_with) in RUN_WITH_VARIANTS {
        let (input, cfg) = (input.clone(), cfg.clone());
        let outcome = under_deadline("a broken run without faults", move || {
            run_with(Handles::Dropped, &input, &cfg, &FaultPlan::none())
        })
        .unwrap();
        assert_eq!(
            outcome.unaccounted().lost,
            ch06_error_swallowing::Count {
                records: unknown,
                windows: 0
            },
            "{variant}: expected exactly the {unknown} unknown-sensor readings to vanish"
        );
        assert!(outcome.unaccounted().invented.is_zero(), "{variant}");
        assert_eq!(
            outcome.report.accepted(),
            expected.report.accepted(),
            "{variant}"
        );
    }
}

// ANCHOR: facts
#[test]
fn dropping_a_handle_detaches_in_tokio_async_std_and_std_but_cancels_in_smol() {
    assert_eq!(
        under_deadline("tokio", facts::tokio_dropped_handle),
        AfterDrop::RanToCompletion
    );
    assert_eq!(
        under_deadline("async-std", facts::async_std_dropped_handle),
        AfterDrop::RanToCompletion
    );
    assert_eq!(
        under_deadline("std", facts::std_dropped_handle),
        AfterDrop::RanToCompletion
    );
    assert_eq!(
        under_deadline("smol", facts::smol_dropped_task),
        AfterDrop::Cancelled
    );
}

#[test]
fn an_awaited_panic_is_a_join_error_in_tokio_an_err_in_std_and_re_raised_in_smol_and_async_std() {
    let message = "a task panicked on purpose".to_owned();
    assert_eq!(
        under_deadline("tokio", facts::tokio_awaited_panic),
        PanicSeen::JoinError(message.clone())
    );
    assert_eq!(
        under_deadline("std", facts::std_joined_panic),
        PanicSeen::ErrPayload(message.clone())
    );
    assert_eq!(
        under_deadline("smol", facts::smol_awaited_panic),
        PanicSeen::ReRaised(message.clone())
    );
    assert_eq!(
        under_deadline("async-std", facts::async_std_awaited_panic),
        PanicSeen::ReRaised(message)
    );
}

#[test]
fn a_detached_task_s_panic_is_swallowed_and_the_runtime_carries_on() {
    assert!(under_deadline(
        "tokio",
        facts::tokio_detached_panic_swallowed
    ));
    assert!(under_deadline(
        "async-std",
        facts::async_std_detached_panic_swallowed
    ));
    assert!(under_deadline("smol", facts::smol_detached_panic_swallowed));
}

/// The child role: re-run this test binary with this variable set, to panic inside
/// `rayon::spawn` in a process of its own.
const CHILD: &str = "CH06_CHILD_RAYON_SPAWN_PANIC";

#[test]
fn a_panic_in_rayon_spawn_aborts_the_whole_process() {
    if std::env::var_os(CHILD).is_some() {
        facts::rayon_spawn_panic();
        return; // only reached if the process survived: the parent will see exit code 0
    }
    let exe = std::env::current_exe().unwrap();
    // Past its deadline the child is killed by its handle, not left running.
    let child = output_within(
        Command::new(exe)
            .args([
                "--exact",
                "a_panic_in_rayon_spawn_aborts_the_whole_process",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, "1"),
        TEST_DEADLINE,
    )
    .unwrap_or_else(|e| panic!("re-running the test binary: {e}"));
    let stderr = String::from_utf8_lossy(&child.stderr);
    assert!(
        !child.status.success(),
        "the process survived a rayon::spawn panic: {stderr}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            child.status.signal(),
            Some(6),
            "expected SIGABRT (6), got {:?}; stderr: {stderr}",
            child.status
        );
    }
    assert!(stderr.contains("a task panicked on purpose"), "{stderr}");
}
// ANCHOR_END: facts

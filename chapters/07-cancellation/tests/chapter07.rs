//! Chapter 7's claims, as tests: a look-up that hangs is timed out and retried the same way in
//! every model, so the four reports agree; what a timeout cannot interrupt; a stop at fifty
//! seeded points, then a resume, gives exactly the uninterrupted report in every fixed variant,
//! and loses records at every one of them in every broken variant.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ch07_cancellation::registry::{
    ATTEMPTS_TIMED_OUT, HUNG_CALLS, LEFT_BLOCKED, LOOKUP_TIMEOUT, MAX_ATTEMPTS,
};
use ch07_cancellation::variants::tokio_rt;
use ch07_cancellation::{
    Controls, DEMOS, HangPlan, OnStop, RUN_WITH_VARIANTS, RunEnd, Shutdown, StopPoint, VARIANTS,
    WATCH, chapter_input, reference, reference_with,
};
use instruments::{Signals, Verdict, run_demo};
use pipeline::seeded::{PerMille, mix};
use pipeline::{
    Config, DatasetSpec, Input, RejectReason, Report, Variant, error_chain, parse_line,
};
use testkit::{TEST_DEADLINE, assert_variants_agree, compare_reports, run_with_deadline};

/// A directory of this test's own for checkpoints.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ch07-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}

/// The lines of `input` that reach the registry (they parse).
fn looked_up(input: &Input) -> Vec<u64> {
    input
        .text()
        .lines()
        .zip(1u64..)
        .filter(|(text, line)| parse_line(*line, text).is_ok())
        .map(|(_, line)| line)
        .collect()
}

fn timed_out_lines(report: &Report) -> BTreeSet<u64> {
    report
        .rejections()
        .iter()
        .filter(|r| r.reason == RejectReason::RegistryTimedOut)
        .map(|r| r.line)
        .collect()
}

fn rejected(report: &Report, line: u64) -> Option<RejectReason> {
    report
        .rejections()
        .iter()
        .find(|r| r.line == line)
        .map(|r| r.reason)
}

// ANCHOR: uninterrupted
#[test]
fn uninterrupted_every_variant_gives_the_reference_report_timeouts_included() {
    let input = chapter_input();
    let expected = reference(&input, &Config::default()).expect("the reference runs");
    assert!(
        !timed_out_lines(&expected).is_empty(),
        "the chapter's plan should time some readings out"
    );
    let reports: Vec<(Variant, Report)> = VARIANTS
        .iter()
        .map(|&(variant, run)| {
            let input = input.clone();
            let report = run_with_deadline(variant.name(), TEST_DEADLINE, move || {
                run(&input, &Config::default())
            })
            .expect_finished(&format!("the {variant} run"))
            .unwrap_or_else(|e| panic!("{variant}: {}", error_chain(&e)));
            (variant, report)
        })
        .collect();
    assert_variants_agree(input.name(), &expected, &reports);
    insta::assert_snapshot!("uninterrupted", expected.text());
}
// ANCHOR_END: uninterrupted

// ANCHOR: retries
/// A reading whose first attempt (or first two) hangs is retried and accepted; one whose every
/// attempt hangs is rejected "registry timed out". Every hung attempt is a timeout, in every
/// model — but only in the sync one is the hung call still running when the run ends: its
/// caller stopped waiting, its thread stayed blocked until the run released it.
#[test]
fn hung_attempts_time_out_and_are_retried_but_a_blocked_thread_stays_blocked() {
    let input = chapter_input();
    let plan = HangPlan::CHAPTER;
    let lines = looked_up(&input);
    let hung_attempts: u64 = lines.iter().map(|&l| u64::from(plan.hangs(l))).sum();
    let always: BTreeSet<u64> = lines
        .iter()
        .copied()
        .filter(|&l| plan.hangs(l) == MAX_ATTEMPTS)
        .collect();
    let known = |line: u64| {
        let text = input.text().lines().nth(line as usize - 1).unwrap();
        parse_line(line, text).unwrap().sensor_id.starts_with("s-0")
    };
    let retried_once = *lines
        .iter()
        .find(|&&l| plan.hangs(l) == 1 && known(l))
        .expect("a reading that hangs once");
    let retried_twice = *lines
        .iter()
        .find(|&&l| plan.hangs(l) == 2 && known(l))
        .expect("a reading that hangs twice");
    let given_up = *always.first().expect("a reading that always hangs");
    assert!(hung_attempts > 0);

    let dir = scratch("retries");
    for (variant, run_with, _) in RUN_WITH_VARIANTS {
        let signals = Arc::new(Signals::new(&WATCH));
        let (watched, input, path) = (Arc::clone(&signals), input.clone(), dir.join("unused"));
        let end = run_with_deadline(variant.name(), TEST_DEADLINE, move || {
            let controls = Controls::watched(Shutdown::new(), &watched);
            run_with(OnStop::Drain, &input, &Config::default(), &controls, &path)
        })
        .expect_finished(&format!("the {variant} run"))
        .unwrap_or_else(|e| panic!("{variant}: {}", error_chain(&e)));
        let RunEnd::Finished(report) = end else {
            panic!("{variant}: stopped, but nothing triggered its shutdown");
        };
        assert_eq!(
            rejected(&report, retried_once),
            None,
            "{variant}: line {retried_once}"
        );
        assert_eq!(
            rejected(&report, retried_twice),
            None,
            "{variant}: line {retried_twice}"
        );
        assert_eq!(
            rejected(&report, given_up),
            Some(RejectReason::RegistryTimedOut),
            "{variant}: line {given_up}"
        );
        assert_eq!(timed_out_lines(&report), always, "{variant}");
        let timed_out = signals.counter(ATTEMPTS_TIMED_OUT).total();
        if variant == Variant::Sync {
            // A sync timeout is wall-clock time, and includes the OS's scheduling: on a loaded
            // machine a call that answers can also be late. (It is retried; the report above
            // does not change.)
            assert!(
                timed_out >= hung_attempts,
                "sync: every hung attempt timed out"
            );
        } else {
            assert_eq!(
                timed_out, hung_attempts,
                "{variant}: every hung attempt, and only those, timed out"
            );
        }
        let left_blocked = signals.counter(LEFT_BLOCKED).total();
        if variant == Variant::Sync {
            assert_eq!(
                left_blocked, hung_attempts,
                "sync: every hung call was still blocked when the run ended"
            );
        } else {
            assert_eq!(
                left_blocked, 0,
                "{variant}: a timeout drops the hung call's future, so none is left"
            );
        }
        assert_eq!(
            signals.gauge(HUNG_CALLS).current(),
            0,
            "{variant}: nothing outlives the run"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
// ANCHOR_END: retries

// ANCHOR: backoff
/// On tokio's paused clock, time only moves when every task waits for a timer, and then jumps
/// to the next one: the attempts and backoffs add up exactly, whatever the machine.
#[test]
fn tokio_retries_follow_the_seeded_schedule_on_a_paused_clock() {
    let schedule = run_with_deadline("paused", TEST_DEADLINE, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        let plan = HangPlan::CHAPTER;
        let registry = Controls::new(Shutdown::new()).registry(&Config::default());
        let mut outcomes = Vec::new();
        for hangs in [0, 1, 2, MAX_ATTEMPTS] {
            let line = (1..).find(|&l| plan.hangs(l) == hangs).unwrap();
            let reading = parse_line(line, "s-0003,1700000040,20.5").unwrap();
            let (found, took) = runtime.block_on(async {
                let started = tokio::time::Instant::now();
                let found = tokio_rt::lookup(&registry, &reading).await;
                (found.is_ok(), started.elapsed())
            });
            let expected = LOOKUP_TIMEOUT * hangs
                + (1..=hangs.min(MAX_ATTEMPTS - 1))
                    .map(|attempt| plan.backoff(line, attempt))
                    .sum::<Duration>();
            outcomes.push((hangs, found, took, expected));
        }
        outcomes
    })
    .expect_finished("the paused-clock run");
    for (hangs, found, took, expected) in schedule {
        assert_eq!(found, hangs < MAX_ATTEMPTS, "{hangs} hung attempts");
        assert_eq!(took, expected, "{hangs} hung attempts");
    }
}
// ANCHOR_END: backoff

// ANCHOR: cannot_interrupt
/// A future that blocks inside `poll` never gives the timer a chance: the timeout polls it
/// first, it runs to the end, and its value comes back as if it had been on time.
#[test]
fn a_timeout_cannot_interrupt_blocking_code_in_any_runtime() {
    const LIMIT: Duration = Duration::from_millis(10);
    const BLOCKS_FOR: Duration = Duration::from_millis(50);
    let blocking = || async {
        std::thread::sleep(BLOCKS_FOR); // a blocking call, where an `.await` should be
        42
    };
    let outcomes = run_with_deadline("facts", TEST_DEADLINE, move || {
        let tokio = runtimes::tokio_runtime(&Config::default())
            .unwrap()
            .block_on(async { tokio::time::timeout(LIMIT, blocking()).await.ok() });
        let async_std = async_std::task::block_on(async {
            async_std::future::timeout(LIMIT, blocking()).await.ok()
        });
        let smol = smol::block_on(async {
            use futures_lite::FutureExt;
            let value = async { Some(blocking().await) };
            let timer = async {
                smol::Timer::after(LIMIT).await;
                None
            };
            value.or(timer).await
        });
        [("tokio", tokio), ("async-std", async_std), ("smol", smol)]
    })
    .expect_finished("the timeout facts");
    for (runtime, outcome) in outcomes {
        assert_eq!(outcome, Some(42), "{runtime}: the timeout never fired");
    }
}

/// The same code with the blocking call moved off the runtime (`spawn_blocking`): now the
/// timeout fires on time — and the blocking call runs on to its end regardless, on its own
/// thread, exactly like a sync call whose caller gave up (`recv_timeout`).
#[test]
fn a_timeout_on_spawn_blocking_fires_but_the_blocking_call_runs_on() {
    let (outcome, finished_before, finished_after) =
        run_with_deadline("spawn_blocking", TEST_DEADLINE, || {
            let release = Arc::new(std::sync::Barrier::new(2));
            let finished = Arc::new(AtomicBool::new(false));
            let runtime = runtimes::tokio_runtime(&Config::default()).unwrap();
            let call = {
                let (release, finished) = (Arc::clone(&release), Arc::clone(&finished));
                runtime.spawn_blocking(move || {
                    release.wait(); // blocked until the test lets it go
                    finished.store(true, Ordering::SeqCst);
                })
            };
            let waited = runtime
                .block_on(async { tokio::time::timeout(Duration::from_millis(10), call).await });
            let finished_before = finished.load(Ordering::SeqCst);
            release.wait();
            drop(runtime); // waits for the blocking pool: the call has finished by now
            (
                waited.is_err(),
                finished_before,
                finished.load(Ordering::SeqCst),
            )
        })
        .expect_finished("the spawn_blocking run");
    assert!(outcome, "the timeout fired");
    assert!(
        !finished_before,
        "the call was still blocked when the timeout fired"
    );
    assert!(
        finished_after,
        "and ran to its end after the caller gave up"
    );
}
// ANCHOR_END: cannot_interrupt

/// The stop-point tests' input: 400 lines in batches of 8 through channels of 2, so the
/// source can never be more than a few batches ahead of the look-ups.
fn stop_input() -> Input {
    Input::generated(&DatasetSpec {
        seed: 707,
        lines: 400,
        ..DatasetSpec::default()
    })
}

fn stop_config() -> Config {
    Config {
        batch_size: 8,
        channel_capacity: 2,
        ..Config::default()
    }
}

/// Fewer hangs than the chapter's plan, so that 400 stop-and-resume runs stay quick: on the
/// stop input, one reading (line 129) hangs once and is retried.
const STOP_PLAN: HangPlan = HangPlan {
    calls: PerMille {
        seed: 17,
        once_per_mille: 3,
        twice_per_mille: 0,
        always_per_mille: 0,
    },
};

/// Fifty seeded stop points among the lines that reach the registry. Each is at least
/// `(capacity + 3) × batch` lines before the end, so the source cannot have handed every line
/// on by the time it sees the stop: at most the stopped reading's batch, a full channel and
/// one send that was under way.
fn stop_points(input: &Input, cfg: &Config) -> Vec<u64> {
    let hung: Vec<u64> = looked_up(input)
        .into_iter()
        .filter(|&l| STOP_PLAN.hangs(l) > 0)
        .collect();
    assert_eq!(hung, [129], "the stop plan's hung readings");
    let last = input.line_count() - ((cfg.channel_capacity + 3) * cfg.batch_size) as u64;
    let mut candidates: Vec<u64> = looked_up(input)
        .into_iter()
        .filter(|&l| l <= last)
        .collect();
    // SplitMix64: the state steps by the golden gamma, and `mix` finishes each step.
    let mut state = 2024u64;
    let mut next = move || {
        let drawn = mix(state);
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        drawn
    };
    for i in (1..candidates.len()).rev() {
        candidates.swap(i, (next() % (i as u64 + 1)) as usize);
    }
    let mut points: Vec<u64> = candidates.into_iter().take(50).collect();
    points.sort_unstable();
    assert_eq!(points.len(), 50);
    points
}

/// What one stop-and-resume at `line` ended with.
struct Stopped {
    line: u64,
    next_line: u64,
    report: Report,
    checkpoint_left: bool,
}

/// Runs the `variant` the `on_stop` way, stopped at `line` (held if `hold`), then resumes;
/// panics naming the variant and the stop point if either run fails or the first does not stop.
// deadline: its callers run it under `run_with_deadline` (fifty runs under one deadline)
fn stop_and_resume(
    variant: Variant,
    on_stop: OnStop,
    hold: bool,
    input: &Input,
    cfg: &Config,
    dir: &Path,
) -> Vec<Stopped> {
    let (_, run_with, resume) = RUN_WITH_VARIANTS
        .into_iter()
        .find(|(v, ..)| *v == variant)
        .unwrap();
    stop_points(input, cfg)
        .into_iter()
        .map(|line| {
            let path = dir.join(format!("checkpoint-{line}.json"));
            let stop = Shutdown::at(StopPoint { line, hold });
            let controls = Controls::new(stop).with_plan(STOP_PLAN);
            let end = run_with(on_stop, input, cfg, &controls, &path)
                .unwrap_or_else(|e| panic!("{variant}, stop at line {line}: {}", error_chain(&e)));
            let RunEnd::Stopped {
                next_line,
                checkpoint,
            } = end
            else {
                panic!("{variant}: the stop at line {line} came too late to stop the source");
            };
            assert_eq!(checkpoint, path);
            let controls = Controls::new(Shutdown::new()).with_plan(STOP_PLAN);
            let end = resume(input, cfg, &controls, &path).unwrap_or_else(|e| {
                panic!("{variant}, resume after line {line}: {}", error_chain(&e))
            });
            let RunEnd::Finished(report) = end else {
                panic!("{variant}: the resumed run stopped, but nothing triggered its shutdown");
            };
            Stopped {
                line,
                next_line,
                report,
                checkpoint_left: path.exists(),
            }
        })
        .collect()
}

// ANCHOR: fixed_stops
/// For fifty stop points: stopped, then resumed from the checkpoint, the report is the one a
/// run that was never stopped gives — nothing lost, nothing counted twice.
fn fixed_stops_lose_nothing(variant: Variant) {
    let (input, cfg) = (stop_input(), stop_config());
    let expected = reference_with(STOP_PLAN, &input, &cfg).unwrap();
    let dir = scratch(&format!("fixed-{variant}"));
    let runs = {
        let (input, cfg, dir) = (input.clone(), cfg.clone(), dir.clone());
        run_with_deadline(variant.name(), TEST_DEADLINE, move || {
            stop_and_resume(variant, OnStop::Drain, false, &input, &cfg, &dir)
        })
        .expect_finished(&format!("{variant}: fifty stops and resumes"))
    };
    for run in &runs {
        let (line, next_line) = (run.line, run.next_line);
        assert!(
            line <= next_line && next_line < input.line_count(),
            "{variant}: stopped at the look-up of line {line}, checkpoint at line {next_line}"
        );
        if let Err(diff) = compare_reports(input.name(), &expected, (variant, &run.report)) {
            panic!("stopped at line {line}, resumed from line {next_line}: {diff}");
        }
        assert!(
            !run.checkpoint_left,
            "{variant}: a finished resume spends its checkpoint"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
// ANCHOR_END: fixed_stops

#[test]
fn fixed_sync_stops_and_resumes_without_losing_a_record() {
    fixed_stops_lose_nothing(Variant::Sync);
}

#[test]
fn fixed_tokio_stops_and_resumes_without_losing_a_record() {
    fixed_stops_lose_nothing(Variant::Tokio);
}

#[test]
fn fixed_async_std_stops_and_resumes_without_losing_a_record() {
    fixed_stops_lose_nothing(Variant::AsyncStd);
}

#[test]
fn fixed_smol_stops_and_resumes_without_losing_a_record() {
    fixed_stops_lose_nothing(Variant::Smol);
}

// ANCHOR: broken_stops
/// For the same fifty stop points, held so that the stopped reading is in flight when the
/// pipeline is dropped: the resumed report never balances — at least that reading's whole
/// batch is counted as read and is in no count at all.
fn broken_stops_lose_records(variant: Variant) {
    let (input, cfg) = (stop_input(), stop_config());
    let expected = reference_with(STOP_PLAN, &input, &cfg).unwrap();
    let dir = scratch(&format!("broken-{variant}"));
    let runs = {
        let (input, cfg, dir) = (input.clone(), cfg.clone(), dir.clone());
        run_with_deadline(variant.name(), TEST_DEADLINE, move || {
            stop_and_resume(variant, OnStop::DropPipeline, true, &input, &cfg, &dir)
        })
        .expect_finished(&format!("{variant}: fifty broken stops and resumes"))
    };
    let batch = cfg.batch_size as u64;
    let mut lost = Vec::new();
    for run in &runs {
        let report = &run.report;
        let missing = report.lines_read() - (report.accepted() + report.rejected());
        let first_of_batch = (run.line - 1) / batch * batch + 1;
        let held_batch = (first_of_batch + batch - 1).min(input.line_count()) - first_of_batch + 1;
        assert_eq!(report.lines_read(), input.line_count(), "{variant}");
        assert!(
            missing >= held_batch,
            "{variant}: stopped at line {}, only {missing} lines lost; the held batch alone \
             has {held_batch}",
            run.line
        );
        assert!(!report.is_balanced(), "{variant}:\n{report}");
        assert_ne!(report.text(), expected.text(), "{variant}");
        lost.push(missing);
    }
    eprintln!(
        "{variant} (broken): lost records at {} of {} stop points; lost {}..={} lines, {:.1} on \
         average",
        lost.iter().filter(|&&n| n > 0).count(),
        lost.len(),
        lost.iter().min().unwrap(),
        lost.iter().max().unwrap(),
        lost.iter().sum::<u64>() as f64 / lost.len() as f64
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
// ANCHOR_END: broken_stops

#[test]
fn broken_sync_loses_records_at_every_stop() {
    broken_stops_lose_records(Variant::Sync);
}

#[test]
fn broken_tokio_loses_records_at_every_stop() {
    broken_stops_lose_records(Variant::Tokio);
}

#[test]
fn broken_async_std_loses_records_at_every_stop() {
    broken_stops_lose_records(Variant::AsyncStd);
}

#[test]
fn broken_smol_loses_records_at_every_stop() {
    broken_stops_lose_records(Variant::Smol);
}

// ANCHOR: demo
/// The live demo, as the workshop runs it: the broken stop-and-resume loses records, the fixed
/// one gives the reference report.
fn the_demo_loses_records_only_when_broken(variant: Variant) {
    let demo = &DEMOS[0];
    let case = demo.case(variant);
    let input = (demo.input)();
    let expected = (demo.reference)(&input, &Config::default()).unwrap();
    let (broken, _) = run_demo(
        case.broken.unwrap(),
        &demo.watch,
        &input,
        &Config::default(),
        TEST_DEADLINE,
    );
    let Verdict::Finished(report) = broken else {
        panic!("{variant}: the broken demo should finish (and lose records): {broken}");
    };
    assert!(
        report.accepted() + report.rejected() < report.lines_read(),
        "{variant}: the broken demo should lose records:\n{report}"
    );
    let (fixed, _) = run_demo(
        case.fixed.unwrap(),
        &demo.watch,
        &input,
        &Config::default(),
        TEST_DEADLINE,
    );
    let Verdict::Finished(report) = fixed else {
        panic!("{variant}: the fixed demo should finish: {fixed}");
    };
    if let Err(diff) = compare_reports(input.name(), &expected, (variant, &report)) {
        panic!("the fixed demo: {diff}");
    }
}
// ANCHOR_END: demo

#[test]
fn the_sync_demo_loses_records_only_when_broken() {
    the_demo_loses_records_only_when_broken(Variant::Sync);
}

#[test]
fn the_tokio_demo_loses_records_only_when_broken() {
    the_demo_loses_records_only_when_broken(Variant::Tokio);
}

#[test]
fn the_async_std_demo_loses_records_only_when_broken() {
    the_demo_loses_records_only_when_broken(Variant::AsyncStd);
}

#[test]
fn the_smol_demo_loses_records_only_when_broken() {
    the_demo_loses_records_only_when_broken(Variant::Smol);
}

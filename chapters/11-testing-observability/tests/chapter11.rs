//! Chapter 11's claims, as tests: the four variants give the reference report and the same
//! trace; a span not carried into a thread or task is lost; minutes of retries run in no real
//! time on tokio's paused clock and on an injected manual clock; a run that can hang is caught
//! by a deadline; and a panic deep in the pipeline leaves a different backtrace in each model.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use ch11_testing_observability::clock::{Clock, ManualClock};
use ch11_testing_observability::observe::{Capture, Kind, Record};
use ch11_testing_observability::registry::{FlakyRegistry, HANG, LatencyPlan, Retry, Step};
use ch11_testing_observability::variants::{async_std_rt, smol_rt, sync, tokio_rt};
use ch11_testing_observability::{
    Context, RUN_WITH_VARIANTS, RunWithFn, Setup, VARIANTS, chapter_input, reference,
    reference_with,
};
use pipeline::{
    Config, FleetRegistry, Input, LookupError, Reading, RejectReason, Report, Variant, parse_line,
};
use testkit::{TEST_DEADLINE, assert_variants_agree, output_within, run_with_deadline};

// ANCHOR: deadline
/// Every run that involves threads, tasks or a runtime goes through this: a hang becomes a
/// failure naming what hung, after `TEST_DEADLINE`, instead of a CI job that never ends.
fn within_deadline<T: Send + 'static>(what: &str, work: impl FnOnce() -> T + Send + 'static) -> T {
    run_with_deadline(what, TEST_DEADLINE, work).expect_finished(what)
}
// ANCHOR_END: deadline

fn registry_timed_out(report: &Report) -> usize {
    report
        .rejections()
        .iter()
        .filter(|r| r.reason == RejectReason::RegistryTimedOut)
        .count()
}

// ANCHOR: agree
#[test]
fn every_variant_gives_the_reference_report() {
    let input = chapter_input();
    let expected = reference(&input, &Config::default()).expect("the reference runs");
    assert!(
        registry_timed_out(&expected) > 0,
        "the chapter's plan should leave some readings with no answer at all"
    );
    // With no slow calls, the chapter's reference is chapter 1's: the retries change nothing
    // but which readings time out.
    let instant = Setup {
        plan: LatencyPlan::instant(),
        ..Setup::chapter()
    };
    assert_eq!(
        reference_with(&instant, &input, &Config::default())
            .unwrap()
            .text(),
        pipeline::run_sequential(&input, &Config::default())
            .unwrap()
            .text()
    );
    let mut reports = Vec::new();
    for (variant, run) in VARIANTS {
        let input = input.clone();
        let report = within_deadline(variant.name(), move || run(&input, &Config::default()))
            .unwrap_or_else(|e| panic!("{variant}: {}", pipeline::error_chain(&e)));
        reports.push((variant, report));
    }
    assert_variants_agree(input.name(), &expected, &reports);
    insta::assert_snapshot!("reference", expected.text());
}
// ANCHOR_END: agree

/// Runs one variant with a capture of its `pipeline` span started on the run's thread.
fn traced(variant: Variant, run: RunWithFn, setup: Setup, cfg: Config) -> (Report, Vec<Record>) {
    within_deadline(variant.name(), move || {
        let capture = Capture::new("pipeline");
        let report = capture.record(|| run(&chapter_input(), &cfg, &setup));
        let report = report.unwrap_or_else(|e| panic!("{variant}: {}", pipeline::error_chain(&e)));
        (report, capture.records())
    })
}

fn count(records: &[Record], kind: Kind, name: &str) -> usize {
    records
        .iter()
        .filter(|r| r.kind == kind && r.name == name)
        .count()
}

/// A trace as a sorted multiset, without what differs by design (the variant's name).
fn normalized(records: &[Record]) -> Vec<Record> {
    let mut records: Vec<Record> = records
        .iter()
        .cloned()
        .map(|mut r| {
            r.fields.retain(|(name, _)| name != "variant");
            r
        })
        .collect();
    records.sort();
    records
}

/// What is in `a` and not in `b`, as a multiset, for a failure message.
fn missing(a: &[Record], b: &[Record]) -> Vec<String> {
    let mut left: BTreeMap<&Record, i64> = BTreeMap::new();
    for r in a {
        *left.entry(r).or_default() += 1;
    }
    for r in b {
        *left.entry(r).or_default() -= 1;
    }
    left.into_iter()
        .filter(|(_, n)| *n > 0)
        .take(5)
        .map(|(r, n)| format!("{n} × {r}"))
        .collect()
}

/// The events every look-up must emit, by name, from the pure specification of the retry
/// loop ([`Retry::timeline`]) applied to every reading that parses.
fn expected_lookup_events(setup: &Setup) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for (text, line) in chapter_input().text().lines().zip(1u64..) {
        if parse_line(line, text).is_ok() {
            for step in setup.retry.timeline(|n| setup.plan.latency(line, n)) {
                *counts.entry(step.event.to_owned()).or_default() += 1;
            }
        }
    }
    counts
}

// ANCHOR: same_trace
#[test]
fn every_variant_emits_the_same_spans_and_events() {
    let cfg = Config {
        batch_size: 100, // ten batches of the chapter's 1,000 lines
        ..Config::default()
    };
    let setup = Setup::chapter();
    let lookup_events = expected_lookup_events(&setup);
    let mut traces: Vec<(Variant, Vec<Record>)> = Vec::new();
    for (variant, run) in RUN_WITH_VARIANTS {
        let (report, records) = traced(variant, run, setup.clone(), cfg.clone());
        let root: Vec<&Record> = records.iter().filter(|r| r.parent.is_none()).collect();
        assert_eq!(root.len(), 1, "{variant}: one root span");
        assert_eq!(root[0].name, "pipeline");
        assert_eq!(root[0].field("variant"), Some(variant.name()));
        // The trace counts what the report counts.
        let parsed = report.lines_read() as usize
            - report
                .rejections()
                .iter()
                .filter(|r| {
                    !matches!(
                        r.reason,
                        RejectReason::UnknownSensor | RejectReason::RegistryTimedOut
                    )
                })
                .count();
        let counts = [
            (Kind::Span, "stage", 3),
            (Kind::Span, "batch", 10),
            (Kind::Span, "lookup", parsed),
            (Kind::Event, "rejected", report.rejected() as usize),
        ];
        for (kind, name, expected) in counts {
            assert_eq!(
                count(&records, kind, name),
                expected,
                "{variant}: {kind:?} {name}"
            );
        }
        for (event, expected) in &lookup_events {
            assert_eq!(
                count(&records, Kind::Event, event),
                *expected,
                "{variant}: {event}"
            );
        }
        // And each thing is where it belongs: the context reached every thread and task.
        for record in &records {
            let expected_parent = match (record.kind, record.name.as_str()) {
                (Kind::Span, "pipeline") => None,
                (Kind::Span, "stage") => Some("pipeline"),
                (Kind::Span, "batch") => Some("stage"),
                (Kind::Span, "lookup") | (Kind::Event, "rejected") => Some("batch"),
                (Kind::Event, _) => Some("lookup"),
                (Kind::Span, other) => panic!("{variant}: unexpected span {other}"),
            };
            assert_eq!(
                record.parent.as_deref(),
                expected_parent,
                "{variant}: {record}"
            );
        }
        traces.push((variant, normalized(&records)));
    }
    // The same multiset of spans and events, fields and all, in every variant (the order in
    // which threads and tasks record them may differ; what they record may not).
    let (first, expected) = &traces[0];
    for (variant, trace) in &traces[1..] {
        assert!(
            trace == expected,
            "{variant}'s trace differs from {first}'s.\nonly in {first}: {:#?}\nonly in {variant}: {:#?}",
            missing(expected, trace),
            missing(trace, expected)
        );
    }
}
// ANCHOR_END: same_trace

// ANCHOR: lost_context
#[test]
fn a_stage_that_does_not_carry_its_span_loses_its_trace() {
    let expected = reference(&chapter_input(), &Config::default()).unwrap();
    for (variant, run) in RUN_WITH_VARIANTS {
        let broken = Setup {
            context: Context::Dropped,
            ..Setup::chapter()
        };
        let (report, records) = traced(variant, run, broken, Config::default());
        // The run itself is fine...
        assert_eq!(report.text(), expected.text(), "{variant}");
        // ...but everything its stages recorded is an orphan: only the root is left in the
        // run's trace. No stage, no batch, no look-up, not one of its rejections.
        let names: Vec<&str> = records.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["pipeline"], "{variant}");
    }
}
// ANCHOR_END: lost_context

// ANCHOR: slow
/// Half a minute per attempt, four attempts, 10 s, 20 s, 40 s of backoff: minutes of waiting,
/// if anything here used real time.
const SLOW: Retry = Retry {
    timeout: Duration::from_secs(30),
    attempts: 4,
    backoff: Duration::from_secs(10),
};

/// A registry whose calls for every reading take `latencies`, attempt by attempt.
fn scripted(latencies: &[Duration]) -> FlakyRegistry {
    FlakyRegistry::new(
        Arc::new(FleetRegistry::default()),
        LatencyPlan::Script(latencies.into()),
        None,
    )
}

fn reading() -> Reading {
    Reading {
        line: 7,
        sensor_id: "s-0003".into(),
        timestamp: 1_700_000_040,
        value: 20.5,
    }
}

/// The first two calls never answer, the third takes 12 s.
const ANSWERS_THIRD_TIME: [Duration; 3] = [HANG, HANG, Duration::from_secs(12)];
/// No call ever answers.
const NEVER_ANSWERS: [Duration; 4] = [HANG, HANG, HANG, HANG];

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// What the trace of a look-up must show, to the nanosecond, written out by hand.
fn by_hand(latencies: &[Duration]) -> Vec<Step> {
    let step = |at, event, attempt| Step {
        at: secs(at),
        event,
        attempt,
    };
    let mut steps = vec![
        step(0, "attempt", 1),
        step(30, "timed out", 1),
        step(30, "retrying", 2),
        step(40, "attempt", 2),
        step(70, "timed out", 2),
        step(70, "retrying", 3),
        step(90, "attempt", 3),
    ];
    if latencies == ANSWERS_THIRD_TIME {
        steps.push(step(102, "answered", 3));
    } else {
        steps.extend([
            step(120, "timed out", 3),
            step(120, "retrying", 4),
            step(160, "attempt", 4),
            step(190, "timed out", 4),
            step(190, "gave up", 4),
        ]);
    }
    steps
}
// ANCHOR_END: slow

/// The look-up's events, with their times, from a timed capture.
fn timeline(capture: &Capture) -> Vec<Step> {
    capture
        .records()
        .iter()
        .filter(|r| r.kind == Kind::Event)
        .map(|r| Step {
            at: r.at.expect("a timed capture"),
            event: ["attempt", "answered", "timed out", "retrying", "gave up"]
                .into_iter()
                .find(|e| *e == r.name)
                .unwrap_or_else(|| panic!("unexpected event {r}")),
            attempt: r
                .field("attempt")
                .and_then(|a| a.parse().ok())
                .expect("an attempt"),
        })
        .collect()
}

/// Checks one variant's look-up against the hand-written timeline and the pure spec.
fn check(
    variant: Variant,
    latencies: &[Duration],
    (result, steps): (Result<(), LookupError>, Vec<Step>),
) {
    assert_eq!(steps, by_hand(latencies), "{variant}");
    assert_eq!(
        steps,
        SLOW.timeline(|n| latencies.get(n as usize - 1).copied().unwrap_or_default())
    );
    let expected = if latencies == ANSWERS_THIRD_TIME {
        Ok(())
    } else {
        Err(LookupError::TimedOut)
    };
    assert_eq!(result, expected, "{variant}");
}

// ANCHOR: paused
/// tokio: a current-thread runtime with its clock paused (`start_paused`, as
/// `#[tokio::test(start_paused = true)]` builds it). When every task waits on a timer, the
/// runtime jumps the clock to the next deadline: 3 minutes 10 seconds of timeouts and
/// backoff pass in no real time, and every event lands on the exact second.
fn tokio_paused(latencies: &'static [Duration]) -> (Result<(), LookupError>, Vec<Step>) {
    within_deadline("tokio on a paused clock", move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(async {
            let start = tokio::time::Instant::now();
            let capture = Capture::timed("lookup", move || start.elapsed());
            let _recording = capture.start();
            let found = tokio_rt::lookup(&scripted(latencies), &SLOW, &reading()).await;
            (found.map(drop), timeline(&capture))
        })
    })
}
// ANCHOR_END: paused

// ANCHOR: manual
/// smol and async-std: no paused clock, so the look-up is handed a `ManualClock`, and
/// `clock.run` polls it and jumps the clock to the next deadline whenever it waits.
fn on_manual_clock(
    variant: Variant,
    latencies: &'static [Duration],
) -> (Result<(), LookupError>, Vec<Step>) {
    within_deadline(variant.name(), move || {
        let clock = ManualClock::new();
        let now = clock.clone();
        let capture = Capture::timed("lookup", move || now.now());
        let _recording = capture.start();
        let (registry, reading) = (scripted(latencies), reading());
        let found = match variant {
            Variant::Smol => clock.run(smol_rt::lookup(&registry, &SLOW, &clock, &reading)),
            Variant::AsyncStd => {
                clock.run(async_std_rt::lookup(&registry, &SLOW, &clock, &reading))
            }
            other => unreachable!("{other} does not take an async clock"),
        };
        (found.map(drop), timeline(&capture))
    })
}

/// sync: the look-up blocks its thread on the `ManualClock`; `clock.run_blocking` runs it on a
/// thread of its own and advances the clock each time that thread is asleep.
fn sync_on_manual_clock(latencies: &'static [Duration]) -> (Result<(), LookupError>, Vec<Step>) {
    within_deadline("sync", move || {
        let clock = ManualClock::new();
        let now = clock.clone();
        let capture = Capture::timed("lookup", move || now.now());
        let (registry, reading) = (scripted(latencies), reading());
        let found = clock
            .run_blocking(|| capture.record(|| sync::lookup(&registry, &SLOW, &clock, &reading)));
        (found.map(drop), timeline(&capture))
    })
}
// ANCHOR_END: manual

// ANCHOR: exact_timeline
#[test]
fn minutes_of_timeouts_and_backoff_are_asserted_exactly_in_no_real_time() {
    for latencies in [&ANSWERS_THIRD_TIME[..], &NEVER_ANSWERS[..]] {
        check(Variant::Sync, latencies, sync_on_manual_clock(latencies));
        check(Variant::Tokio, latencies, tokio_paused(latencies));
        check(
            Variant::AsyncStd,
            latencies,
            on_manual_clock(Variant::AsyncStd, latencies),
        );
        check(
            Variant::Smol,
            latencies,
            on_manual_clock(Variant::Smol, latencies),
        );
    }
}
// ANCHOR_END: exact_timeline

// ANCHOR: hang
#[test]
fn a_look_up_on_a_clock_nobody_advances_hangs_and_the_deadline_says_so() {
    let clock = ManualClock::new();
    let stuck = clock.clone();
    let outcome = run_with_deadline(
        "a look-up on a stopped clock",
        Duration::from_millis(200),
        move || {
            smol::block_on(smol_rt::lookup(
                &scripted(&NEVER_ANSWERS),
                &SLOW,
                &stuck,
                &reading(),
            ))
        },
    );
    assert!(outcome.is_hung(), "expected a hang, got: {outcome}");
    // What it waits for is the clock, and only the clock: its first attempt's timeout and the
    // call that will never answer, registered on the first poll and never due.
    let waiting = run_with_deadline("the clock's sleepers", TEST_DEADLINE, move || {
        while clock.sleepers() < 2 {
            std::thread::sleep(Duration::from_millis(5));
        }
        (clock.sleepers(), clock.now())
    });
    assert_eq!(waiting.expect_finished("two sleepers"), (2, Duration::ZERO));
}
// ANCHOR_END: hang

// ---------------------------------------------------------------------------------------------
// Backtraces: the same panic, deep in the enrich stage, in each variant, caught in a child.

/// The child role: the variant whose pipeline the child runs, with the bug switched on.
const CHILD_ROLE: &str = "CH11_PANIC_IN";
/// Set to rewrite `backtraces/<variant>.txt` from this run.
const UPDATE: &str = "UPDATE_BACKTRACES";
const TEST_NAME: &str = "a_panic_deep_in_the_pipeline_leaves_a_different_backtrace_in_each_model";

/// The first reading from line 100 on that parses and is answered at once: the bug's line.
fn panic_line(input: &Input, setup: &Setup) -> u64 {
    input
        .text()
        .lines()
        .zip(1u64..)
        .skip(99)
        .find(|(text, line)| {
            parse_line(*line, text).is_ok()
                && !setup.plan.gives_up(*line, &setup.retry)
                && setup.plan.latency(*line, 1).is_zero()
        })
        .map(|(_, line)| line)
        .expect("the input has such a line")
}

/// A backtrace as printed by the default panic hook with `RUST_BACKTRACE=1`.
struct Backtrace {
    thread: String,
    location: String,
    message: String,
    frames: Vec<String>,
}

impl Backtrace {
    fn parse(stderr: &str) -> Backtrace {
        let header = stderr
            .lines()
            .find(|l| l.starts_with("thread '") && l.contains(" panicked at "))
            .unwrap_or_else(|| panic!("no panic in the child's stderr:\n{stderr}"));
        let thread = header["thread '".len()..]
            .split('\'')
            .next()
            .unwrap()
            .to_owned();
        let location = header
            .split(" panicked at ")
            .nth(1)
            .unwrap()
            .split(':')
            .next()
            .unwrap()
            .to_owned();
        let message = stderr
            .lines()
            .skip_while(|l| *l != header)
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        let frames = stderr
            .lines()
            .skip_while(|l| *l != "stack backtrace:")
            .skip(1)
            .take_while(|l| l.starts_with(' '))
            .filter_map(|l| {
                let (number, name) = l.trim_start().split_once(": ")?;
                number.parse::<u32>().ok().map(|_| name.to_owned())
            })
            .collect();
        Backtrace {
            thread,
            location,
            message,
            frames,
        }
    }

    /// Our crate's frames, outermost last, closures folded into their function, repeats
    /// merged: `registry::FlakyRegistry::answer`, `variants::sync::call`, …
    fn our_chain(&self) -> Vec<String> {
        let mut chain: Vec<String> = Vec::new();
        for frame in &self.frames {
            let Some(path) = frame.strip_prefix("ch11_testing_observability::") else {
                continue;
            };
            let path = path.split("::{{closure}}").next().unwrap().to_owned();
            if chain.last() != Some(&path) {
                chain.push(path);
            }
        }
        chain
    }

    fn has(&self, prefix: &str) -> bool {
        self.frames.iter().any(|f| f.contains(prefix))
    }

    /// The text the book shows: the header and the first frames, without addresses, source
    /// paths or thread ids, which differ from machine to machine.
    fn trimmed(&self) -> String {
        const SHOWN: usize = 30;
        let mut text = format!(
            "thread '{}' panicked at {}:\n{}\nstack backtrace:\n",
            self.thread, self.location, self.message
        );
        for (n, frame) in self.frames.iter().enumerate().take(SHOWN) {
            text.push_str(&format!("{n:>4}: {frame}\n"));
        }
        if self.frames.len() > SHOWN {
            let rest = self.frames.len() - SHOWN;
            text.push_str(&format!("      … {rest} more frames, the last one:\n"));
            let last = self.frames.len() - 1;
            text.push_str(&format!("{last:>4}: {}\n", self.frames[last]));
        }
        text
    }
}

fn backtrace_file(variant: Variant) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("backtraces")
        .join(format!("{}.txt", variant.name()))
}

/// Runs `variant`'s pipeline with the bug in a child process (this test binary, this test,
/// `CHILD_ROLE` set) and returns the backtrace its panic printed.
fn panic_in_child(variant: Variant) -> Backtrace {
    // Past its deadline the child is killed by its handle, not left running.
    let output = output_within(
        Command::new(std::env::current_exe().unwrap())
            .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
            .env(CHILD_ROLE, variant.name())
            .env("RUST_BACKTRACE", "1"),
        TEST_DEADLINE,
    )
    .unwrap_or_else(|e| panic!("the child process: {e}"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{variant}: the child should have caught the panic and finished:\n{stderr}"
    );
    Backtrace::parse(&stderr)
}

// ANCHOR: backtraces
#[test]
fn a_panic_deep_in_the_pipeline_leaves_a_different_backtrace_in_each_model() {
    if let Ok(name) = std::env::var(CHILD_ROLE) {
        // The child: run the pipeline with the bug; the panic hook prints the backtrace; the
        // pipeline catches the panic and reports it as the enrich stage's.
        let (variant, run) = RUN_WITH_VARIANTS
            .into_iter()
            .find(|(v, _)| v.name() == name)
            .unwrap();
        let input = chapter_input();
        let setup = Setup {
            panic_on_line: Some(panic_line(&input, &Setup::chapter())),
            ..Setup::chapter()
        };
        let error = within_deadline(variant.name(), move || {
            run(&input, &Config::default(), &setup)
        })
        .expect_err("the run must fail");
        assert!(
            matches!(
                error,
                pipeline::PipelineError::StagePanicked {
                    stage: "enrich",
                    ..
                }
            ),
            "{variant}: {error}"
        );
        return;
    }
    if !cfg!(debug_assertions) {
        eprintln!("SKIP: frame names are checked in debug builds, where nothing is inlined");
        return;
    }
    let ours = |names: &[&str]| -> Vec<String> { names.iter().map(|s| s.to_string()).collect() };
    for variant in Variant::ALL {
        let trace = panic_in_child(variant);
        assert_eq!(
            trace.location,
            "chapters/11-testing-observability/src/registry.rs"
        );
        assert_eq!(
            trace.frames[2],
            "ch11_testing_observability::registry::FlakyRegistry::answer"
        );
        let runtime_frames = ["tokio::runtime::", "async_task::", "async_executor::"];
        let (chain, runtime): (Vec<String>, &[&str]) = match variant {
            // The thread's whole story, from the closure `run_with` gave it to the panic:
            // every frame is ours (or std's, or tracing's), none is a scheduler's.
            Variant::Sync => (
                ours(&[
                    "registry::FlakyRegistry::answer",
                    "variants::sync::call",
                    "variants::sync::lookup",
                    "variants::sync::enrich_batch",
                    "variants::sync::enrich",
                    "variants::sync::run_with",
                    "variants::sync::spawn",
                ]),
                &[],
            ),
            // The awaited chain inside the task, then the runtime's poll machinery; who
            // spawned the task (`run_async`, `run_with`) is nowhere.
            Variant::Tokio => (
                ours(&[
                    "registry::FlakyRegistry::answer",
                    "variants::tokio_rt::call",
                    "variants::tokio_rt::lookup",
                    "variants::tokio_rt::enrich_batch",
                    "variants::tokio_rt::enrich",
                ]),
                &[
                    "tokio::runtime::task::harness::Harness",
                    "tokio::runtime::scheduler::multi_thread::worker",
                ],
            ),
            Variant::AsyncStd => (
                ours(&[
                    "registry::FlakyRegistry::answer",
                    "variants::async_std_rt::call",
                    "clock::timeout",
                    "variants::async_std_rt::lookup",
                    "variants::async_std_rt::enrich_batch",
                    "variants::async_std_rt::enrich",
                ]),
                &[
                    "async_task::raw::RawTask",
                    "async_executor::Executor::run",
                    "async_global_executor::",
                ],
            ),
            Variant::Smol => (
                ours(&[
                    "registry::FlakyRegistry::answer",
                    "variants::smol_rt::call",
                    "clock::timeout",
                    "variants::smol_rt::lookup",
                    "variants::smol_rt::enrich_batch",
                    "variants::smol_rt::enrich",
                ]),
                &[
                    "async_task::raw::RawTask",
                    "async_executor::Executor::run",
                    "runtimes::with_smol_executor",
                ],
            ),
        };
        assert_eq!(
            trace.our_chain(),
            chain,
            "{variant}: our frames, from the panic outwards"
        );
        for frame in runtime {
            assert!(
                trace.has(frame),
                "{variant}: no `{frame}` frame:\n{}",
                trace.trimmed()
            );
        }
        if variant == Variant::Sync {
            for frame in runtime_frames {
                assert!(
                    !trace.has(frame),
                    "sync: a `{frame}` frame:\n{}",
                    trace.trimmed()
                );
            }
            assert_eq!(trace.thread, "ch11-enrich", "the stage's own, named thread");
        }
        // The book shows these files. They are written only when asked; otherwise the
        // committed one must still tell the same story (our frames), or it is out of date.
        let file = backtrace_file(variant);
        if std::env::var_os(UPDATE).is_some() {
            std::fs::write(&file, trace.trimmed()).unwrap();
        }
        let committed = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("{}: {e}; run with {UPDATE}=1 to write it", file.display()));
        let committed = Backtrace::parse(&committed);
        assert_eq!(
            committed.our_chain(),
            chain,
            "{} is out of date: run with {UPDATE}=1",
            file.display()
        );
    }
}
// ANCHOR_END: backtraces

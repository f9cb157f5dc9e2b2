//! Chapter 0's proof: the hand-written executor runs chapter 1's pipeline to the reference's
//! report, on one thread; its polls can be counted; and a future that returns `Pending`
//! without arranging a wake is reported as a stall, not a hang. And it is one executor among
//! four: the runtimes run the same stages to the same snapshot.

use std::sync::{Arc, Mutex};
use std::thread::{self, ThreadId};
use std::time::Duration;

use ch00_under_the_hood::hand_written::{Countdown, Forgetful, Sum};
use ch00_under_the_hood::on_one_thread::{run, run_on};
use ch00_under_the_hood::{Executor, Stalled, Stats};
use pipeline::{
    Config, Dataset, DatasetSpec, Input, LookupError, PipelineError, Registry, Report, SensorInfo,
    SinkTarget, error_chain, run_sequential,
};
use testkit::{TEST_DEADLINE, run_with_deadline};

/// Runs `work` on a thread of its own under the test deadline: a hang fails, it does not hang.
fn within_deadline<T: Send + 'static>(what: &str, work: impl FnOnce() -> T + Send + 'static) -> T {
    run_with_deadline(what, TEST_DEADLINE, work).expect_finished(what)
}

fn reference(input: &Input, cfg: &Config) -> Report {
    let cfg = Config {
        sink: SinkTarget::ReportOnly,
        ..cfg.clone()
    };
    run_sequential(input, &cfg).expect("the reference run succeeds")
}

// ANCHOR: same_report
/// The hand-written executor runs chapter 1's stages to the very report every runtime gives,
/// on the datasets chapter 1's snapshot tests use, and with capacity 1 and batches of one line
/// (the most hand-offs, so the most `Pending`s and wakes).
#[test]
fn the_pipeline_on_the_hand_written_executor_gives_the_reference_report() {
    let tight = Config {
        channel_capacity: 1,
        batch_size: 1,
        ..Config::default()
    };
    let cases = [
        (Input::dataset(Dataset::Default), Config::default()),
        (Input::dataset(Dataset::Empty), Config::default()),
        (Input::dataset(Dataset::AllMalformed), Config::default()),
        (Input::dataset(Dataset::Extremes), Config::default()),
        (
            Input::generated(&DatasetSpec {
                lines: 3_000,
                ..DatasetSpec::default()
            }),
            tight,
        ),
    ];
    for (input, cfg) in cases {
        let expected = reference(&input, &cfg);
        let (name, ran) = (input.name().to_string(), input.clone());
        let report = within_deadline(&name, move || run(&ran, &cfg))
            .unwrap_or_else(|e| panic!("{name}: {}", error_chain(&e)));
        assert_eq!(report.text(), expected.text(), "{name}");
    }
}
// ANCHOR_END: same_report

/// A registry that notes which thread each look-up ran on.
struct ThreadsSeen(Mutex<Vec<ThreadId>>);

impl Registry for ThreadsSeen {
    fn lookup(&self, sensor_id: &str) -> Result<SensorInfo, LookupError> {
        self.0.lock().unwrap().push(thread::current().id());
        Config::default().registry.lookup(sensor_id)
    }
}

// ANCHOR: one_thread
/// Every stage ran on the thread that called `block_on`: five tasks, one thread, and the
/// executor polled far more often than it spawned (each `Pending` is one more poll later).
#[test]
fn five_tasks_run_on_the_one_thread_that_called_block_on() {
    let seen = Arc::new(ThreadsSeen(Mutex::default()));
    let cfg = Config {
        registry: seen.clone(),
        channel_capacity: 2,
        ..Config::default()
    };
    let input = Input::generated(&DatasetSpec {
        lines: 5_000,
        ..DatasetSpec::default()
    });
    let expected = reference(&input, &Config::default());
    let (report, stats, caller) = within_deadline("the pipeline", move || {
        let executor = Executor::new(Duration::from_secs(5));
        let report = run_on(&executor, &input, &cfg).expect("it does not stall");
        (report, executor.stats(), thread::current().id())
    });
    assert_eq!(report.expect("the run succeeds").text(), expected.text());
    let threads = seen.0.lock().unwrap();
    assert!(!threads.is_empty() && threads.iter().all(|t| *t == caller));
    assert_eq!(stats.spawned, 5, "{stats:?}");
    assert!(
        stats.polls > 2 * stats.spawned && stats.wakes > 0,
        "{stats:?}"
    );
}
// ANCHOR_END: one_thread

// ANCHOR: stalled
/// A future that returns `Pending` and arranges no wake: the queue stays empty, and the
/// executor says so after its stall time, having polled it exactly once.
#[test]
fn a_pending_without_a_wake_is_a_stall_not_a_hang() {
    let after = Duration::from_millis(200);
    let result = within_deadline("Forgetful", move || {
        Executor::new(after).block_on(Forgetful)
    });
    let stats = Stats {
        polls: 1,
        wakes: 0,
        spawned: 0,
    };
    assert_eq!(result, Err(Stalled { after, stats }));
}
// ANCHOR_END: stalled

// ANCHOR: polls
/// `Countdown(3)` is polled four times: three `Pending`s, each after waking itself, then
/// `Ready`.
#[test]
fn every_poll_and_wake_is_counted() {
    let stats = within_deadline("Countdown", || {
        let executor = Executor::new(Duration::from_secs(5));
        executor.block_on(Countdown(3)).expect("it wakes itself");
        executor.stats()
    });
    assert_eq!(
        stats,
        Stats {
            polls: 4,
            wakes: 3,
            spawned: 0
        }
    );
}
// ANCHOR_END: polls

/// The hand-written state machine adds what a spawned task sends through a channel of one:
/// it waits (returns `Pending`) whenever the channel is empty, and is woken by the next send.
#[test]
fn the_hand_written_sum_waits_for_every_send() {
    let (total, stats) = within_deadline("Sum", || {
        let executor = Executor::new(Duration::from_secs(5));
        let (tx, rx) = async_channel::bounded(1);
        let _producer = executor.spawner().spawn(async move {
            for n in 1..=100u64 {
                tx.send(n).await.expect("the sum is listening");
            }
        });
        (
            executor.block_on(Sum::new(rx)).expect("no stall"),
            executor.stats(),
        )
    });
    assert_eq!(total, 5050);
    assert!(stats.polls > 100, "{stats:?}");
}

/// A registry that panics on one sensor.
struct PanickingRegistry;

impl Registry for PanickingRegistry {
    fn lookup(&self, sensor_id: &str) -> Result<SensorInfo, LookupError> {
        if sensor_id == "s-0003" {
            panic!("registry blew up on {sensor_id}");
        }
        Config::default().registry.lookup(sensor_id)
    }
}

/// A panicking task is caught where it is polled and handed to whoever joins it: the executor
/// keeps running, and the run ends with the stage's panic as an error, as in chapter 1.
#[test]
fn a_panicking_stage_is_an_error_not_a_crash() {
    let cfg = Config {
        registry: Arc::new(PanickingRegistry),
        ..Config::default()
    };
    let input = Input::generated(&DatasetSpec {
        lines: 5_000,
        ..DatasetSpec::default()
    });
    let result = within_deadline("the pipeline", move || run(&input, &cfg));
    match result {
        Err(PipelineError::StagePanicked { stage, message }) => {
            assert_eq!(stage, "enrich");
            assert!(message.contains("registry blew up"), "{message}");
        }
        other => panic!("expected the enrich stage's panic, got {other:?}"),
    }
}

/// `Sum` is `Unpin`: its receiver is behind `Box::pin`, so `Sum` itself may move freely.
#[test]
fn the_hand_written_future_is_unpin() {
    fn unpin<T: Unpin>() {}
    unpin::<Sum>();
}

// ANCHOR: one_snapshot
/// One executor among four: the hand-written one and the three runtimes — chapter 1's tokio,
/// async_std and smol variants, the same stages — give the same bytes, and the snapshot pins
/// them (chapter 1's default dataset, as its own snapshot test runs it).
#[test]
fn the_hand_written_executor_and_the_runtimes_give_one_snapshot() {
    use ch01_baseline::variants::{async_std_rt, smol_rt, tokio_rt};
    type RunFn = fn(&Input, &Config) -> Result<Report, PipelineError>;

    let input = Input::generated(&DatasetSpec::default());
    let cfg = Config {
        sink: SinkTarget::ReportOnly,
        ..Config::default()
    };
    let on = |name: &str, runner: RunFn| {
        let (input, cfg) = (input.clone(), cfg.clone());
        within_deadline(name, move || runner(&input, &cfg))
            .unwrap_or_else(|e| panic!("{name}: {}", error_chain(&e)))
    };
    let ours = on("the hand-written executor", run);
    for (name, runner) in [
        ("tokio", tokio_rt::run as RunFn),
        ("async_std", async_std_rt::run),
        ("smol", smol_rt::run),
    ] {
        let theirs = on(name, runner);
        assert!(
            theirs.text() == ours.text(),
            "{name} and the hand-written executor give different reports"
        );
    }
    insta::assert_snapshot!("default", ours.text());
}
// ANCHOR_END: one_snapshot

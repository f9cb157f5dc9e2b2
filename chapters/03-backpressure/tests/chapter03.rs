//! Chapter 3's claims, as tests: behind an unbounded channel the queue holds the whole input
//! (twice the input, twice the queue); behind a bounded one it holds exactly its capacity; both
//! give the reference report. The hybrid pipelines give it too, on a runtime with one worker
//! thread, which they would deadlock if their sync stage blocked it.

use ch03_backpressure::{DEMOS, HYBRID_VARIANTS, QUEUE_LENGTH, WATCH, write_time};
use instruments::{DemoFn, Verdict, run_demo};
use pipeline::{Config, DatasetSpec, Input, Report, Variant, run_sequential};
use testkit::{TEST_DEADLINE, compare_reports, run_with_deadline};

/// Batches of 64 lines keep the test inputs small; the report does not depend on the batch size.
const BATCH: usize = 64;

fn cfg() -> Config {
    Config {
        batch_size: BATCH,
        ..Config::default()
    }
}

/// An input of `batches` full batches.
fn input(batches: usize) -> Input {
    Input::generated(&DatasetSpec {
        lines: batches * BATCH,
        ..DatasetSpec::default()
    })
}

/// Runs a demo pipeline to the end (under the deadline); returns its report and its queue's
/// high-water mark.
fn finished(what: &str, run: DemoFn, input: &Input, cfg: &Config) -> (Report, usize) {
    let (verdict, signals) = run_demo(run, &WATCH, input, cfg, TEST_DEADLINE);
    match verdict {
        Verdict::Finished(report) => (report, signals.gauge(QUEUE_LENGTH).peak()),
        other => panic!("{what}: expected the run to finish, got: {other}"),
    }
}

// ANCHOR: queue_grows
#[test]
fn an_unbounded_queue_holds_the_whole_input_and_a_bounded_one_its_capacity() {
    let capacity = cfg().channel_capacity;
    let [demo] = &DEMOS;
    assert_eq!(demo.cases.map(|c| c.variant), Variant::ALL);
    for batches in [40, 80] {
        let input = input(batches);
        let expected = run_sequential(&input, &cfg()).expect("the reference runs");
        for case in &demo.cases {
            let variant = case.variant;
            let broken = case.broken.expect("every variant has the pitfall");
            let fixed = case.fixed.expect("every variant has the fix");
            let label = |kind| format!("{batches} batches, {kind}");

            let (report, peak) = finished(&format!("{variant} broken"), broken, &input, &cfg());
            // The sink starts once the source has finished: all the batches were waiting.
            assert_eq!(
                peak, batches,
                "{variant}, broken: the unbounded queue should have held all {batches} batches"
            );
            compare_reports(&label("broken"), &expected, (variant, &report))
                .unwrap_or_else(|diff| panic!("{diff}"));

            let (report, peak) = finished(&format!("{variant} fixed"), fixed, &input, &cfg());
            // The sink starts once the channel is full; the meter never over-counts.
            assert_eq!(
                peak, capacity,
                "{variant}, fixed: the bounded queue should have filled to its capacity, no more"
            );
            compare_reports(&label("fixed"), &expected, (variant, &report))
                .unwrap_or_else(|diff| panic!("{diff}"));
        }
        if batches == 40 {
            insta::assert_snapshot!("forty_batches", expected.text());
        }
    }
}
// ANCHOR_END: queue_grows

/// The workshop's explosion check compares the queue's peak with `cfg.concurrency`; the queue's
/// bound is `cfg.channel_capacity`. The demo is only judged right while the two are equal.
#[test]
fn the_workshop_limit_is_the_channel_capacity() {
    let cfg = Config::default();
    assert_eq!(
        cfg.channel_capacity, cfg.concurrency,
        "the unbounded-queue demo is judged against cfg.concurrency, but bounded by \
         cfg.channel_capacity: keep the defaults equal, or give the demo its own limit"
    );
}

// ANCHOR: hybrid_test
/// The hybrids on one worker thread, with channels of 2: the sync stage waits on both channels
/// again and again. Had it blocked the one worker, the async stages could never run again and
/// the run would hang (tokio would even panic); it gives the reference report.
#[test]
fn hybrid_pipelines_give_the_reference_report_without_blocking_a_runtime_thread() {
    let input = input(40);
    let cfg = Config {
        worker_threads: 1,
        channel_capacity: 2,
        ..cfg()
    };
    let expected = run_sequential(&input, &cfg).expect("the reference runs");
    for (variant, hybrid) in HYBRID_VARIANTS {
        let (input, cfg) = (input.clone(), cfg.clone());
        let report = run_with_deadline(variant.name(), TEST_DEADLINE, move || hybrid(&input, &cfg))
            .expect_finished(&format!("the {variant} hybrid"))
            .unwrap_or_else(|e| panic!("{variant} hybrid: {}", pipeline::error_chain(&e)));
        compare_reports("40 batches, hybrid", &expected, (variant, &report))
            .unwrap_or_else(|diff| panic!("{diff}"));
    }
}
// ANCHOR_END: hybrid_test

// ANCHOR: tokio_refuses
/// tokio will not let a blocking receive block one of its workers: it panics instead.
/// (async-channel's `recv_blocking` has no such check; it just blocks the thread.)
#[test]
fn tokio_panics_rather_than_block_a_worker_with_blocking_recv() {
    let outcome = run_with_deadline("tokio", TEST_DEADLINE, || {
        let runtime = tokio::runtime::Runtime::new().expect("a runtime");
        runtime.block_on(async {
            let (_tx, mut rx) = tokio::sync::mpsc::channel::<u32>(1);
            tokio::spawn(async move { rx.blocking_recv() }).await
        })
    });
    let joined = outcome.expect_finished("the runtime");
    let panic = joined.expect_err("blocking_recv on a worker should panic");
    assert!(panic.is_panic(), "{panic}");
    let message = pipeline::panic_message(&*panic.into_panic());
    assert!(
        message.contains("Cannot block the current thread from within a runtime"),
        "{message}"
    );
}
// ANCHOR_END: tokio_refuses

#[test]
fn write_times_are_seeded_and_between_one_and_three_milliseconds() {
    use std::time::Duration;
    for n in 1..=10_000 {
        let write = write_time(n);
        assert_eq!(write, write_time(n));
        assert!(
            (Duration::from_millis(1)..=Duration::from_millis(3)).contains(&write),
            "batch {n}: {write:?}"
        );
    }
    assert_ne!(write_time(1), write_time(2));
}

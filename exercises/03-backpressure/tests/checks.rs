//! Exercise 03's checks: with a source far faster than the sink, at most `capacity` batches may
//! ever wait between them, and the report must be the reference's — in tokio and in smol. The
//! sink starts only when the source has finished (or after a second, if it cannot), so an
//! unbounded queue holds the whole input every time, not by luck.

use std::sync::Arc;
use std::time::Duration;

use ch03_backpressure::{QUEUE_LENGTH, QueueMeter};
use instruments::Gauge;
use pipeline::{Config, DatasetSpec, Input, ReportOnlySink, finish, parse_batch, run_sequential};
use testkit::run_with_deadline;

use super::{Batch, Sink, run_smol, run_tokio};

const HINT: &str = "hint: `cargo run --release -- hint 03`";
const CAPACITY: usize = 4;

fn check(runtime: &str, run: fn(Vec<Batch>, Arc<QueueMeter>, &Config) -> pipeline::Aggregator) {
    let input = Input::generated(&DatasetSpec {
        lines: 3_000,
        ..DatasetSpec::default()
    });
    let cfg = Config {
        batch_size: 50,
        ..Config::default()
    };
    let expected = run_sequential(&input, &cfg).expect("the reference runs");
    let batches: Vec<Batch> = input
        .batches(cfg.batch_size)
        .zip(1u64..)
        .map(|(batch, n)| (n, parse_batch(batch)))
        .collect();
    let total = batches.len();
    let queued = Gauge::new(QUEUE_LENGTH);
    let meter = QueueMeter::new(&queued);
    let aggregator = run_with_deadline("exercise 03", Duration::from_secs(30), {
        let cfg = cfg.clone();
        move || run(batches, meter, &cfg)
    })
    .expect_finished(&format!("the {runtime} run"));
    let peak = queued.peak();
    assert!(
        peak <= CAPACITY,
        "up to {peak} of the {total} batches waited between the {runtime} source and the sink \
         at once (the capacity is {CAPACITY}): nothing makes the source wait for room, so on a \
         big input the whole input sits in memory. {HINT}"
    );
    let report = finish(input.line_count(), aggregator, Box::new(ReportOnlySink))
        .expect("the report-only sink cannot fail");
    assert!(
        report.text() == expected.text(),
        "the {runtime} queue stayed small, but the report is not the reference's: expected {} \
         accepted and {} rejected, got {} and {} — is every batch still handed on? {HINT}",
        expected.accepted(),
        expected.rejected(),
        report.accepted(),
        report.rejected()
    );
}

#[test]
fn tokio_keeps_the_queue_within_its_capacity() {
    check("tokio", |batches, meter, cfg| {
        let sink = Sink::new(Arc::clone(&cfg.registry));
        runtimes::tokio_runtime(cfg)
            .expect("a tokio runtime")
            .block_on(run_tokio(batches, CAPACITY, meter, sink))
    });
}

#[test]
fn smol_keeps_the_queue_within_its_capacity() {
    check("smol", |batches, meter, cfg| {
        let sink = Sink::new(Arc::clone(&cfg.registry));
        runtimes::with_smol_executor(cfg.worker_threads, "ex03-smol-worker", |executor| {
            Ok(smol::block_on(run_smol(
                executor, batches, CAPACITY, meter, sink,
            )))
        })
        .expect("a smol executor")
    });
}

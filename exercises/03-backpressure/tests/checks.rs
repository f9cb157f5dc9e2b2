//! Exercise 03's checks: with a source far faster than the sink, the report must be the
//! reference's (no batch dropped), every batch must go through the harness's sink, and the queue
//! between them must be bounded by exactly `capacity`: the channel full plus the one batch the
//! source holds while it waits, no more (a channel of `capacity + 1` is one batch too many) and
//! no less (a smaller channel slows the source more than asked) — in tokio and in smol. The
//! queue is measured by the harness (`ch03_backpressure::exercise`), not by anything in the code
//! you edit.

use std::sync::Arc;
use std::time::Duration;

use pipeline::{Config, DatasetSpec, Input, ReportOnlySink, finish, parse_batch, run_sequential};
use testkit::run_with_deadline;

use ch03_backpressure::exercise::{Batch, QueueMeter, Sink, Source};

use super::{run_smol, run_tokio};

const HINT: &str = "hint: `cargo run --release -- hint 03`";
const CAPACITY: usize = 4;

fn check(runtime: &str, run: fn(Source, Sink, &Config) -> pipeline::Aggregator) {
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
    let meter = Arc::new(QueueMeter::default());
    let source = Source::new(batches, &meter);
    let sink = Sink::new(Arc::clone(&cfg.registry), &meter);
    let aggregator = run_with_deadline("exercise 03", Duration::from_secs(30), {
        let cfg = cfg.clone();
        move || run(source, sink, &cfg)
    })
    .expect_finished(&format!("the {runtime} run"));
    let report = finish(input.line_count(), aggregator, Box::new(ReportOnlySink))
        .expect("the report-only sink cannot fail");
    assert!(
        report.text() == expected.text(),
        "the {runtime} report is not the reference's: expected {} accepted and {} rejected, got \
         {} and {} — is every batch still handed on? A full queue must make the source wait, \
         not lose the batch. {HINT}",
        expected.accepted(),
        expected.rejected(),
        report.accepted(),
        report.rejected()
    );
    let (peak, taken) = (meter.peak(), meter.taken());
    assert!(
        taken == total,
        "the {runtime} sink took {taken} of the {total} batches the source handed out: every \
         batch must go from the harness's source through the harness's sink (`sink.write_..`), \
         which is where the queue is measured. {HINT}"
    );
    // The queue is the channel plus the batch the source holds while it waits for room: with
    // `capacity` it peaks at exactly `capacity + 1` (the harness's meter makes sure the peak
    // is reached), so one batch too many or too few names the bound that was really used.
    if peak > CAPACITY + 1 && peak <= 2 * CAPACITY {
        panic!(
            "up to {peak} batches waited between the {runtime} source and the sink at once: \
             the queue is bounded, but it holds {} more than `capacity` allows (the capacity \
             is {CAPACITY}; the channel full plus the one batch the source holds while it \
             waits makes {}). Give the channel exactly `capacity`, not more. {HINT}",
            peak - (CAPACITY + 1),
            CAPACITY + 1
        );
    }
    assert!(
        peak <= CAPACITY + 1,
        "up to {peak} of the {total} batches waited between the {runtime} source and the sink \
         at once (the capacity is {CAPACITY}, plus the one the source holds while it waits for \
         room): nothing makes the source wait for room, so on a big input the whole input sits \
         in memory. {HINT}"
    );
    assert!(
        peak == CAPACITY + 1,
        "at most {peak} batches ever waited between the {runtime} source and the sink, though \
         the capacity is {CAPACITY} (a full channel plus the batch the source holds while it \
         waits makes {}): the queue is bounded, but not by `capacity`. A smaller bound slows \
         the source more than asked; give the channel exactly `capacity`. {HINT}",
        CAPACITY + 1
    );
}

#[test]
fn tokio_keeps_the_queue_within_its_capacity() {
    check("tokio", |source, sink, cfg| {
        runtimes::tokio_runtime(cfg)
            .expect("a tokio runtime")
            .block_on(run_tokio(source, CAPACITY, sink))
    });
}

#[test]
fn smol_keeps_the_queue_within_its_capacity() {
    check("smol", |source, sink, cfg| {
        runtimes::with_smol_executor(cfg.worker_threads, "ex03-smol-worker", |executor| {
            Ok(smol::block_on(run_smol(executor, source, CAPACITY, sink)))
        })
        .expect("a smol executor")
    });
}

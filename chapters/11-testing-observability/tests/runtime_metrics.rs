//! tokio's runtime metrics, read during a run of the chapter's pipeline.

use std::time::Duration;

use ch11_testing_observability::metrics::run_sampled;
use ch11_testing_observability::{Setup, chapter_input, reference};
use pipeline::Config;
use testkit::{TEST_DEADLINE, run_with_deadline};

// ANCHOR: runtime_metrics_test
/// Every sample sees the runtime's size as configured; the first, taken right after the
/// pipeline was spawned, sees it alive; and sampling does not change the report. (How many
/// samples there are, and what the queue depth was, depend on this machine: they are read, not
/// asserted.)
#[test]
fn runtime_metrics_are_read_while_the_pipeline_runs() {
    let cfg = Config {
        worker_threads: 2,
        ..Config::default()
    };
    let input = chapter_input();
    let expected = reference(&input, &cfg).expect("the reference runs");
    let (report, samples) = run_with_deadline("sampled", TEST_DEADLINE, move || {
        run_sampled(&input, &cfg, &Setup::chapter(), Duration::from_millis(1))
    })
    .expect_finished("the sampled tokio pipeline")
    .expect("the pipeline runs");
    assert_eq!(report.text(), expected.text());
    assert!(samples.iter().all(|s| s.workers == 2), "{samples:?}");
    assert!(samples[0].alive_tasks >= 1, "{samples:?}");
    let deepest = samples.iter().map(|s| s.global_queue_depth).max();
    println!(
        "{} samples, deepest global queue {deepest:?}",
        samples.len()
    );
}
// ANCHOR_END: runtime_metrics_test

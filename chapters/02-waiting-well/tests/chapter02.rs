//! Chapter 2's claims, as tests: every variant gives the sequential reference's report at any
//! concurrency, keeps at most `C` look-ups in flight (and more than one), and the experiment
//! measures every variant on the same look-ups. No test asserts a duration: the timing is
//! printed, for `cargo test -p ch02-waiting-well --release -- --nocapture` to show.

use std::sync::Arc;
use std::time::Duration;

use ch02_waiting_well::registry::{FAST, Latencies, SLOW};
use ch02_waiting_well::{
    LOOKUPS_IN_FLIGHT, ROUNDS, WATCHED_VARIANTS, WatchedFn, chapter_input, experiment,
    experiment_input, littles_law_limit,
};
use instruments::Gauge;
use pipeline::{
    Config, Input, LookupError, PipelineError, Registry, Report, SensorInfo, Variant, error_chain,
    run_sequential,
};
use testkit::{TEST_DEADLINE, assert_variants_agree, run_with_deadline};

/// Runs one variant under the deadline; returns its result and the peak of look-ups in flight.
fn run_one(
    variant: Variant,
    run: WatchedFn,
    input: &Input,
    cfg: &Config,
) -> (Result<Report, PipelineError>, usize) {
    let in_flight = Gauge::new(LOOKUPS_IN_FLIGHT);
    let (input, cfg, watched) = (input.clone(), cfg.clone(), in_flight.clone());
    let what = format!("the {variant} variant at concurrency {}", cfg.concurrency);
    let result = run_with_deadline(variant.name(), TEST_DEADLINE, move || {
        run(&input, &cfg, &watched)
    })
    .expect_finished(&what);
    (result, in_flight.peak())
}

// ANCHOR: identical
#[test]
fn every_variant_gives_the_reference_report_with_at_most_c_look_ups_in_flight() {
    let default = Config::default().concurrency;
    for concurrency in [1, 3, default] {
        // `ROUNDS` look-ups per worker: about a second per run whatever C is.
        let input = experiment_input(concurrency);
        let expected = run_sequential(&input, &Config::default()).expect("the reference runs");
        let cfg = Config {
            concurrency,
            ..Config::default()
        };
        let mut reports = Vec::new();
        for (variant, run) in WATCHED_VARIANTS {
            let (result, peak) = run_one(variant, run, &input, &cfg);
            let report = result.unwrap_or_else(|e| panic!("{variant}: {}", error_chain(&e)));
            // At most C: there are only C workers. More than one (for C > 1): they really
            // overlap — every look-up takes at least 15 ms, far longer than starting a worker.
            assert!(
                peak <= concurrency && (concurrency == 1 || peak > 1),
                "{variant}: {peak} look-ups in flight at once with C = {concurrency}"
            );
            reports.push((variant, report));
        }
        assert_variants_agree(
            &format!("{} (C = {concurrency})", input.name()),
            &expected,
            &reports,
        );
        if concurrency == default {
            assert_eq!(input.text(), chapter_input().text());
            insta::assert_snapshot!("chapter_input", expected.text());
        }
    }
}
// ANCHOR_END: identical

/// A registry that panics for one sensor: a bug in the look-up code, not a bad record.
struct PanickingRegistry;

impl Registry for PanickingRegistry {
    fn lookup(&self, sensor_id: &str) -> Result<SensorInfo, LookupError> {
        if sensor_id == "s-0003" {
            panic!("registry bug for {sensor_id}");
        }
        pipeline::FleetRegistry::default().lookup(sensor_id)
    }
}

#[test]
fn a_panicking_look_up_fails_the_run_naming_the_stage_in_every_variant() {
    let input = Input::from_text(
        "three readings",
        "s-0001,1700000040,1.0\ns-0003,1700000041,2.0\ns-0002,1700000042,3.0\n",
    );
    let cfg = Config {
        registry: Arc::new(PanickingRegistry),
        concurrency: 2,
        ..Config::default()
    };
    for (variant, run) in WATCHED_VARIANTS {
        let (result, _) = run_one(variant, run, &input, &cfg);
        match result {
            Err(PipelineError::StagePanicked { stage, message }) => {
                assert_eq!(stage, "enrich", "{variant}");
                assert!(
                    message.contains("registry bug for s-0003"),
                    "{variant}: {message}"
                );
            }
            other => panic!("{variant}: expected the enrich stage's panic, got {other:?}"),
        }
    }
}

#[test]
fn littles_law_limit_is_concurrency_over_mean_latency() {
    assert_eq!(littles_law_limit(16, Duration::from_millis(20)), 800.0);
    assert_eq!(littles_law_limit(1, Duration::from_millis(250)), 4.0);
    assert!(littles_law_limit(4, Duration::ZERO).is_infinite());
}

#[test]
fn the_mean_latency_is_exact_over_the_inputs_readings() {
    let input = Input::from_text(
        "two",
        "s-0001,1700000040,1.0\nnot a reading\ns-0002,1700000042,3.0\n",
    );
    let latencies = Latencies::of(&input);
    let (first, third) = (
        ch02_waiting_well::registry::latency(1),
        ch02_waiting_well::registry::latency(3),
    );
    assert_eq!(latencies.lookups, 2, "the malformed line makes no look-up");
    assert_eq!(latencies.total, first + third);
    assert_eq!(latencies.mean(), (first + third) / 2);
    assert_eq!(latencies.max, first.max(third));
    let chapter = Latencies::of(&chapter_input());
    assert!((FAST.0..=SLOW.1).contains(&chapter.mean()), "{chapter:?}");
}

// ANCHOR: experiment_test
/// The experiment's bookkeeping, at two concurrencies: every variant ran on the same look-ups,
/// its report is the reference's, its peak is within C. The timing is printed, not asserted:
/// `cargo test -p ch02-waiting-well --release -- --nocapture` shows the table.
#[test]
fn the_experiment_measures_every_variant_on_the_same_look_ups() {
    let concurrencies = [16, 64];
    let mut table = Vec::new();
    let rows = run_with_deadline("experiment", TEST_DEADLINE, move || {
        let rows = experiment(&mut table, &concurrencies);
        (rows, table)
    })
    .expect_finished("the experiment");
    let (rows, table) = (rows.0.expect("every run succeeds"), rows.1);
    let table = String::from_utf8(table).expect("the table is text");
    println!("{table}");
    assert_eq!(rows.len(), concurrencies.len());
    for (row, concurrency) in rows.iter().zip(concurrencies) {
        let input = experiment_input(concurrency);
        assert_eq!(input.line_count(), (ROUNDS * concurrency) as u64);
        assert_eq!(row.concurrency, concurrency);
        assert_eq!(row.latencies, Latencies::of(&input));
        assert_eq!(
            row.limit,
            littles_law_limit(concurrency, row.latencies.mean())
        );
        let variants: Vec<Variant> = row.measurements.iter().map(|m| m.variant).collect();
        assert_eq!(variants, Variant::ALL);
        for m in &row.measurements {
            assert_eq!(m.latencies, row.latencies, "{}", m.variant);
            assert!(
                m.peak_in_flight <= concurrency,
                "{}: {}",
                m.variant,
                m.peak_in_flight
            );
            assert_eq!(m.limit, row.limit);
        }
        assert!(
            row.differing().is_empty(),
            "reports differ: {:?}",
            row.differing()
        );
        assert!(
            table
                .lines()
                .any(|l| l.trim_start().starts_with(&format!("{concurrency} "))
                    && l.ends_with("identical")),
            "no line for C = {concurrency} in:\n{table}"
        );
    }
}
// ANCHOR_END: experiment_test

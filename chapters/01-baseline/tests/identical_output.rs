//! Chapter 1's proof: the four variants produce byte-identical reports.
//!
//! For each dataset, every variant runs under the testkit deadline (so a hang fails, it does not
//! hang CI), every report is compared with the sequential reference (`run_sequential`: the same
//! stages, one after the other, on one thread) — a difference names the variant and shows a
//! diff — and then ONE snapshot of the agreed report is checked. One snapshot per
//! dataset, never one per variant: four tests sharing a snapshot name would let a divergent
//! variant be auto-accepted.

use std::sync::Arc;

use ch01_baseline::VARIANTS;
use pipeline::{
    Config, Dataset, DatasetSpec, Input, LookupError, PipelineError, Registry, Report, RunFn,
    SensorInfo, SinkTarget, Variant, error_chain, run_sequential,
};
use testkit::{TEST_DEADLINE, assert_outputs_agree, assert_variants_agree, run_with_deadline};

/// Runs one variant on `input` with `cfg` under the deadline; a hang or a panic fails the test.
fn run_one(
    variant: Variant,
    run: RunFn,
    input: &Input,
    cfg: &Config,
) -> Result<Report, PipelineError> {
    let what = format!("the {variant} variant on {}", input.name());
    let (input, cfg) = (input.clone(), cfg.clone());
    run_with_deadline(variant.name(), TEST_DEADLINE, move || run(&input, &cfg))
        .expect_finished(&what)
}

/// Runs every variant, in the canonical order.
fn run_all(input: &Input, cfg: &Config) -> Vec<(Variant, Result<Report, PipelineError>)> {
    VARIANTS
        .iter()
        .map(|&(variant, run)| (variant, run_one(variant, run, input, cfg)))
        .collect()
}

// ANCHOR: agreed_report
/// Runs every variant, requires success, a balanced report and byte-identical reports.
fn agreed_report(input: &Input, cfg: &Config) -> Report {
    let reports: Vec<(Variant, Report)> = run_all(input, cfg)
        .into_iter()
        .map(|(variant, result)| {
            let report = result.unwrap_or_else(|e| {
                panic!(
                    "the {variant} variant failed on {}: {}",
                    input.name(),
                    error_chain(&e)
                )
            });
            (variant, report)
        })
        .collect();
    let reference_cfg = Config {
        sink: SinkTarget::ReportOnly,
        ..cfg.clone()
    };
    let reference = run_sequential(input, &reference_cfg).expect("the reference run succeeds");
    assert!(
        reference.is_balanced(),
        "the reference report does not balance:\n{reference}"
    );
    assert_variants_agree(input.name(), &reference, &reports);
    reference
}
// ANCHOR_END: agreed_report

// ANCHOR: default_dataset
#[test]
fn default_dataset() {
    let report = agreed_report(&Input::dataset(Dataset::Default), &Config::default());
    assert_eq!(report.lines_read(), 50_000);
    insta::assert_snapshot!("default", report.text());
}
// ANCHOR_END: default_dataset

#[test]
fn empty_input() {
    let report = agreed_report(&Input::dataset(Dataset::Empty), &Config::default());
    assert_eq!((report.lines_read(), report.windows().len()), (0, 0));
    insta::assert_snapshot!("empty", report.text());
}

#[test]
fn all_malformed_input() {
    let report = agreed_report(&Input::dataset(Dataset::AllMalformed), &Config::default());
    assert_eq!(report.accepted(), 0);
    assert_eq!(report.rejected(), 400);
    insta::assert_snapshot!("all_malformed", report.text());
}

#[test]
fn extreme_values() {
    let report = agreed_report(&Input::dataset(Dataset::Extremes), &Config::default());
    assert!(
        report.rejected() > 15 && report.accepted() > 100,
        "{report}"
    );
    insta::assert_snapshot!("extremes", report.text());
}

/// Capacity 1 and one line per batch force the most hand-offs and interleavings there can be;
/// the report must not notice.
#[test]
fn channel_capacity_and_batch_size_do_not_change_the_report() {
    let input = Input::generated(&DatasetSpec {
        lines: 3_000,
        ..DatasetSpec::default()
    });
    let roomy = agreed_report(&input, &Config::default());
    let tight = agreed_report(
        &input,
        &Config {
            channel_capacity: 1,
            batch_size: 1,
            worker_threads: 1,
            ..Config::default()
        },
    );
    assert_eq!(tight.text(), roomy.text());
}

/// The JSON-lines sink writes the same bytes in every variant as in the sequential reference.
/// Each variant is compared with the reference, never with another variant: a broken sync
/// variant must be named, not blamed on the three that agree with the reference.
#[test]
fn every_variant_writes_the_reference_json_lines() {
    let dir = std::env::temp_dir().join(format!("ch01-sink-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = Input::generated(&DatasetSpec {
        lines: 2_000,
        ..DatasetSpec::default()
    });
    let json_lines = |name: &str| {
        let path = dir.join(format!("{name}.jsonl"));
        let cfg = Config {
            sink: SinkTarget::JsonLines(path.clone()),
            ..Config::default()
        };
        (path, cfg)
    };
    let (path, cfg) = json_lines("reference");
    let reference = run_sequential(&input, &cfg).expect("the reference run succeeds");
    let expected = std::fs::read_to_string(&path).unwrap();
    assert_eq!(expected.lines().count(), reference.windows().len());
    let files: Vec<(Variant, String)> = VARIANTS
        .iter()
        .map(|&(variant, run)| {
            let (path, cfg) = json_lines(variant.name());
            run_one(variant, run, &input, &cfg)
                .unwrap_or_else(|e| panic!("{variant}: {}", error_chain(&e)));
            (variant, std::fs::read_to_string(&path).unwrap())
        })
        .collect();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_outputs_agree("the JSON lines it wrote", &expected, &files);
}

/// A registry that panics on one sensor: the panic must come back as an error naming the
/// stage, in every variant — not a hang, not a crash, not a report with records missing.
struct PanickingRegistry;

impl Registry for PanickingRegistry {
    fn lookup(&self, sensor_id: &str) -> Result<SensorInfo, LookupError> {
        if sensor_id == "s-0003" {
            panic!("registry blew up on {sensor_id}");
        }
        Ok(SensorInfo {
            site: "ridge".into(),
            offset: 0.0,
        })
    }
}

#[test]
fn a_panicking_stage_is_an_error_in_every_variant() {
    let cfg = Config {
        registry: Arc::new(PanickingRegistry),
        ..Config::default()
    };
    let input = Input::generated(&DatasetSpec {
        lines: 5_000,
        ..DatasetSpec::default()
    });
    for (variant, result) in run_all(&input, &cfg) {
        match result {
            Err(PipelineError::StagePanicked { stage, message }) => {
                assert_eq!(stage, "enrich", "{variant}");
                assert!(message.contains("registry blew up"), "{variant}: {message}");
            }
            other => panic!("{variant}: expected the enrich stage's panic, got {other:?}"),
        }
    }
}

#[test]
fn an_unwritable_output_is_an_error_in_every_variant() {
    let cfg = Config {
        sink: SinkTarget::JsonLines("/no/such/dir/windows.jsonl".into()),
        ..Config::default()
    };
    for (variant, result) in run_all(&Input::dataset(Dataset::Extremes), &cfg) {
        let err = result.expect_err(variant.name());
        assert!(
            matches!(err, PipelineError::WriteOutput { .. }),
            "{variant}: {err}"
        );
    }
}

//! Comparing reports across variants, with failure messages a reader can act on.

use pipeline::{Report, Variant};
use similar::TextDiff;

/// What every variant is compared with: the pipeline's stages run one after the other on one
/// thread (`pipeline::run_sequential`). Comparing each variant with it, rather than with the
/// sync variant, means a broken sync variant is named as the culprit, not the other three.
pub const REFERENCE: &str = "the sequential reference";

/// `Ok` if `candidate`'s report is byte-identical to the reference; otherwise an explanation that
/// names the variant and shows a diff of the lines that differ.
///
/// The text is the whole contract: its windows digest covers every window field bit for bit, so
/// a window that differs below the table's three printed decimals fails here too.
pub fn compare_reports(
    dataset: &str,
    expected: &Report,
    candidate: (Variant, &Report),
) -> Result<(), String> {
    let (variant, actual) = candidate;
    if expected.text() == actual.text() {
        return Ok(());
    }
    let balance = if actual.is_balanced() {
        String::new()
    } else {
        format!(
            "\nThe {variant} report does not balance: lines read {}, accepted {}, rejected {}, \
             in windows {} — it lost or invented records.",
            actual.lines_read(),
            actual.accepted(),
            actual.rejected(),
            actual.records_in_windows()
        )
    };
    Err(format!(
        "variant `{variant}` differs from {REFERENCE} on the {dataset} dataset \
         (checksum {:#018x}, expected {:#018x}).{balance}\n{}",
        actual.checksum(),
        expected.checksum(),
        diff(expected.text(), variant, actual.text()),
    ))
}

/// Panics, naming every variant whose report differs from the reference.
#[track_caller]
pub fn assert_variants_agree(dataset: &str, reference: &Report, reports: &[(Variant, Report)]) {
    assert!(!reports.is_empty(), "no reports to compare");
    let failures: Vec<String> = reports
        .iter()
        .filter_map(|(variant, report)| {
            compare_reports(dataset, reference, (*variant, report)).err()
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The same check for anything else a run writes (a JSON-lines file, a table dump): `Ok` if
/// `candidate`'s output is byte-identical to the reference's, otherwise an explanation naming
/// the variant and `what` (e.g. "the JSON lines it wrote"), with a diff. Never compare one variant with another: when two disagree, only
/// the reference can say which one is wrong.
pub fn compare_outputs(
    what: &str,
    expected: &str,
    candidate: (Variant, &str),
) -> Result<(), String> {
    let (variant, actual) = candidate;
    if expected == actual {
        return Ok(());
    }
    Err(format!(
        "variant `{variant}` differs from {REFERENCE} in {what}\n{}",
        diff(expected, variant, actual)
    ))
}

/// Panics, naming every variant whose `what` differs from the reference's.
#[track_caller]
pub fn assert_outputs_agree(what: &str, reference: &str, outputs: &[(Variant, String)]) {
    assert!(!outputs.is_empty(), "no outputs to compare");
    let failures: Vec<String> = outputs
        .iter()
        .filter_map(|(variant, output)| compare_outputs(what, reference, (*variant, output)).err())
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// A unified diff of the lines that differ, headed `reference` and the variant's name.
fn diff(expected: &str, variant: Variant, actual: &str) -> String {
    TextDiff::from_lines(expected, actual)
        .unified_diff()
        .context_radius(2)
        .header("reference", variant.name())
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipeline::{
        Aggregator, Config, DatasetSpec, Enriched, Input, WindowSummary, enrich_batch, parse_batch,
        run_sequential,
    };

    /// A "variant" that runs the stages in order but tampers with the records of the first batch.
    fn tampered(input: &Input, tamper: fn(&mut Vec<Enriched>)) -> Report {
        tampered_at(input, tamper, |_| {})
    }

    /// The same, and it may also tamper with the finished windows (a wrong aggregate, with every
    /// record intact).
    fn tampered_at(
        input: &Input,
        tamper: fn(&mut Vec<Enriched>),
        tamper_windows: fn(&mut Vec<WindowSummary>),
    ) -> Report {
        let cfg = Config::default();
        let mut aggregator = Aggregator::new();
        let mut lines_read = 0;
        for (i, batch) in input.batches(cfg.batch_size).enumerate() {
            lines_read += batch.len() as u64;
            let mut records = enrich_batch(&*cfg.registry, parse_batch(batch));
            if i == 0 {
                tamper(&mut records);
            }
            aggregator.add_batch(records);
        }
        let (mut windows, tally) = aggregator.finish();
        tamper_windows(&mut windows);
        Report::new(lines_read, tally, windows)
    }

    fn input() -> Input {
        Input::generated(&DatasetSpec {
            lines: 2_000,
            ..DatasetSpec::default()
        })
    }

    fn check(tamper: fn(&mut Vec<Enriched>)) -> String {
        let input = input();
        let reference = run_sequential(&input, &Config::default()).unwrap();
        assert_eq!(tampered(&input, |_| {}).text(), reference.text());
        let broken = tampered(&input, tamper);
        compare_reports("test", &reference, (Variant::Smol, &broken))
            .expect_err("the comparison must catch the tampering")
    }

    #[test]
    fn a_lost_record_is_caught_and_the_variant_named() {
        let message = check(|records| {
            let _lost = records.remove(0);
        });
        assert!(
            message.starts_with("variant `smol` differs from the sequential reference"),
            "{message}"
        );
        assert!(message.contains("does not balance"), "{message}");
    }

    #[test]
    fn a_duplicated_record_is_caught() {
        let message = check(|records| records.push(records[0].clone()));
        assert!(message.contains("variant `smol`"), "{message}");
    }

    #[test]
    fn an_altered_value_is_caught_even_when_rounding_hides_it() {
        let message = check(|records| {
            let first = records.iter_mut().find_map(|r| r.as_mut().ok()).unwrap();
            // far below the report's three printed decimals: only the digest sees it
            first.value += 1e-9;
        });
        assert!(message.contains("variant `smol`"), "{message}");
        assert!(
            message.contains("-digests"),
            "the diff shows the digest line: {message}"
        );
    }

    /// Every record intact, one window's mean off by one ulp: the records digest cannot see it
    /// and the table rounds it away; the windows digest fails the comparison, naming the variant.
    #[test]
    fn one_ulp_of_one_window_mean_is_caught_and_the_variant_named() {
        let input = input();
        let reference = run_sequential(&input, &Config::default()).unwrap();
        let broken = tampered_at(
            &input,
            |_| {},
            |windows| {
                let mean = &mut windows[7].mean;
                *mean = f64::from_bits(mean.to_bits() + 1);
            },
        );
        assert!(broken.is_balanced());
        let reports = [
            (Variant::Sync, reference.clone()),
            (Variant::Tokio, broken),
            (Variant::Smol, reference.clone()),
        ];
        let failure = std::panic::catch_unwind(|| {
            assert_variants_agree("test", &reference, &reports);
        })
        .expect_err("the comparison must catch one ulp");
        let message = pipeline::panic_message(&*failure);
        assert!(
            message.starts_with("variant `tokio` differs from the sequential reference"),
            "{message}"
        );
        assert!(
            !message.contains("`sync`") && !message.contains("`smol`"),
            "{message}"
        );
        assert!(message.contains("-windows digest"), "{message}");
        assert!(
            !message.contains("-digests"),
            "the records are intact: {message}"
        );
    }

    #[test]
    fn an_output_that_differs_names_the_variant_not_the_others() {
        let reference = "a\nb\nc\n";
        let outputs = [
            (Variant::Sync, "a\nb\nX\n".to_owned()),
            (Variant::Tokio, reference.to_owned()),
        ];
        let failure = std::panic::catch_unwind(|| {
            assert_outputs_agree("the JSON lines it wrote", reference, &outputs);
        })
        .expect_err("the sync output differs");
        let message = pipeline::panic_message(&*failure);
        assert!(
            message.starts_with(
                "variant `sync` differs from the sequential reference in the JSON lines it wrote"
            ),
            "{message}"
        );
        assert!(message.contains("-c\n+X"), "{message}");
        assert!(!message.contains("tokio"), "{message}");
    }
}

//! Comparing reports across variants, with failure messages a reader can act on.

use pipeline::{Report, Variant};
use similar::TextDiff;

/// What every variant is compared with: the pipeline's stages run one after the other on one
/// thread (`pipeline::run_sequential`). Comparing each variant with it, rather than with the
/// sync variant, means a broken sync variant is named as the culprit, not the other three.
pub const REFERENCE: &str = "the sequential reference";

/// `Ok` if `candidate`'s report is byte-identical to the reference; otherwise an explanation that
/// names the variant and shows a diff of the lines that differ.
pub fn compare_reports(
    dataset: &str,
    expected: &Report,
    candidate: (Variant, &Report),
) -> Result<(), String> {
    let (variant, actual) = candidate;
    if expected.text() == actual.text() {
        return Ok(());
    }
    let diff = TextDiff::from_lines(expected.text(), actual.text())
        .unified_diff()
        .context_radius(2)
        .header("reference", variant.name())
        .to_string();
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
         (checksum {:#018x}, expected {:#018x}).{balance}\n{diff}",
        actual.checksum(),
        expected.checksum(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use pipeline::{
        Aggregator, Config, DatasetSpec, Enriched, Input, enrich_batch, parse_batch, run_sequential,
    };

    /// A "variant" that runs the stages in order but tampers with the records of the first batch.
    fn tampered(input: &Input, tamper: fn(&mut Vec<Enriched>)) -> Report {
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
        let (windows, tally) = aggregator.finish();
        Report::new(lines_read, tally, windows)
    }

    fn check(tamper: fn(&mut Vec<Enriched>)) -> String {
        let input = Input::generated(&DatasetSpec {
            lines: 2_000,
            ..DatasetSpec::default()
        });
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
}

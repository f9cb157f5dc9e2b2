//! Comparing reports across variants, with failure messages a reader can act on.

use pipeline::{Report, Variant};
use similar::TextDiff;

/// `Ok` if `candidate`'s report is byte-identical to the reference; otherwise an explanation that
/// names the variant and shows a diff of the lines that differ.
pub fn compare_reports(
    dataset: &str,
    reference: (Variant, &Report),
    candidate: (Variant, &Report),
) -> Result<(), String> {
    let (ref_variant, expected) = reference;
    let (variant, actual) = candidate;
    if expected.text() == actual.text() {
        return Ok(());
    }
    let diff = TextDiff::from_lines(expected.text(), actual.text())
        .unified_diff()
        .context_radius(2)
        .header(ref_variant.name(), variant.name())
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
        "variant `{variant}` differs from `{ref_variant}` on the {dataset} dataset \
         (checksum {:#018x} vs {:#018x}).{balance}\n{diff}",
        actual.checksum(),
        expected.checksum(),
    ))
}

/// Panics, naming every variant that differs from the first (the reference), if the reports are
/// not all byte-identical.
#[track_caller]
pub fn assert_variants_agree(dataset: &str, reports: &[(Variant, Report)]) {
    let Some(((ref_variant, reference), rest)) = reports.split_first() else {
        panic!("no reports to compare");
    };
    let failures: Vec<String> = rest
        .iter()
        .filter_map(|(variant, report)| {
            compare_reports(dataset, (*ref_variant, reference), (*variant, report)).err()
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

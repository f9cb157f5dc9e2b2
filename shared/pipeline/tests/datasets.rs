//! The generated datasets, read back through the parser: the shape each one promises (how much
//! is malformed, and which kinds) is what the parse stage sees. (Here rather than in
//! `dataset.rs`, which the parser's own module depends on through `Input`.)

use pipeline::dataset::generate;
use pipeline::{Dataset, DatasetSpec, parse_line};

#[test]
fn the_default_dataset_has_the_promised_shape() {
    let spec = DatasetSpec::default();
    let text = generate(&spec);
    assert_eq!(text.lines().count(), spec.lines);
    let rejected = text
        .lines()
        .zip(1..)
        .filter(|(l, n)| parse_line(*n, l).is_err())
        .count();
    // about 5% malformed; nine of the ten kinds fail parsing (unknown sensors fail later)
    assert!((1_800..2_700).contains(&rejected), "{rejected} rejected");
    let out_of_order = text
        .lines()
        .filter_map(|l| l.split(',').nth(1)?.parse::<i64>().ok())
        .collect::<Vec<_>>()
        .windows(2)
        .filter(|w| w[1] < w[0])
        .count();
    assert!(out_of_order > 1_000, "{out_of_order} out of order");
}

#[test]
fn all_malformed_means_all() {
    let text = Dataset::AllMalformed.text();
    assert_eq!(text.lines().count(), 400);
    let parsed_ok: Vec<&str> = text
        .lines()
        .zip(1..)
        .filter(|(l, n)| parse_line(*n, l).is_ok())
        .map(|(l, _)| l)
        .collect();
    // only the unknown-sensor kind parses; the registry rejects it
    assert!(
        parsed_ok.iter().all(|l| l.starts_with("s-9")),
        "{parsed_ok:?}"
    );
}

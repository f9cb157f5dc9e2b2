//! The tour: every chapter, every variant, on the default dataset; are the reports identical?

use std::time::Duration;

use anyhow::bail;
use instruments::{Outcome, run_with_deadline};
use pipeline::{Config, DatasetSpec, Input, Report, Variant, error_chain, run_sequential};
use testkit::REFERENCE;

use course::Chapter;

use crate::chapters::CHAPTERS;
use crate::measure::measure;
use crate::stdout::{StdoutFailed, outln};
use course::text::{group_digits, millis};

/// Long enough for any chapter on any sane input; it exists so a hang ends the tour with a
/// message instead of never ending.
const RUN_DEADLINE: Duration = Duration::from_secs(300);

pub struct TourOptions {
    pub spec: DatasetSpec,
    pub repeat: usize,
}

struct Row {
    variant: Variant,
    result: Result<Report, String>,
    median_wall: Duration,
    threads: Option<usize>,
}

pub fn tour(options: &TourOptions) -> anyhow::Result<()> {
    if let Err(e) = options.spec.validate() {
        bail!("invalid dataset: {e}");
    }
    let input = Input::generated(&options.spec);
    outln!("One pipeline, four ways — the tour")?;
    outln!(
        "input: {} ({} lines); each variant runs {} time(s), wall time is the median",
        input.name(),
        group_digits(input.line_count()),
        options.repeat
    )?;
    if cfg!(debug_assertions) {
        outln!("note: this is a debug build; for meaningful timings use `cargo run --release`")?;
    }

    // Every variant is compared with the stages run one after the other on one thread.
    let reference = run_sequential(&input, &Config::default())?;
    outln!(
        "reference: {REFERENCE} (checksum {:#018x}, {} accepted, {} rejected, {} windows)",
        reference.checksum(),
        group_digits(reference.accepted()),
        group_digits(reference.rejected()),
        group_digits(reference.windows().len() as u64)
    )?;

    let mut failures = Vec::new();
    for chapter in CHAPTERS.iter().filter(|c| c.in_tour) {
        // A chapter with its own input, or its own idea of a correct run, gets its own
        // reference.
        let own = chapter.input.map(|make| make());
        let (input, reference) = match (&own, chapter.reference.is_some()) {
            (Some(own), _) => (own, chapter.reference(own, &Config::default())?),
            (None, true) => (&input, chapter.reference(&input, &Config::default())?),
            (None, false) => (&input, reference.clone()),
        };
        let rows = run_chapter(chapter, input, options.repeat);
        print_chapter(chapter, &rows, &reference)?;
        if let Some(note) = chapter.note {
            let walls: Vec<_> = rows.iter().map(|r| (r.variant, r.median_wall)).collect();
            outln!("  {}", note(input, &Config::default(), &walls))?;
        }
        if own.is_some() {
            outln!(
                "  (this chapter runs on its own input: {}, {} lines)",
                input.name(),
                group_digits(input.line_count())
            )?;
        }
        failures.extend(check_chapter(chapter, &rows, &reference));
    }

    outln!()?;
    if failures.is_empty() {
        outln!(
            "Every variant of every chapter produced a report byte-identical to the reference."
        )?;
        outln!(
            "Next: `cargo test` proves it on more datasets; `mdbook serve book` serves the book;"
        )?;
        outln!("and to run a variant on a file of your own:")?;
        outln!("  cargo run --release -- generate --output readings.csv --lines 1000000")?;
        outln!("  cargo run --release -- run --chapter 1 --variant tokio --input readings.csv")?;
        Ok(())
    } else {
        for failure in &failures {
            eprintln!("error: {failure}");
        }
        bail!(
            "{} variant(s) did not match the reference report",
            failures.len()
        )
    }
}

fn run_chapter(chapter: &Chapter, input: &Input, repeat: usize) -> Vec<Row> {
    chapter
        .variants
        .iter()
        .map(|&(variant, run)| {
            let mut walls = Vec::new();
            let mut threads = None;
            let mut result: Option<Result<Report, String>> = None;
            for _ in 0..repeat.max(1) {
                let (input, cfg) = (input.clone(), Config::default());
                // The deadline runner's own thread is not the variant's: don't count it.
                let measured = measure(1, || {
                    run_with_deadline(variant.name(), RUN_DEADLINE, move || run(&input, &cfg))
                });
                walls.push(measured.wall);
                threads = threads.max(measured.threads_started);
                let this = match measured.value {
                    Outcome::Finished(Ok(report)) => Ok(report),
                    Outcome::Finished(Err(e)) => Err(format!("failed: {}", error_chain(&e))),
                    other => Err(other.to_string()),
                };
                result = Some(match (result, this) {
                    (None, this) => this,
                    (Some(Ok(first)), Ok(again)) if first.text() != again.text() => {
                        Err("two runs on the same input gave different reports".to_owned())
                    }
                    (Some(first @ Ok(_)), Ok(_)) => first,
                    (Some(Err(e)), _) | (Some(Ok(_)), Err(e)) => Err(e),
                });
            }
            walls.sort();
            Row {
                variant,
                result: result.expect("ran at least once"),
                median_wall: walls[walls.len() / 2],
                threads,
            }
        })
        .collect()
}

fn print_chapter(chapter: &Chapter, rows: &[Row], reference: &Report) -> Result<(), StdoutFailed> {
    outln!()?;
    outln!(
        "Chapter {} — {} ({})",
        chapter.number,
        chapter.title,
        chapter.crate_dir()
    )?;
    outln!(
        "  {:<10} {:<10} {:<20} {:>10} {:>12} {:>8}",
        "variant",
        "identical",
        "report checksum",
        "wall time",
        "lines/s",
        "threads"
    )?;
    for row in rows {
        let identical = match &row.result {
            Ok(report) if report.text() == reference.text() => "yes",
            Ok(_) => "NO",
            Err(_) => "—",
        };
        let (checksum, rate) = match &row.result {
            Ok(report) => (
                format!("{:#018x}", report.checksum()),
                group_digits(
                    (report.lines_read() as f64 / row.median_wall.as_secs_f64().max(1e-9)) as u64,
                ),
            ),
            Err(e) => (e.clone(), "—".into()),
        };
        let threads = row.threads.map_or("n/a".into(), |t| t.to_string());
        outln!(
            "  {:<10} {:<10} {:<20} {:>10} {:>12} {:>8}",
            row.variant.name(),
            identical,
            checksum,
            millis(row.median_wall),
            rate,
            threads
        )?;
    }
    outln!(
        "  threads: OS threads the run started (async-std's global executor starts once, then stays)"
    )
}

/// One message per variant that failed or differs from the reference.
fn check_chapter(chapter: &Chapter, rows: &[Row], reference: &Report) -> Vec<String> {
    rows.iter()
        .filter_map(|row| match &row.result {
            Err(e) => Some(format!(
                "chapter {}: the {} variant {e}",
                chapter.number, row.variant
            )),
            Ok(report) => testkit::compare_reports("tour", reference, (row.variant, report))
                .err()
                .map(|diff| format!("chapter {}: {diff}", chapter.number)),
        })
        .collect()
}

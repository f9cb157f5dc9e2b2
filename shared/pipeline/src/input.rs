//! The source's raw material: named text, split into numbered lines and batches.

use std::path::Path;
use std::sync::Arc;

use crate::dataset::{Dataset, DatasetSpec};
use crate::error::PipelineError;

/// The byte-order mark, U+FEFF (`EF BB BF` in UTF-8).
const BOM: char = '\u{feff}';

/// One line of input with its 1-based line number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawLine {
    pub number: u64,
    pub text: String,
}

/// What flows from the source to the parse stage: consecutive lines.
///
/// Stages exchange batches rather than single lines so that channel overhead does not drown
/// the work; the report does not depend on the batch size (a property test proves it).
pub type LineBatch = Vec<RawLine>;

/// The pipeline's input: a name (used in error messages, like a file name) and its text.
///
/// Cloning is cheap (two `Arc`s), so every stage, thread or task can own one.
#[derive(Debug, Clone)]
pub struct Input {
    name: Arc<str>,
    text: Arc<str>,
}

impl Input {
    /// A leading UTF-8 byte-order mark is dropped: it is an encoding marker some editors and
    /// spreadsheet exports write, not data, and left in it would make the first line's sensor id
    /// `"\u{feff}s-0005"` and reject it. Only one, only at the start; line numbers are unchanged
    /// (the mark is on line 1 and so is what follows it).
    pub fn from_text(name: impl Into<Arc<str>>, text: impl Into<Arc<str>>) -> Self {
        let text: Arc<str> = text.into();
        let text = match text.strip_prefix(BOM) {
            Some(rest) => Arc::from(rest),
            None => text,
        };
        Input {
            name: name.into(),
            text,
        }
    }

    /// Reads a whole file. Bytes that are not UTF-8 are replaced (U+FFFD) rather than failing
    /// the file: the lines that contain them are then rejected, with their line numbers, like
    /// any other malformed line.
    pub fn from_file(path: &Path) -> Result<Self, PipelineError> {
        let bytes = std::fs::read(path).map_err(|source| PipelineError::ReadInput {
            path: path.to_path_buf(),
            source,
        })?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        Ok(Input::from_text(path.display().to_string(), text))
    }

    /// A seeded, generated dataset (see [`DatasetSpec`]).
    pub fn generated(spec: &DatasetSpec) -> Self {
        Input::from_text(spec.name(), crate::dataset::generate(spec))
    }

    /// One of the named datasets the tests and the tour share.
    pub fn dataset(dataset: Dataset) -> Self {
        Input::from_text(dataset.name(), dataset.text())
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// How many lines the source will read (what the progress bar counts towards).
    pub fn line_count(&self) -> u64 {
        self.text.lines().count() as u64
    }

    /// The lines, numbered from 1, in batches of at most `batch_size` (at least 1).
    pub fn batches(&self, batch_size: usize) -> impl Iterator<Item = LineBatch> + Send + '_ {
        self.batches_from(1, batch_size)
    }

    /// The readings that parse, in input order, the rejected lines left out: what a stage that
    /// is handed only valid readings (an exercise's look-up or store stage) starts from.
    pub fn readings(&self) -> Vec<crate::Reading> {
        self.batches(1024)
            .flat_map(crate::parse_batch)
            .filter_map(Result::ok)
            .collect()
    }

    // ANCHOR: batches_from
    /// The lines from line `first_line` on (1-based; 0 counts as 1), numbered as in the whole
    /// input, in batches of at most `batch_size` (at least 1): where a resumed run starts
    /// reading.
    ///
    /// The batches are cut from `first_line`, not on the grid of a run from line 1: a run that
    /// resumes mid-batch, or with another batch size, still hands on full batches. The lines
    /// before `first_line` are skipped, not copied.
    pub fn batches_from(
        &self,
        first_line: u64,
        batch_size: usize,
    ) -> impl Iterator<Item = LineBatch> + Send + '_ {
        let batch_size = batch_size.max(1);
        let skip = usize::try_from(first_line.saturating_sub(1)).unwrap_or(usize::MAX);
        let mut lines = self.text.lines().zip(1u64..).skip(skip);
        std::iter::from_fn(move || {
            let batch: LineBatch = lines
                .by_ref()
                .take(batch_size)
                .map(|(text, number)| RawLine {
                    number,
                    text: text.to_owned(),
                })
                .collect();
            (!batch.is_empty()).then_some(batch)
        })
    }
    // ANCHOR_END: batches_from
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_are_the_lines_that_parse_in_order() {
        let input = Input::from_text("t", "not a reading\n");
        assert!(input.readings().is_empty());
        let input = Input::generated(&DatasetSpec {
            lines: 500,
            ..DatasetSpec::default()
        });
        let readings = input.readings();
        let rejected = input
            .batches(7)
            .flat_map(crate::parse_batch)
            .filter(Result::is_err)
            .count();
        assert_eq!(readings.len() + rejected, 500);
        assert!(readings.windows(2).all(|w| w[0].line < w[1].line));
    }

    #[test]
    fn batches_number_lines_from_one_and_cover_all_lines() {
        let input = Input::from_text("t", "a\r\nb\n\nc\n");
        let batches: Vec<LineBatch> = input.batches(2).collect();
        assert_eq!(batches.len(), 2);
        let all: Vec<(u64, String)> = batches
            .into_iter()
            .flatten()
            .map(|l| (l.number, l.text))
            .collect();
        assert_eq!(
            all,
            vec![
                (1, "a".into()),
                (2, "b".into()),
                (3, "".into()),
                (4, "c".into())
            ]
        );
        assert_eq!(input.line_count(), 4);
    }

    #[test]
    fn a_batch_size_of_zero_is_treated_as_one() {
        let input = Input::from_text("t", "a\nb");
        assert_eq!(input.batches(0).count(), 2);
    }

    fn numbers(batches: impl Iterator<Item = LineBatch>) -> Vec<Vec<u64>> {
        batches
            .map(|batch| batch.iter().map(|line| line.number).collect())
            .collect()
    }

    #[test]
    fn batches_from_a_line_number_lines_as_the_whole_input_does() {
        let input = Input::from_text("t", "a\nb\nc\nd\ne\n");
        assert_eq!(numbers(input.batches_from(3, 2)), vec![vec![3, 4], vec![5]]);
        let texts: Vec<String> = input.batches_from(4, 9).flatten().map(|l| l.text).collect();
        assert_eq!(texts, vec!["d", "e"]);
        assert_eq!(input.batches_from(6, 2).count(), 0);
        assert_eq!(input.batches_from(u64::MAX, 2).count(), 0);
    }

    #[test]
    fn batches_from_line_one_or_zero_are_the_whole_input_s_batches() {
        let input = Input::from_text("t", "a\nb\nc\nd\ne\n");
        assert_eq!(numbers(input.batches_from(1, 2)), numbers(input.batches(2)));
        assert_eq!(numbers(input.batches_from(0, 2)), numbers(input.batches(2)));
    }

    /// The chosen behaviour (chapter 9 used to keep the grid of a run from line 1 and hand on
    /// a short first batch): batches are cut from where the run resumes.
    #[test]
    fn a_resumed_run_s_batches_are_cut_from_where_it_resumes() {
        let input = Input::from_text("t", "a\nb\nc\nd\ne\nf\n");
        assert_eq!(
            numbers(input.batches_from(2, 2)),
            vec![vec![2, 3], vec![4, 5], vec![6]]
        );
        assert_eq!(numbers(input.batches_from(2, 0)).len(), 5);
    }

    #[test]
    fn a_leading_byte_order_mark_is_not_data_and_line_numbers_do_not_move() {
        let input = Input::from_text("t", "\u{feff}s-0005,1700000000,1.5\nb\n");
        let lines: Vec<RawLine> = input.batches(10).flatten().collect();
        assert_eq!(lines[0].text, "s-0005,1700000000,1.5");
        assert_eq!((lines[0].number, lines[1].number), (1, 2));
        assert_eq!(input.line_count(), 2);
        // Only one, only at the start: a second mark, or one inside, is the line's problem.
        let twice = Input::from_text("t", "\u{feff}\u{feff}a\nb\u{feff}\n");
        assert_eq!(twice.text(), "\u{feff}a\nb\u{feff}\n");
    }

    #[test]
    fn a_file_that_starts_with_a_byte_order_mark_loses_no_reading() {
        let path = std::env::temp_dir().join(format!("pipeline-bom-{}.csv", std::process::id()));
        std::fs::write(&path, b"\xef\xbb\xbfs-0005,1700000000,1.5\n").unwrap();
        let input = Input::from_file(&path);
        let _ = std::fs::remove_file(&path);
        let report = crate::run_sequential(&input.unwrap(), &crate::Config::default()).unwrap();
        assert_eq!((report.accepted(), report.rejected()), (1, 0), "{report}");
    }

    #[test]
    fn a_missing_file_is_an_error_naming_the_path() {
        let err = Input::from_file(Path::new("/no/such/readings.csv")).unwrap_err();
        let message = crate::error_chain(&err);
        assert!(
            message.starts_with("cannot read input /no/such/readings.csv: No such file"),
            "{message}"
        );
    }
}

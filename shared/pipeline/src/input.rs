//! The source's raw material: named text, split into numbered lines and batches.

use std::path::Path;
use std::sync::Arc;

use crate::dataset::{Dataset, DatasetSpec};
use crate::error::PipelineError;

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
    pub fn from_text(name: impl Into<Arc<str>>, text: impl Into<Arc<str>>) -> Self {
        Input {
            name: name.into(),
            text: text.into(),
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
        let batch_size = batch_size.max(1);
        let mut lines = self.text.lines().zip(1u64..);
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
}

#[cfg(test)]
mod tests {
    use super::*;

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

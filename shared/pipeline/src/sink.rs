//! The last stage's contract: where window aggregates go.
//!
//! Chapter 1 writes JSON lines (one window per line) or nothing but the report; chapter 9 adds
//! PostgreSQL behind the same trait.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::PipelineError;
use crate::window::WindowSummary;

/// Receives every window, in report order, then `finish` once.
pub trait Sink: Send {
    fn write(&mut self, window: &WindowSummary) -> Result<(), PipelineError>;
    fn finish(&mut self) -> Result<(), PipelineError>;
}

/// Which sink a run writes to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SinkTarget {
    /// Keep the windows in the report only (tests and the tour).
    #[default]
    ReportOnly,
    /// Write one JSON object per window to this file, replacing it.
    JsonLines(PathBuf),
}

impl SinkTarget {
    /// Opens the sink. An output that cannot be created fails here, before any work is done.
    pub fn open(&self) -> Result<Box<dyn Sink>, PipelineError> {
        match self {
            SinkTarget::ReportOnly => Ok(Box::new(ReportOnlySink)),
            SinkTarget::JsonLines(path) => Ok(Box::new(JsonLinesSink::create(path)?)),
        }
    }
}

/// A sink that writes nothing: the windows still reach the report.
#[derive(Debug, Default)]
pub struct ReportOnlySink;

impl Sink for ReportOnlySink {
    fn write(&mut self, _window: &WindowSummary) -> Result<(), PipelineError> {
        let _work = crate::trace::work("sink");
        Ok(())
    }

    fn finish(&mut self) -> Result<(), PipelineError> {
        Ok(())
    }
}

/// Writes `{"sensor_id":…,"site":…,"window_start":…,"count":…,"min":…,…}` lines.
#[derive(Debug)]
pub struct JsonLinesSink {
    path: PathBuf,
    out: BufWriter<File>,
}

impl JsonLinesSink {
    pub fn create(path: &Path) -> Result<Self, PipelineError> {
        let file = File::create(path).map_err(|source| PipelineError::WriteOutput {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(JsonLinesSink {
            path: path.to_path_buf(),
            out: BufWriter::new(file),
        })
    }

    fn error(&self, source: std::io::Error) -> PipelineError {
        PipelineError::WriteOutput {
            path: self.path.clone(),
            source,
        }
    }
}

impl Sink for JsonLinesSink {
    fn write(&mut self, window: &WindowSummary) -> Result<(), PipelineError> {
        let _work = crate::trace::work("sink");
        serde_json::to_writer(&mut self.out, window).map_err(|e| self.error(e.into()))?;
        self.out.write_all(b"\n").map_err(|e| self.error(e))
    }

    fn finish(&mut self) -> Result<(), PipelineError> {
        self.out.flush().map_err(|e| self.error(e))?;
        self.out.get_ref().sync_all().map_err(|e| self.error(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_one_json_object_per_window() {
        let dir = std::env::temp_dir().join(format!("pipeline-sink-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("windows.jsonl");
        let mut sink = SinkTarget::JsonLines(path.clone()).open().unwrap();
        let window = WindowSummary {
            sensor_id: "s-0001".into(),
            site: "ridge".into(),
            window_start: 120,
            count: 2,
            min: 1.0,
            max: 2.5,
            mean: 1.75,
            p95: 2.5,
        };
        sink.write(&window).unwrap();
        sink.finish().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            r#"{"sensor_id":"s-0001","site":"ridge","window_start":120,"count":2,"min":1.0,"max":2.5,"mean":1.75,"p95":2.5}"#
                .to_owned()
                + "\n"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_unwritable_output_is_an_error_naming_the_path() {
        let err = SinkTarget::JsonLines("/no/such/dir/out.jsonl".into())
            .open()
            .err()
            .expect("creating a file in a missing directory fails");
        assert!(err.to_string().contains("/no/such/dir/out.jsonl"), "{err}");
    }
}

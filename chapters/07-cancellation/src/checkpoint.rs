//! Checkpoints, once for all four variants: what a stopped run writes down, how it is written
//! (atomically), read back, and resumed from.
//!
//! A checkpoint is *where the source stopped handing lines on* plus *everything the aggregator
//! holds*. It is only correct if the two agree — every line before `next_line` is in the
//! aggregator, and none after it — and that is what a graceful shutdown guarantees: the source
//! stops, everything already handed on drains through enrich and aggregate, and only then is
//! the checkpoint taken. Windows are not written to the sink by a stopped run: the checkpoint
//! carries every window's state (complete or not), and the run that finishes writes them all,
//! once.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use instruments::timeline;
use pipeline::{Aggregator, Config, Input, PipelineError, Report, Sink, finish};

use crate::Controls;

/// The checkpoint file's format; a resumed run refuses any other.
pub const FORMAT: &str = "ch07-checkpoint/1";

// ANCHOR: checkpoint
/// What a stopped run leaves behind, and a resumed run starts from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Checkpoint {
    pub format: String,
    /// The input's name: a checkpoint is refused for any other input.
    pub input: String,
    /// Lines `1..=next_line` are in `aggregator`; the resumed run reads from `next_line + 1`.
    pub next_line: u64,
    /// Every window and the tally so far (serde round-trips it exactly).
    pub aggregator: Aggregator,
}
// ANCHOR_END: checkpoint

impl Checkpoint {
    /// The start of a run that is not resumed: nothing read, nothing aggregated.
    pub fn start(input: &Input) -> Self {
        Checkpoint::new(input, 0, Aggregator::new())
    }

    pub fn new(input: &Input, next_line: u64, aggregator: Aggregator) -> Self {
        Checkpoint {
            format: FORMAT.to_owned(),
            input: input.name().to_owned(),
            next_line,
            aggregator,
        }
    }

    // ANCHOR: write
    /// Writes the checkpoint atomically: to a temporary file, flushed to disk, then renamed
    /// over `path`. A crash leaves the old checkpoint or the new one, never half of one.
    pub fn write(&self, path: &Path) -> Result<(), PipelineError> {
        let failed = |source: std::io::Error| PipelineError::WriteOutput {
            path: path.to_path_buf(),
            source,
        };
        let mut temporary = path.as_os_str().to_owned();
        temporary.push(".tmp");
        let temporary = PathBuf::from(temporary);
        let file = File::create(&temporary).map_err(failed)?;
        let mut out = BufWriter::new(file);
        serde_json::to_writer(&mut out, self).map_err(|e| failed(e.into()))?;
        out.flush().map_err(failed)?;
        out.get_ref().sync_all().map_err(failed)?;
        fs::rename(&temporary, path).map_err(failed)
    }
    // ANCHOR_END: write

    /// Reads a checkpoint written for `input`.
    pub fn read(path: &Path, input: &Input) -> Result<Self, PipelineError> {
        let failed = |source: std::io::Error| PipelineError::ReadInput {
            path: path.to_path_buf(),
            source,
        };
        let text = fs::read_to_string(path).map_err(failed)?;
        let checkpoint: Checkpoint = serde_json::from_str(&text).map_err(|e| failed(e.into()))?;
        let invalid = |why: String| {
            Err(PipelineError::Config(format!(
                "checkpoint {}: {why}",
                path.display()
            )))
        };
        if checkpoint.format != FORMAT {
            return invalid(format!(
                "format {:?}, expected {FORMAT:?}",
                checkpoint.format
            ));
        }
        if checkpoint.input != input.name() {
            return invalid(format!(
                "written for input {}, not {}",
                checkpoint.input,
                input.name()
            ));
        }
        if checkpoint.next_line > input.line_count() {
            return invalid(format!(
                "next line {} is past the end of the input ({} lines)",
                checkpoint.next_line,
                input.line_count()
            ));
        }
        Ok(checkpoint)
    }
}

/// How the source stage ended: with how many lines it handed on in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceEnd {
    /// It handed on every line.
    Finished { handed_on: u64 },
    /// It saw the stop signal and handed on no more.
    Stopped { handed_on: u64 },
}

/// What each stage returned when it was joined, in pipeline order.
#[derive(Debug)]
pub struct Stages {
    pub source: Result<SourceEnd, PipelineError>,
    pub enrich: Result<(), PipelineError>,
    pub aggregate: Result<Aggregator, PipelineError>,
}

/// How one pipeline run ended.
#[derive(Debug)]
pub enum End {
    Finished(Report),
    /// Stopped; this checkpoint holds everything it did.
    Stopped(Checkpoint),
}

impl End {
    /// The report of a run that cannot have been stopped.
    pub fn finished(self) -> Result<Report, PipelineError> {
        match self {
            End::Finished(report) => Ok(report),
            End::Stopped(_) => Err(PipelineError::StageCancelled { stage: "source" }),
        }
    }
}

// ANCHOR: conclude
/// The end of a run, once every stage is joined (so everything handed on has been aggregated):
/// the report if the source ran out of lines; otherwise a checkpoint at the last line it
/// handed on, with the aggregator that holds exactly the lines before it.
pub fn conclude(
    input: &Input,
    next_line: u64,
    stages: Stages,
    sink: Box<dyn Sink>,
) -> Result<End, PipelineError> {
    let (source, aggregator) = stages.into_result()?;
    match source {
        SourceEnd::Finished { handed_on } => {
            finish(next_line + handed_on, aggregator, sink).map(End::Finished)
        }
        SourceEnd::Stopped { handed_on } => Ok(End::Stopped(Checkpoint::new(
            input,
            next_line + handed_on,
            aggregator,
        ))),
    }
}
// ANCHOR_END: conclude

impl Stages {
    /// The source's end and the aggregator, or the error that explains the failure
    /// ([`pipeline::cause_of`] the stages' errors).
    pub fn into_result(self) -> Result<(SourceEnd, Aggregator), PipelineError> {
        timeline::point("pipeline", "stages joined"); // the diagrams' hook: a no-op unless recording
        match (self.source, self.enrich, self.aggregate) {
            (Ok(source), Ok(()), Ok(aggregator)) => Ok((source, aggregator)),
            (source, enrich, aggregate) => Err(pipeline::cause_of([
                source.err(),
                enrich.err(),
                aggregate.err(),
            ])),
        }
    }
}

/// How a run that may be stopped ended, as the workshop and the tests see it.
#[derive(Debug)]
pub enum RunEnd {
    Finished(Report),
    /// Stopped; resume with `resume_from(.., checkpoint)`.
    Stopped {
        checkpoint: PathBuf,
        next_line: u64,
    },
}

/// One variant's pipeline, from a checkpoint (or the start), until it finishes or is stopped.
pub type Pipeline = fn(&Input, &Config, &Controls, Checkpoint) -> Result<End, PipelineError>;

/// Runs `pipeline` from the start; a stopped run writes its checkpoint to `path`.
pub fn run_until_stopped(
    pipeline: Pipeline,
    input: &Input,
    cfg: &Config,
    controls: &Controls,
    path: &Path,
) -> Result<RunEnd, PipelineError> {
    let end = pipeline(input, cfg, controls, Checkpoint::start(input))?;
    written(end, path)
}

/// Runs `pipeline` from the checkpoint at `path`. It may be stopped again (a new checkpoint
/// replaces the old one); once it finishes, the checkpoint is spent and removed, so that it
/// cannot be resumed twice.
pub fn resume_from(
    pipeline: Pipeline,
    input: &Input,
    cfg: &Config,
    controls: &Controls,
    path: &Path,
) -> Result<RunEnd, PipelineError> {
    let start = Checkpoint::read(path, input)?;
    let end = written(pipeline(input, cfg, controls, start)?, path)?;
    if let RunEnd::Finished(_) = end {
        fs::remove_file(path).map_err(|source| PipelineError::WriteOutput {
            path: path.to_path_buf(),
            source,
        })?;
    }
    Ok(end)
}

fn written(end: End, path: &Path) -> Result<RunEnd, PipelineError> {
    match end {
        End::Finished(report) => Ok(RunEnd::Finished(report)),
        End::Stopped(checkpoint) => {
            checkpoint.write(path)?;
            timeline::point("checkpoint", "written"); // the diagrams' hook
            Ok(RunEnd::Stopped {
                checkpoint: path.to_path_buf(),
                next_line: checkpoint.next_line,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipeline::{enrich_batch, parse_batch, run_sequential};

    #[test]
    fn a_checkpoint_round_trips_and_resumes_to_the_same_report() {
        let input = Input::dataset(pipeline::Dataset::Default);
        let cfg = Config::default();
        let expected = run_sequential(&input, &cfg).unwrap();
        let mut aggregator = Aggregator::new();
        for batch in input.batches(512).take(7) {
            aggregator.add_batch(enrich_batch(&*cfg.registry, parse_batch(batch)));
        }
        let dir = std::env::temp_dir().join(format!("ch07-unit-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("checkpoint.json");
        Checkpoint::new(&input, 7 * 512, aggregator)
            .write(&path)
            .unwrap();
        let back = Checkpoint::read(&path, &input).unwrap();
        let mut aggregator = back.aggregator;
        for batch in input.batches_from(back.next_line + 1, 100) {
            aggregator.add_batch(enrich_batch(&*cfg.registry, parse_batch(batch)));
        }
        let report = finish(input.line_count(), aggregator, cfg.sink.open().unwrap()).unwrap();
        assert_eq!(report.text(), expected.text());

        let other = Input::from_text("other", "x\n");
        let refused = Checkpoint::read(&path, &other).unwrap_err();
        assert!(refused.to_string().contains("not other"), "{refused}");
        fs::remove_dir_all(&dir).unwrap();
    }
}

//! How the stages' results become one [`Report`] or one error, and the stages run without
//! concurrency: split up front ([`Work`]) or one after the other ([`run_sequential`]).

use crate::config::Config;
use crate::enrich::enrich_batch;
use crate::error::PipelineError;
use crate::input::Input;
use crate::reading::{Parsed, parse_batch};
use crate::report::Report;
use crate::window::{Aggregator, Tally, WindowSummary};

/// What each stage returned when it was joined, in pipeline order.
#[derive(Debug)]
pub struct StageResults {
    /// Lines read.
    pub source: Result<u64, PipelineError>,
    pub parse: Result<(), PipelineError>,
    pub enrich: Result<(), PipelineError>,
    /// Counts, digest and rejections.
    pub aggregate: Result<Tally, PipelineError>,
    /// The windows the sink wrote.
    pub sink: Result<Vec<WindowSummary>, PipelineError>,
}

// ANCHOR: into_report
impl StageResults {
    /// The report, or the error that explains the failure ([`cause_of`] the stages' errors).
    pub fn into_report(self) -> Result<Report, PipelineError> {
        match (
            self.source,
            self.parse,
            self.enrich,
            self.aggregate,
            self.sink,
        ) {
            (Ok(lines_read), Ok(()), Ok(()), Ok(tally), Ok(windows)) => {
                Ok(Report::new(lines_read, tally, windows))
            }
            (source, parse, enrich, aggregate, sink) => Err(cause_of([
                source.err(),
                parse.err(),
                enrich.err(),
                aggregate.err(),
                sink.err(),
            ])),
        }
    }
}

/// The error that explains a failed run, from the stages' errors in pipeline order.
///
/// When one stage fails, the stage upstream of it usually fails too, with
/// [`PipelineError::ChannelClosed`]: that is a symptom. The cause — the first error that is
/// not `ChannelClosed`, in pipeline order — is the one returned; only when every error is a
/// symptom is the first symptom returned.
///
/// # Panics
/// If there is no error at all: call it only once a stage has failed.
pub fn cause_of(errors: impl IntoIterator<Item = Option<PipelineError>>) -> PipelineError {
    let (symptoms, causes): (Vec<_>, Vec<_>) = errors
        .into_iter()
        .flatten()
        .partition(|e| matches!(e, PipelineError::ChannelClosed { .. }));
    causes
        .into_iter()
        .chain(symptoms)
        .next()
        .expect("at least one stage failed")
}
// ANCHOR_END: into_report

/// A joined stage's result: its own `Result`, or the panic that ended it (std's
/// `thread::Result`, which is also what `catch_unwind` gives for an async task).
pub fn joined<T>(
    stage: &'static str,
    result: std::thread::Result<Result<T, PipelineError>>,
) -> Result<T, PipelineError> {
    result.unwrap_or_else(|payload| {
        Err(PipelineError::StagePanicked {
            stage,
            message: crate::error::panic_message(&*payload),
        })
    })
}

/// The input, read and parsed up front — the source and parse stages without a thread or task of
/// their own, for chapters whose subject is the enrich stage — dealt out in batches,
/// round-robin, to `parts` workers. `cfg.progress` moves as lines are read, so a watchdog does
/// not mistake a slow parse for a stall.
pub struct Work {
    pub lines_read: u64,
    pub parts: Vec<Vec<Parsed>>,
}

impl Work {
    pub fn split(input: &Input, cfg: &Config, parts: usize) -> Work {
        let mut split = Work {
            lines_read: 0,
            parts: (0..parts.max(1)).map(|_| Vec::new()).collect(),
        };
        let count = split.parts.len();
        for (i, batch) in input.batches(cfg.batch_size).enumerate() {
            split.lines_read += batch.len() as u64;
            cfg.progress.add(batch.len());
            split.parts[i % count].extend(parse_batch(batch));
        }
        split
    }
}

/// The whole pipeline in one thread, one stage after the other, with no channels: the
/// reference the property tests use. Not a variant: it shows what the stages compute, not how
/// they run concurrently.
pub fn run_sequential(input: &Input, cfg: &Config) -> Result<Report, PipelineError> {
    cfg.validate()?;
    // Open the sink first, so an unwritable output fails before any work is done.
    let sink = cfg.sink.open()?;
    let mut lines_read = 0;
    let mut aggregator = Aggregator::new();
    for batch in input.batches(cfg.batch_size) {
        lines_read += batch.len() as u64;
        cfg.progress.add(batch.len());
        aggregator.add_batch(enrich_batch(&*cfg.registry, parse_batch(batch)));
    }
    finish(lines_read, aggregator, sink)
}

/// The end of a pipeline whose aggregation is already done: writes the windows to the sink
/// and builds the report.
pub fn finish(
    lines_read: u64,
    aggregator: Aggregator,
    mut sink: Box<dyn crate::sink::Sink>,
) -> Result<Report, PipelineError> {
    let (windows, tally) = aggregator.finish();
    for window in &windows {
        sink.write(window)?;
    }
    sink.finish()?;
    Ok(Report::new(lines_read, tally, windows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cause_wins_over_its_symptoms() {
        let results = StageResults {
            source: Err(PipelineError::closed("source")),
            parse: Err(PipelineError::closed("parse")),
            enrich: Ok(()),
            aggregate: Ok(Tally::default()),
            sink: Err(PipelineError::StagePanicked {
                stage: "sink",
                message: "disk on fire".into(),
            }),
        };
        let err = results.into_report().unwrap_err();
        assert_eq!(err.to_string(), "stage `sink` panicked: disk on fire");
    }

    #[test]
    fn the_first_cause_in_pipeline_order_wins_and_symptoms_only_when_alone() {
        let timed_out = PipelineError::TimedOut {
            stage: "enrich",
            after: std::time::Duration::from_secs(1),
        };
        let err = cause_of([
            Some(PipelineError::closed("source")),
            None,
            Some(timed_out),
            Some(PipelineError::StageCancelled { stage: "sink" }),
        ]);
        assert_eq!(err.to_string(), "stage `enrich` timed out after 1s");
        let err = cause_of([
            None,
            Some(PipelineError::closed("parse")),
            Some(PipelineError::closed("enrich")),
        ]);
        assert_eq!(
            err.to_string(),
            "stage `parse` stopped early: the next stage is gone"
        );
    }

    #[test]
    #[should_panic(expected = "at least one stage failed")]
    fn no_error_has_no_cause() {
        cause_of([None, None]);
    }

    #[test]
    fn all_ok_is_a_report() {
        let results = StageResults {
            source: Ok(0),
            parse: Ok(()),
            enrich: Ok(()),
            aggregate: Ok(Tally::default()),
            sink: Ok(vec![]),
        };
        assert!(results.into_report().unwrap().is_balanced());
    }
}

//! The run's state, pure: what it has read and aggregated, what one batch's transaction must
//! write, and how a restart rebuilds it from the tables.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::Hasher;

use fnv::FnvHasher;
use pgstore::{RejectionRow, WindowRow};
use pipeline::window::WINDOW_SECS;
use pipeline::{Aggregator, Enriched, Input, PipelineError, Report, Sink};

use super::target::BatchPoint;

/// FNV-1a of the input's text: a checkpoint only applies to the input it was written for.
pub fn input_digest(input: &Input) -> i64 {
    let mut h = FnvHasher::default();
    h.write(input.text().as_bytes());
    h.finish() as i64
}

/// What one batch's transaction writes.
#[derive(Debug, Clone)]
pub struct Batch {
    pub number: usize,
    pub first_line: u64,
    pub last_line: u64,
    pub windows: Vec<WindowRow>,
    pub rejections: Vec<RejectionRow>,
    pub source: String,
    pub input_digest: i64,
    /// Where this run found the checkpoint, and where the batch moves it.
    pub from_line: i64,
    pub next_line: i64,
}

impl Batch {
    pub fn lines(&self) -> String {
        format!("lines {}..={}", self.first_line, self.last_line)
    }

    pub fn point(&self, backend_pid: i32) -> BatchPoint {
        BatchPoint {
            batch: self.number,
            first_line: self.first_line,
            last_line: self.last_line,
            backend_pid,
        }
    }
}

// ANCHOR: state
/// The run's state: one aggregator per window (so a batch can write just the windows it
/// touched), the rejections, and the next line to read.
pub struct State {
    source: String,
    input_digest: i64,
    next_line: u64,
    batches: usize,
    windows: BTreeMap<(String, i64), Aggregator>,
    rejections: Aggregator,
}

impl State {
    /// A run from the first line.
    pub fn new(input: &Input) -> Self {
        State {
            source: input.name().to_owned(),
            input_digest: input_digest(input),
            next_line: 1,
            batches: 0,
            windows: BTreeMap::new(),
            rejections: Aggregator::new(),
        }
    }

    /// The line to read next (1 for a new run).
    pub fn next_line(&self) -> u64 {
        self.next_line
    }

    /// Lines read and committed before this run started.
    pub fn lines_done(&self) -> usize {
        (self.next_line - 1) as usize
    }

    /// Folds one batch of records (lines `first..=last`) into the state and returns what its
    /// transaction must write: the whole state of every window the batch touched.
    pub fn apply(&mut self, first_line: u64, last_line: u64, records: Vec<Enriched>) -> Batch {
        let mut touched = BTreeSet::new();
        let mut rejections = Vec::new();
        for record in records {
            match record {
                Ok(r) => {
                    let key = (
                        r.sensor_id.clone(),
                        r.timestamp.div_euclid(WINDOW_SECS) * WINDOW_SECS,
                    );
                    self.windows.entry(key.clone()).or_default().add(Ok(r));
                    touched.insert(key);
                }
                Err(rejection) => {
                    rejections.push(RejectionRow::of(&rejection));
                    self.rejections.add(Err(rejection));
                }
            }
        }
        let windows = touched
            .into_iter()
            .map(|key| WindowRow::of(self.windows[&key].clone()))
            .collect();
        let from_line = self.next_line as i64;
        self.next_line = last_line + 1;
        self.batches += 1;
        Batch {
            number: self.batches,
            first_line,
            last_line,
            windows,
            rejections,
            source: self.source.clone(),
            input_digest: self.input_digest,
            from_line,
            next_line: self.next_line as i64,
        }
    }

    /// The report, after writing every window to `sink` (for PostgreSQL, the windows are
    /// already in the table: pass a `ReportOnlySink`).
    pub fn finish(self, sink: Box<dyn Sink>) -> Result<Report, PipelineError> {
        let mut all = self.rejections;
        for (_, window) in self.windows {
            all.merge(window);
        }
        pipeline::finish(self.next_line - 1, all, sink)
    }
}
// ANCHOR_END: state

impl State {
    /// The state as the tables hold it: the checkpoint row (source, digest, next line), every
    /// window's `(sensor_id, window_start, state)` and every rejection's JSON.
    pub fn restore(
        input: &Input,
        checkpoint: Option<(String, i64, i64)>,
        windows: Vec<(String, i64, String)>,
        rejections: Vec<String>,
    ) -> Result<State, String> {
        let mut state = State::new(input);
        let Some((source, digest, next_line)) = checkpoint else {
            if windows.is_empty() && rejections.is_empty() {
                return Ok(state);
            }
            return Err(
                "the tables in schema `pipeline` hold rows but no checkpoint: they were not \
                 written by this pipeline; use an empty database"
                    .into(),
            );
        };
        if digest != state.input_digest {
            return Err(format!(
                "the checkpoint is for another input ({source}, digest {:#018x}), not {} \
                 (digest {:#018x}); use another database, or DROP SCHEMA pipeline CASCADE to \
                 start over",
                digest as u64, state.source, state.input_digest as u64
            ));
        }
        state.next_line = u64::try_from(next_line)
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| format!("the checkpoint's next line ({next_line}) is not a line"))?;
        for (sensor_id, window_start, json) in windows {
            let window = WindowRow::read_state(&json).map_err(|e| {
                format!("the state of window {sensor_id} at {window_start} does not read back: {e}")
            })?;
            state.windows.insert((sensor_id, window_start), window);
        }
        for json in rejections {
            let rejection = RejectionRow::read(&json)
                .map_err(|e| format!("a rejected line does not read back: {e}: {json}"))?;
            state.rejections.add(Err(rejection));
        }
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    use pipeline::{DatasetSpec, FleetRegistry, ReportOnlySink, enrich_batch, parse_batch};

    fn input() -> Input {
        Input::generated(&DatasetSpec {
            lines: 1_000,
            ..DatasetSpec::default()
        })
    }

    /// The whole run in memory, stopping after `stop_after` batches, then restored from what
    /// the batches wrote (the last write of each window wins, as in the table).
    fn run_in_memory(input: &Input, stop_after: usize) -> Report {
        let fleet = FleetRegistry::default();
        let mut state = State::new(input);
        let mut windows = BTreeMap::new();
        let mut rejections = BTreeMap::new();
        let mut checkpoint = None;
        for batch in input.batches(100).take(stop_after) {
            let (first, last) = (batch[0].number, batch[batch.len() - 1].number);
            let written = state.apply(first, last, enrich_batch(&fleet, parse_batch(batch)));
            for w in written.windows {
                windows.insert((w.sensor_id.clone(), w.window_start), w.state);
            }
            for r in written.rejections {
                rejections.insert(r.line, r.rejection);
            }
            checkpoint = Some((written.source, written.input_digest, written.next_line));
        }
        let windows = windows.into_iter().map(|((s, w), j)| (s, w, j)).collect();
        let mut state = State::restore(
            input,
            checkpoint,
            windows,
            rejections.into_values().collect(),
        )
        .unwrap();
        for batch in input.batches_from(state.next_line(), 100) {
            let (first, last) = (batch[0].number, batch[batch.len() - 1].number);
            state.apply(first, last, enrich_batch(&fleet, parse_batch(batch)));
        }
        state.finish(Box::new(ReportOnlySink)).unwrap()
    }

    #[test]
    fn restoring_what_the_batches_wrote_gives_the_reference_report() {
        let input = input();
        let reference = pipeline::run_sequential(&input, &pipeline::Config::default()).unwrap();
        for stop_after in [0, 1, 4, 10] {
            assert_eq!(
                run_in_memory(&input, stop_after).text(),
                reference.text(),
                "stopped after {stop_after} batches"
            );
        }
    }

    #[test]
    fn a_checkpoint_for_other_input_is_refused() {
        let other = Input::from_text("other", "s-0001,60,1.0\n");
        let err = State::restore(
            &input(),
            Some(("other".into(), input_digest(&other), 2)),
            vec![],
            vec![],
        )
        .err()
        .unwrap();
        assert!(err.contains("another input (other"), "{err}");
        let err = State::restore(&input(), None, vec![("s".into(), 0, "{}".into())], vec![])
            .err()
            .unwrap();
        assert!(err.contains("no checkpoint"), "{err}");
    }
}

//! A batch's work, pure and sync, the same in every variant: its lines processed into one
//! partial row per (sensor, window) and one row per rejection; and the whole queue's result,
//! merged from every partial.
//!
//! A window's records can come from several batches (readings arrive up to three minutes
//! late), so no worker ever holds a whole window: each batch writes its own partials, and the
//! merge of [`Aggregator`]s is exact and independent of order.

use std::collections::BTreeMap;

use pgstore::{RejectionRow, WindowRow};
use pipeline::window::WINDOW_SECS;
use pipeline::{
    Aggregator, Input, RawLine, Registry, Report, ReportOnlySink, enrich_batch, parse_batch,
};

use crate::claim::Claimed;

/// What one batch's transaction writes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Results {
    pub windows: Vec<WindowRow>,
    pub rejections: Vec<RejectionRow>,
}

// ANCHOR: process
/// The pipeline's stages on one batch, in the worker: parse, enrich, and aggregate into one
/// partial per (sensor, window). Pure and sync; the same in every variant.
pub fn process(batch: &Claimed, registry: &dyn Registry) -> Results {
    let lines = (batch.first_line as u64..)
        .zip(&batch.lines)
        .map(|(number, text)| RawLine {
            number,
            text: text.clone(),
        })
        .collect();
    let mut windows: BTreeMap<(String, i64), Aggregator> = BTreeMap::new();
    let mut rejections = Vec::new();
    for record in enrich_batch(registry, parse_batch(lines)) {
        match record {
            Ok(r) => {
                let start = r.timestamp.div_euclid(WINDOW_SECS) * WINDOW_SECS;
                let key = (r.sensor_id.clone(), start);
                windows.entry(key).or_default().add(Ok(r));
            }
            Err(rejection) => rejections.push(RejectionRow::of(&rejection)),
        }
    }
    Results {
        windows: windows.into_values().map(WindowRow::of).collect(),
        rejections,
    }
}
// ANCHOR_END: process

// ANCHOR: merge
/// The result of the whole queue: every partial window and every rejection merged into one
/// `Aggregator`, then the same `finish` as every pipeline. Which worker wrote which partial,
/// and in what order, cannot change it.
pub fn merge(
    lines_read: u64,
    partial_windows: &[String],
    rejections: &[String],
) -> Result<Report, String> {
    let mut all = Aggregator::new();
    for state in partial_windows {
        let partial = WindowRow::read_state(state)
            .map_err(|e| format!("a partial window does not read back: {e}"))?;
        all.merge(partial);
    }
    for json in rejections {
        let rejection =
            RejectionRow::read(json).map_err(|e| format!("a rejection does not read back: {e}"))?;
        all.add(Err(rejection));
    }
    pipeline::finish(lines_read, all, Box::new(ReportOnlySink)).map_err(|e| e.to_string())
}
// ANCHOR_END: merge

/// The input, cut into the batches the queue holds: `(id, first_line, lines)`, ids from 1.
pub fn batches(input: &Input, batch_size: usize) -> Vec<(i64, i64, Vec<String>)> {
    input
        .batches(batch_size)
        .zip(1i64..)
        .map(|(batch, id)| {
            let first = batch[0].number as i64;
            (id, first, batch.into_iter().map(|l| l.text).collect())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipeline::{Config, DatasetSpec, FleetRegistry};

    /// Batches processed one by one, their partial rows merged in any order: the reference.
    #[test]
    fn the_merge_of_every_batch_s_partials_is_the_reference_report() {
        let input = Input::generated(&DatasetSpec {
            lines: 3_000,
            ..DatasetSpec::default()
        });
        let reference = pipeline::run_sequential(&input, &Config::default()).unwrap();
        let fleet = FleetRegistry::default();
        for batch_size in [7, 100, 5_000] {
            let mut windows = Vec::new();
            let mut rejections = Vec::new();
            // Backwards, as if the last batch were done first.
            for (id, first_line, lines) in batches(&input, batch_size).into_iter().rev() {
                let results = process(
                    &Claimed {
                        id,
                        first_line,
                        lines,
                    },
                    &fleet,
                );
                windows.extend(results.windows.into_iter().map(|w| w.state));
                rejections.extend(results.rejections.into_iter().map(|r| r.rejection));
            }
            let report = merge(input.line_count(), &windows, &rejections).unwrap();
            assert_eq!(report.text(), reference.text(), "batches of {batch_size}");
        }
    }

    #[test]
    fn a_window_spread_over_batches_has_one_partial_row_per_batch() {
        // s-0001's minute 0 has records in both batches of two lines.
        let input = Input::from_text("t", "s-0001,1,1.0\ns-0001,2,2.0\ns-0001,3,3.0\nbad\n");
        let fleet = FleetRegistry::default();
        let parts: Vec<Results> = batches(&input, 2)
            .into_iter()
            .map(|(id, first_line, lines)| {
                process(
                    &Claimed {
                        id,
                        first_line,
                        lines,
                    },
                    &fleet,
                )
            })
            .collect();
        let counts: Vec<Vec<i64>> = parts
            .iter()
            .map(|p| p.windows.iter().map(|w| w.count).collect())
            .collect();
        assert_eq!(counts, vec![vec![2], vec![1]]);
        assert_eq!(parts[1].rejections[0].line, 4);
        assert_eq!(parts[1].rejections[0].reason, "wrong field count");
    }
}

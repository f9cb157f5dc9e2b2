//! The aggregate stage: per sensor, per one-minute window, count / min / max / mean / p95.
//!
//! [`Aggregator`] is built to be *order-free*: it gives the same result whatever order records
//! arrive in and however the input is split between aggregators that are later merged. That is
//! what allows four concurrency models (and, later, parallel aggregation) to agree to the byte.
//! Floating-point sums depend on order, so values are kept and summed in sorted order at the
//! end; the record digest is a wrapping sum, which does not depend on order either.

use std::collections::BTreeMap;
use std::sync::Arc;

use fnv::FnvHasher;
use serde::{Deserialize, Serialize};
use std::hash::Hasher;

use crate::enrich::Enriched;
use crate::reading::Rejection;

/// Length of an aggregation window, in seconds.
pub const WINDOW_SECS: i64 = 60;

/// The aggregates of one sensor over one minute.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WindowSummary {
    pub sensor_id: String,
    pub site: String,
    /// Start of the window, seconds since the Unix epoch (a multiple of 60).
    pub window_start: i64,
    pub count: u64,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    /// 95th percentile, nearest-rank method: the smallest value with at least 95% of the
    /// window's values at or below it.
    pub p95: f64,
}

/// Everything besides the windows that the report needs: how many records were accepted, a
/// digest of them, and every rejection.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    pub accepted: u64,
    /// Order-independent digest of every accepted record (line, sensor, time, exact value).
    pub accepted_digest: u64,
    /// Every rejected line, sorted by line number once the aggregator finishes.
    pub rejections: Vec<Rejection>,
}

#[derive(Debug, Clone, PartialEq)]
struct Window {
    site: Arc<str>,
    values: Vec<f64>,
}

/// Accumulates enriched records (and rejections) into windows.
///
/// It serializes (serde) to its whole state — every window's raw values and the tally — so a
/// checkpoint can carry it and a resumed run can [`merge`](Aggregator::merge) on top of it
/// (chapter 7). With serde_json's `float_roundtrip`, a value read back is the value written.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(into = "AggregatorState", from = "AggregatorState")]
pub struct Aggregator {
    windows: BTreeMap<(String, i64), Window>,
    tally: Tally,
}

/// [`Aggregator`] as it is written down: a list instead of a map with tuple keys (JSON object
/// keys must be strings).
#[derive(Serialize, Deserialize)]
struct AggregatorState {
    windows: Vec<WindowState>,
    tally: Tally,
}

#[derive(Serialize, Deserialize)]
struct WindowState {
    sensor_id: String,
    window_start: i64,
    site: String,
    values: Vec<f64>,
}

impl From<Aggregator> for AggregatorState {
    fn from(aggregator: Aggregator) -> Self {
        AggregatorState {
            windows: aggregator
                .windows
                .into_iter()
                .map(|((sensor_id, window_start), window)| WindowState {
                    sensor_id,
                    window_start,
                    site: window.site.to_string(),
                    values: window.values,
                })
                .collect(),
            tally: aggregator.tally,
        }
    }
}

impl From<AggregatorState> for Aggregator {
    fn from(state: AggregatorState) -> Self {
        Aggregator {
            windows: state
                .windows
                .into_iter()
                .map(|w| {
                    let window = Window {
                        site: w.site.into(),
                        values: w.values,
                    };
                    ((w.sensor_id, w.window_start), window)
                })
                .collect(),
            tally: state.tally,
        }
    }
}

impl Aggregator {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one record or rejection.
    pub fn add(&mut self, record: Enriched) {
        match record {
            Ok(r) => {
                self.tally.accepted += 1;
                self.tally.accepted_digest = self.tally.accepted_digest.wrapping_add(record_hash(
                    r.line,
                    &r.sensor_id,
                    r.timestamp,
                    r.value,
                ));
                let window_start = r.timestamp.div_euclid(WINDOW_SECS) * WINDOW_SECS;
                self.windows
                    .entry((r.sensor_id, window_start))
                    .or_insert_with(|| Window {
                        site: r.site,
                        values: Vec::new(),
                    })
                    .values
                    .push(r.value);
            }
            Err(rejection) => self.tally.rejections.push(rejection),
        }
    }

    /// The aggregate stage's work on one batch.
    pub fn add_batch(&mut self, batch: Vec<Enriched>) {
        let _work = crate::trace::work("aggregate");
        batch.into_iter().for_each(|record| self.add(record));
    }

    /// Folds another aggregator's records into this one (for parallel aggregation).
    pub fn merge(&mut self, other: Aggregator) {
        for (key, window) in other.windows {
            self.windows
                .entry(key)
                .and_modify(|w| w.values.extend_from_slice(&window.values))
                .or_insert(window);
        }
        self.tally.accepted += other.tally.accepted;
        self.tally.accepted_digest = self
            .tally
            .accepted_digest
            .wrapping_add(other.tally.accepted_digest);
        self.tally.rejections.extend(other.tally.rejections);
    }

    /// The windows, sorted by sensor then time, and the tally with rejections sorted by line.
    pub fn finish(self) -> (Vec<WindowSummary>, Tally) {
        let _work = crate::trace::work("aggregate");
        let windows = self
            .windows
            .into_iter()
            .map(|((sensor_id, window_start), window)| {
                summarize(sensor_id, &window.site, window_start, window.values)
            })
            .collect();
        let mut tally = self.tally;
        tally.rejections.sort_by_key(|r| r.line);
        (windows, tally)
    }
}

fn summarize(
    sensor_id: String,
    site: &str,
    window_start: i64,
    mut values: Vec<f64>,
) -> WindowSummary {
    values.sort_by(f64::total_cmp);
    let count = values.len();
    let sum: f64 = values.iter().sum();
    // nearest rank: ceil(0.95 * n), 1-based; integer arithmetic avoids 0.95's rounding error
    let rank = (95 * count).div_ceil(100).max(1);
    WindowSummary {
        sensor_id,
        site: site.to_owned(),
        window_start,
        count: count as u64,
        min: values[0],
        max: values[count - 1],
        mean: sum / count as f64,
        p95: values[rank - 1],
    }
}

/// A stable 64-bit hash of one accepted record (FNV-1a, little-endian fields).
fn record_hash(line: u64, sensor_id: &str, timestamp: i64, value: f64) -> u64 {
    let mut h = FnvHasher::default();
    h.write(&line.to_le_bytes());
    h.write(sensor_id.as_bytes());
    h.write(&[0xff]);
    h.write(&timestamp.to_le_bytes());
    h.write(&value.to_bits().to_le_bytes());
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enrich::EnrichedReading;

    fn rec(line: u64, sensor: &str, ts: i64, value: f64) -> Enriched {
        Ok(EnrichedReading {
            line,
            sensor_id: sensor.into(),
            site: Arc::from("ridge"),
            timestamp: ts,
            value,
        })
    }

    #[test]
    fn one_window_per_sensor_per_minute() {
        let mut agg = Aggregator::new();
        agg.add(rec(1, "s-0001", 59, 1.0));
        agg.add(rec(2, "s-0001", 60, 2.0));
        agg.add(rec(3, "s-0002", 0, 3.0));
        agg.add(rec(4, "s-0001", 0, 5.0));
        let (windows, tally) = agg.finish();
        let keys: Vec<(&str, i64, u64)> = windows
            .iter()
            .map(|w| (w.sensor_id.as_str(), w.window_start, w.count))
            .collect();
        assert_eq!(
            keys,
            vec![("s-0001", 0, 2), ("s-0001", 60, 1), ("s-0002", 0, 1)]
        );
        assert_eq!(tally.accepted, 4);
        assert_eq!(windows[0].min, 1.0);
        assert_eq!(windows[0].max, 5.0);
        assert_eq!(windows[0].mean, 3.0);
    }

    #[test]
    fn p95_is_nearest_rank() {
        let mut agg = Aggregator::new();
        for (i, v) in (1..=100).rev().enumerate() {
            agg.add(rec(i as u64 + 1, "s-0001", 0, f64::from(v)));
        }
        let (windows, _) = agg.finish();
        assert_eq!(windows[0].p95, 95.0);

        let mut single = Aggregator::new();
        single.add(rec(1, "s-0001", 0, 7.0));
        assert_eq!(single.finish().0[0].p95, 7.0);

        let mut twenty = Aggregator::new();
        for v in 1..=20 {
            twenty.add(rec(v, "s-0001", 0, v as f64));
        }
        assert_eq!(twenty.finish().0[0].p95, 19.0);
    }

    #[test]
    fn the_digest_changes_when_a_record_is_lost_duplicated_or_altered() {
        let digest = |records: Vec<Enriched>| {
            let mut agg = Aggregator::new();
            agg.add_batch(records);
            agg.finish().1.accepted_digest
        };
        let base = vec![rec(1, "s-0001", 0, 1.0), rec(2, "s-0001", 1, 2.0)];
        let reference = digest(base.clone());
        assert_ne!(digest(base[..1].to_vec()), reference, "lost");
        let mut dup = base.clone();
        dup.push(base[1].clone());
        assert_ne!(digest(dup), reference, "duplicated");
        assert_ne!(
            digest(vec![
                rec(1, "s-0001", 0, 1.0),
                rec(2, "s-0001", 1, 2.0000001)
            ]),
            reference,
            "altered"
        );
    }

    #[test]
    fn a_checkpointed_aggregator_reads_back_exactly() {
        let mut agg = Aggregator::new();
        agg.add(rec(1, "s-0001", 0, 0.1 + 0.2));
        agg.add(rec(2, "s-0002", 61, -1e-300));
        agg.add(Err(crate::reading::parse_line(3, "s-0003,x,1").unwrap_err()));
        let json = serde_json::to_string(&agg).unwrap();
        let back: Aggregator = serde_json::from_str(&json).unwrap();
        assert_eq!(back.finish(), agg.finish());
    }
}

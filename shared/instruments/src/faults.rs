//! Fault injection: a seeded plan of what goes wrong in a run, the same plan for every variant,
//! so that four concurrency models can be judged on how they *handle* the same failures.
//!
//! A [`FaultPlan`] says which sensors' look-ups fail (the registry answers with an error), which
//! reading's look-up panics, and which window's sink write fails. It is a pure function of its
//! seed and the input, so a fixed pipeline's report — failures included — is the same in every
//! variant and in every run, and can be snapshotted.

use std::collections::BTreeSet;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use pipeline::{
    Input, LookupError, PipelineError, Reading, Registry, SensorInfo, Sink, WindowSummary,
    parse_batch,
};

/// The message an injected panic carries, so a reader of the logs can tell it from a real bug.
pub const INJECTED_PANIC: &str = "injected fault: the look-up of this reading panics";

/// What goes wrong in a run. [`FaultPlan::none`] is a run where nothing does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultPlan {
    /// Sensors whose every look-up fails: the registry answers with an error (an HTTP 500).
    pub failing_sensors: BTreeSet<String>,
    /// The input line whose look-up panics.
    pub panicking_line: Option<u64>,
    /// The window, by its position in report order (sensor, then time), whose sink write fails.
    pub failing_window: Option<usize>,
}

impl FaultPlan {
    /// Nothing goes wrong.
    pub fn none() -> Self {
        FaultPlan::default()
    }

    /// A plan drawn from `seed` for this input: two of the input's sensors fail, one valid
    /// reading of another sensor panics, and one of the first eight windows cannot be written.
    /// An input without valid readings gets a plan with no look-up faults.
    pub fn seeded(seed: u64, input: &Input) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let readings: Vec<Reading> = input
            .batches(1024)
            .flat_map(parse_batch)
            .filter_map(Result::ok)
            .collect();
        let sensors: Vec<&str> = readings
            .iter()
            .map(|r| r.sensor_id.as_str())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let failing_sensors: BTreeSet<String> = sensors
            .choose_multiple(&mut rng, 2.min(sensors.len().saturating_sub(1)))
            .map(|s| (*s).to_owned())
            .collect();
        let healthy: Vec<&Reading> = readings
            .iter()
            .filter(|r| !failing_sensors.contains(&r.sensor_id))
            .collect();
        FaultPlan {
            panicking_line: healthy.choose(&mut rng).map(|r| r.line),
            failing_sensors,
            failing_window: Some(rng.random_range(0..8)),
        }
    }

    // ANCHOR: plan_lookup
    /// The look-up as this plan has it go: panics for the planned reading, fails for the
    /// failing sensors, else asks `registry`.
    ///
    /// # Panics
    /// On purpose, for the reading at [`FaultPlan::panicking_line`].
    pub fn lookup(
        &self,
        registry: &dyn Registry,
        reading: &Reading,
    ) -> Result<SensorInfo, LookupError> {
        if self.panicking_line == Some(reading.line) {
            panic!("{INJECTED_PANIC} (line {})", reading.line);
        }
        if self.failing_sensors.contains(&reading.sensor_id) {
            return Err(LookupError::Failed);
        }
        registry.lookup(&reading.sensor_id)
    }
    // ANCHOR_END: plan_lookup

    /// Wraps a sink so that the planned window's write fails. The [`SinkLedger`] counts the
    /// windows the sink really took, whatever the pipeline believes.
    pub fn sink(&self, inner: Box<dyn Sink>) -> (Box<dyn Sink>, SinkLedger) {
        let ledger = SinkLedger::default();
        let sink = FaultySink {
            inner,
            failing_window: self.failing_window,
            next: 0,
            ledger: ledger.clone(),
        };
        (Box::new(sink), ledger)
    }
}

/// How many windows a sink really wrote (shared with the sink; cheap to clone).
#[derive(Debug, Clone, Default)]
pub struct SinkLedger(Arc<AtomicU64>);

impl SinkLedger {
    pub fn written(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// A sink whose `failing_window`-th write fails with an I/O error, as a full disk would.
struct FaultySink {
    inner: Box<dyn Sink>,
    failing_window: Option<usize>,
    next: usize,
    ledger: SinkLedger,
}

impl Sink for FaultySink {
    fn write(&mut self, window: &WindowSummary) -> Result<(), PipelineError> {
        let index = self.next;
        self.next += 1;
        if self.failing_window == Some(index) {
            return Err(PipelineError::WriteOutput {
                path: PathBuf::from("<the sink>"),
                source: io::Error::other(format!(
                    "injected fault: no space left for window {} of {} at {}",
                    index, window.sensor_id, window.window_start
                )),
            });
        }
        self.inner.write(window)?;
        self.ledger.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn finish(&mut self) -> Result<(), PipelineError> {
        self.inner.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipeline::{Dataset, FleetRegistry, ReportOnlySink};

    fn reading(line: u64, sensor: &str) -> Reading {
        Reading {
            line,
            sensor_id: sensor.into(),
            timestamp: 0,
            value: 1.0,
        }
    }

    #[test]
    fn a_seeded_plan_is_the_same_every_time_and_differs_between_seeds() {
        let input = Input::dataset(Dataset::Default);
        let plan = FaultPlan::seeded(6, &input);
        assert_eq!(plan, FaultPlan::seeded(6, &input));
        assert_ne!(plan, FaultPlan::seeded(7, &input));
        assert_eq!(plan.failing_sensors.len(), 2);
        assert!(plan.panicking_line.is_some());
    }

    #[test]
    fn the_plan_fails_panics_and_passes_through_as_planned() {
        let plan = FaultPlan {
            failing_sensors: ["s-0001".to_owned()].into(),
            panicking_line: Some(7),
            failing_window: None,
        };
        let fleet = FleetRegistry::new(12);
        assert_eq!(
            plan.lookup(&fleet, &reading(1, "s-0001")),
            Err(LookupError::Failed)
        );
        assert!(plan.lookup(&fleet, &reading(2, "s-0002")).is_ok());
        let panic = std::panic::catch_unwind(|| plan.lookup(&fleet, &reading(7, "s-0002")));
        assert!(panic.is_err());
    }

    #[test]
    fn the_planned_window_write_fails_and_the_ledger_counts_the_rest() {
        let plan = FaultPlan {
            failing_window: Some(1),
            ..FaultPlan::none()
        };
        let (mut sink, ledger) = plan.sink(Box::new(ReportOnlySink));
        let window = WindowSummary {
            sensor_id: "s-0001".into(),
            site: "ridge".into(),
            window_start: 0,
            count: 1,
            min: 1.0,
            max: 1.0,
            mean: 1.0,
            p95: 1.0,
        };
        assert!(sink.write(&window).is_ok());
        let err = sink.write(&window).unwrap_err();
        assert!(
            pipeline::error_chain(&err).contains("injected fault"),
            "{err}"
        );
        assert!(sink.write(&window).is_ok());
        assert_eq!(ledger.written(), 2);
    }
}

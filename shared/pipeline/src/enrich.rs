//! The enrich stage: a parsed reading, looked up in the [`Registry`], becomes a calibrated
//! reading with its site, or a rejection that says why the look-up failed.

use std::sync::Arc;

use crate::reading::{Parsed, Reading, RejectReason, Rejection};
use crate::registry::{LookupError, Registry, SensorInfo};

/// Enrich stage output: a calibrated reading with its site, or why it was rejected. Rejections
/// travel down the pipeline with the records, so nothing is dropped on the way to the report.
pub type Enriched = Result<EnrichedReading, Rejection>;

/// A reading after enrichment: calibrated, with its site.
#[derive(Debug, Clone, PartialEq)]
pub struct EnrichedReading {
    pub line: u64,
    pub sensor_id: String,
    pub site: Arc<str>,
    pub timestamp: i64,
    /// Raw value plus the sensor's calibration offset.
    pub value: f64,
}

impl LookupError {
    /// The rejection reason a reading gets when its look-up fails this way.
    pub fn reason(&self) -> RejectReason {
        match self {
            LookupError::UnknownSensor => RejectReason::UnknownSensor,
            LookupError::Overloaded => RejectReason::RegistryOverloaded,
            LookupError::Failed => RejectReason::RegistryFailed,
            LookupError::TimedOut => RejectReason::RegistryTimedOut,
            LookupError::Panicked => RejectReason::LookupPanicked,
        }
    }
}

/// The enrich stage's work on one reading.
pub fn enrich(registry: &dyn Registry, reading: Reading) -> Enriched {
    let found = registry.lookup(&reading.sensor_id);
    enrich_with(reading, found)
}

/// Enriches a reading with a look-up result obtained elsewhere (a cache, an async registry, a
/// cache-owner task): the same calibration and the same rejection as [`enrich`].
pub fn enrich_with(reading: Reading, found: Result<SensorInfo, LookupError>) -> Enriched {
    match found {
        Ok(info) => Ok(EnrichedReading {
            line: reading.line,
            site: info.site,
            timestamp: reading.timestamp,
            value: reading.value + info.offset,
            sensor_id: reading.sensor_id,
        }),
        Err(error) => Err(Rejection::lookup_failed(&reading, error.reason())),
    }
}

/// The enrich stage's work on one batch: readings are looked up, rejections pass through.
pub fn enrich_batch(registry: &dyn Registry, batch: Vec<Parsed>) -> Vec<Enriched> {
    let _work = crate::trace::work("enrich");
    batch
        .into_iter()
        .map(|parsed| parsed.and_then(|reading| enrich(registry, reading)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{FleetRegistry, SITES};

    #[test]
    fn enrich_calibrates_and_rejects_unknown_sensors() {
        let fleet = FleetRegistry::new(20);
        let reading = |id: &str| Reading {
            line: 9,
            sensor_id: id.into(),
            timestamp: 60,
            value: 10.0,
        };
        let ok = enrich(&fleet, reading("s-0013")).unwrap();
        assert_eq!(&*ok.site, SITES[13 % 7]);
        assert_eq!(ok.value, 10.0 + (2.0 / 10.0 - 0.5));
        let err = enrich(&fleet, reading("s-0020")).unwrap_err();
        assert_eq!(err.reason, RejectReason::UnknownSensor);
        assert_eq!(err.line, 9);
    }
}

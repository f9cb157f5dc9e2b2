//! The enrich stage's lookup: which site a sensor is installed at and how to calibrate it.
//!
//! Chapter 1 uses [`FleetRegistry`], an in-process, deterministic directory. Later chapters put
//! the same contract behind latency, faults and a real HTTP service; the enrich stage's logic
//! ([`enrich`]) stays the same.

use std::sync::Arc;

use crate::reading::{Reading, RejectReason, Rejection};
use crate::stages::{Enriched, Parsed};

/// What the registry knows about a sensor.
#[derive(Debug, Clone, PartialEq)]
pub struct SensorInfo {
    /// Where the sensor is installed.
    pub site: Arc<str>,
    /// Calibration offset, added to every raw value of this sensor.
    pub offset: f64,
}

/// Why a lookup failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    #[error("unknown sensor")]
    UnknownSensor,
    /// The registry was over its capacity and turned the request away (an HTTP 503).
    #[error("registry overloaded")]
    Overloaded,
    /// The registry answered, with an error (an HTTP 500, a fault injected by a test).
    #[error("registry error")]
    Failed,
    /// No answer in time, after every retry.
    #[error("registry timed out")]
    TimedOut,
    /// The look-up code panicked, and the caller caught it.
    #[error("look-up panicked")]
    Panicked,
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

/// The registry contract. `Send + Sync` so that threads and tasks can share one behind an `Arc`.
pub trait Registry: Send + Sync + 'static {
    fn lookup(&self, sensor_id: &str) -> Result<SensorInfo, LookupError>;
}

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

/// The fleet: sensors `s-0000` up to `s-{size-1}` (four digits), spread over seven sites, each
/// with a small calibration offset derived from its number. Anything else is unknown.
#[derive(Debug, Clone)]
pub struct FleetRegistry {
    size: u32,
    sites: Vec<Arc<str>>,
}

/// The site names, in the order sensors are assigned to them.
pub const SITES: [&str; 7] = [
    "harbor",
    "north-field",
    "old-mill",
    "ridge",
    "station",
    "valley",
    "warehouse",
];

impl FleetRegistry {
    /// The default fleet size: `s-0000` … `s-0999`.
    pub const DEFAULT_SIZE: u32 = 1000;

    /// A fleet of `size` sensors (at most 10,000: ids have four digits).
    pub fn new(size: u32) -> Self {
        FleetRegistry {
            size: size.min(10_000),
            sites: SITES.iter().map(|s| Arc::from(*s)).collect(),
        }
    }

    /// The id of sensor number `n`, e.g. `s-0042`.
    pub fn sensor_id(n: u32) -> String {
        format!("s-{n:04}")
    }
}

impl Default for FleetRegistry {
    fn default() -> Self {
        FleetRegistry::new(Self::DEFAULT_SIZE)
    }
}

impl Registry for FleetRegistry {
    fn lookup(&self, sensor_id: &str) -> Result<SensorInfo, LookupError> {
        let number = sensor_id
            .strip_prefix("s-")
            .filter(|digits| digits.len() == 4 && digits.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|digits| digits.parse::<u32>().ok())
            .filter(|n| *n < self.size)
            .ok_or(LookupError::UnknownSensor)?;
        Ok(SensorInfo {
            site: Arc::clone(&self.sites[number as usize % self.sites.len()]),
            // -0.5 ..= +0.5 in steps of 0.1
            offset: f64::from(number % 11) / 10.0 - 0.5,
        })
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
    batch
        .into_iter()
        .map(|parsed| parsed.and_then(|reading| enrich(registry, reading)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_exactly_the_fleet() {
        let fleet = FleetRegistry::new(12);
        assert!(fleet.lookup("s-0000").is_ok());
        assert!(fleet.lookup("s-0011").is_ok());
        for unknown in ["s-0012", "s-12", "s-00001", "x-0001", "s-00a1", ""] {
            assert_eq!(
                fleet.lookup(unknown),
                Err(LookupError::UnknownSensor),
                "{unknown}"
            );
        }
    }

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

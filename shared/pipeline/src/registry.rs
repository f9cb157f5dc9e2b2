//! The enrich stage's lookup: which site a sensor is installed at and how to calibrate it.
//!
//! Chapter 1 uses [`FleetRegistry`], an in-process, deterministic directory. Later chapters put
//! the same contract behind latency, faults and a real HTTP service; the enrich stage's logic
//! ([`crate::enrich()`], in `enrich.rs`) stays the same. This module knows nothing of readings:
//! it answers for a sensor id.

use std::sync::Arc;

/// What the registry knows about a sensor.
#[derive(Debug, Clone, PartialEq)]
pub struct SensorInfo {
    /// Where the sensor is installed.
    pub site: Arc<str>,
    /// Calibration offset, added to every raw value of this sensor.
    pub offset: f64,
}

/// Why a lookup failed. (The rejection a reading gets for each: [`LookupError::reason`], with
/// the enrich stage.)
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

/// The registry contract. `Send + Sync` so that threads and tasks can share one behind an `Arc`.
pub trait Registry: Send + Sync + 'static {
    fn lookup(&self, sensor_id: &str) -> Result<SensorInfo, LookupError>;
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
}

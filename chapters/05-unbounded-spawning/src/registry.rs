//! The registry of this chapter: it takes a while to answer, and it has a capacity. Past the
//! capacity it refuses the request outright, as an overloaded HTTP service answers 503.
//!
//! A look-up is three steps: `admit` (may refuse), wait out `latency` — with the *variant's* own
//! timer, which is the only part that differs between the four — then `answer`.

use std::sync::Arc;
use std::time::Duration;

use instruments::{Counter, Gauge, InFlight, Signals};
use pipeline::{LookupError, Registry, SensorInfo};

/// The registry serves at most this many requests at once.
pub const REGISTRY_CAPACITY: usize = 32;
/// Each request takes this long.
pub const REGISTRY_LATENCY: Duration = Duration::from_millis(5);

/// Gauge names, as the demos' signals know them.
pub const TASKS_IN_FLIGHT: &str = "tasks in flight";
pub const REGISTRY_REQUESTS: &str = "registry requests";
pub const REFUSED: &str = "look-ups refused";

pub struct SlowRegistry {
    fleet: Arc<dyn Registry>,
    latency: Duration,
    requests: Gauge,
    refused: Counter,
}

/// A request the registry took on; answer it after the latency.
pub struct Ticket {
    fleet: Arc<dyn Registry>,
    _in_flight: InFlight,
}

impl SlowRegistry {
    /// A slow registry in front of `fleet`, reporting to the demo's gauges.
    pub fn new(fleet: Arc<dyn Registry>, latency: Duration, signals: &Signals) -> Self {
        SlowRegistry {
            fleet,
            latency,
            requests: signals.gauge(REGISTRY_REQUESTS).clone(),
            refused: signals.counter(REFUSED).clone(),
        }
    }

    // ANCHOR: admit
    /// Takes the request on, or refuses it if `REGISTRY_CAPACITY` are already in progress.
    pub fn admit(&self) -> Result<Ticket, LookupError> {
        let Some(in_flight) = self.requests.enter_within(REGISTRY_CAPACITY) else {
            self.refused.add(1);
            return Err(LookupError::Overloaded);
        };
        Ok(Ticket {
            fleet: Arc::clone(&self.fleet),
            _in_flight: in_flight,
        })
    }
    // ANCHOR_END: admit

    pub fn latency(&self) -> Duration {
        self.latency
    }
}

impl Ticket {
    /// The answer, once the latency has passed; the request leaves the registry here.
    pub fn answer(self, sensor_id: &str) -> Result<SensorInfo, LookupError> {
        self.fleet.lookup(sensor_id)
    }
}

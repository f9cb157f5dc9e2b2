//! What each request meets: how long it waits ([`Latency`]) and what goes wrong
//! ([`ServiceFaults`]), drawn from the service's seed and the request's key ([`request_key`] of
//! its [`REQUEST_ID`] header). Pure functions, no I/O: a client that knows the seed can tell in
//! advance which of its requests will fail, and the tests do.

use std::collections::BTreeSet;
use std::time::Duration;

/// The header whose value decides a request's faults and latency (see [`ServiceFaults::decide`]).
pub const REQUEST_ID: &str = "x-request-id";

/// How long the service takes to answer, drawn per request from a seeded distribution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Latency {
    /// Answer at once.
    None,
    /// Always the same.
    Fixed(Duration),
    /// Uniform between `min` and `max`.
    Uniform { min: Duration, max: Duration },
    /// Log-normal: half the requests take less than `median`, one in a hundred more than `p99`
    /// — the long tail of a real service. Capped at ten times `p99`.
    LongTail { median: Duration, p99: Duration },
}

impl Latency {
    /// The latency of the request with this `key` (see [`request_key`]): a pure function, so a
    /// seeded service is reproducible.
    pub fn sample(&self, seed: u64, key: u64) -> Duration {
        match *self {
            Latency::None => Duration::ZERO,
            Latency::Fixed(d) => d,
            Latency::Uniform { min, max } => {
                let (lo, hi) = (min.min(max), max.max(min));
                lo + (hi - lo).mul_f64(unit(seed, key, SALT_LATENCY))
            }
            Latency::LongTail { median, p99 } => {
                // ln(latency) ~ Normal(mu, sigma): e^mu is the median, e^(mu + 2.326 sigma) the p99.
                const Z99: f64 = 2.326_347_874;
                let median_s = median.as_secs_f64().max(1e-9);
                let sigma = (p99.as_secs_f64().max(median_s) / median_s).ln() / Z99;
                // Box–Muller: two uniform draws give one standard normal one.
                let u1 = unit(seed, key, SALT_LATENCY).max(f64::MIN_POSITIVE);
                let u2 = unit(seed, key, SALT_LATENCY_2);
                let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                let secs = (median_s * (sigma * z).exp()).min(p99.as_secs_f64() * 10.0);
                Duration::from_secs_f64(secs)
            }
        }
    }
}

/// How the service waits out a request's latency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Wait {
    /// tokio's timer, as any tokio service would: it rounds a wait up to its next millisecond
    /// tick, so a 5 ms latency takes 5 to 6 ms.
    #[default]
    Timer,
    /// To within the OS's sleep precision: tokio's timer to within 2 ms of the end, then a
    /// blocking sleep for the rest (on tokio's blocking pool). The measurement lab's socket
    /// waits use it, so that what a client waits on its socket is the latency, not a timer's
    /// rounding.
    Precise,
}

impl Wait {
    /// The text form, for a command line: `timer` or `precise`.
    pub fn name(self) -> &'static str {
        match self {
            Wait::Timer => "timer",
            Wait::Precise => "precise",
        }
    }
}

impl std::str::FromStr for Wait {
    type Err = String;

    fn from_str(text: &str) -> Result<Wait, String> {
        [Wait::Timer, Wait::Precise]
            .into_iter()
            .find(|w| w.name() == text)
            .ok_or_else(|| format!("wait {text:?}: expected timer or precise"))
    }
}

/// The text form of a [`Latency`], for a command line (the registry as a child process):
/// `none`, `fixed:US`, `uniform:MIN_US:MAX_US`, `long-tail:MEDIAN_US:P99_US`, in whole
/// microseconds.
impl std::fmt::Display for Latency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let us = |d: Duration| d.as_micros();
        match *self {
            Latency::None => write!(f, "none"),
            Latency::Fixed(d) => write!(f, "fixed:{}", us(d)),
            Latency::Uniform { min, max } => write!(f, "uniform:{}:{}", us(min), us(max)),
            Latency::LongTail { median, p99 } => {
                write!(f, "long-tail:{}:{}", us(median), us(p99))
            }
        }
    }
}

impl std::str::FromStr for Latency {
    type Err = String;

    fn from_str(text: &str) -> Result<Latency, String> {
        let mut parts = text.split(':');
        let kind = parts.next().unwrap_or_default();
        let micros: Vec<Duration> = parts
            .map(|p| p.parse().map(Duration::from_micros))
            .collect::<Result<_, _>>()
            .map_err(|e| format!("latency {text:?}: {e}"))?;
        match (kind, micros.as_slice()) {
            ("none", []) => Ok(Latency::None),
            ("fixed", &[d]) => Ok(Latency::Fixed(d)),
            ("uniform", &[min, max]) => Ok(Latency::Uniform { min, max }),
            ("long-tail", &[median, p99]) => Ok(Latency::LongTail { median, p99 }),
            _ => Err(format!(
                "latency {text:?}: expected none, fixed:US, uniform:MIN_US:MAX_US or \
                 long-tail:MEDIAN_US:P99_US"
            )),
        }
    }
}

/// What goes wrong, and for which requests. Rates are per mille of requests, each decided
/// independently per request from the seed and the request's key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceFaults {
    /// Every look-up of these sensors answers `500`.
    pub failing_sensors: BTreeSet<String>,
    /// This many requests in a thousand answer `500`.
    pub error_per_mille: u32,
    /// This many requests in a thousand have their connection dropped instead of an answer.
    pub drop_per_mille: u32,
    /// This many requests in a thousand take `slow_by` longer.
    pub slow_per_mille: u32,
    pub slow_by: Duration,
}

/// What happens to one request, as [`ServiceFaults::decide`] has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer normally.
    None,
    /// Answer `500`.
    Error,
    /// Reset the connection without answering.
    Drop,
}

impl ServiceFaults {
    /// No faults at all.
    pub fn none() -> Self {
        ServiceFaults::default()
    }

    /// The fault for the request with this key, and whether it is slowed down. A pure
    /// function: the same seed and key give the same answer in every run and every process.
    pub fn decide(&self, seed: u64, key: u64) -> (Fault, bool) {
        let hit = |per_mille: u32, salt| unit(seed, key, salt) * 1000.0 < f64::from(per_mille);
        let fault = if hit(self.drop_per_mille, SALT_DROP) {
            Fault::Drop
        } else if hit(self.error_per_mille, SALT_ERROR) {
            Fault::Error
        } else {
            Fault::None
        };
        (fault, hit(self.slow_per_mille, SALT_SLOW))
    }
}

/// The key of a request with this `x-request-id` value: FNV-1a of its bytes.
pub fn request_key(request_id: &str) -> u64 {
    request_id.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

const SALT_LATENCY: u64 = 1;
const SALT_LATENCY_2: u64 = 2;
const SALT_ERROR: u64 = 3;
const SALT_DROP: u64 = 4;
const SALT_SLOW: u64 = 5;

/// A uniform draw in [0, 1) from (seed, key, salt): splitmix64, a pure function.
fn unit(seed: u64, key: u64, salt: u64) -> f64 {
    let mut z = seed
        .wrapping_add(key.wrapping_mul(0x9e37_79b9_7f4a_7c15))
        .wrapping_add(salt.wrapping_mul(0xd1b5_4a32_d192_ed03));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_text_round_trips_and_refuses_nonsense() {
        let ms = Duration::from_millis;
        for latency in [
            Latency::None,
            Latency::Fixed(ms(5)),
            Latency::Uniform {
                min: ms(1),
                max: ms(9),
            },
            Latency::LongTail {
                median: ms(10),
                p99: ms(50),
            },
        ] {
            assert_eq!(latency.to_string().parse::<Latency>(), Ok(latency));
        }
        assert_eq!(Latency::Fixed(ms(5)).to_string(), "fixed:5000");
        for bad in ["", "fixed", "fixed:1:2", "slow:5", "uniform:x:1"] {
            assert!(bad.parse::<Latency>().is_err(), "{bad:?} parsed");
        }
        for wait in [Wait::Timer, Wait::Precise] {
            assert_eq!(wait.name().parse::<Wait>(), Ok(wait));
        }
        assert!("exact".parse::<Wait>().is_err());
    }

    #[test]
    fn latency_distributions_have_the_shape_they_promise() {
        let percentile = |latency: Latency, p: usize| {
            let mut samples: Vec<Duration> = (0..10_000).map(|k| latency.sample(42, k)).collect();
            samples.sort();
            samples[p * samples.len() / 100]
        };
        let ms = Duration::from_millis;
        let tail = Latency::LongTail {
            median: ms(2),
            p99: ms(40),
        };
        let (p50, p99) = (percentile(tail, 50), percentile(tail, 99));
        assert!(p50 > ms(1) && p50 < ms(3), "median {p50:?}");
        assert!(p99 > ms(25) && p99 < ms(60), "p99 {p99:?}");
        let uniform = Latency::Uniform {
            min: ms(1),
            max: ms(3),
        };
        let (lo, hi) = (percentile(uniform, 0), percentile(uniform, 99));
        assert!(lo >= ms(1) && hi < ms(3), "{lo:?}..{hi:?}");
        assert_eq!(tail.sample(42, 9), tail.sample(42, 9), "a pure function");
        assert_ne!(tail.sample(42, 9), tail.sample(43, 9), "the seed matters");
    }
}

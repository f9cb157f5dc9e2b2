//! Reproducible input: a seeded generator and the named datasets tests and the tour share.
//!
//! The same spec gives the same bytes on every machine (ChaCha8 is value-stable), so a snapshot
//! taken here holds everywhere.

use std::fmt::Write as _;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::registry::FleetRegistry;

/// How to generate a dataset: `lines` lines over `sensors` sensors, of which about
/// `malformed_per_mille`/1000 are malformed (of ten kinds, one per rejection reason) and about
/// `out_of_order_per_mille`/1000 carry a timestamp up to three minutes in the past.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetSpec {
    pub seed: u64,
    pub lines: usize,
    /// Sensors `s-0000` … (at most the default fleet size, so all are known to the registry).
    pub sensors: u32,
    pub malformed_per_mille: u32,
    pub out_of_order_per_mille: u32,
    /// Timestamp of the first line, seconds since the epoch.
    pub start: i64,
    /// Seconds between the first and the last line's in-order timestamps.
    pub span_secs: i64,
}

impl Default for DatasetSpec {
    /// The default dataset: 50,000 lines, 12 sensors, 40 minutes, 5% malformed, 10% late.
    fn default() -> Self {
        DatasetSpec {
            seed: 2024,
            lines: 50_000,
            sensors: 12,
            malformed_per_mille: 50,
            out_of_order_per_mille: 100,
            start: 1_700_000_040,
            span_secs: 40 * 60,
        }
    }
}

impl DatasetSpec {
    pub fn name(&self) -> String {
        format!(
            "generated(seed={}, lines={}, sensors={}, malformed={}‰)",
            self.seed, self.lines, self.sensors, self.malformed_per_mille
        )
    }

    /// Checks the spec; the error says which field is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=FleetRegistry::DEFAULT_SIZE).contains(&self.sensors) {
            return Err(format!(
                "sensors must be between 1 and {}, got {}",
                FleetRegistry::DEFAULT_SIZE,
                self.sensors
            ));
        }
        for (name, value) in [
            ("malformed_per_mille", self.malformed_per_mille),
            ("out_of_order_per_mille", self.out_of_order_per_mille),
        ] {
            if value > 1000 {
                return Err(format!("{name} must be at most 1000, got {value}"));
            }
        }
        if self.start < 0 || self.span_secs < 0 {
            return Err("start and span_secs must not be negative".into());
        }
        Ok(())
    }
}

/// Generates the text of a dataset: `spec.lines` lines, each ending in `\n`.
///
/// # Panics
/// If the spec is invalid (see [`DatasetSpec::validate`]).
pub fn generate(spec: &DatasetSpec) -> String {
    if let Err(e) = spec.validate() {
        panic!("invalid dataset spec: {e}");
    }
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    // Each sensor's value is a random walk around its own level.
    let mut levels: Vec<f64> = (0..spec.sensors)
        .map(|s| 15.0 + f64::from(s % 10) * 2.5)
        .collect();
    let mut out = String::with_capacity(spec.lines * 26);
    let lines = spec.lines.max(1) as i64;
    for i in 0..spec.lines {
        let in_order = spec.start + spec.span_secs * i as i64 / lines;
        let timestamp = if rng.random_range(0..1000) < spec.out_of_order_per_mille {
            (in_order - rng.random_range(1..=180)).max(0)
        } else {
            in_order
        };
        let sensor = rng.random_range(0..spec.sensors);
        let level = &mut levels[sensor as usize];
        *level += rng.random_range(-0.5..=0.5);
        let id = FleetRegistry::sensor_id(sensor);
        let value = *level;
        // `write!` to a String cannot fail.
        let _ = if rng.random_range(0..1000) < spec.malformed_per_mille {
            match rng.random_range(0..10) {
                0 => writeln!(out),
                1 => writeln!(out, "{id},{timestamp}"),
                2 => writeln!(out, ",{timestamp},{value:.2}"),
                3 => writeln!(out, "s#{sensor},{timestamp},{value:.2}"),
                4 => writeln!(out, "{id},{timestamp}.5,{value:.2}"),
                5 => writeln!(out, "{id},-{timestamp},{value:.2}"),
                6 => writeln!(out, "{id},{timestamp},{value:.2}C"),
                7 => writeln!(out, "{id},{timestamp},NaN"),
                8 => writeln!(out, "{id},{timestamp},1e7"),
                _ => writeln!(out, "s-{},{timestamp},{value:.2}", 9000 + sensor % 1000),
            }
        } else {
            writeln!(out, "{id},{timestamp},{value:.2}")
        };
    }
    out
}

/// The datasets every chapter's identical-output test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dataset {
    /// [`DatasetSpec::default`].
    Default,
    /// No lines at all.
    Empty,
    /// 400 lines, every one malformed.
    AllMalformed,
    /// Hand-written edge cases: range limits, overflow, odd spacing, a crowded window.
    Extremes,
}

impl Dataset {
    pub const ALL: [Dataset; 4] = [
        Dataset::Default,
        Dataset::Empty,
        Dataset::AllMalformed,
        Dataset::Extremes,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Dataset::Default => "default",
            Dataset::Empty => "empty",
            Dataset::AllMalformed => "all-malformed",
            Dataset::Extremes => "extremes",
        }
    }

    pub fn text(self) -> String {
        match self {
            Dataset::Default => generate(&DatasetSpec::default()),
            Dataset::Empty => String::new(),
            Dataset::AllMalformed => generate(&DatasetSpec {
                lines: 400,
                malformed_per_mille: 1000,
                ..DatasetSpec::default()
            }),
            Dataset::Extremes => extremes(),
        }
    }
}

fn extremes() -> String {
    let mut lines: Vec<String> = [
        "s-0000,0,-1000000",                        // both range limits, at the epoch
        "s-0000,0,1000000",                         //
        "s-0000,59,-0",                             // negative zero, last second of window 0
        "s-0000,60,0",                              // first second of the next window
        "s-0001,4102444799,1e-300",                 // last accepted second, tiny values
        "s-0001,4102444799,-1e-300",                //
        "s-0002,4102444740,999999.999",             //
        "  s-0003  ,  120  ,  7.25  ",              // spaces around fields are fine
        "s-0999,120,1",                             // last sensor of the fleet
        "s-0002,-1,5",                              // timestamp before the epoch
        "s-0002,4102444800,5",                      // one second too late
        "s-0002,9223372036854775808,5",             // does not fit in i64
        "s-0002,12e3,5",                            // not an integer
        "s-0003,60,1000000.001",                    // just out of range
        "s-0003,60,-1e309",                         // parses to -inf
        "s-0003,60,NaN",                            //
        "s-0003,60,0x10",                           // not a decimal number
        "s-1000,120,1",                             // just outside the fleet
        "s-ü,1,1",                                  // not ASCII
        "sensor-with-a-very-long-name-over-32,1,1", // too long
        "s-0004,120,7.5,extra",                     // four fields
        "s-0004",                                   // one field
        "",                                         // empty line
        "\t",                                       // blank line
        ",,",                                       // empty sensor id
        "s-0004,120,7.5",                           // a duplicate line is a second reading
        "s-0004,120,7.5",                           //
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // A crowded window: 100 readings, values 1..=100 in scrambled order.
    lines.extend((0..100u32).map(|i| format!("s-0005,{},{}", 180 + i % 60, (i * 37) % 100 + 1)));
    lines.join("\n") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_spec_gives_the_same_bytes() {
        let spec = DatasetSpec {
            lines: 2_000,
            ..DatasetSpec::default()
        };
        assert_eq!(generate(&spec), generate(&spec));
        let other = DatasetSpec {
            seed: 7,
            ..spec.clone()
        };
        assert_ne!(generate(&spec), generate(&other));
    }

    #[test]
    fn invalid_specs_are_explained() {
        let spec = DatasetSpec {
            sensors: 0,
            ..DatasetSpec::default()
        };
        assert!(spec.validate().unwrap_err().contains("sensors"));
    }
}

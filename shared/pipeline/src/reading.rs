//! One line of input, `sensor_id,timestamp,value`, and the validation that turns it into a
//! [`Reading`] or a [`Rejection`] that says exactly what is wrong and where.
//!
//! Validation is a pure function of the line, so it is tested once, here, and every variant of
//! every chapter rejects exactly the same lines for exactly the same reasons.

use std::fmt;
use std::num::IntErrorKind;

use crate::input::{LineBatch, RawLine};

/// The longest sensor id we accept, in bytes.
pub const MAX_SENSOR_ID_LEN: usize = 32;
/// Earliest accepted timestamp: the Unix epoch (seconds).
pub const MIN_TIMESTAMP: i64 = 0;
/// Latest accepted timestamp: 2099-12-31T23:59:59Z (seconds since the epoch).
pub const MAX_TIMESTAMP: i64 = 4_102_444_799;
/// The sensors' physical range, in sensor units; anything outside is a broken sensor.
pub const MIN_VALUE: f64 = -1_000_000.0;
/// See [`MIN_VALUE`].
pub const MAX_VALUE: f64 = 1_000_000.0;
/// How much of an offending field a [`Rejection`] keeps, in characters.
const EXCERPT_CHARS: usize = 40;

/// A validated sensor reading.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// 1-based line number in the input, kept so every record can be traced back to its line.
    pub line: u64,
    pub sensor_id: String,
    /// Seconds since the Unix epoch.
    pub timestamp: i64,
    /// Raw value in sensor units, before calibration.
    pub value: f64,
}

/// Parse stage output: a reading, or why the line was rejected.
pub type Parsed = Result<Reading, Rejection>;

/// Which part of a line a rejection is about.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Field {
    /// The line as a whole (empty, wrong number of fields).
    Record,
    SensorId,
    Timestamp,
    Value,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::Record => "record",
            Field::SensorId => "sensor_id",
            Field::Timestamp => "timestamp",
            Field::Value => "value",
        })
    }
}

/// Why a line was rejected. [`RejectReason::kind`] is the stable label the report counts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum RejectReason {
    EmptyLine,
    WrongFieldCount {
        found: usize,
    },
    EmptySensorId,
    InvalidSensorId,
    TimestampNotInteger,
    TimestampOutOfRange,
    ValueNotNumber,
    ValueNotFinite,
    ValueOutOfRange,
    /// Found by the enrich stage: the registry does not know this sensor.
    UnknownSensor,
    /// Found by the enrich stage: the registry turned the look-up away (over capacity).
    RegistryOverloaded,
    /// The registry answered with an error (chapter 6's fault plan; an HTTP 500 in chapter 9).
    RegistryFailed,
    /// No answer within the look-up's deadline, after every retry (chapter 7).
    RegistryTimedOut,
    /// The look-up code panicked; the panic was caught and the reading dead-lettered (chapter 6).
    LookupPanicked,
    /// What arrived over a connection was not a frame (`<line number>\t<line>`) (chapter 10).
    MalformedFrame,
}

impl RejectReason {
    /// Every reason, in the order the report lists them.
    pub const ALL: [RejectReason; 15] = [
        RejectReason::EmptyLine,
        RejectReason::WrongFieldCount { found: 0 },
        RejectReason::EmptySensorId,
        RejectReason::InvalidSensorId,
        RejectReason::TimestampNotInteger,
        RejectReason::TimestampOutOfRange,
        RejectReason::ValueNotNumber,
        RejectReason::ValueNotFinite,
        RejectReason::ValueOutOfRange,
        RejectReason::UnknownSensor,
        RejectReason::RegistryOverloaded,
        RejectReason::RegistryFailed,
        RejectReason::RegistryTimedOut,
        RejectReason::LookupPanicked,
        RejectReason::MalformedFrame,
    ];

    /// A short stable label, used to count rejections by reason.
    pub fn kind(self) -> &'static str {
        match self {
            RejectReason::EmptyLine => "empty line",
            RejectReason::WrongFieldCount { .. } => "wrong field count",
            RejectReason::EmptySensorId => "empty sensor id",
            RejectReason::InvalidSensorId => "invalid sensor id",
            RejectReason::TimestampNotInteger => "timestamp not an integer",
            RejectReason::TimestampOutOfRange => "timestamp out of range",
            RejectReason::ValueNotNumber => "value not a number",
            RejectReason::ValueNotFinite => "value not finite",
            RejectReason::ValueOutOfRange => "value out of range",
            RejectReason::UnknownSensor => "unknown sensor",
            RejectReason::RegistryOverloaded => "registry overloaded",
            RejectReason::RegistryFailed => "registry error",
            RejectReason::RegistryTimedOut => "registry timed out",
            RejectReason::LookupPanicked => "look-up panicked",
            RejectReason::MalformedFrame => "malformed frame",
        }
    }

    /// The position of this reason in [`RejectReason::ALL`], for sorting.
    pub fn ordinal(self) -> usize {
        RejectReason::ALL
            .iter()
            .position(|r| r.kind() == self.kind())
            .expect("every reason is listed in ALL")
    }
}

/// The reason as it reads after the field name: `timestamp: out of range (…)`.
impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RejectReason::EmptyLine => f.write_str("empty line"),
            RejectReason::WrongFieldCount { found } => {
                let plural = if *found == 1 { "" } else { "s" };
                write!(
                    f,
                    "{found} field{plural}, expected 3 (sensor_id,timestamp,value)"
                )
            }
            RejectReason::EmptySensorId => f.write_str("empty"),
            RejectReason::InvalidSensorId => write!(
                f,
                "not a sensor id (ASCII letters, digits, '-' and '_', at most {MAX_SENSOR_ID_LEN})"
            ),
            RejectReason::TimestampNotInteger => {
                f.write_str("not an integer (seconds since the Unix epoch)")
            }
            RejectReason::TimestampOutOfRange => {
                write!(f, "out of range ({MIN_TIMESTAMP}..={MAX_TIMESTAMP})")
            }
            RejectReason::ValueNotNumber => f.write_str("not a number"),
            RejectReason::ValueNotFinite => f.write_str("not finite"),
            RejectReason::ValueOutOfRange => {
                write!(f, "out of range ({MIN_VALUE}..={MAX_VALUE})")
            }
            RejectReason::UnknownSensor => f.write_str("unknown to the registry"),
            RejectReason::RegistryOverloaded => {
                f.write_str("the registry was over capacity and refused the look-up")
            }
            RejectReason::RegistryFailed => f.write_str("the registry answered with an error"),
            RejectReason::RegistryTimedOut => {
                f.write_str("no answer from the registry in time, after every retry")
            }
            RejectReason::LookupPanicked => f.write_str("the look-up panicked"),
            RejectReason::MalformedFrame => {
                f.write_str("not a frame (a line number, a tab, the line, a newline)")
            }
        }
    }
}

/// A line that did not become a record, with where and why.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Rejection {
    /// 1-based line number in the input.
    pub line: u64,
    pub field: Field,
    pub reason: RejectReason,
    /// The offending text (the field, or the whole line for [`Field::Record`]), shortened.
    pub excerpt: String,
}

impl Rejection {
    fn new(line: u64, field: Field, reason: RejectReason, text: &str) -> Self {
        let mut excerpt: String = text.chars().take(EXCERPT_CHARS).collect();
        if text.chars().count() > EXCERPT_CHARS {
            excerpt.push('…');
        }
        Rejection {
            line,
            field,
            reason,
            excerpt,
        }
    }

    /// A rejection found after parsing, by the enrich stage: the look-up of this reading's
    /// sensor failed for `reason` (unknown sensor, overloaded, failed, timed out, panicked).
    /// The reading is rejected, counted, never dropped.
    pub fn lookup_failed(reading: &Reading, reason: RejectReason) -> Self {
        Rejection::new(reading.line, Field::SensorId, reason, &reading.sensor_id)
    }

    /// The registry does not know this reading's sensor.
    pub fn unknown_sensor(reading: &Reading) -> Self {
        Rejection::lookup_failed(reading, RejectReason::UnknownSensor)
    }

    /// The registry refused the look-up (over capacity).
    pub fn registry_overloaded(reading: &Reading) -> Self {
        Rejection::lookup_failed(reading, RejectReason::RegistryOverloaded)
    }
}

/// `line 17: timestamp: not an integer (…): "17000x"` — prefix it with the file name and
/// you have a compiler-style `file:line: ...` message.
impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}: {}: {}: {:?}",
            self.line, self.field, self.reason, self.excerpt
        )
    }
}

/// Parses and validates one line. Fields may carry surrounding spaces; nothing else is forgiven.
pub fn parse_line(line: u64, text: &str) -> Result<Reading, Rejection> {
    let reject = |field, reason, excerpt: &str| Err(Rejection::new(line, field, reason, excerpt));
    if text.trim().is_empty() {
        return reject(Field::Record, RejectReason::EmptyLine, text);
    }
    let fields: Vec<&str> = text.split(',').map(str::trim).collect();
    let [sensor_id, timestamp, value] = fields[..] else {
        let found = fields.len();
        return reject(Field::Record, RejectReason::WrongFieldCount { found }, text);
    };

    if sensor_id.is_empty() {
        return reject(Field::SensorId, RejectReason::EmptySensorId, sensor_id);
    }
    let valid_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if sensor_id.len() > MAX_SENSOR_ID_LEN || !sensor_id.chars().all(valid_char) {
        return reject(Field::SensorId, RejectReason::InvalidSensorId, sensor_id);
    }

    let timestamp = match timestamp.parse::<i64>() {
        Ok(ts) if (MIN_TIMESTAMP..=MAX_TIMESTAMP).contains(&ts) => ts,
        Ok(_) => {
            return reject(
                Field::Timestamp,
                RejectReason::TimestampOutOfRange,
                timestamp,
            );
        }
        // An integer too large for i64 is still an integer: say "out of range", not "not one".
        Err(e)
            if matches!(
                e.kind(),
                IntErrorKind::PosOverflow | IntErrorKind::NegOverflow
            ) =>
        {
            return reject(
                Field::Timestamp,
                RejectReason::TimestampOutOfRange,
                timestamp,
            );
        }
        Err(_) => {
            return reject(
                Field::Timestamp,
                RejectReason::TimestampNotInteger,
                timestamp,
            );
        }
    };

    // Rust's float parser accepts "NaN", "inf" and "1e400" (= inf): those are numbers, but not
    // finite ones, and get their own reason.
    let value = match value.parse::<f64>() {
        Ok(v) if !v.is_finite() => {
            return reject(Field::Value, RejectReason::ValueNotFinite, value);
        }
        Ok(v) if !(MIN_VALUE..=MAX_VALUE).contains(&v) => {
            return reject(Field::Value, RejectReason::ValueOutOfRange, value);
        }
        Ok(v) => v,
        Err(_) => return reject(Field::Value, RejectReason::ValueNotNumber, value),
    };

    Ok(Reading {
        line,
        sensor_id: sensor_id.to_owned(),
        timestamp,
        value,
    })
}

/// The parse stage's work on one batch: every line becomes a reading or a rejection, in order.
pub fn parse_batch(batch: LineBatch) -> Vec<Parsed> {
    let _work = crate::trace::work("parse");
    batch
        .into_iter()
        .map(|RawLine { number, text }| parse_line(number, &text))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(text: &str) -> RejectReason {
        parse_line(7, text).expect_err(text).reason
    }

    #[test]
    fn accepts_a_well_formed_line_with_spaces_around_fields() {
        let r = parse_line(3, " s-0001 , 1700000000 , -12.5 ").unwrap();
        assert_eq!(
            r,
            Reading {
                line: 3,
                sensor_id: "s-0001".into(),
                timestamp: 1_700_000_000,
                value: -12.5
            }
        );
    }

    #[test]
    fn accepts_the_edges_of_every_range() {
        assert!(parse_line(1, "a,0,-1000000").is_ok());
        assert!(parse_line(1, "a,4102444799,1000000").is_ok());
        assert!(parse_line(1, &format!("{},1,1", "x".repeat(32))).is_ok());
    }

    #[test]
    fn rejects_each_kind_of_malformed_line_with_its_reason() {
        assert_eq!(reason(""), RejectReason::EmptyLine);
        assert_eq!(reason("   "), RejectReason::EmptyLine);
        assert_eq!(reason("s-1,1"), RejectReason::WrongFieldCount { found: 2 });
        assert_eq!(
            reason("s-1,1,2,3"),
            RejectReason::WrongFieldCount { found: 4 }
        );
        assert_eq!(reason(",1,2"), RejectReason::EmptySensorId);
        assert_eq!(reason("s 1,1,2"), RejectReason::InvalidSensorId);
        assert_eq!(reason("s-ü,1,2"), RejectReason::InvalidSensorId);
        assert_eq!(
            reason(&format!("{},1,1", "x".repeat(33))),
            RejectReason::InvalidSensorId
        );
        assert_eq!(reason("s-1,17000x,2"), RejectReason::TimestampNotInteger);
        assert_eq!(reason("s-1,1.5,2"), RejectReason::TimestampNotInteger);
        assert_eq!(reason("s-1,-1,2"), RejectReason::TimestampOutOfRange);
        assert_eq!(
            reason("s-1,4102444800,2"),
            RejectReason::TimestampOutOfRange
        );
        assert_eq!(
            reason("s-1,99999999999999999999,2"),
            RejectReason::TimestampOutOfRange
        );
        assert_eq!(reason("s-1,1,abc"), RejectReason::ValueNotNumber);
        assert_eq!(reason("s-1,1,"), RejectReason::ValueNotNumber);
        assert_eq!(reason("s-1,1,NaN"), RejectReason::ValueNotFinite);
        assert_eq!(reason("s-1,1,-inf"), RejectReason::ValueNotFinite);
        assert_eq!(reason("s-1,1,1e400"), RejectReason::ValueNotFinite);
        assert_eq!(reason("s-1,1,1000000.001"), RejectReason::ValueOutOfRange);
    }

    #[test]
    fn a_rejection_names_line_field_reason_and_text() {
        let r = parse_line(17, "s-0001,17000x,2").unwrap_err();
        assert_eq!(
            r.to_string(),
            r#"line 17: timestamp: not an integer (seconds since the Unix epoch): "17000x""#
        );
    }

    #[test]
    fn long_excerpts_are_shortened() {
        let r = parse_line(1, &"y".repeat(100)).unwrap_err();
        assert_eq!(r.excerpt.chars().count(), EXCERPT_CHARS + 1);
        assert!(r.excerpt.ends_with('…'));
    }

    #[test]
    fn every_reason_has_a_distinct_kind_and_ordinal() {
        for (i, r) in RejectReason::ALL.iter().enumerate() {
            assert_eq!(r.ordinal(), i);
        }
    }
}

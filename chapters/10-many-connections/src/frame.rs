//! The wire between a sensor and the server, and what the server does with each frame. Plain,
//! synchronous functions: every variant calls the same ones, so the four servers can differ only
//! in how they wait for bytes.
//!
//! A conversation on one connection:
//!
//! ```text
//! server → sensor   ready\n                      a thread or task is now serving this connection
//! sensor → server   17\ts-0003,1700000100,21.5\n   one frame per input line: its line number, a tab, the line
//! sensor → server   42\ts-0007,1700000160,19.0\n
//! sensor → server   (shuts down its sending side)
//! server → sensor   ok 2\n                        how many frames the server counted, then it closes
//! ```
//!
//! Every frame carries the number of the line it came from, so the report does not depend on
//! which connection a line travelled on or in which order the frames arrived: the aggregation is
//! order-free and rejections are sorted by line. A frame the server cannot read is a rejection
//! that names the connection and the frame, never a dropped record; the final `ok N` lets the
//! sensor check that the server counted every frame it sent.

use std::fmt;
use std::io;
use std::net::SocketAddr;

use pipeline::{
    Aggregator, Field, Parsed, PipelineError, Registry, RejectReason, Rejection, enrich, parse_line,
};

/// What the server sends first, once a thread or task serves the connection.
pub const GREETING: &[u8] = b"ready\n";

/// The server's last words on a connection: how many frames it counted.
pub fn acknowledgement(frames: u64) -> String {
    format!("ok {frames}\n")
}

/// The frame for input line `number`: `"{number}\t{text}\n"`. `text` must not contain `\n`
/// (an [`pipeline::Input`]'s lines never do).
pub fn encode(number: u64, text: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(number.to_string().as_bytes());
    out.push(b'\t');
    out.extend_from_slice(text.as_bytes());
    out.push(b'\n');
}

/// One connection, as the server knows it: the order it was accepted in (from 1) and the
/// sensor's address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connection {
    pub number: usize,
    pub peer: SocketAddr,
}

impl fmt::Display for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "connection {} ({})", self.number, self.peer)
    }
}

impl Connection {
    /// The error for a failed read: the connection is the server's input.
    pub fn read_failed(&self, source: io::Error) -> PipelineError {
        PipelineError::ReadInput {
            path: self.to_string().into(),
            source,
        }
    }

    /// The error for a failed write (the greeting, the acknowledgement).
    pub fn write_failed(&self, source: io::Error) -> PipelineError {
        PipelineError::WriteOutput {
            path: self.to_string().into(),
            source,
        }
    }
}

// ANCHOR: decode
/// One frame, as read up to and including its `\n` (or up to the end of the stream, if the
/// sensor hung up mid-frame), turned into a reading or a rejection. `index` counts the frames
/// on this connection from 1, to name a frame whose line number cannot be read.
pub fn decode(connection: &Connection, index: u64, raw: &[u8]) -> Parsed {
    let (body, complete) = match raw.strip_suffix(b"\n") {
        Some(body) => (body, true),
        None => (raw, false),
    };
    // Bytes that are not UTF-8 become U+FFFD, as in `Input::from_file`: the line is then
    // rejected by validation like any other malformed line, with its line number.
    let text = String::from_utf8_lossy(body);
    let malformed = |line, what: &str| {
        let shown: String = text.chars().take(30).collect();
        Err(Rejection {
            line,
            field: Field::Record,
            reason: RejectReason::MalformedFrame,
            excerpt: format!("malformed frame {index} on {connection}: {what}: {shown:?}"),
        })
    };
    let Some((number, line)) = text.split_once('\t') else {
        return malformed(0, "no tab after the line number");
    };
    let Some(number) = number.parse::<u64>().ok().filter(|&n| n >= 1) else {
        return malformed(0, "the line number is not a positive integer");
    };
    if !complete {
        return malformed(number, "cut off: the connection ended mid-frame");
    }
    parse_line(number, line)
}
// ANCHOR_END: decode

/// What the server took in on one or more connections: frames counted, records aggregated.
/// `frames` is the report's "lines read": every frame becomes exactly one accepted or rejected
/// record, so the report balances whatever arrives.
#[derive(Debug, Default)]
pub struct Received {
    pub connections: usize,
    pub frames: u64,
    pub aggregator: Aggregator,
}

impl Received {
    /// A connection's first frame is about to arrive.
    pub fn new() -> Self {
        Received {
            connections: 1,
            ..Received::default()
        }
    }

    /// Decodes, validates, enriches and aggregates one frame.
    pub fn add(&mut self, connection: &Connection, raw: &[u8], registry: &dyn Registry) {
        self.frames += 1;
        let parsed = decode(connection, self.frames, raw);
        self.aggregator
            .add(parsed.and_then(|reading| enrich(registry, reading)));
    }

    /// Adds another connection's (or another worker's) intake to this one. Order-free.
    pub fn merge(&mut self, other: Received) {
        self.connections += other.connections;
        self.frames += other.frames;
        self.aggregator.merge(other.aggregator);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connection() -> Connection {
        Connection {
            number: 3,
            peer: "127.0.0.1:40000".parse().unwrap(),
        }
    }

    #[test]
    fn a_frame_round_trips_to_the_line_it_came_from() {
        let mut frame = Vec::new();
        encode(17, "s-0003,1700000100,21.5", &mut frame);
        assert_eq!(frame, b"17\ts-0003,1700000100,21.5\n");
        let reading = decode(&connection(), 1, &frame).unwrap();
        assert_eq!(reading, parse_line(17, "s-0003,1700000100,21.5").unwrap());
    }

    #[test]
    fn a_bad_line_keeps_its_line_number() {
        let rejection = decode(&connection(), 1, b"9\ts-1,abc,2\n").unwrap_err();
        assert_eq!(rejection, parse_line(9, "s-1,abc,2").unwrap_err());
    }

    #[test]
    fn malformed_frames_are_rejections_naming_connection_and_frame() {
        let cases: [(&[u8], u64, &str); 4] = [
            (b"s-1,17,2\n", 0, "no tab after the line number"),
            (
                b"x7\ts-1,17,2\n",
                0,
                "the line number is not a positive integer",
            ),
            (
                b"0\ts-1,17,2\n",
                0,
                "the line number is not a positive integer",
            ),
            (
                b"12\ts-1,17,2",
                12,
                "cut off: the connection ended mid-frame",
            ),
        ];
        for (raw, line, what) in cases {
            let rejection = decode(&connection(), 5, raw).unwrap_err();
            assert_eq!(rejection.line, line);
            assert_eq!(rejection.field, Field::Record);
            assert!(
                rejection.excerpt.starts_with(&format!(
                    "malformed frame 5 on connection 3 (127.0.0.1:40000): {what}"
                )),
                "{rejection}"
            );
        }
    }

    #[test]
    fn every_frame_is_counted_accepted_or_rejected() {
        let mut received = Received::new();
        let registry = pipeline::FleetRegistry::default();
        for raw in [&b"1\ts-0001,60,1.0\n"[..], b"garbage\n", b"3\ts-0001,60"] {
            received.add(&connection(), raw, &registry);
        }
        let (_, tally) = received.aggregator.finish();
        assert_eq!(received.frames, 3);
        assert_eq!(tally.accepted + tally.rejections.len() as u64, 3);
    }
}

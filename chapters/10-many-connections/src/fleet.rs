//! The sensors: the client side of the experiment, N connections from one process.
//!
//! This is the load generator, not a variant: it is the same for every server, so that only the
//! server changes between runs. It runs on a one-thread tokio runtime (a task per sensor is the
//! cheapest way to hold 10,000 sockets from one process) and works in two phases:
//!
//! 1. **connect**: every sensor connects and waits for the server's greeting, at most
//!    [`CONNECTING`] at a time. A sensor counts as connected only once a thread or task serves
//!    it, so the listen backlog never has to hold more than [`CONNECTING`] connections;
//! 2. **stream**: once *all* N are connected, every sensor sends its frames, hangs up its
//!    sending side and checks the server's `ok N`.
//!
//! So every connection is open at the same time, as a fleet of always-connected devices would
//! be: a server holds N connections at once, however fast it is. (That is also why a bounded
//! pool of C < N threads cannot serve this fleet: see `variants::sync::serve_pool`.)
//!
//! Line `i` of the input (from 0) goes to sensor `i % N`, framed with its line number
//! ([`crate::frame::encode`]).

use std::io::Read;
use std::net::SocketAddr;
use std::time::Duration;

use futures::stream::{self, StreamExt, TryStreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

use pipeline::{Input, PipelineError};

use crate::frame::{GREETING, acknowledgement, encode};
use crate::measure::raise_fd_limit;

/// At most this many sensors wait for their greeting at once.
pub const CONNECTING: usize = 64;

/// How long a sensor waits for the server at any step before it gives up. A backstop only: the
/// harness notices a stalled server much sooner and hangs the fleet up.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// What one sensor sends.
#[derive(Debug, Default, Clone)]
pub struct Payload {
    pub bytes: Vec<u8>,
    pub frames: u64,
}

/// The input's lines dealt out to `connections` sensors: line `i` to sensor `i % connections`.
pub fn partition(input: &Input, connections: usize) -> Vec<Payload> {
    let mut payloads = vec![Payload::default(); connections.max(1)];
    let n = payloads.len();
    for (i, text) in input.text().lines().enumerate() {
        let payload = &mut payloads[i % n];
        encode(i as u64 + 1, text, &mut payload.bytes);
        payload.frames += 1;
    }
    payloads
}

/// What the fleet did, in one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub connections: usize,
    pub frames: u64,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "fleet: {} sensors connected at once sent {} frames, every one acknowledged",
            self.connections, self.frames
        )
    }
}

// ANCHOR: stream_all
/// The whole fleet against the server at `address`: connect all, then stream all. An error
/// names the sensor (from 0) and what it was doing.
pub async fn stream_all(address: SocketAddr, payloads: Vec<Payload>) -> Result<Summary, String> {
    let connections = payloads.len();
    let connected: Vec<(usize, TcpStream)> = stream::iter(0..connections)
        .map(|sensor| connect(address, sensor))
        .buffer_unordered(CONNECTING)
        .try_collect()
        .await?;
    let sent = connected
        .into_iter()
        .map(|(sensor, stream)| send(sensor, stream, &payloads[sensor]));
    let frames = futures::future::try_join_all(sent).await?.into_iter().sum();
    Ok(Summary {
        connections,
        frames,
    })
}
// ANCHOR_END: stream_all

/// Connects, and waits until the server serves this connection (its greeting).
async fn connect(address: SocketAddr, sensor: usize) -> Result<(usize, TcpStream), String> {
    let failed = |what: &str, e: &dyn std::fmt::Display| format!("sensor {sensor}: {what}: {e}");
    let mut stream = timeout(PATIENCE, TcpStream::connect(address))
        .await
        .map_err(|e| failed("connect", &e))?
        .map_err(|e| failed("connect", &e))?;
    let mut greeting = [0; GREETING.len()];
    timeout(PATIENCE, stream.read_exact(&mut greeting))
        .await
        .map_err(|e| failed("waiting for the greeting", &e))?
        .map_err(|e| failed("waiting for the greeting", &e))?;
    if greeting != GREETING {
        return Err(failed(
            "greeting",
            &format!("expected {GREETING:?}, got {greeting:?}"),
        ));
    }
    Ok((sensor, stream))
}

/// Sends every frame, hangs up the sending side, and checks the server counted them all.
async fn send(sensor: usize, mut stream: TcpStream, payload: &Payload) -> Result<u64, String> {
    let failed = |what: &str, e: &dyn std::fmt::Display| format!("sensor {sensor}: {what}: {e}");
    stream
        .write_all(&payload.bytes)
        .await
        .map_err(|e| failed("send", &e))?;
    stream.shutdown().await.map_err(|e| failed("hang up", &e))?;
    let mut answer = Vec::new();
    timeout(PATIENCE, stream.read_to_end(&mut answer))
        .await
        .map_err(|e| failed("waiting for the acknowledgement", &e))?
        .map_err(|e| failed("waiting for the acknowledgement", &e))?;
    let expected = acknowledgement(payload.frames);
    if answer != expected.as_bytes() {
        return Err(failed(
            "acknowledgement",
            &format!(
                "sent {} frames, the server answered {:?}",
                payload.frames,
                String::from_utf8_lossy(&answer)
            ),
        ));
    }
    Ok(payload.frames)
}

/// The fleet on a one-thread runtime of its own, on the calling thread, until it is done or
/// `cancel` fires (then every socket is dropped: the server sees each connection end).
pub fn run(
    address: SocketAddr,
    payloads: Vec<Payload>,
    cancel: &CancellationToken,
) -> Result<Summary, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the fleet's runtime: {e}"))?;
    runtime.block_on(async {
        tokio::select! {
            done = stream_all(address, payloads) => done,
            () = cancel.cancelled() => Err("the fleet was stopped".to_owned()),
        }
    })
}

// ANCHOR: fleet_main
/// The fleet as a process of its own (the chapter's registered child [`crate::FLEET_CHILD`],
/// with `--connect ADDR --connections N`): raises its open-file limit, reads the input from stdin,
/// connects `connections` sensors to `connect` and streams. Prints its summary and its
/// open-file limit on stdout; an error says which sensor failed and how.
///
/// Why a process of its own: a connection has two ends, each a file descriptor. With both in
/// one process, 10,000 connections need 20,000 descriptors — more than this machine's limit.
pub fn main(connect: SocketAddr, connections: usize) -> Result<(), PipelineError> {
    let limit = raise_fd_limit()?;
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|source| PipelineError::ReadInput {
            path: "stdin".into(),
            source,
        })?;
    let input = Input::from_text("stdin", text);
    let summary = run(
        connect,
        partition(&input, connections),
        &CancellationToken::new(),
    )
    .map_err(|message| PipelineError::WriteOutput {
        path: format!("the server at {connect}").into(),
        source: std::io::Error::other(message),
    })?;
    println!("{summary}; fleet process: {limit}");
    Ok(())
}
// ANCHOR_END: fleet_main

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_goes_to_exactly_one_sensor() {
        let input = Input::from_text("t", "a\nb\n\nc\nd\n");
        let payloads = partition(&input, 2);
        assert_eq!(payloads[0].bytes, b"1\ta\n3\t\n5\td\n");
        assert_eq!(payloads[1].bytes, b"2\tb\n4\tc\n");
        assert_eq!(payloads.iter().map(|p| p.frames).sum::<u64>(), 5);
        assert_eq!(partition(&input, 10).len(), 10, "some sensors send nothing");
    }
}

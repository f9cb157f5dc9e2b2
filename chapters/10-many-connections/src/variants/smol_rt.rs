//! Chapter 10, **smol** variant: `smol::net` (async-net), a task per connection on an
//! `Executor` that `cfg.worker_threads` threads of our own drive.
//!
//! The same shape as `tokio_rt.rs`. The differences: the executor is a value we spawn onto and
//! pass around, handles go in a `Vec`, and a panic in a task would be re-raised in whoever
//! awaits it, so each task catches its own and returns it as an error. A `Task` dropped early
//! (the accept loop failed) cancels its connection.

use std::net::SocketAddr;
use std::sync::Arc;

use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use smol::Executor;
use smol::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use smol::net::{TcpListener, TcpStream};

use pipeline::{Config, Input, PipelineError, Report, joined};

use crate::LOOPBACK;
use crate::frame::{Connection, GREETING, Received, acknowledgement};
use crate::session::Session;

/// The tour's entry: [`serve`] with [`crate::DEFAULT_CONNECTIONS`] sensors in this process.
pub fn run(input: &Input, cfg: &Config) -> Result<Report, PipelineError> {
    crate::run_with(serve, input, cfg)
}

// ANCHOR: serve
/// A task per connection: accept, spawn a task for it, accept the next. Every task is joined,
/// and what it received merged, once all connections are accepted.
pub fn serve(session: &Arc<Session>, cfg: &Config) -> Result<Received, PipelineError> {
    runtimes::with_smol_executor(cfg.worker_threads, "ch10-smol", |executor| {
        smol::block_on(serve_async(executor, session))
    })
}

pub async fn serve_async(
    executor: &Executor<'static>,
    session: &Arc<Session>,
) -> Result<Received, PipelineError> {
    let listener = TcpListener::bind(LOOPBACK)
        .await
        .map_err(|source| PipelineError::Start {
            what: "the listener",
            source,
        })?;
    let address = local_address(&listener)?;
    session.listening(address);
    let mut connections = Vec::with_capacity(session.connections());
    for number in 1..=session.connections() {
        let (stream, peer) = listener
            .accept()
            .await
            .map_err(|e| session.accept_failed(address, e))?;
        let connection = session.accepted(number, peer)?;
        let session = Arc::clone(session);
        connections.push(executor.spawn(async move {
            let served = AssertUnwindSafe(serve_connection(stream, connection, &session));
            session.checked(joined("connection", served.catch_unwind().await))
        }));
    }
    drop(listener);
    let mut received = Received::default();
    for task in connections {
        received.merge(task.await?);
    }
    Ok(received)
}
// ANCHOR_END: serve

// ANCHOR: serve_connection
/// One connection, start to end: greet, read frames until the sensor hangs up, acknowledge.
async fn serve_connection(
    mut stream: TcpStream,
    connection: Connection,
    session: &Session,
) -> Result<Received, PipelineError> {
    session.serving();
    stream
        .write_all(GREETING)
        .await
        .map_err(|e| connection.write_failed(e))?;
    let mut reader = BufReader::new(stream);
    let mut received = Received::new();
    let mut frame = Vec::new();
    loop {
        frame.clear();
        let read = reader
            .read_until(b'\n', &mut frame)
            .await
            .map_err(|e| connection.read_failed(e))?;
        if read == 0 {
            break; // the sensor hung up
        }
        received.add(&connection, &frame, session.registry());
        session.frame_read();
    }
    let mut stream = reader.into_inner();
    stream
        .write_all(acknowledgement(received.frames).as_bytes())
        .await
        .map_err(|e| connection.write_failed(e))?;
    Ok(received)
}
// ANCHOR_END: serve_connection

fn local_address(listener: &TcpListener) -> Result<SocketAddr, PipelineError> {
    listener
        .local_addr()
        .map_err(|source| PipelineError::Start {
            what: "the listener",
            source,
        })
}

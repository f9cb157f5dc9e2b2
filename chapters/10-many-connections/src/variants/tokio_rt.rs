//! Chapter 10, **tokio** variant: `tokio::net`, a task per connection in a `JoinSet`, on a
//! multi-thread runtime with `cfg.worker_threads` workers.
//!
//! A read that finds no bytes returns `Pending` and the worker thread moves on to another task;
//! the kernel (epoll) says which socket is ready. So N connections cost N tasks — each a
//! heap-allocated future holding the connection's state (plus, as in every variant, an 8 KiB
//! read buffer) — and no more threads than the runtime's workers. Compared with `sync.rs`: `.await` on every read and
//! write, and tasks must own what they use (`'static`), so each gets a clone of the session.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use pipeline::{Config, Input, PipelineError, Report};
use runtimes::tokio_joined;

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
    runtimes::tokio_runtime(cfg)?.block_on(serve_async(session))
}

pub async fn serve_async(session: &Arc<Session>) -> Result<Received, PipelineError> {
    let listener = TcpListener::bind(LOOPBACK)
        .await
        .map_err(|source| PipelineError::Start {
            what: "the listener",
            source,
        })?;
    let address = local_address(&listener)?;
    session.listening(address);
    let mut connections = JoinSet::new();
    for number in 1..=session.connections() {
        let (stream, peer) = listener
            .accept()
            .await
            .map_err(|e| session.accept_failed(address, e))?;
        let connection = session.accepted(number, peer)?;
        let session = Arc::clone(session);
        connections.spawn(async move {
            session.checked(serve_connection(stream, connection, &session).await)
        });
    }
    drop(listener);
    let mut received = Received::default();
    while let Some(task) = connections.join_next().await {
        let result = tokio_joined("connection", task).and_then(|done| done);
        received.merge(session.checked(result)?);
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

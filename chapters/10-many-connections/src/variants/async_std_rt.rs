//! Chapter 10, **async-std** variant: `async_std::net`, a task per connection on the global
//! executor (one thread per CPU, started on first use).
//!
//! The same shape as `tokio_rt.rs`. The differences: no runtime to build (`task::block_on`
//! drives the accept loop, `task::spawn` puts connections on the global executor), handles in a
//! `Vec` instead of a `JoinSet`, and a panic in a task would be re-raised in whoever awaits its
//! handle, so each task catches its own and returns it as an error, as tokio's `JoinError`
//! does. And a handle dropped early (the accept loop failed) would detach its task, so the
//! tasks left over are cancelled explicitly.

use std::net::SocketAddr;
use std::sync::Arc;

use std::panic::AssertUnwindSafe;

use async_std::io::BufReader;
use async_std::io::prelude::{BufReadExt, WriteExt};
use async_std::net::{TcpListener, TcpStream};
use async_std::task::{self, JoinHandle};
use futures::FutureExt;

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
pub fn serve(session: &Arc<Session>, _cfg: &Config) -> Result<Received, PipelineError> {
    task::block_on(serve_async(session))
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
    let mut connections = Vec::with_capacity(session.connections());
    let served = accept_and_join(&listener, address, session, &mut connections).await;
    // A dropped async-std handle detaches its task, which would keep its socket open after we
    // return. So on an early return, cancel every task still here (tokio's `JoinSet` and
    // smol's `Task` do this when dropped).
    for task in connections {
        task.cancel().await;
    }
    served
}

async fn accept_and_join(
    listener: &TcpListener,
    address: SocketAddr,
    session: &Arc<Session>,
    connections: &mut Vec<JoinHandle<Result<Received, PipelineError>>>,
) -> Result<Received, PipelineError> {
    for number in 1..=session.connections() {
        let (stream, peer) = listener
            .accept()
            .await
            .map_err(|e| session.accept_failed(address, e))?;
        let connection = session.accepted(number, peer)?;
        let session = Arc::clone(session);
        connections.push(task::spawn(async move {
            let served = AssertUnwindSafe(serve_connection(stream, connection, &session));
            session.checked(joined("connection", served.catch_unwind().await))
        }));
    }
    let mut received = Received::default();
    while let Some(task) = connections.pop() {
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

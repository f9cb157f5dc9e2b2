//! Chapter 10, **sync** variant: `std::net`, blocking reads, and a thread per connection — or
//! a bounded pool of threads, to show why that does not help here.
//!
//! A blocking read parks its thread until bytes arrive, so a server that reads N connections at
//! once needs N threads. Each costs a stack (2 MiB of address space reserved, a few KiB of it
//! touched), a kernel task, and a context switch whenever its connection has data.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread;

use pipeline::{Config, Input, PipelineError, Report, joined};

use crate::LOOPBACK;
use crate::frame::{Connection, GREETING, Received, acknowledgement};
use crate::session::Session;

/// The tour's entry: [`serve`] with [`crate::DEFAULT_CONNECTIONS`] sensors in this process.
pub fn run(input: &Input, cfg: &Config) -> Result<Report, PipelineError> {
    crate::run_with(serve, input, cfg)
}

// ANCHOR: serve
/// A thread per connection: accept, start a thread for it, accept the next. Every thread is
/// joined, and what it received merged, once all connections are accepted.
pub fn serve(session: &Arc<Session>, _cfg: &Config) -> Result<Received, PipelineError> {
    let listener = TcpListener::bind(LOOPBACK).map_err(|source| PipelineError::Start {
        what: "the listener",
        source,
    })?;
    let address = local_address(&listener)?;
    session.listening(address);
    thread::scope(|s| {
        let mut connections = Vec::with_capacity(session.connections());
        for number in 1..=session.connections() {
            let (stream, peer) = listener
                .accept()
                .map_err(|e| session.accept_failed(address, e))?;
            let connection = session.accepted(number, peer)?;
            let thread = thread::Builder::new()
                .spawn_scoped(s, move || {
                    session.checked(serve_connection(stream, connection, session))
                })
                .map_err(|source| {
                    session.abandon(PipelineError::Start {
                        what: "a thread for a connection",
                        source,
                    })
                })?;
            connections.push(thread);
        }
        drop(listener);
        let mut received = Received::default();
        for thread in connections {
            received.merge(session.checked(joined("connection", thread.join()))?);
        }
        Ok(received)
    })
}
// ANCHOR_END: serve

// ANCHOR: serve_connection
/// One connection, start to end: greet, read frames until the sensor hangs up, acknowledge.
fn serve_connection(
    mut stream: TcpStream,
    connection: Connection,
    session: &Session,
) -> Result<Received, PipelineError> {
    session.serving();
    stream
        .write_all(GREETING)
        .map_err(|e| connection.write_failed(e))?;
    let mut reader = BufReader::new(stream);
    let mut received = Received::new();
    let mut frame = Vec::new();
    loop {
        frame.clear();
        let read = reader
            .read_until(b'\n', &mut frame)
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
        .map_err(|e| connection.write_failed(e))?;
    Ok(received)
}
// ANCHOR_END: serve_connection

// ANCHOR: serve_pool
/// A bounded pool: `cfg.concurrency` threads, each serving one connection at a time, start to
/// end. One thread accepts, and hands each connection to a free worker through a rendezvous
/// channel (capacity 0), so it accepts only when a worker is free: the other sensors wait in
/// the listen backlog (and, past it, cannot connect at all).
///
/// Threads stay at `concurrency` whatever N is. But a worker is free again only when its
/// sensor hangs up, so sensors that stay connected — as this fleet does until all of them are
/// served — hold every worker, and the (C+1)th sensor is never served: the run stalls, and the
/// harness says so.
pub fn serve_pool(session: &Arc<Session>, cfg: &Config) -> Result<Received, PipelineError> {
    let listener = TcpListener::bind(LOOPBACK).map_err(|source| PipelineError::Start {
        what: "the listener",
        source,
    })?;
    let address = local_address(&listener)?;
    session.listening(address);
    let (hand_over, taken) = sync_channel::<(TcpStream, Connection)>(0);
    let taken = Mutex::new(taken);
    thread::scope(|s| {
        let mut workers = Vec::with_capacity(cfg.concurrency);
        for _ in 0..cfg.concurrency {
            let worker = thread::Builder::new()
                .spawn_scoped(s, || session.checked(worker(&taken, session)))
                .map_err(|source| {
                    session.abandon(PipelineError::Start {
                        what: "a pool thread",
                        source,
                    })
                });
            match worker {
                Ok(worker) => workers.push(worker),
                Err(e) => {
                    drop(hand_over); // the workers started so far see the channel close
                    return Err(e);
                }
            }
        }
        let accepted = accept_into(&listener, address, hand_over, session);
        drop(listener);
        let mut received = Received::default();
        for worker in workers {
            received.merge(session.checked(joined("pool worker", worker.join()))?);
        }
        accepted.map(|()| received)
    })
}

/// The accepting thread of the pool: a connection is accepted only once a worker takes the
/// previous one. Returning drops `hand_over`, which ends every worker's loop.
fn accept_into(
    listener: &TcpListener,
    address: SocketAddr,
    hand_over: SyncSender<(TcpStream, Connection)>,
    session: &Session,
) -> Result<(), PipelineError> {
    for number in 1..=session.connections() {
        let (stream, peer) = listener
            .accept()
            .map_err(|e| session.accept_failed(address, e))?;
        let connection = session.accepted(number, peer)?;
        hand_over
            .send((stream, connection))
            .map_err(|_| session.abandon(PipelineError::closed("accept")))?;
    }
    Ok(())
}

/// One pool thread: serves connections one after the other until the acceptor is done.
fn worker(
    taken: &Mutex<Receiver<(TcpStream, Connection)>>,
    session: &Session,
) -> Result<Received, PipelineError> {
    let mut received = Received::default();
    loop {
        // The lock is held only while waiting for the next connection, never while serving.
        let next = taken.lock().expect("a pool thread panicked").recv();
        let Ok((stream, connection)) = next else {
            break;
        };
        received.merge(serve_connection(stream, connection, session)?);
    }
    Ok(received)
}
// ANCHOR_END: serve_pool

fn local_address(listener: &TcpListener) -> Result<SocketAddr, PipelineError> {
    listener
        .local_addr()
        .map_err(|source| PipelineError::Start {
            what: "the listener",
            source,
        })
}

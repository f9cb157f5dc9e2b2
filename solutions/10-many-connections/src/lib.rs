//! # Exercise 10 — a cap and a read timeout (chapter 10): SOLUTION
//!
//! The servers below take every connection that comes and serve each in a task of its own, for
//! as long as the client likes. Against well-behaved sensors that is fine. Against a client
//! that sends half a frame and then nothing, the task waits for the rest for ever: a file
//! descriptor, a buffer and a task gone, and enough such clients take a server down. Give each
//! server two limits:
//!
//! - a **cap**: at most `cap` connections open at once (accepted and not yet closed); the
//!   next is accepted only when one closes, and the kernel queues the rest;
//! - a **read timeout**: a client that takes longer than `read_timeout` to send (the rest of)
//!   a frame is dropped — its session ends, and its slot is free again. A dropped client is the
//!   client's problem, not the server's: the server goes on.
//!
//! 1. **tokio** — `serve_tokio` and `session_tokio`. (~10 min)
//! 2. **smol** — `serve_smol` and `session_smol`: the same with smol's tools. (~10 min)
//!
//! In the checks, as many clients as the cap stall half-way through a frame, before any
//! well-behaved one: without a timeout they hold every slot for ever. The checks count the
//! connections open at once in the listener the harness hands you, and ask every well-behaved
//! client whether it was served; they time nothing.
//!
//! Check: `cargo test -p ex10-many-connections` (or `cargo run --release -- check 10`).
//! Stuck: `cargo run --release -- hint 10`. Don't change the checks; the listener, the clients
//! and the probes are the chapter crate's (`ch10_many_connections::exercise`).
#![forbid(unsafe_code)]

use std::io;
use std::sync::Arc;
use std::time::Duration;

use ch10_many_connections::exercise::{SmolConn, SmolListener, TokioConn, TokioListener};
use ch10_many_connections::frame::{GREETING, acknowledgement};
use smol::Executor;

// ANCHOR: solution_tokio
/// The cap: a slot (a semaphore permit) is taken *before* the accept, so a connection is only
/// accepted when it can be served, and the kernel queues the rest. The permit moves into the
/// session's task and is dropped when the session ends, however it ends.
pub async fn serve_tokio(
    listener: TokioListener,
    connections: usize,
    cap: usize,
    read_timeout: Duration,
) -> io::Result<u64> {
    let slots = Arc::new(tokio::sync::Semaphore::new(cap));
    let mut sessions = tokio::task::JoinSet::new();
    for _ in 0..connections {
        let slot = Arc::clone(&slots)
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let conn = listener.accept().await?;
        sessions.spawn(async move {
            let served = session_tokio(conn, read_timeout).await;
            drop(slot); // the session is over: the next connection may be accepted
            served
        });
    }
    let mut frames = 0;
    while let Some(session) = sessions.join_next().await {
        // A session that failed (its client went away, or was dropped) counts nothing.
        if let Ok(counted) = session.expect("a session panicked") {
            frames += counted;
        }
    }
    Ok(frames)
}

/// One connection: greet, count frames until the client hangs up, acknowledge. Each read of a
/// frame gets `read_timeout`, the whole frame: half a frame and silence is a timeout, and the
/// session ends with an error (dropping the connection). The session as a whole has no limit:
/// a client may stay as long as it keeps sending.
pub async fn session_tokio(conn: TokioConn, read_timeout: Duration) -> io::Result<u64> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let mut reader = BufReader::new(conn);
    reader.get_mut().write_all(GREETING).await?;
    let (mut frames, mut frame) = (0, Vec::new());
    loop {
        frame.clear();
        let read = tokio::time::timeout(read_timeout, reader.read_until(b'\n', &mut frame))
            .await
            .map_err(|_| too_slow(read_timeout))??;
        if read == 0 {
            break; // the client hung up
        }
        frames += 1;
    }
    let ack = acknowledgement(frames);
    reader.into_inner().write_all(ack.as_bytes()).await?;
    Ok(frames)
}
// ANCHOR_END: solution_tokio

// ANCHOR: solution_smol
/// The same cap with smol's tools: `smol::lock::Semaphore`, whose `acquire_arc` guard can move
/// into the task. Every session's `Task` is kept and awaited (dropping one would cancel it).
pub async fn serve_smol(
    executor: &Executor<'static>,
    listener: SmolListener,
    connections: usize,
    cap: usize,
    read_timeout: Duration,
) -> io::Result<u64> {
    let slots = Arc::new(smol::lock::Semaphore::new(cap));
    let mut sessions = Vec::with_capacity(connections);
    for _ in 0..connections {
        let slot = slots.acquire_arc().await;
        let conn = listener.accept().await?;
        sessions.push(executor.spawn(async move {
            let served = session_smol(conn, read_timeout).await;
            drop(slot);
            served
        }));
    }
    let mut frames = 0;
    for session in sessions {
        // A session that failed (its client went away, or was dropped) counts nothing.
        if let Ok(counted) = session.await {
            frames += counted;
        }
    }
    Ok(frames)
}

/// smol has no `timeout` function: race each read against a fresh timer with `or` (the first
/// to finish wins, the other is dropped). A fresh timer per frame: one made before the loop
/// would time the whole session.
pub async fn session_smol(conn: SmolConn, read_timeout: Duration) -> io::Result<u64> {
    use futures_lite::FutureExt;
    use smol::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let mut reader = BufReader::new(conn);
    reader.get_mut().write_all(GREETING).await?;
    let (mut frames, mut frame) = (0, Vec::new());
    loop {
        frame.clear();
        let read = reader
            .read_until(b'\n', &mut frame)
            .or(async {
                smol::Timer::after(read_timeout).await;
                Err(too_slow(read_timeout))
            })
            .await?;
        if read == 0 {
            break; // the client hung up
        }
        frames += 1;
    }
    let ack = acknowledgement(frames);
    reader.into_inner().write_all(ack.as_bytes()).await?;
    Ok(frames)
}
// ANCHOR_END: solution_smol

fn too_slow(read_timeout: Duration) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("no whole frame within {read_timeout:?}: the client is dropped"),
    )
}

// The checks: one file, shared with the solution crate (its `tests` folder links to this one).
#[cfg(test)]
#[path = "../tests/checks.rs"]
mod checks;

//! # Exercise 09 — PostgreSQL from smol, without tokio (chapter 9)
//!
//! The store stage writes the accepted readings to PostgreSQL with `tokio-postgres`. The
//! pipeline runs on smol (then on async-std), and `tokio-postgres`'s `connect` needs tokio's
//! reactor, so the stage below wraps it in `async_compat::Compat` — which works, by starting a
//! tokio runtime on a thread of its own, next to the runtime the program already has: two
//! reactors, two sets of threads, and a dependency the program does not need.
//!
//! Make each stage talk to PostgreSQL through its own runtime's socket, with no tokio runtime
//! anywhere: chapter 9's lock-in section shows how (`connect_raw`).
//!
//! 1. **smol** — `store_smol`. (~10 min)
//! 2. **async-std** — `store_async_std`: the same with async-std's socket and tasks. (~5 min)
//!
//! `write_readings` (the chapter crate's) does the SQL; leave it as it is. The checks read the
//! rows back, and watch the process through a proxy in front of PostgreSQL: while your stage
//! talks to it, no tokio runtime may exist.
//!
//! Check: `cargo test -p ex09-real-io` (or `cargo run --release -- check 09`). Needs
//! PostgreSQL's binaries (the checks start a throwaway server; `cargo run -- doctor` says
//! whether they are found). Stuck: `cargo run --release -- hint 09`. Don't change the checks;
//! the SQL and the probe are the chapter crate's (`ch09_real_io::exercise`).
#![forbid(unsafe_code)]

use async_compat::Compat;
use ch09_real_io::exercise::write_readings;
use pipeline::{Reading, error_chain};
use tokio_postgres::NoTls;

// ANCHOR: task_smol
// TODO(1): `Compat` runs a tokio runtime for `tokio-postgres`. Connect with smol's own socket.
pub async fn store_smol(conninfo: String, readings: Vec<Reading>) -> Result<u64, String> {
    let (mut client, connection) = Compat::new(tokio_postgres::connect(&conninfo, NoTls))
        .await
        .map_err(|e| error_chain(&e))?;
    let connection = smol::spawn(Compat::new(connection));
    let written = write_readings(&mut client, &readings)
        .await
        .map_err(|e| error_chain(&e))?;
    drop(client); // the connection ends when its client is gone
    let _ = connection.await;
    Ok(written)
}
// ANCHOR_END: task_smol

// ANCHOR: task_async_std
// TODO(2): the same on async-std.
pub async fn store_async_std(conninfo: String, readings: Vec<Reading>) -> Result<u64, String> {
    let (mut client, connection) = Compat::new(tokio_postgres::connect(&conninfo, NoTls))
        .await
        .map_err(|e| error_chain(&e))?;
    let connection = async_std::task::spawn(Compat::new(connection));
    let written = write_readings(&mut client, &readings)
        .await
        .map_err(|e| error_chain(&e))?;
    drop(client); // the connection ends when its client is gone
    let _ = connection.await;
    Ok(written)
}
// ANCHOR_END: task_async_std

// The checks: one file, shared with the solution crate (its `tests` folder links to this one).
#[cfg(test)]
#[path = "../tests/checks.rs"]
mod checks;

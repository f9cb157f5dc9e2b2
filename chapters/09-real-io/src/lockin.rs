//! Runtime lock-in, as code: what each crate does when called from the "wrong" place. Each
//! function makes one call the way a program would; the chapter's tests run them (under a
//! deadline, panics caught) and assert what happens, and the book's table is built from those
//! assertions.
//!
//! - The sync crates (`postgres`, `reqwest::blocking`) run a tokio runtime inside. Called from
//!   a tokio task, `postgres` panics (it `block_on`s its runtime inside tokio's);
//!   `reqwest::blocking` panics in debug builds only (a debug-only check) and otherwise blocks
//!   the worker. `spawn_blocking` moves the call to a thread where blocking is allowed.
//! - From a smol or async-std task the sync crates *work* — no tokio context there to trip
//!   over — and block the executor thread for the whole call (chapter 8's problem).
//! - The async crates (`tokio-postgres`'s `connect`, `reqwest`) need a tokio reactor while
//!   they are polled: on smol or async-std they panic, unless wrapped in
//!   `async_compat::Compat` — or, for PostgreSQL, given a socket of the runtime's own
//!   (`connect_raw`).

use std::sync::{Arc, Mutex};

use async_compat::Compat;
use tokio_postgres::NoTls;
use tokio_util::compat::FuturesAsyncReadCompatExt;

/// A query's answer, or what went wrong, as text (tests compare it).
pub type Answer<T> = Result<T, String>;

fn select_one_blocking(conninfo: &str) -> Answer<i32> {
    let mut client = postgres::Client::connect(conninfo, postgres::NoTls)
        .map_err(|e| pipeline::error_chain(&e))?;
    let row = client
        .query_one("SELECT 1", &[])
        .map_err(|e| pipeline::error_chain(&e))?;
    Ok(row.get(0))
}

fn get_status_blocking(url: &str) -> Answer<u16> {
    let client = reqwest::blocking::Client::new();
    let response = client.get(url).send().map_err(|e| e.to_string())?;
    Ok(response.status().as_u16())
}

fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime starts")
}

/// A task's result, or its panic re-raised here (as `.await.unwrap()` on it would).
fn joined<T>(result: Result<T, tokio::task::JoinError>) -> T {
    result.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

// ANCHOR: postgres_in_task
/// BROKEN ON PURPOSE: the sync `postgres` client, called from a tokio task.
pub fn postgres_in_tokio_task(conninfo: &str) -> Answer<i32> {
    let conninfo = conninfo.to_owned();
    tokio_runtime().block_on(async move {
        joined(tokio::spawn(async move { select_one_blocking(&conninfo) }).await)
    })
}
// ANCHOR_END: postgres_in_task

// ANCHOR: postgres_spawn_blocking
/// FIXED: the same call on tokio's blocking pool, where a thread may block.
pub fn postgres_in_spawn_blocking(conninfo: &str) -> Answer<i32> {
    let conninfo = conninfo.to_owned();
    tokio_runtime().block_on(async move {
        joined(tokio::task::spawn_blocking(move || select_one_blocking(&conninfo)).await)
    })
}
// ANCHOR_END: postgres_spawn_blocking

// ANCHOR: reqwest_blocking_in_task
/// BROKEN ON PURPOSE: `reqwest::blocking` from a tokio task.
pub fn reqwest_blocking_in_tokio_task(url: &str) -> Answer<u16> {
    let url = url.to_owned();
    tokio_runtime().block_on(async move {
        joined(tokio::spawn(async move { get_status_blocking(&url) }).await)
    })
}

/// FIXED: on the blocking pool.
pub fn reqwest_blocking_in_spawn_blocking(url: &str) -> Answer<u16> {
    let url = url.to_owned();
    tokio_runtime().block_on(async move {
        joined(tokio::task::spawn_blocking(move || get_status_blocking(&url)).await)
    })
}
// ANCHOR_END: reqwest_blocking_in_task

/// What a one-thread smol executor ran, in order: the call's start and end, and a second task
/// spawned right after it.
pub type Events = Vec<&'static str>;

// ANCHOR: sync_crate_on_smol
/// The sync `postgres` client in a smol task, next to another task, on one executor thread.
/// It works — smol has no tokio context to trip over — but the other task waits until the
/// whole call is over: the thread is blocked.
pub fn postgres_in_smol_task(conninfo: &str) -> (Answer<i32>, Events) {
    let conninfo = conninfo.to_owned();
    on_one_smol_thread(move |log| {
        Box::pin(async move { logged(&log, || select_one_blocking(&conninfo)) })
    })
}

/// The same with tokio-postgres over smol's own socket (`connect_raw`): the other task runs
/// while the query waits for the server.
pub fn tokio_postgres_raw_in_smol_task(conninfo: &str) -> (Answer<i32>, Events) {
    let conninfo = conninfo.to_owned();
    on_one_smol_thread(move |log| {
        Box::pin(async move {
            log.lock().expect("log").push("call starts");
            let answer = select_one_raw(&conninfo).await;
            log.lock().expect("log").push("call ends");
            answer
        })
    })
}
// ANCHOR_END: sync_crate_on_smol

fn logged<T>(log: &Mutex<Events>, call: impl FnOnce() -> T) -> T {
    log.lock().expect("log").push("call starts");
    let answer = call();
    log.lock().expect("log").push("call ends");
    answer
}

type Call = std::pin::Pin<Box<dyn Future<Output = Answer<i32>> + Send>>;

/// Runs `call` and then a second task on a one-thread smol executor; logs who ran when.
fn on_one_smol_thread(call: impl FnOnce(Arc<Mutex<Events>>) -> Call) -> (Answer<i32>, Events) {
    let log = Arc::new(Mutex::new(Events::new()));
    let executor = smol::LocalExecutor::new();
    let first = executor.spawn(call(Arc::clone(&log)));
    let other = {
        let log = Arc::clone(&log);
        executor.spawn(async move { log.lock().expect("log").push("other task runs") })
    };
    let answer = smol::block_on(executor.run(async {
        other.await;
        first.await
    }));
    let events = log.lock().expect("log").clone();
    (answer, events)
}

/// `SELECT 1` with tokio-postgres over smol's own `TcpStream`: no tokio runtime.
pub async fn select_one_raw(conninfo: &str) -> Answer<i32> {
    let config: tokio_postgres::Config = conninfo.parse().map_err(|e| format!("{e}"))?;
    let address = crate::store::tcp_address(&config).map_err(|e| e.to_string())?;
    let socket = smol::net::TcpStream::connect(address)
        .await
        .map_err(|e| e.to_string())?;
    let (client, connection) = config
        .connect_raw(socket.compat(), NoTls)
        .await
        .map_err(|e| pipeline::error_chain(&e))?;
    let connection = smol::spawn(connection);
    let row = client
        .query_one("SELECT 1", &[])
        .await
        .map_err(|e| pipeline::error_chain(&e))?;
    drop(client);
    let _ = connection.await;
    Ok(row.get(0))
}

/// The two runtimes without tokio, to make a call from one of their tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonTokio {
    Smol,
    AsyncStd,
}

impl NonTokio {
    pub const BOTH: [NonTokio; 2] = [NonTokio::Smol, NonTokio::AsyncStd];

    /// Runs `call` as a task on this runtime's executor and waits for it (a panic in the task
    /// is re-raised here, as both runtimes do for an awaited task).
    pub fn run<T: Send + 'static>(self, call: impl Future<Output = T> + Send + 'static) -> T {
        match self {
            NonTokio::Smol => smol::block_on(smol::spawn(call)),
            NonTokio::AsyncStd => async_std::task::block_on(async_std::task::spawn(call)),
        }
    }
}

/// The sync `postgres` client from a smol or async-std task: works (and blocks the thread).
pub fn postgres_in_task(runtime: NonTokio, conninfo: &str) -> Answer<i32> {
    let conninfo = conninfo.to_owned();
    runtime.run(async move { select_one_blocking(&conninfo) })
}

/// `reqwest::blocking` from a smol or async-std task: works (and blocks the thread).
pub fn reqwest_blocking_in_task(runtime: NonTokio, url: &str) -> Answer<u16> {
    let url = url.to_owned();
    runtime.run(async move { get_status_blocking(&url) })
}

// ANCHOR: async_crate_without_tokio
/// BROKEN ON PURPOSE: tokio-postgres's `connect` on smol or async-std, no compat layer.
pub fn tokio_postgres_without_compat(runtime: NonTokio, conninfo: &str) -> Answer<i32> {
    let conninfo = conninfo.to_owned();
    runtime.run(async move {
        let (client, connection) = tokio_postgres::connect(&conninfo, NoTls)
            .await
            .map_err(|e| pipeline::error_chain(&e))?;
        let _connection = smol::spawn(connection);
        let row = client
            .query_one("SELECT 1", &[])
            .await
            .map_err(|e| e.to_string())?;
        Ok(row.get(0))
    })
}

/// BROKEN ON PURPOSE: async reqwest on smol or async-std, no compat layer.
pub fn reqwest_without_compat(runtime: NonTokio, url: &str) -> Answer<u16> {
    let url = url.to_owned();
    runtime.run(async move {
        let response = reqwest::get(url).await.map_err(|e| e.to_string())?;
        Ok(response.status().as_u16())
    })
}

/// FIXED: the same inside `Compat`.
pub fn reqwest_through_compat(runtime: NonTokio, url: &str) -> Answer<u16> {
    let url = url.to_owned();
    runtime.run(Compat::new(async move {
        let response = reqwest::get(url).await.map_err(|e| e.to_string())?;
        Ok(response.status().as_u16())
    }))
}
// ANCHOR_END: async_crate_without_tokio

/// The names of this process's threads (Linux: `/proc/self/task/*/comm`, at most 15 bytes
/// each), sorted.
pub fn thread_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("comm")).ok())
        .map(|name| name.trim_end().to_owned())
        .collect();
    names.sort();
    names
}

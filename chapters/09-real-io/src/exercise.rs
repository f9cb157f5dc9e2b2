//! Exercise 09's harness: the readings to store, the SQL that stores them, and the probe the
//! checks read. It lives here, in the chapter crate, so that the exercise's starter and its
//! solution share one copy and neither can change it.
//!
//! The probe is a proxy: the stage gets a connection string that points at it, and it passes
//! every byte on to the real server. Each time the stage sends something, the proxy looks at
//! the process: a tokio runtime with I/O is an epoll instance of its own (`anon_inode:
//! [eventpoll]` in `/proc/self/fd`), and `async_compat::Compat` runs one on a thread named
//! `async-compat/tokio-1`. A thread of tokio's, or more epoll instances than before the stage
//! started (when smol's and async-std's reactor, `async-io`'s, already exists), means a tokio
//! runtime was alive while the stage talked to PostgreSQL — whoever built it (`Compat`, the sync
//! `postgres` client, a runtime of the stage's own). Linux only, like the rest of `/proc`.
//!
//! Every check runs on its own, one after the other ([`one_at_a_time`]): a test database is
//! created, and read back, with the sync `postgres` client, whose runtime another check's proxy
//! must not see.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;

use pipeline::{DatasetSpec, Input, PipelineError, Reading};

/// The table the stage writes to (the harness creates it).
pub const SCHEMA: &str = "CREATE TABLE readings (
    line      bigint           PRIMARY KEY,
    sensor_id text             NOT NULL,
    timestamp bigint           NOT NULL,
    value     double precision NOT NULL
)";
pub const INSERT: &str =
    "INSERT INTO readings (line, sensor_id, timestamp, value) VALUES ($1, $2, $3, $4)";
pub const SELECT: &str = "SELECT line, sensor_id, timestamp, value FROM readings ORDER BY line";

/// The valid readings of a generated input of `lines` lines, in line order.
pub fn readings(lines: usize) -> Vec<Reading> {
    Input::generated(&DatasetSpec {
        lines,
        ..DatasetSpec::default()
    })
    .readings()
}

// ANCHOR: write_readings
/// Writes `readings` in one transaction on a connected `tokio-postgres` client; how many rows
/// it wrote. The client itself needs no runtime: it talks to its `Connection` through
/// channels. The `Connection` is what does the I/O, and whoever polls it must be able to.
pub async fn write_readings(
    client: &mut tokio_postgres::Client,
    readings: &[Reading],
) -> Result<u64, tokio_postgres::Error> {
    let tx = client.transaction().await?;
    let insert = tx.prepare(INSERT).await?;
    let mut written = 0;
    for r in readings {
        let line = i64::try_from(r.line).unwrap_or(i64::MAX);
        written += tx
            .execute(&insert, &[&line, &r.sensor_id, &r.timestamp, &r.value])
            .await?;
    }
    tx.commit().await?;
    Ok(written)
}
// ANCHOR_END: write_readings

/// Holds the checks to one at a time (see the module's documentation).
pub fn one_at_a_time() -> MutexGuard<'static, ()> {
    static ONE: Mutex<()> = Mutex::new(());
    ONE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How many epoll instances the process has: a tokio runtime with I/O adds one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Baseline {
    epolls: usize,
}

impl Baseline {
    fn now() -> Baseline {
        let epolls = std::fs::read_dir("/proc/self/fd")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|fd| std::fs::read_link(fd.path()).ok())
            .filter(|target| target.as_os_str() == "anon_inode:[eventpoll]")
            .count();
        Baseline { epolls }
    }

    /// A sign of a tokio runtime now, in words; `None` if there is none. A thread of tokio's
    /// counts whenever it was started (`Compat`'s runtime, once started, stays for the rest of
    /// the process: a check cannot tell whose it is, so it fails every check after it too); an
    /// epoll instance counts if it is new since the baseline.
    fn tokio_since(&self) -> Option<String> {
        let thread = crate::lockin::thread_names()
            .into_iter()
            .find(|name| name.contains("tokio") || name.starts_with("async-compat"));
        if let Some(name) = thread {
            return Some(format!("a thread named `{name}` was running"));
        }
        let now = Baseline::now();
        (now.epolls > self.epolls).then(|| {
            format!(
                "the process had {} epoll instance(s) more than before the stage started (a \
                 tokio runtime with I/O is one)",
                now.epolls - self.epolls
            )
        })
    }
}

/// The proxy and what it saw.
pub struct Proxy {
    conninfo: String,
    state: Arc<Watch>,
}

struct Watch {
    baseline: Baseline,
    watching: AtomicBool,
    chunks: AtomicU64,
    evidence: Mutex<Option<String>>,
}

/// What the proxy saw while the stage ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// Chunks of bytes the stage sent through the proxy.
    pub chunks: u64,
    /// The first sign of a tokio runtime, in words.
    pub tokio: Option<String>,
}

impl Proxy {
    /// Starts a proxy to the server of `conninfo` (which must be TCP) and takes the baseline.
    /// Call it right before the stage, with nothing else running.
    pub fn start(conninfo: &str) -> Result<Proxy, PipelineError> {
        let config = pgstore::config(conninfo)?;
        let upstream = pgstore::tcp_address(&config)?;
        // The reactor smol and async-std share exists from here on, before the baseline.
        smol::block_on(smol::Timer::after(std::time::Duration::from_millis(1)));
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|source| PipelineError::Start {
            what: "the exercise's proxy",
            source,
        })?;
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        let mut proxied = format!("host=127.0.0.1 port={port}");
        if let Some(user) = config.get_user() {
            proxied.push_str(&format!(" user='{user}'"));
        }
        if let Some(dbname) = config.get_dbname() {
            proxied.push_str(&format!(" dbname='{dbname}'"));
        }
        if let Some(password) = config.get_password() {
            let password = String::from_utf8_lossy(password).replace('\\', "\\\\");
            proxied.push_str(&format!(" password='{}'", password.replace('\'', "\\'")));
        }
        let state = Arc::new(Watch {
            baseline: Baseline::now(),
            watching: AtomicBool::new(true),
            chunks: AtomicU64::new(0),
            evidence: Mutex::new(None),
        });
        let watch = Arc::clone(&state);
        thread::Builder::new()
            .name("ex09-proxy".into())
            .spawn(move || {
                for client in listener.incoming().flatten() {
                    let Ok(server) = TcpStream::connect((upstream.0.as_str(), upstream.1)) else {
                        continue;
                    };
                    let _ = pump(client, server, &watch);
                }
            })
            .map_err(|source| PipelineError::Start {
                what: "the exercise's proxy",
                source,
            })?;
        Ok(Proxy {
            conninfo: proxied,
            state,
        })
    }

    /// The connection string the stage is given: the proxy's.
    pub fn conninfo(&self) -> &str {
        &self.conninfo
    }

    /// Stops looking (the stage has returned) and says what it saw.
    pub fn seen(&self) -> Seen {
        self.state.watching.store(false, Ordering::SeqCst);
        Seen {
            chunks: self.state.chunks.load(Ordering::SeqCst),
            tokio: self
                .state
                .evidence
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        }
    }
}

/// Passes bytes both ways, on two threads; looks at the process each time the stage sends.
fn pump(client: TcpStream, server: TcpStream, watch: &Arc<Watch>) -> io::Result<()> {
    let (mut from_client, mut to_server) = (client.try_clone()?, server.try_clone()?);
    let (mut from_server, mut to_client) = (server, client);
    let up = Arc::clone(watch);
    thread::Builder::new()
        .name("ex09-proxy-up".into())
        .spawn(move || {
            let mut buf = [0; 16 * 1024];
            while let Ok(n @ 1..) = from_client.read(&mut buf) {
                if up.watching.load(Ordering::SeqCst) {
                    up.chunks.fetch_add(1, Ordering::SeqCst);
                    let mut evidence = up.evidence.lock().unwrap_or_else(PoisonError::into_inner);
                    if evidence.is_none() {
                        *evidence = up.baseline.tokio_since();
                    }
                }
                if to_server.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            let _ = to_server.shutdown(Shutdown::Write);
        })?;
    thread::Builder::new()
        .name("ex09-proxy-down".into())
        .spawn(move || {
            let _ = io::copy(&mut from_server, &mut to_client);
            let _ = to_client.shutdown(Shutdown::Write);
        })?;
    Ok(())
}

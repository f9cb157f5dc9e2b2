//! Exercise 10's harness: the listener the learner's server accepts from, the clients that
//! connect to it, and the probes the checks read. It lives here, in the chapter crate, so the
//! exercise's starter and its solution share one copy and neither can change it.
//!
//! Every connection the server accepts comes wrapped ([`TokioConn`], [`SmolConn`]): the wrapper
//! counts the connections open at once, and which of them are the stalled clients', from accept
//! to drop. So the count is the server's, not something its code reports about itself.
//!
//! The clients, all connected (the kernel completes the handshake and queues them on the
//! listener) and their bytes sent before the server starts, in this order:
//!
//! 1. [`STALLED`] clients that send half a frame and then nothing, for ever — as many as the
//!    cap, so that together they can hold every slot;
//! 2. [`WELL_BEHAVED`] clients that send [`FRAMES_EACH`] frames and hang up their sending side;
//! 3. one steady client that sends a frame every [`STEADY_GAP`] once it is greeted, for longer
//!    than the read timeout in all: a timeout on the whole session would cut it off, a timeout
//!    on each read does not (the gap is a tenth of the read timeout).
//!
//! Every client that completes expects the greeting, then `ok N` with its frame count. Nothing
//! here asserts a duration: the checks run the server under a stall watchdog that watches
//! [`Probe::activity`] (a connection accepted or closed), so a server that does nothing for
//! [`STALL`] is reported as stalled, with what the probes saw.

use std::collections::HashSet;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use pipeline::{DatasetSpec, Input, Progress};

use crate::LOOPBACK;
use crate::frame::{GREETING, acknowledgement, encode};

/// At most this many connections open at once.
pub const CAP: usize = 4;
/// The clients that stop half-way through a frame: enough to take every slot.
pub const STALLED: usize = CAP;
pub const WELL_BEHAVED: usize = 16;
pub const FRAMES_EACH: u64 = 5;
/// How long the server may wait for the rest of a frame.
pub const READ_TIMEOUT: Duration = Duration::from_millis(500);
/// The steady client's gap between frames, and how many it sends (in all, longer than
/// [`READ_TIMEOUT`]).
pub const STEADY_GAP: Duration = Duration::from_millis(50);
pub const STEADY_FRAMES: u64 = 16;
/// No connection accepted or closed for this long: the run is stalled.
pub const STALL: Duration = Duration::from_secs(3);
/// Every connection: the stalled, the well-behaved and the steady one.
pub const CONNECTIONS: usize = STALLED + WELL_BEHAVED + 1;
/// The frames the server must count: the well-behaved clients' and the steady one's.
pub const FRAMES: u64 = WELL_BEHAVED as u64 * FRAMES_EACH + STEADY_FRAMES;

/// What the probes saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    /// Connections accepted.
    pub accepted: usize,
    /// The most connections open at once (accepted and not yet dropped).
    pub peak: usize,
    /// Stalled clients' connections the server has dropped.
    pub stalled_dropped: usize,
}

/// The probes, shared by the wrappers.
#[derive(Default)]
pub struct Probe {
    stalled: HashSet<SocketAddr>,
    open: AtomicUsize,
    peak: AtomicUsize,
    accepted: AtomicUsize,
    stalled_dropped: AtomicUsize,
    activity: Progress,
}

impl Probe {
    /// Moves each time a connection is accepted or closed: what a stall watchdog watches.
    pub fn activity(&self) -> &Progress {
        &self.activity
    }

    pub fn seen(&self) -> Seen {
        Seen {
            accepted: self.accepted.load(Ordering::SeqCst),
            peak: self.peak.load(Ordering::SeqCst),
            stalled_dropped: self.stalled_dropped.load(Ordering::SeqCst),
        }
    }

    fn opened(self: &Arc<Self>, peer: SocketAddr) -> Open {
        let open = self.open.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(open, Ordering::SeqCst);
        self.accepted.fetch_add(1, Ordering::SeqCst);
        self.activity.add(1);
        Open {
            probe: Arc::clone(self),
            stalled: self.stalled.contains(&peer),
        }
    }
}

/// One accepted connection, open until dropped.
struct Open {
    probe: Arc<Probe>,
    stalled: bool,
}

impl Drop for Open {
    fn drop(&mut self) {
        self.probe.open.fetch_sub(1, Ordering::SeqCst);
        if self.stalled {
            self.probe.stalled_dropped.fetch_add(1, Ordering::SeqCst);
        }
        self.probe.activity.add(1);
    }
}

/// The clients' ends.
pub struct Clients {
    stalled: Vec<TcpStream>,
    well_behaved: Vec<TcpStream>,
    steady: JoinHandle<Result<(), String>>,
}

/// The listener, with every client connected and its bytes sent, and the probe.
pub struct Setup {
    pub listener: TcpListener,
    pub probe: Arc<Probe>,
    pub clients: Clients,
}

/// Binds the listener and connects the clients (see the module's documentation).
pub fn setup() -> Setup {
    let listener = TcpListener::bind(LOOPBACK).expect("a listener on loopback");
    let address = listener.local_addr().expect("its address");
    let input = Input::generated(&DatasetSpec {
        lines: WELL_BEHAVED * FRAMES_EACH as usize + STEADY_FRAMES as usize,
        ..DatasetSpec::default()
    });
    let lines: Vec<String> = input
        .batches(1024)
        .flatten()
        .map(|line| line.text)
        .collect();
    let frame = |i: usize| {
        let mut out = Vec::new();
        encode(i as u64 + 1, &lines[i], &mut out);
        out
    };
    let connect = || TcpStream::connect(address).expect("a client connects");
    let mut stalled_peers = HashSet::new();
    let stalled: Vec<TcpStream> = (0..STALLED)
        .map(|i| {
            let mut stream = connect();
            let whole = frame(i);
            stream
                .write_all(&whole[..whole.len() / 2])
                .expect("half a frame");
            stalled_peers.insert(stream.local_addr().expect("its address"));
            stream
        })
        .collect();
    let well_behaved: Vec<TcpStream> = (0..WELL_BEHAVED)
        .map(|c| {
            let mut stream = connect();
            for f in 0..FRAMES_EACH as usize {
                stream
                    .write_all(&frame(c * FRAMES_EACH as usize + f))
                    .expect("frames");
            }
            stream
                .shutdown(Shutdown::Write)
                .expect("hang up the sending side");
            stream
        })
        .collect();
    let mut steady_stream = connect();
    let first = WELL_BEHAVED * FRAMES_EACH as usize;
    let steady_frames: Vec<Vec<u8>> = (0..STEADY_FRAMES as usize)
        .map(|f| frame(first + f))
        .collect();
    let steady = thread::Builder::new()
        .name("ex10-steady".into())
        .spawn(move || {
            // Long enough for any server that serves it at all; a stalled one fails the check
            // long before (the thread is then left behind).
            let patience = Some(Duration::from_secs(30));
            steady_stream
                .set_read_timeout(patience)
                .map_err(|e| e.to_string())?;
            let mut greeting = [0; GREETING.len()];
            steady_stream
                .read_exact(&mut greeting)
                .map_err(|e| format!("no greeting: {e}"))?;
            for frame in &steady_frames {
                steady_stream
                    .write_all(frame)
                    .map_err(|e| format!("cut off after a gap: {e}"))?;
                thread::sleep(STEADY_GAP);
            }
            steady_stream
                .shutdown(Shutdown::Write)
                .map_err(|e| e.to_string())?;
            let mut rest = String::new();
            steady_stream
                .read_to_string(&mut rest)
                .map_err(|e| format!("no acknowledgement: {e}"))?;
            let expected = acknowledgement(STEADY_FRAMES);
            if rest == expected {
                Ok(())
            } else {
                Err(format!("it said {rest:?}, not {expected:?}"))
            }
        })
        .expect("the steady client's thread");
    Setup {
        listener,
        probe: Arc::new(Probe {
            stalled: stalled_peers,
            ..Probe::default()
        }),
        clients: Clients {
            stalled,
            well_behaved,
            steady,
        },
    }
}

impl Clients {
    /// What each client that should have been served got, after the server returned: the
    /// well-behaved ones, then the steady one. `Err` says what went wrong for one of them.
    pub fn acknowledged(self) -> Result<usize, String> {
        drop(self.stalled);
        let expected = format!(
            "{}{}",
            String::from_utf8_lossy(GREETING),
            acknowledgement(FRAMES_EACH)
        );
        for (i, mut stream) in self.well_behaved.into_iter().enumerate() {
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .map_err(|e| e.to_string())?;
            let mut said = String::new();
            let _ = stream.read_to_string(&mut said);
            if said != expected {
                return Err(format!(
                    "well-behaved client {} of {WELL_BEHAVED} got {said:?}, not {expected:?}",
                    i + 1
                ));
            }
        }
        self.steady
            .join()
            .map_err(|_| "the steady client panicked".to_owned())?
            .map_err(|why| format!("the steady client (a frame every {STEADY_GAP:?}): {why}"))?;
        Ok(WELL_BEHAVED + 1)
    }
}

// ANCHOR: conns
/// A connection the server accepted, for tokio: reads and writes go straight to the socket.
pub struct TokioConn {
    stream: tokio::net::TcpStream,
    _open: Open,
}

/// The listener, for tokio. Create it inside the runtime.
pub struct TokioListener {
    listener: tokio::net::TcpListener,
    probe: Arc<Probe>,
}

impl TokioListener {
    pub fn new(listener: TcpListener, probe: &Arc<Probe>) -> io::Result<TokioListener> {
        listener.set_nonblocking(true)?;
        Ok(TokioListener {
            listener: tokio::net::TcpListener::from_std(listener)?,
            probe: Arc::clone(probe),
        })
    }

    /// The next connection; it counts as open from here until it is dropped.
    pub async fn accept(&self) -> io::Result<TokioConn> {
        let (stream, peer) = self.listener.accept().await?;
        Ok(TokioConn {
            stream,
            _open: self.probe.opened(peer),
        })
    }
}

/// A connection the server accepted, for smol.
pub struct SmolConn {
    stream: smol::net::TcpStream,
    _open: Open,
}

/// The listener, for smol.
pub struct SmolListener {
    listener: smol::net::TcpListener,
    probe: Arc<Probe>,
}

impl SmolListener {
    pub fn new(listener: TcpListener, probe: &Arc<Probe>) -> io::Result<SmolListener> {
        Ok(SmolListener {
            listener: smol::net::TcpListener::try_from(listener)?,
            probe: Arc::clone(probe),
        })
    }

    /// The next connection; it counts as open from here until it is dropped.
    pub async fn accept(&self) -> io::Result<SmolConn> {
        let (stream, peer) = self.listener.accept().await?;
        Ok(SmolConn {
            stream,
            _open: self.probe.opened(peer),
        })
    }
}
// ANCHOR_END: conns

impl tokio::io::AsyncRead for TokioConn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for TokioConn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

impl futures::io::AsyncRead for SmolConn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl futures::io::AsyncWrite for SmolConn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_close(cx)
    }
}

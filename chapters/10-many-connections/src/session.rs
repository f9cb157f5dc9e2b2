//! What a server and the [harness](crate::harness) that runs it share during one run: how many
//! connections to expect, where the server listens, how far it has got, and two flags — the
//! harness asks the server to stop, the server tells the harness it has given up.
//!
//! Why the second flag: a server that fails half-way (the OS refuses a thread, a file
//! descriptor, a read) must still wait for the connections it already serves before it can
//! return, and those wait for sensors that are waiting for the server. Raising the flag lets the
//! harness hang up the sensors at once, so every connection ends and the server returns its
//! error instead of hanging.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use pipeline::{Config, PipelineError, Progress, Registry};

use crate::frame::{Connection, Received};

/// A server: binds a listener, announces it with [`Session::listening`], accepts
/// [`Session::connections`] connections and serves each until the sensor hangs up.
pub type ServeFn = fn(&Arc<Session>, &Config) -> Result<Received, PipelineError>;

/// What the server tells the harness.
pub(crate) enum Event {
    Listening(SocketAddr),
    Finished(Result<Received, PipelineError>),
}

pub struct Session {
    connections: usize,
    registry: Arc<dyn Registry>,
    /// Frames read (`cfg.progress`, what the tour's progress bar counts).
    lines: Progress,
    /// Frames read plus connections taken on: the harness's stall watchdog watches this.
    activity: Progress,
    accepted: AtomicUsize,
    serving: AtomicUsize,
    /// The process's thread count at the moment the last connection was taken on (0: not yet).
    threads_at_full: AtomicUsize,
    /// When the last connection was taken on: connection set-up ends, streaming begins.
    full_at: OnceLock<Instant>,
    stop: AtomicBool,
    abandoned: AtomicBool,
    events: Sender<Event>,
}

impl Session {
    pub(crate) fn new(connections: usize, cfg: &Config, events: Sender<Event>) -> Self {
        Session {
            connections,
            registry: Arc::clone(&cfg.registry),
            lines: cfg.progress.clone(),
            activity: Progress::default(),
            accepted: AtomicUsize::new(0),
            serving: AtomicUsize::new(0),
            threads_at_full: AtomicUsize::new(0),
            full_at: OnceLock::new(),
            stop: AtomicBool::new(false),
            abandoned: AtomicBool::new(false),
            events,
        }
    }

    /// How many connections the server must accept.
    pub fn connections(&self) -> usize {
        self.connections
    }

    /// Where sensors look their ids up.
    pub fn registry(&self) -> &dyn Registry {
        &*self.registry
    }

    /// The server is bound: the harness starts the sensors now.
    pub fn listening(&self, address: SocketAddr) {
        // The harness holds the receiver until the server has finished.
        let _ = self.events.send(Event::Listening(address));
    }

    /// The server accepted its `number`th connection (from 1). An error if the harness has
    /// asked the server to stop: then this connection is only the harness knocking.
    pub fn accepted(&self, number: usize, peer: SocketAddr) -> Result<Connection, PipelineError> {
        if self.stop.load(Ordering::SeqCst) {
            return Err(self.abandon(PipelineError::StageCancelled { stage: "accept" }));
        }
        self.accepted.fetch_add(1, Ordering::Relaxed);
        self.activity.add(1);
        Ok(Connection { number, peer })
    }

    /// A thread or task starts serving a connection (it greets the sensor next).
    ///
    /// When the last one does, every connection is being served, and none has ended: a sensor
    /// hangs up only once *all* are greeted, and this greeting is not sent yet. So the thread
    /// count taken here is the run's full concurrency, however short that moment is.
    pub fn serving(&self) {
        let serving = self.serving.fetch_add(1, Ordering::SeqCst) + 1;
        if serving == self.connections {
            let threads = procstats::thread_count().unwrap_or(0);
            self.threads_at_full.store(threads, Ordering::SeqCst);
            let _ = self.full_at.set(Instant::now());
        }
        self.activity.add(1);
    }

    /// A frame was read.
    pub fn frame_read(&self) {
        self.lines.add(1);
        self.activity.add(1);
    }

    /// `accept` failed (out of file descriptors, say): the server gives up.
    pub fn accept_failed(&self, address: SocketAddr, source: io::Error) -> PipelineError {
        self.abandon(PipelineError::ReadInput {
            path: format!("the listener on {address}").into(),
            source,
        })
    }

    /// The server gives up with `error`: raises the flag the harness watches, so it hangs up
    /// the sensors and every connection still being served ends.
    pub fn abandon(&self, error: PipelineError) -> PipelineError {
        self.abandoned.store(true, Ordering::SeqCst);
        error
    }

    /// A connection's result, passed through; an error also [abandons](Session::abandon) the run.
    pub fn checked<T>(&self, result: Result<T, PipelineError>) -> Result<T, PipelineError> {
        result.map_err(|e| self.abandon(e))
    }

    pub(crate) fn finished(&self, result: Result<Received, PipelineError>) {
        let _ = self.events.send(Event::Finished(result));
    }

    pub(crate) fn request_stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    pub(crate) fn is_abandoned(&self) -> bool {
        self.abandoned.load(Ordering::SeqCst)
    }

    pub(crate) fn activity(&self) -> u64 {
        self.activity.lines_read()
    }

    /// When every connection was being served, if that moment came.
    pub(crate) fn full_at(&self) -> Option<Instant> {
        self.full_at.get().copied()
    }

    /// The thread count when every connection was being served, if that moment came.
    pub(crate) fn threads_at_full(&self) -> Option<usize> {
        Some(self.threads_at_full.load(Ordering::SeqCst)).filter(|&t| t > 0)
    }

    /// (accepted, being or having been served)
    pub(crate) fn counts(&self) -> (usize, usize) {
        (
            self.accepted.load(Ordering::Relaxed),
            self.serving.load(Ordering::Relaxed),
        )
    }
}

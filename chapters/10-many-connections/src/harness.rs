//! One run: a server on a thread of its own, a fleet of sensors (in this process, in a child
//! process, or a test's own client), and a supervisor that never waits for ever.
//!
//! The supervisor ends a run when the server returns, and otherwise stops it — hangs the fleet
//! up (kills the child process), tells the server to stop, knocks on its listener once so a
//! blocked `accept` returns — when:
//!
//! - the server gives up (it [abandons](Session::abandon) the run);
//! - the fleet fails (a sensor could not connect, or its frames were not all counted);
//! - nothing happens for `stall`: no connection taken on, no frame read (a server that cannot
//!   take on more connections while the ones it has wait for the others);
//! - the run takes longer than `deadline`.
//!
//! The error then says why, in the words of what was observed. A server that does not stop
//! within [`GRACE`] after that is left behind on its thread (the supervisor cannot kill a
//! thread) and the run fails saying so: a failure, never a hang.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use pipeline::{Config, Input, PipelineError, Report, finish, joined, panic_message};

use crate::fleet;
use crate::frame::Received;
use crate::session::{Event, ServeFn, Session};

/// How long a server (or a fleet) gets to stop once asked.
pub const GRACE: Duration = Duration::from_secs(10);
/// How often the supervisor looks.
const TICK: Duration = Duration::from_millis(5);

/// Builds the command that starts a fleet process: `launch(address, connections)`. The input
/// is written to its stdin; it prints a summary on stdout and exits with 0 when every sensor's
/// frames were acknowledged.
pub type Launcher = fn(SocketAddr, usize) -> Command;

/// The workshop's launcher: this very executable, started as the registered child
/// [`crate::FLEET_CHILD`] (which calls [`fleet::main`]) with `--connect ADDR --connections N`.
pub fn workshop_fleet(address: SocketAddr, connections: usize) -> Command {
    let mut command = crate::FLEET_CHILD.command();
    command.args([
        "--connect",
        &address.to_string(),
        "--connections",
        &connections.to_string(),
    ]);
    command
}

/// Who connects to the server.
pub enum Fleet {
    /// The sensors on a thread of this process: both ends of every connection here, two file
    /// descriptors each. Fine for hundreds of connections.
    InProcess(Input),
    /// The sensors in a child process started by `launch`.
    Process { input: Input, launch: Launcher },
    /// A client of the caller's own (tests: one that sends malformed frames). It returns a
    /// summary, or what went wrong.
    Custom(Box<dyn FnOnce(SocketAddr) -> Result<String, String> + Send>),
}

/// When the supervisor stops a run.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Nothing happened for this long: no connection taken on, no frame read.
    pub stall: Duration,
    /// The whole run took longer than this.
    pub deadline: Duration,
}

/// A run that finished.
#[derive(Debug)]
pub struct Served {
    pub report: Report,
    /// Connections the server served.
    pub connections: usize,
    /// What the fleet said about itself.
    pub fleet: String,
    /// This process's thread count at the moment every connection was being served.
    pub threads_at_full: Option<usize>,
    /// When every connection was being served: set-up before, streaming after.
    pub all_served_at: Option<Instant>,
}

/// Runs `server` against `fleet` with `connections` connections; the report of every frame
/// received, or why the run failed.
pub fn serve(
    server: ServeFn,
    connections: usize,
    fleet: Fleet,
    cfg: &Config,
    limits: Limits,
) -> Result<Served, PipelineError> {
    cfg.validate()?;
    let sink = cfg.sink.open()?;
    let started = Instant::now();
    let (events_tx, events) = mpsc::channel();
    let session = Arc::new(Session::new(connections, cfg, events_tx));
    {
        let (session, cfg) = (Arc::clone(&session), cfg.clone());
        thread::Builder::new()
            .name("ch10-server".into())
            .spawn(move || {
                let result = catch_unwind(AssertUnwindSafe(|| server(&session, &cfg)));
                session.finished(joined("serve", result));
            })
            .map_err(|source| PipelineError::Start {
                what: "the server thread",
                source,
            })?;
    }
    let address = match events.recv_timeout(limits.deadline) {
        Ok(Event::Listening(address)) => address,
        Ok(Event::Finished(Err(e))) => return Err(e),
        Ok(Event::Finished(Ok(_))) => {
            return Err(fleet_error(
                io::ErrorKind::Other,
                "the server finished without listening".into(),
            ));
        }
        Err(_) => {
            return Err(fleet_error(
                io::ErrorKind::TimedOut,
                format!("the server was not listening after {:?}", limits.deadline),
            ));
        }
    };
    let mut running = match Running::start(fleet, address, connections) {
        Ok(running) => running,
        Err(e) => {
            stop_server(&session, address);
            // The server sees the knock and returns; its result is of no interest any more.
            let _ = events.recv_timeout(GRACE);
            return Err(e);
        }
    };
    let received = supervise(&session, &events, &mut running, address, limits, started)?;
    let summary = running
        .wait(GRACE)
        .map_err(|message| fleet_error(io::ErrorKind::Other, message))?;
    let report = finish(received.frames, received.aggregator, sink)?;
    Ok(Served {
        report,
        connections: received.connections,
        fleet: summary,
        threads_at_full: session.threads_at_full(),
        all_served_at: session.full_at(),
    })
}

// ANCHOR: supervise
/// Waits for the server's result, and stops the run when it must (see the module's notes).
fn supervise(
    session: &Session,
    events: &Receiver<Event>,
    fleet: &mut Running,
    address: SocketAddr,
    limits: Limits,
    started: Instant,
) -> Result<Received, PipelineError> {
    let mut stopped: Option<(PipelineError, Instant)> = None;
    let mut abandoned: Option<Instant> = None;
    let (mut seen, mut last_change) = (session.activity(), Instant::now());
    loop {
        match events.recv_timeout(TICK) {
            Ok(Event::Finished(result)) => {
                return match (stopped, result) {
                    (Some((why, _)), _) => Err(why),
                    (None, result) => result,
                };
            }
            Ok(Event::Listening(_)) | Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                return Err(PipelineError::StagePanicked {
                    stage: "serve",
                    message: "the server's thread ended without a result".into(),
                });
            }
        }
        if let Some((why, at)) = &stopped {
            if at.elapsed() > GRACE {
                return Err(fleet_error(
                    io::ErrorKind::TimedOut,
                    format!(
                        "{}; then the server did not stop within {GRACE:?} (left running)",
                        pipeline::error_chain(why)
                    ),
                ));
            }
            continue;
        }
        if session.is_abandoned() {
            // The server has failed and waits for the connections it serves to end: hang up.
            // Its own error, the cause, arrives with its result; the fleet's is a symptom.
            fleet.stop();
            if abandoned.get_or_insert_with(Instant::now).elapsed() > GRACE {
                return Err(fleet_error(
                    io::ErrorKind::TimedOut,
                    format!(
                        "the server gave up but did not return within {GRACE:?} (left running)"
                    ),
                ));
            }
            continue;
        }
        let now = session.activity();
        if now != seen {
            (seen, last_change) = (now, Instant::now());
        }
        let (accepted, serving) = session.counts();
        let connections = session.connections();
        let why = if let Some(Err(message)) = fleet.poll() {
            Some(fleet_error(
                io::ErrorKind::Other,
                format!("the sensors gave up: {message}"),
            ))
        } else if last_change.elapsed() >= limits.stall {
            let waiting = if serving < connections {
                "the other sensors wait in the listen backlog for a thread or task to serve them"
            } else {
                "every connection is being served, but no frame arrives"
            };
            Some(fleet_error(
                io::ErrorKind::TimedOut,
                format!(
                    "stalled: nothing happened for {:?} with {serving} of {connections} \
                     connections served ({accepted} accepted); {waiting}",
                    limits.stall
                ),
            ))
        } else if started.elapsed() >= limits.deadline {
            Some(fleet_error(
                io::ErrorKind::TimedOut,
                format!(
                    "the run did not finish within {:?} ({serving} of {connections} \
                     connections served)",
                    limits.deadline
                ),
            ))
        } else {
            None
        };
        if let Some(why) = why {
            fleet.stop();
            stop_server(session, address);
            stopped = Some((why, Instant::now()));
        }
    }
}
// ANCHOR_END: supervise

/// Asks the server to stop, and knocks on its listener so that a blocked `accept` returns and
/// sees the request.
fn stop_server(session: &Session, address: SocketAddr) {
    session.request_stop();
    // If the knock cannot get in, the accept queue is full or the listener is closed: either
    // way `accept` is not blocked waiting for it, and the server sees the request at its next
    // accept, or has stopped accepting already.
    let _knock = TcpStream::connect_timeout(&address, Duration::from_secs(1));
}

/// A failure of the run as a whole, as the server sees it: its input (the fleet) failed.
fn fleet_error(kind: io::ErrorKind, message: String) -> PipelineError {
    PipelineError::ReadInput {
        // Reads as "cannot read input from the sensor fleet: …".
        path: "from the sensor fleet".into(),
        source: io::Error::new(kind, message),
    }
}

/// A fleet that has been started.
enum Running {
    Thread {
        handle: Option<JoinHandle<Result<String, String>>>,
        cancel: Option<CancellationToken>,
        result: Option<Result<String, String>>,
    },
    Process {
        child: ChildProcess,
        result: Option<Result<String, String>>,
    },
}

impl Running {
    fn start(fleet: Fleet, address: SocketAddr, connections: usize) -> Result<Self, PipelineError> {
        let spawn = |work: Box<dyn FnOnce() -> Result<String, String> + Send>| {
            thread::Builder::new()
                .name("ch10-fleet".into())
                .spawn(work)
                .map_err(|source| PipelineError::Start {
                    what: "the fleet's thread",
                    source,
                })
        };
        match fleet {
            Fleet::InProcess(input) => {
                let cancel = CancellationToken::new();
                let token = cancel.clone();
                let handle = spawn(Box::new(move || {
                    let payloads = fleet::partition(&input, connections);
                    fleet::run(address, payloads, &token).map(|summary| summary.to_string())
                }))?;
                Ok(Running::Thread {
                    handle: Some(handle),
                    cancel: Some(cancel),
                    result: None,
                })
            }
            Fleet::Custom(client) => Ok(Running::Thread {
                handle: Some(spawn(Box::new(move || client(address)))?),
                cancel: None,
                result: None,
            }),
            Fleet::Process { input, launch } => Ok(Running::Process {
                child: ChildProcess::start(launch(address, connections), input, "the fleet")?,
                result: None,
            }),
        }
    }

    /// The fleet's result, once it has one.
    fn poll(&mut self) -> Option<&Result<String, String>> {
        match self {
            Running::Thread { handle, result, .. } => {
                if result.is_none() && handle.as_ref().is_some_and(JoinHandle::is_finished) {
                    let finished = handle.take().expect("checked above").join();
                    *result = Some(finished.unwrap_or_else(|payload| {
                        Err(format!("the fleet panicked: {}", panic_message(&*payload)))
                    }));
                }
                result.as_ref()
            }
            Running::Process { child, result } => {
                if result.is_none() {
                    *result = child.poll().map(|exited| {
                        exited.and_then(|exited| {
                            exited
                                .line_starting("fleet:")
                                .map(str::to_owned)
                                .ok_or_else(|| exited.failure("the fleet process"))
                        })
                    });
                }
                result.as_ref()
            }
        }
    }

    /// Hangs the whole fleet up.
    fn stop(&mut self) {
        match self {
            Running::Thread { cancel, .. } => {
                if let Some(cancel) = cancel {
                    cancel.cancel();
                }
            }
            Running::Process { child, .. } => child.kill(),
        }
    }

    /// Waits up to `within` for the fleet to finish; stops it if it does not.
    fn wait(&mut self, within: Duration) -> Result<String, String> {
        let started = Instant::now();
        loop {
            if let Some(result) = self.poll() {
                return result.clone();
            }
            if started.elapsed() >= within {
                self.stop();
                return Err(format!("the fleet did not finish within {within:?}"));
            }
            thread::sleep(TICK);
        }
    }
}

impl Drop for Running {
    /// A fleet is never left behind: a child process is killed and reaped (by
    /// [`ChildProcess`]'s own `drop`); a thread's fleet is cancelled (a custom client's thread
    /// ends on its own: it owns its timeouts).
    fn drop(&mut self) {
        if self.poll().is_none() {
            self.stop();
        }
    }
}

/// A child process that reads `input` on its stdin, with its stdout and stderr collected.
pub(crate) struct ChildProcess {
    child: Child,
    output: Option<(JoinHandle<String>, JoinHandle<String>)>,
    exited: Option<Result<Exited, String>>,
}

/// How a child process ended, and what it printed.
#[derive(Debug, Clone)]
pub(crate) struct Exited {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Exited {
    /// The first line of stdout that contains `prefix`, from the prefix on, if the child
    /// succeeded. (A test binary prints its own words around its child role's lines.)
    pub fn line_starting(&self, prefix: &str) -> Option<&str> {
        self.status
            .success()
            .then(|| {
                self.stdout
                    .lines()
                    .find_map(|line| line.find(prefix).map(|at| &line[at..]))
            })
            .flatten()
    }

    /// What went wrong, in one line: the exit status and the end of stderr.
    pub fn failure(&self, what: &str) -> String {
        format!(
            "{what} exited with {}: {}",
            self.status,
            last_lines(&self.stderr, 3)
        )
    }
}

impl ChildProcess {
    pub(crate) fn start(
        mut command: Command,
        input: Input,
        what: &'static str,
    ) -> Result<Self, PipelineError> {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| PipelineError::Start { what, source })?;
        let (stdin, stdout, stderr) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take());
        let output = thread::Builder::new()
            .name("ch10-child-out".into())
            .spawn(move || feed_and_read(&input, stdin, stdout))
            .and_then(|out| {
                let err = thread::Builder::new()
                    .name("ch10-child-err".into())
                    .spawn(move || read_all(stderr))?;
                Ok((out, err))
            });
        match output {
            Ok(output) => Ok(ChildProcess {
                child,
                output: Some(output),
                exited: None,
            }),
            Err(source) => {
                // Without its output threads the child would block on a full pipe: end it.
                let _ = child.kill();
                let _ = child.wait();
                Err(PipelineError::Start { what, source })
            }
        }
    }

    /// How the child ended, once it has.
    pub(crate) fn poll(&mut self) -> Option<Result<Exited, String>> {
        if self.exited.is_none() {
            match self.child.try_wait() {
                Ok(None) => {}
                Ok(Some(status)) => {
                    let (stdout, stderr) = match self.output.take() {
                        Some((out, err)) => (
                            out.join().unwrap_or_default(),
                            err.join().unwrap_or_default(),
                        ),
                        None => Default::default(),
                    };
                    self.exited = Some(Ok(Exited {
                        status,
                        stdout,
                        stderr,
                    }));
                }
                Err(e) => self.exited = Some(Err(format!("cannot wait for the child: {e}"))),
            }
        }
        self.exited.clone()
    }

    /// Waits up to `within` for the child to exit, then kills it.
    pub(crate) fn wait(&mut self, within: Duration) -> Result<Exited, String> {
        let started = Instant::now();
        loop {
            if let Some(exited) = self.poll() {
                return exited;
            }
            if started.elapsed() >= within {
                self.kill();
                return Err(format!("did not finish within {within:?}, killed"));
            }
            thread::sleep(TICK);
        }
    }

    pub(crate) fn kill(&mut self) {
        // Fails only if the child has already exited: then there is nothing to stop.
        let _ = self.child.kill();
    }
}

impl Drop for ChildProcess {
    /// A child is never left behind: killed if still running, and reaped.
    fn drop(&mut self) {
        if self.exited.is_none() {
            self.kill();
            let _ = self.child.wait();
        }
    }
}

/// Feeds the child its input (it reads all of it before it starts), then reads its stdout to
/// the end.
fn feed_and_read(
    input: &Input,
    stdin: Option<std::process::ChildStdin>,
    stdout: Option<std::process::ChildStdout>,
) -> String {
    let mut text = String::new();
    if let Some(mut stdin) = stdin
        && let Err(e) = stdin.write_all(input.text().as_bytes())
    {
        // The child exited early; its stderr and exit status say why.
        text.push_str(&format!("(could not write its input: {e})\n"));
    } // stdin is dropped here: the child sees the end of its input
    text.push_str(&read_all(stdout));
    text
}

fn read_all(pipe: Option<impl Read>) -> String {
    let mut text = String::new();
    if let Some(mut pipe) = pipe
        && let Err(e) = pipe.read_to_string(&mut text)
    {
        text.push_str(&format!("(could not read it: {e})"));
    }
    text
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.trim().lines().collect();
    lines[lines.len().saturating_sub(n)..].join(" / ")
}

//! K worker processes on one queue, one of them killed mid-batch: who did what, and whether
//! the result is still the single-process reference.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use pipeline::{Config, DatasetSpec, Input, PipelineError, Report, Variant};

use crate::queue;
use crate::worker::{ENV_DATABASE, ENV_LANES, ENV_NAME, ENV_STOP_IN_BATCH, ENV_VARIANT, Event};

/// One worker process to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerSpec {
    pub variant: Variant,
    /// Its `claimed_by`.
    pub name: String,
    pub lanes: usize,
    /// The test hook: stop in this batch's transaction (see [`crate::ENV_STOP_IN_BATCH`]).
    pub stop_in_batch: Option<usize>,
}

impl WorkerSpec {
    /// Gives `command` this worker's environment (and the connection string, which stays
    /// off the command line) and pipes its output to us.
    pub fn configure(&self, command: &mut Command, conninfo: &str) {
        command
            .env(ENV_DATABASE, conninfo)
            .env(ENV_VARIANT, self.variant.name())
            .env(ENV_NAME, &self.name)
            .env(ENV_LANES, self.lanes.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        match self.stop_in_batch {
            Some(n) => command.env(ENV_STOP_IN_BATCH, n.to_string()),
            None => command.env_remove(ENV_STOP_IN_BATCH),
        };
    }
}

/// How to start a worker process: the program and arguments (and any environment of the
/// caller's own); [`WorkerSpec::configure`] adds the rest.
pub type Launcher<'a> = &'a dyn Fn(&WorkerSpec) -> Command;

/// The workshop's launcher: this executable, started as the registered child
/// [`crate::WORKER_CHILD`], which calls [`crate::worker_main_from_env`].
pub fn workshop_worker(_spec: &WorkerSpec) -> Command {
    crate::WORKER_CHILD.command()
}

/// What to run.
pub struct Setup<'a> {
    pub input: Input,
    pub batch_size: usize,
    pub workers: Vec<WorkerSpec>,
    /// The worker (an index into `workers`) that is started first, alone, stops in batch
    /// `stop_in_batch` holding its lock, and is killed with SIGKILL once the others are
    /// committing batches. `None`: no one is killed.
    pub victim: Option<usize>,
    pub launch: Launcher<'a>,
    /// Everything must be over by then; whatever still runs is killed and it is an error.
    pub deadline: Duration,
}

/// The experiment's workers: one process per variant, one claim loop each.
pub fn four_workers(stop_in_batch: Option<(Variant, usize)>) -> Vec<WorkerSpec> {
    Variant::ALL
        .iter()
        .enumerate()
        .map(|(i, &variant)| WorkerSpec {
            variant,
            name: format!("w{}-{variant}", i + 1),
            lanes: 1,
            stop_in_batch: stop_in_batch.and_then(|(v, n)| (v == variant).then_some(n)),
        })
        .collect()
}

impl<'a> Setup<'a> {
    /// The live experiment: 20,000 lines in 400 batches of 50, four worker processes (sync,
    /// tokio, async-std, smol); the tokio one stops in its 5th batch and is killed.
    pub fn live(launch: Launcher<'a>) -> Self {
        Setup {
            input: Input::generated(&DatasetSpec {
                lines: 20_000,
                ..DatasetSpec::default()
            }),
            batch_size: crate::BATCH_SIZE,
            workers: four_workers(Some((Variant::Tokio, 5))),
            victim: Some(1),
            launch,
            deadline: Duration::from_secs(120),
        }
    }
}

/// How a worker process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    /// Drained the queue and exited 0.
    Finished,
    /// We killed it with SIGKILL.
    Killed,
    /// Anything else: its status and what it said on stderr.
    Failed(String),
}

/// One worker process, as the table and its own output tell it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerRow {
    pub name: String,
    pub variant: Variant,
    /// From `ch13.batches`: the batches whose commit was this worker's.
    pub batches: i64,
    pub lines: i64,
    /// From its output: the batches it said it committed, in order.
    pub logged: Vec<i64>,
    pub exit: Exit,
}

/// The batch the killed worker held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Killed {
    pub worker: String,
    pub batch: i64,
    /// Seen from another connection while the worker was stopped: the row was locked
    /// (`FOR UPDATE NOWAIT` failed) ...
    pub locked_while_stopped: bool,
    /// ... and none of the rows it had written were visible.
    pub rows_visible_while_stopped: i64,
    /// At the end: who committed it, and how many committed attempts it has.
    pub done_by: Option<String>,
    pub attempts: i32,
}

/// What happened.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub batches: usize,
    pub rows: Vec<WorkerRow>,
    pub killed: Option<Killed>,
    /// Built from the tables.
    pub report: Report,
    /// `pipeline::run_sequential` on the same input.
    pub reference: Report,
}

impl Outcome {
    pub fn matches_reference(&self) -> bool {
        self.report.text() == self.reference.text()
    }
}

/// The worker processes we started; any still running when this is dropped are killed.
struct Fleet {
    children: Vec<Option<Child>>,
    statuses: Vec<Option<ExitStatus>>,
    stderr: Vec<Option<JoinHandle<String>>>,
    logs: Vec<Vec<Event>>,
    events: Receiver<(usize, Event)>,
    send: mpsc::Sender<(usize, Event)>,
    deadline: Instant,
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for child in self.children.iter_mut().flatten() {
            if let Ok(None) = child.try_wait() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

impl Fleet {
    fn new(workers: usize, deadline: Instant) -> Self {
        let (send, events) = mpsc::channel();
        Fleet {
            children: (0..workers).map(|_| None).collect(),
            statuses: vec![None; workers],
            stderr: (0..workers).map(|_| None).collect(),
            logs: vec![Vec::new(); workers],
            events,
            send,
            deadline,
        }
    }

    fn start(
        &mut self,
        i: usize,
        mut command: Command,
        spec: &WorkerSpec,
        conninfo: &str,
    ) -> Result<(), PipelineError> {
        spec.configure(&mut command, conninfo);
        let mut child = command.spawn().map_err(|source| PipelineError::Start {
            what: "a worker process",
            source,
        })?;
        let stdout = child.stdout.take().expect("piped");
        let send = self.send.clone();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(event) = Event::parse(&line) {
                    let _ = send.send((i, event));
                }
            }
        });
        let mut stderr = child.stderr.take().expect("piped");
        self.stderr[i] = Some(thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        }));
        self.children[i] = Some(child);
        Ok(())
    }

    /// Takes in events and exits until `done` says so, or the deadline passes.
    fn until(
        &mut self,
        what: &str,
        mut done: impl FnMut(&Fleet) -> Result<bool, String>,
    ) -> Result<(), PipelineError> {
        loop {
            match done(self) {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                Err(why) => return Err(failed(why)),
            }
            let now = Instant::now();
            if now >= self.deadline {
                return Err(failed(format!(
                    "gave up waiting for {what}: the deadline passed"
                )));
            }
            let wait = (self.deadline - now).min(Duration::from_millis(5));
            match self.events.recv_timeout(wait) {
                Ok((i, event)) => self.logs[i].push(event),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => unreachable!("we hold a sender"),
            }
            for (i, child) in self.children.iter_mut().enumerate() {
                if let (Some(child), None) = (child, self.statuses[i]) {
                    self.statuses[i] = child.try_wait().map_err(|e| failed(e.to_string()))?;
                }
            }
        }
    }

    fn kill(&mut self, i: usize) -> Result<(), PipelineError> {
        let child = self.children[i].as_mut().expect("started");
        child
            .kill()
            .map_err(|e| failed(format!("cannot kill a worker: {e}")))?;
        self.statuses[i] = Some(child.wait().map_err(|e| failed(e.to_string()))?);
        Ok(())
    }

    fn exit(&mut self, i: usize) -> Exit {
        let status = self.statuses[i].expect("ended");
        let stderr = self.stderr[i]
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default();
        if status.success() {
            Exit::Finished
        } else if status.signal() == Some(9) {
            Exit::Killed
        } else {
            let tail: Vec<&str> = stderr.lines().rev().take(12).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            Exit::Failed(format!("{status}; stderr:\n{}", tail.join("\n")))
        }
    }
}

fn failed(why: impl fmt::Display) -> PipelineError {
    PipelineError::WriteOutput {
        path: "(the scaling-out experiment)".into(),
        source: std::io::Error::other(why.to_string()),
    }
}

// ANCHOR: experiment
/// The live experiment (`cargo run --release -- demo scaling-out`): four worker processes,
/// one per variant, on a queue of 400 batches at `conninfo`; the tokio worker stops inside its
/// 5th batch and is killed with SIGKILL. Prints who did what, what happened to the killed
/// worker's batch, and whether the report built from the tables is the single-process one.
pub fn experiment(out: &mut dyn Write, conninfo: &str) -> Result<Outcome, PipelineError> {
    experiment_with(out, conninfo, &Setup::live(&workshop_worker))
}
// ANCHOR_END: experiment

/// [`experiment`] with any setup (the tests start the workers from the test binary).
pub fn experiment_with(
    out: &mut dyn Write,
    conninfo: &str,
    setup: &Setup,
) -> Result<Outcome, PipelineError> {
    let mut say = |text: String| {
        writeln!(out, "{text}")
            .and_then(|()| out.flush())
            .map_err(|source| PipelineError::WriteOutput {
                path: "(the experiment's output)".into(),
                source,
            })
    };
    let batches = queue::blocking::enqueue(conninfo, &setup.input, setup.batch_size)?;
    say(format!(
        "queued {} lines ({}) as {batches} batches of up to {} lines in ch13.batches; {} worker \
         processes claim them with SELECT … FOR UPDATE SKIP LOCKED, one transaction per batch",
        setup.input.line_count(),
        setup.input.name(),
        setup.batch_size,
        setup.workers.len(),
    ))?;

    let n = setup.workers.len();
    let mut fleet = Fleet::new(n, Instant::now() + setup.deadline);
    let order: Vec<usize> = setup
        .victim
        .into_iter()
        .chain((0..n).filter(|i| Some(*i) != setup.victim))
        .collect();
    let mut killed = None;
    for (k, &i) in order.iter().enumerate() {
        let spec = &setup.workers[i];
        fleet.start(i, (setup.launch)(spec), spec, conninfo)?;
        if k > 0 || setup.victim.is_none() {
            continue;
        }
        // The victim runs alone until it stops in its batch, holding the lock.
        let mut stopped = None;
        fleet.until("the victim to stop in its batch", |fleet| {
            stopped = fleet.logs[i].iter().find_map(|e| match e {
                Event::Stopped { batch, .. } => Some(*batch),
                _ => None,
            });
            match (stopped, fleet.statuses[i]) {
                (Some(_), _) => Ok(true),
                (None, Some(status)) => Err(format!(
                    "{} ended ({status}) before its test hook stopped it",
                    spec.name
                )),
                (None, None) => Ok(false),
            }
        })?;
        let batch = stopped.expect("stopped");
        let (locked, visible) = queue::blocking::held(conninfo, batch)?;
        say(format!(
            "{} stopped inside batch {batch}: its rows are written but not committed ({visible} \
             visible to others), and the batch's row is {} (FOR UPDATE NOWAIT {})",
            spec.name,
            if locked { "locked" } else { "NOT locked" },
            if locked { "fails" } else { "succeeds" },
        ))?;
        killed = Some((i, batch, locked, visible));
    }
    if let Some((victim, batch, _, _)) = killed {
        // Kill it once the others are committing: mid-run, for them too.
        fleet.until("another worker's first commit", |fleet| {
            let others_committed = (0..n).filter(|&j| j != victim).any(|j| {
                fleet.logs[j]
                    .iter()
                    .any(|e| matches!(e, Event::Committed { .. }))
            });
            let others_ended = (0..n)
                .filter(|&j| j != victim)
                .all(|j| fleet.statuses[j].is_some());
            Ok(others_committed || others_ended)
        })?;
        fleet.kill(victim)?;
        say(format!(
            "killed {} with SIGKILL while it held batch {batch}",
            setup.workers[victim].name
        ))?;
    }
    fleet.until("every worker to end", |fleet| {
        Ok(fleet.statuses.iter().all(Option::is_some))
    })?;
    // Events still in flight from the last lines of output.
    while let Ok((i, event)) = fleet.events.try_recv() {
        fleet.logs[i].push(event);
    }

    let done: BTreeMap<String, (i64, i64)> = queue::blocking::done_by_worker(conninfo)?
        .into_iter()
        .map(|d| (d.worker, (d.batches, d.lines)))
        .collect();
    let mut rows = Vec::new();
    for (i, spec) in setup.workers.iter().enumerate() {
        let (batches, lines) = done.get(&spec.name).copied().unwrap_or((0, 0));
        let logged = fleet.logs[i]
            .iter()
            .filter_map(|e| match e {
                Event::Committed { batch, .. } => Some(*batch),
                _ => None,
            })
            .collect();
        rows.push(WorkerRow {
            name: spec.name.clone(),
            variant: spec.variant,
            batches,
            lines,
            logged,
            exit: fleet.exit(i),
        });
    }
    let killed = match killed {
        Some((i, batch, locked, visible)) => {
            let row = queue::blocking::batch(conninfo, batch)?;
            Some(Killed {
                worker: setup.workers[i].name.clone(),
                batch,
                locked_while_stopped: locked,
                rows_visible_while_stopped: visible,
                done_by: row.claimed_by,
                attempts: row.attempts,
            })
        }
        None => None,
    };
    let failures: Vec<String> = rows
        .iter()
        .filter_map(|r| match &r.exit {
            Exit::Failed(why) => Some(format!("{}: {why}", r.name)),
            _ => None,
        })
        .collect();
    if !failures.is_empty() {
        return Err(failed(format!(
            "worker processes failed:\n{}",
            failures.join("\n")
        )));
    }
    let report = queue::blocking::report(conninfo)?;
    let reference = pipeline::run_sequential(
        &setup.input,
        &Config {
            batch_size: setup.batch_size,
            ..Config::default()
        },
    )?;
    let outcome = Outcome {
        batches,
        rows,
        killed,
        report,
        reference,
    };
    for line in outcome.table() {
        say(line)?;
    }
    Ok(outcome)
}

impl Outcome {
    /// The experiment's closing lines: a table of workers, the killed batch, the verdict.
    pub fn table(&self) -> Vec<String> {
        let mut lines = vec![
            String::new(),
            format!(
                "{:<14} {:<10} {:>8} {:>8}  {}",
                "worker", "variant", "batches", "lines", "how it ended"
            ),
        ];
        for row in &self.rows {
            let exit = match &row.exit {
                Exit::Finished => "drained the queue, exit 0".to_owned(),
                Exit::Killed => "killed (SIGKILL)".to_owned(),
                Exit::Failed(why) => format!("FAILED: {}", why.lines().next().unwrap_or("")),
            };
            lines.push(format!(
                "{:<14} {:<10} {:>8} {:>8}  {exit}",
                row.name, row.variant, row.batches, row.lines
            ));
        }
        let total: i64 = self.rows.iter().map(|r| r.batches).sum();
        lines.push(format!(
            "{:<25} {total:>8} of {} batches done",
            "", self.batches
        ));
        if let Some(k) = &self.killed {
            lines.push(format!(
                "batch {}, held by {} when it was killed: rolled back by the server, then \
                 committed by {} ({} committed attempt{})",
                k.batch,
                k.worker,
                k.done_by.as_deref().unwrap_or("NOBODY"),
                k.attempts,
                if k.attempts == 1 { "" } else { "s" }
            ));
        }
        lines.push(if self.matches_reference() {
            format!(
                "report built from the tables: identical to the single-process reference \
                 (checksum {:#018x})",
                self.report.checksum()
            )
        } else {
            format!(
                "report built from the tables: DIFFERS from the single-process reference \
                 ({:#018x}, expected {:#018x})",
                self.report.checksum(),
                self.reference.checksum()
            )
        });
        lines
    }
}

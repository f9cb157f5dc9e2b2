//! What every variant's worker shares: who it is, what it has done, the test hook, and the
//! worker process's entry point ([`worker_main`]).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use pipeline::{Config, PipelineError, Registry, Variant};

use crate::claim::{Claimed, Step};

/// The connection string a worker process (and [`crate::run`]) uses. An environment variable,
/// not an argument: it may hold a password, and a command line is visible to every user.
pub const ENV_DATABASE: &str = "CH13_DATABASE";
/// The worker's variant (`sync`, `tokio`, `async-std`, `smol`), for [`worker_main_from_env`].
pub const ENV_VARIANT: &str = "CH13_VARIANT";
/// The worker's name in `ch13.batches.claimed_by` (default: `<variant>-<pid>`).
pub const ENV_NAME: &str = "CH13_WORKER_NAME";
/// How many claim loops (each with its own connection) the worker runs (default 1).
pub const ENV_LANES: &str = "CH13_LANES";
/// THE TEST HOOK: `N` makes the worker stop inside its `N`th batch's transaction — rows
/// written, lock held, not committed — print a `stopped` line and wait to be killed.
pub const ENV_STOP_IN_BATCH: &str = "CH13_STOP_IN_BATCH";

/// How long a worker waits before it looks again when every pending batch is held by
/// another worker.
pub const POLL: Duration = Duration::from_millis(10);
/// How long a worker stopped by the test hook waits to be killed before it gives up (so that
/// a stray one cannot linger).
pub const STOPPED_FOR: Duration = Duration::from_secs(60);
/// How long a worker's session may sit idle inside a transaction before the server ends it
/// (`idle_in_transaction_session_timeout`), rolling the transaction back and releasing its
/// batch. A worker that hangs while it holds a batch — rather than dying, which releases it
/// at once — holds it this long. Must be longer than processing one batch takes.
pub const IDLE_IN_TRANSACTION: Duration = Duration::from_secs(30);

/// What a worker reports as it goes (a worker process prints each one as a line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Committed {
        worker: String,
        batch: i64,
        first_line: i64,
        last_line: i64,
    },
    /// The test hook stopped the worker in this batch's transaction.
    Stopped { worker: String, batch: i64 },
    /// The worker is done: the queue is drained.
    Finished {
        worker: String,
        batches: u64,
        lines: u64,
    },
}

const PREFIX: &str = "ch13-worker";

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Committed {
                worker,
                batch,
                first_line,
                last_line,
            } => write!(
                f,
                "{PREFIX} {worker} committed batch {batch} lines {first_line}..={last_line}"
            ),
            Event::Stopped { worker, batch } => write!(
                f,
                "{PREFIX} {worker} stopped batch {batch} (rows written, lock held, not committed)"
            ),
            Event::Finished {
                worker,
                batches,
                lines,
            } => write!(
                f,
                "{PREFIX} {worker} finished batches {batches} lines {lines}"
            ),
        }
    }
}

impl Event {
    /// The event a line of a worker's output holds, if it holds one ([`Display`](fmt::Display)'s
    /// inverse; other lines are `None`). The event may follow other text on the line: the
    /// test harness writes `test <name> ... ` before a test's own output.
    pub fn parse(line: &str) -> Option<Event> {
        let at = line.find(PREFIX)?;
        let mut words = line[at + PREFIX.len()..].split_whitespace();
        let worker = words.next()?.to_owned();
        let number = |word: Option<&str>| word.and_then(|w| w.parse::<i64>().ok());
        match (words.next()?, words.next()?) {
            ("committed", "batch") => {
                let batch = number(words.next())?;
                let (first, last) = words.nth(1)?.split_once("..=")?;
                Some(Event::Committed {
                    worker,
                    batch,
                    first_line: first.parse().ok()?,
                    last_line: last.parse().ok()?,
                })
            }
            ("stopped", "batch") => Some(Event::Stopped {
                worker,
                batch: number(words.next())?,
            }),
            ("finished", "batches") => {
                let batches = number(words.next())? as u64;
                let lines = number(words.nth(1))? as u64;
                Some(Event::Finished {
                    worker,
                    batches,
                    lines,
                })
            }
            _ => None,
        }
    }
}

/// Where a worker's events go.
pub type Events = Arc<dyn Fn(&Event) + Send + Sync>;

/// Runs inside every batch's transaction, after its rows are written and before it is marked
/// done, with the number of batches this worker has reached that point for (1 for the
/// first). An `Err` ends the worker there, as a crash would (the transaction rolls back).
pub type Hook = Arc<dyn Fn(&Worker, usize, &Claimed) -> Result<(), PipelineError> + Send + Sync>;

/// What all of a worker's lanes share.
pub struct Worker {
    name: String,
    cfg: Config,
    lanes: usize,
    idle_timeout: Duration,
    hook: Option<Hook>,
    events: Option<Events>,
    reached_commit: AtomicUsize,
    batches: AtomicU64,
    lines: AtomicU64,
}

/// What a worker did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    pub batches: u64,
    pub lines: u64,
}

impl Worker {
    /// A worker called `name` (its `claimed_by`), enriching with `cfg.registry`, counting
    /// progress in `cfg.progress`, with `lanes` claim loops.
    pub fn new(name: impl Into<String>, cfg: &Config, lanes: usize) -> Self {
        Worker {
            name: name.into(),
            cfg: cfg.clone(),
            lanes: lanes.max(1),
            idle_timeout: IDLE_IN_TRANSACTION,
            hook: None,
            events: None,
            reached_commit: AtomicUsize::new(0),
            batches: AtomicU64::new(0),
            lines: AtomicU64::new(0),
        }
    }

    /// Runs `hook` inside every batch's transaction (see [`Hook`]).
    pub fn hook(
        mut self,
        hook: impl Fn(&Worker, usize, &Claimed) -> Result<(), PipelineError> + Send + Sync + 'static,
    ) -> Self {
        self.hook = Some(Arc::new(hook));
        self
    }

    /// The session's `idle_in_transaction_session_timeout` (default [`IDLE_IN_TRANSACTION`]).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    pub fn idle_timeout_ms(&self) -> String {
        self.idle_timeout.as_millis().max(1).to_string()
    }

    pub fn events(mut self, events: Events) -> Self {
        self.events = Some(events);
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn cfg(&self) -> &Config {
        &self.cfg
    }

    /// How many claim loops, each with its own connection.
    pub fn lanes(&self) -> usize {
        self.lanes
    }

    pub fn registry(&self) -> &dyn Registry {
        &*self.cfg.registry
    }

    pub fn summary(&self) -> Summary {
        Summary {
            batches: self.batches.load(Ordering::SeqCst),
            lines: self.lines.load(Ordering::SeqCst),
        }
    }

    pub fn emit(&self, event: Event) {
        if let Some(events) = &self.events {
            events(&event);
        }
    }

    /// Called inside the transaction, after the batch's rows are written and before it is
    /// marked done: runs the hook, if there is one.
    pub fn before_commit(&self, batch: &Claimed) -> Result<(), PipelineError> {
        let n = self.reached_commit.fetch_add(1, Ordering::SeqCst) + 1;
        match &self.hook {
            Some(hook) => hook(self, n, batch),
            None => Ok(()),
        }
    }

    /// Called once the batch is committed.
    pub fn committed(&self, batch: &Claimed) -> Step {
        let lines = batch.lines.len() as u64;
        self.batches.fetch_add(1, Ordering::SeqCst);
        self.lines.fetch_add(lines, Ordering::SeqCst);
        self.cfg.progress.add(batch.lines.len());
        self.emit(Event::Committed {
            worker: self.name.clone(),
            batch: batch.id,
            first_line: batch.first_line,
            last_line: batch.last_line(),
        });
        Step::Committed {
            batch: batch.id,
            lines,
        }
    }
}

// ANCHOR: hook
/// THE TEST HOOK of a worker process ([`ENV_STOP_IN_BATCH`]): in its `n`th batch, say so and
/// park this thread — in an async worker, the executor thread too: the process is frozen, its
/// connection idle in an open transaction, the batch's row locked — until someone kills it.
pub fn stop_in_batch(n: usize) -> impl Fn(&Worker, usize, &Claimed) -> Result<(), PipelineError> {
    move |worker, reached, batch| {
        if reached != n {
            return Ok(());
        }
        worker.emit(Event::Stopped {
            worker: worker.name().to_owned(),
            batch: batch.id,
        });
        std::thread::sleep(STOPPED_FOR);
        Err(PipelineError::TimedOut {
            stage: "a worker stopped by its test hook (nobody killed it)",
            after: STOPPED_FOR,
        })
    }
}
// ANCHOR_END: hook

/// How a worker process runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerOptions {
    pub name: String,
    pub lanes: usize,
    pub stop_in_batch: Option<usize>,
}

impl WorkerOptions {
    /// `<variant>-<pid>`, one lane, no hook.
    pub fn new(variant: Variant) -> Self {
        WorkerOptions {
            name: format!("{variant}-{}", std::process::id()),
            lanes: 1,
            stop_in_batch: None,
        }
    }

    /// [`ENV_NAME`], [`ENV_LANES`] and [`ENV_STOP_IN_BATCH`], where set.
    pub fn from_env(variant: Variant) -> Result<Self, PipelineError> {
        let mut options = WorkerOptions::new(variant);
        if let Some(name) = env(ENV_NAME) {
            options.name = name;
        }
        if let Some(lanes) = env(ENV_LANES) {
            options.lanes = parse_env(ENV_LANES, &lanes)?;
        }
        if let Some(n) = env(ENV_STOP_IN_BATCH) {
            options.stop_in_batch = Some(parse_env(ENV_STOP_IN_BATCH, &n)?);
        }
        Ok(options)
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn parse_env<T: FromStr>(name: &str, value: &str) -> Result<T, PipelineError> {
    value.trim().parse().map_err(|_| {
        PipelineError::Config(format!(
            "{name}={value:?} is not a number of the right kind"
        ))
    })
}

/// The connection string in `value` (the contents of [`ENV_DATABASE`]), or an error that says
/// what to set.
pub fn conninfo_from(value: Option<String>) -> Result<String, PipelineError> {
    value.filter(|v| !v.trim().is_empty()).ok_or_else(|| {
        PipelineError::Config(format!(
            "chapter 13 needs PostgreSQL: set {ENV_DATABASE} to a connection string \
             (postgresql://user@host:port/db or host=... dbname=...) of a database where it may \
             create, empty and fill the schema `ch13`"
        ))
    })
}

/// [`ENV_DATABASE`]'s connection string, or an error that says what to set.
pub fn database_from_env() -> Result<String, PipelineError> {
    conninfo_from(std::env::var(ENV_DATABASE).ok())
}

// ANCHOR: worker_main
/// A worker process: runs the variant's worker against the queue at `conninfo` until it is
/// drained, printing every [`Event`] as a line on stdout (`ch13-worker <name> committed batch 7
/// lines 301..=350`, ...). The registered child [`crate::WORKER_CHILD`] and the tests' child
/// processes run this.
pub fn worker_main(
    variant: Variant,
    conninfo: &str,
    options: &WorkerOptions,
) -> Result<(), PipelineError> {
    let print: Events = Arc::new(|event: &Event| println!("{event}"));
    let mut worker =
        Worker::new(&options.name, &Config::default(), options.lanes).events(Arc::clone(&print));
    if let Some(n) = options.stop_in_batch {
        worker = worker.hook(stop_in_batch(n));
    }
    let worker = Arc::new(worker);
    let summary = crate::work(variant, conninfo, &worker)?;
    print(&Event::Finished {
        worker: options.name.clone(),
        batches: summary.batches,
        lines: summary.lines,
    });
    Ok(())
}
// ANCHOR_END: worker_main

/// [`worker_main`] with everything from the environment: [`ENV_VARIANT`], [`ENV_DATABASE`]
/// and the [`WorkerOptions`].
pub fn worker_main_from_env() -> Result<(), PipelineError> {
    let variant = env(ENV_VARIANT)
        .ok_or_else(|| PipelineError::Config(format!("{ENV_VARIANT} is not set")))?
        .parse::<Variant>()
        .map_err(PipelineError::Config)?;
    worker_main(
        variant,
        &database_from_env()?,
        &WorkerOptions::from_env(variant)?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_print_and_parse_back() {
        for event in [
            Event::Committed {
                worker: "w1-sync".into(),
                batch: 7,
                first_line: 301,
                last_line: 350,
            },
            Event::Stopped {
                worker: "tokio-42".into(),
                batch: 3,
            },
            Event::Finished {
                worker: "w4-smol".into(),
                batches: 12,
                lines: 600,
            },
        ] {
            assert_eq!(
                Event::parse(&event.to_string()),
                Some(event.clone()),
                "{event}"
            );
        }
        assert_eq!(Event::parse("running 1 test"), None);
        assert_eq!(
            Event::parse("test kill ... ch13-worker w1-sync stopped batch 3 (rows ...)"),
            Some(Event::Stopped {
                worker: "w1-sync".into(),
                batch: 3
            })
        );
        assert_eq!(Event::parse("ch13-worker x exploded"), None);
    }

    #[test]
    fn without_a_database_the_error_says_what_to_set() {
        let err = conninfo_from(None).unwrap_err().to_string();
        assert!(err.contains(ENV_DATABASE), "{err}");
        assert!(conninfo_from(Some("  ".into())).is_err());
        assert_eq!(conninfo_from(Some("host=h".into())).unwrap(), "host=h");
    }
}

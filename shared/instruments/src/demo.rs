//! Live demos: a chapter's broken pipeline beside its fix, run under a stall watchdog, with a
//! verdict in plain words. The same runner serves the tests (which assert the verdict) and
//! `cargo run --release -- demo <name>` in a session (which prints it).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use pipeline::{Config, Input, PipelineError, Report, Variant, error_chain};

use crate::deadline::{Outcome, run_with_watchdog};
use crate::gauge::{Counter, Gauge};
use crate::probe::LockProbe;

/// What a demo exposes to the watcher outside it: probes on its locks, in-flight gauges and
/// event counters, each known by name.
#[derive(Debug, Default)]
pub struct Signals {
    locks: Vec<LockProbe>,
    gauges: Vec<Gauge>,
    counters: Vec<Counter>,
}

/// The names of what a demo's [`Signals`] watch.
#[derive(Debug, Clone, Copy, Default)]
pub struct Watch {
    pub locks: &'static [&'static str],
    pub gauges: &'static [&'static str],
    pub counters: &'static [&'static str],
}

impl Signals {
    pub fn with_locks(names: &[&'static str]) -> Self {
        Signals {
            locks: names.iter().map(|name| LockProbe::new(name)).collect(),
            ..Signals::default()
        }
    }

    pub fn new(watch: &Watch) -> Self {
        Signals {
            locks: watch
                .locks
                .iter()
                .map(|name| LockProbe::new(name))
                .collect(),
            gauges: watch.gauges.iter().map(|name| Gauge::new(name)).collect(),
            counters: watch
                .counters
                .iter()
                .map(|name| Counter::new(name))
                .collect(),
        }
    }

    /// The gauge called `name` (a cheap handle: clone it into tasks).
    ///
    /// # Panics
    /// If the demo did not declare it (a bug in the demo).
    pub fn gauge(&self, name: &str) -> &Gauge {
        self.gauges
            .iter()
            .find(|g| g.name() == name)
            .unwrap_or_else(|| panic!("no gauge called `{name}`"))
    }

    /// The sum of all counters (e.g. every refused look-up).
    pub fn counted(&self) -> u64 {
        self.counters.iter().map(Counter::total).sum()
    }

    /// The counter called `name`.
    ///
    /// # Panics
    /// If the demo did not declare it (a bug in the demo).
    pub fn counter(&self, name: &str) -> &Counter {
        self.counters
            .iter()
            .find(|c| c.name() == name)
            .unwrap_or_else(|| panic!("no counter called `{name}`"))
    }

    /// The probe of the lock called `name`.
    ///
    /// # Panics
    /// If the demo did not declare that lock (a bug in the demo, not in a learner's code).
    pub fn lock(&self, name: &str) -> &LockProbe {
        self.locks
            .iter()
            .find(|probe| probe.name() == name)
            .unwrap_or_else(|| panic!("no probe for a lock called `{name}`"))
    }

    /// "1 waiting for the cache lock, 1 waiting for the stats lock" or
    /// "tasks in flight: peak 3412, look-ups refused: 2900".
    pub fn describe(&self) -> String {
        let locks = self
            .locks
            .iter()
            .map(|p| format!("{} waiting for the {} lock", p.waiting(), p.name()));
        let gauges = self.gauges.iter().map(Gauge::to_string);
        let counters = self.counters.iter().map(Counter::to_string);
        locks
            .chain(gauges)
            .chain(counters)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A demo's pipeline: the input, the config (whose progress counter it must advance), the probes.
pub type DemoFn = fn(&Input, &Config, &Signals) -> Result<Report, PipelineError>;

/// One variant's broken and fixed pipelines (`None` where the pitfall does not exist).
#[derive(Clone, Copy)]
pub struct DemoCase {
    pub variant: Variant,
    pub broken: Option<DemoFn>,
    pub fixed: Option<DemoFn>,
}

/// How a broken demo misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pitfall {
    /// It stops making progress, for good.
    Deadlock,
    /// It finishes, but with far more in flight than its limit, and pays for it.
    Explosion,
    /// It finishes and "succeeds", but records are gone: the report does not balance (lines
    /// read ≠ accepted + rejected) or differs from the reference run.
    Loss,
}

/// A pitfall, as a session shows it.
pub struct Demo {
    pub chapter: u32,
    /// The name on the command line: `demo guard-across-await`.
    pub name: &'static str,
    pub title: &'static str,
    pub pitfall: Pitfall,
    /// The input the demo runs on.
    pub input: fn() -> Input,
    /// What the demo's signals watch.
    pub watch: Watch,
    /// For an explosion: the gauge that must stay within `cfg.concurrency` in the fixed run
    /// and goes past it in the broken one.
    pub limited: Option<&'static str>,
    /// What is going on when the broken version stops moving, in a sentence.
    pub diagnosis: &'static str,
    /// The report a correct run gives on this input: `pipeline::run_sequential` unless the
    /// chapter changes what a correct run computes (e.g. chapter 6's injected faults).
    pub reference: fn(&Input, &Config) -> Result<Report, PipelineError>,
    pub cases: [DemoCase; 4],
}

impl Demo {
    pub fn case(&self, variant: Variant) -> &DemoCase {
        self.cases
            .iter()
            .find(|c| c.variant == variant)
            .expect("every demo lists all four variants")
    }
}

/// How a demo run ended.
pub enum Verdict {
    /// It finished and produced a report.
    Finished(Report),
    /// It finished with an error.
    Failed(PipelineError),
    /// No progress for the stall limit; `signals` says who was waiting for what.
    Stalled {
        /// How long the run had been going when it was judged stuck.
        after: Duration,
        /// How long it had made no progress by then.
        stall: Duration,
        signals: String,
    },
    Panicked(String),
}

impl Verdict {
    pub fn is_stalled(&self) -> bool {
        matches!(self, Verdict::Stalled { .. })
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Finished(report) => write!(
                f,
                "finished: {} lines read, {} accepted, {} rejected, checksum {:#018x}",
                report.lines_read(),
                report.accepted(),
                report.rejected(),
                report.checksum()
            ),
            Verdict::Failed(e) => write!(f, "failed: {}", error_chain(e)),
            Verdict::Stalled {
                after,
                stall,
                signals,
            } => write!(
                f,
                "no progress for {stall:?} (stopped watching {after:.1?} in): {signals}"
            ),
            Verdict::Panicked(message) => write!(f, "panicked: {message}"),
        }
    }
}

/// Runs `run` under a watchdog: the verdict is `Stalled` once `cfg.progress` has not moved for
/// `stall`. A stalled run's thread is left behind (blocked); a demo process should exit after.
pub fn run_demo(
    run: DemoFn,
    watch: &Watch,
    input: &Input,
    cfg: &Config,
    stall: Duration,
) -> (Verdict, Arc<Signals>) {
    let signals = Arc::new(Signals::new(watch));
    let (input, cfg_for_run, watched) = (input.clone(), cfg.clone(), Arc::clone(&signals));
    let outcome = run_with_watchdog(
        "demo",
        &cfg.progress,
        stall,
        crate::TEST_DEADLINE,
        move || run(&input, &cfg_for_run, &watched),
    );
    let verdict = match outcome {
        Outcome::Finished(Ok(report)) => Verdict::Finished(report),
        Outcome::Finished(Err(e)) => Verdict::Failed(e),
        Outcome::Hung { after } => Verdict::Stalled {
            after,
            stall,
            signals: signals.describe(),
        },
        Outcome::Panicked(message) => Verdict::Panicked(message),
    };
    (verdict, signals)
}

//! The chapter's measurement: every server at 100, 1,000 and 10,000 connections, with the
//! fleet in a child process, and what this process needed for it.

use std::fmt;
use std::io::Write;
use std::time::{Duration, Instant};

use pipeline::{Config, Dataset, Input, PipelineError, Variant, error_chain, run_sequential};

use crate::harness::{self, Fleet, Launcher, Limits};
use crate::measure::{ThreadSampler, peak_rss_kib, raise_fd_limit, reset_peak_rss};
use crate::{Model, SERVERS};

/// The connection counts of the live experiment.
pub const CONNECTIONS: [usize; 3] = [100, 1_000, 10_000];

/// The bounded pool's size in the experiment.
pub const POOL_THREADS: usize = 256;

/// A run of the experiment is stopped after 5 s without progress, or after a minute.
pub const EXPERIMENT_LIMITS: Limits = Limits {
    stall: Duration::from_secs(5),
    deadline: Duration::from_secs(60),
};

/// What the experiment runs.
pub struct Setup<'a> {
    pub connections: &'a [usize],
    pub input: Input,
    /// C for the bounded pool.
    pub pool_threads: usize,
    /// How to start the fleet process.
    pub launch: Launcher,
    pub limits: Limits,
}

/// One line of the experiment's table.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub connections: usize,
    pub variant: Variant,
    pub model: Model,
    pub pool_threads: usize,
    /// The most threads this process had at once during the run (`/proc/self/task`).
    pub threads_peak: Option<usize>,
    /// This process's peak resident memory during the run (`VmHWM`, reset before each run).
    pub peak_rss_kib: Option<u64>,
    /// Frames the server received and the fleet saw acknowledged.
    pub records: u64,
    /// Fleet start to the last acknowledgement: connection set-up included.
    pub wall: Duration,
    /// `Ok(report == reference)`, or why the run failed.
    pub outcome: Result<bool, String>,
}

impl Row {
    pub fn same_report(&self) -> bool {
        self.outcome == Ok(true)
    }

    pub fn failure(&self) -> Option<&str> {
        self.outcome.as_ref().err().map(String::as_str)
    }

    pub fn label(&self) -> String {
        match self.model {
            Model::Pool => format!("{}: pool of {} threads", self.variant, self.pool_threads),
            model => format!("{}: {}", self.variant, model.label()),
        }
    }

    pub fn records_per_second(&self) -> Option<f64> {
        (self.outcome.is_ok() && self.wall > Duration::ZERO)
            .then(|| self.records as f64 / self.wall.as_secs_f64())
    }
}

const HEADER: [&str; 6] = [
    "N",
    "variant",
    "threads at peak",
    "peak RSS",
    "records/s",
    "report == reference",
];

impl fmt::Display for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let threads = self
            .threads_peak
            .map_or_else(|| "?".to_owned(), |t| t.to_string());
        let rss = self.peak_rss_kib.map_or_else(
            || "?".to_owned(),
            |kib| format!("{:.1} MiB", kib as f64 / 1024.0),
        );
        let rate = self
            .records_per_second()
            .map_or_else(|| "—".to_owned(), |r| format!("{r:.0}"));
        let verdict = match &self.outcome {
            Ok(true) => "yes".to_owned(),
            Ok(false) => "NO: differs from the reference".to_owned(),
            Err(why) => format!("FAILED: {why}"),
        };
        write!(
            f,
            "{:>6}  {:<32} {:>15} {:>10} {:>10}  {verdict}",
            self.connections,
            self.label(),
            threads,
            rss,
            rate
        )
    }
}

// ANCHOR: experiment
/// The live experiment (`cargo run --release -- demo many-connections`): every server at each
/// of `connections` sensor connections, the fleet in a child process started as this
/// executable's hidden `fleet` subcommand, on the default dataset. One table line per run,
/// printed as it finishes. Run it and look: which column grows with N, and for whom?
pub fn experiment(out: &mut dyn Write, connections: &[usize]) -> Result<Vec<Row>, PipelineError> {
    experiment_with(out, &Setup::live(connections, harness::workshop_fleet))
}
// ANCHOR_END: experiment

impl<'a> Setup<'a> {
    /// The live experiment's setup, with the fleet started by `launch`: the default dataset
    /// (50,000 lines), a pool of [`POOL_THREADS`], [`EXPERIMENT_LIMITS`].
    pub fn live(connections: &'a [usize], launch: Launcher) -> Self {
        Setup {
            connections,
            input: Input::dataset(Dataset::Default),
            pool_threads: POOL_THREADS,
            launch,
            limits: EXPERIMENT_LIMITS,
        }
    }
}

/// [`experiment`] with any setup (the tests start the fleet from the test binary).
pub fn experiment_with(out: &mut dyn Write, setup: &Setup) -> Result<Vec<Row>, PipelineError> {
    let print = |out: &mut dyn Write, text: &str| {
        writeln!(out, "{text}")
            .and_then(|()| out.flush())
            .map_err(|source| PipelineError::WriteOutput {
                path: "(the experiment's output)".into(),
                source,
            })
    };
    let limit = raise_fd_limit()?;
    let cfg = Config {
        concurrency: setup.pool_threads,
        ..Config::default()
    };
    let reference = run_sequential(&setup.input, &cfg)?;
    print(
        out,
        &format!(
            "{} lines ({}) dealt out to N sensor connections on loopback, line i to sensor \
             i % N. The sensors run in a child process and stay connected until all N are \
             being served; then each streams its lines and hangs up.\n\
             This process (the server): {limit}. Each connection costs a file descriptor at \
             each end.\n\
             threads at peak: the most this process had at once; peak RSS: this process's \
             peak resident memory during the run (the sensors' process not included); \
             records/s: lines / time from the first connect to the last acknowledgement.\n",
            reference.lines_read(),
            setup.input.name(),
        ),
    )?;
    print(
        out,
        &format!(
            "{:>6}  {:<32} {:>15} {:>10} {:>10}  {}",
            HEADER[0], HEADER[1], HEADER[2], HEADER[3], HEADER[4], HEADER[5]
        ),
    )?;
    let mut rows = Vec::new();
    let mut fleet_said = None;
    for &connections in setup.connections {
        for (variant, model, server) in SERVERS {
            let fleet = Fleet::Process {
                input: setup.input.clone(),
                launch: setup.launch,
            };
            let memory = reset_peak_rss();
            let sampler = ThreadSampler::start();
            let started = Instant::now();
            let served = harness::serve(server, connections, fleet, &cfg, setup.limits);
            let wall = started.elapsed();
            let threads_peak = sampler.peak();
            let peak_rss_kib = if memory { peak_rss_kib() } else { None };
            let (records, outcome) = match served {
                Ok(served) => {
                    fleet_said.get_or_insert(served.fleet);
                    (
                        served.report.lines_read(),
                        Ok(served.report.text() == reference.text()),
                    )
                }
                Err(e) => (0, Err(error_chain(&e))),
            };
            let row = Row {
                connections,
                variant,
                model,
                pool_threads: setup.pool_threads,
                threads_peak,
                peak_rss_kib,
                records,
                wall,
                outcome,
            };
            print(out, &row.to_string())?;
            rows.push(row);
        }
    }
    if let Some(fleet) = fleet_said {
        print(out, &format!("\n(the sensors' process said: {fleet})"))?;
    }
    Ok(rows)
}

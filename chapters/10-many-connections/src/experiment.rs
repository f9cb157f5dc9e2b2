//! The chapter's measurement: every server at 100, 1,000 and 10,000 connections.
//!
//! Each run gets two fresh processes: the *server* (whose threads and memory are measured) and
//! the *fleet* of sensors it starts. A fresh server process per run, because memory a previous
//! run freed is not always given back to the OS: measured in one long-lived process, each run
//! would also carry the ones before it. This process only starts the runs and prints the table.

use std::fmt;
use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

use pipeline::{Config, Dataset, Input, PipelineError, Variant, error_chain, run_sequential};
use procstats::{ThreadSampler, peak_rss_kib, reset_peak_rss};

use crate::harness::{self, ChildProcess, Fleet, GRACE, Launcher, Limits};
use crate::measure::raise_fd_limit;
use crate::{Model, SERVERS, ServeFn};

/// The connection counts of the live experiment.
pub const CONNECTIONS: [usize; 3] = [100, 1_000, 10_000];

/// The bounded pool's size in the experiment.
pub const POOL_THREADS: usize = 256;

/// A run of the experiment is stopped after 5 s without progress, or after a minute.
pub const EXPERIMENT_LIMITS: Limits = Limits {
    stall: Duration::from_secs(5),
    deadline: Duration::from_secs(60),
};

/// Builds the command that starts a measured server process:
/// `launch(server, connections, pool_threads)`, where `server` is a [`server_key`]. The input
/// is written to its stdin; it prints its measurements on stdout (see [`server_main_with`]).
pub type ServerLauncher = fn(&str, usize, usize) -> Command;

/// The workshop's server launcher: this very executable, started as the registered child
/// [`crate::SERVER_CHILD`] (which calls [`server_main`]) with `--server NAME --connections N
/// --pool-threads C`.
pub fn workshop_server(server: &str, connections: usize, pool_threads: usize) -> Command {
    let mut command = crate::SERVER_CHILD.command();
    command.args([
        "--server",
        server,
        "--connections",
        &connections.to_string(),
        "--pool-threads",
        &pool_threads.to_string(),
    ]);
    command
}

/// A server's name on a command line: the variant's name, `-pool` for the bounded pool.
pub fn server_key(variant: Variant, model: Model) -> String {
    match model {
        Model::Pool => format!("{variant}-pool"),
        _ => variant.name().to_owned(),
    }
}

/// The server called `key` (see [`server_key`]).
pub fn find_server(key: &str) -> Option<(Variant, Model, ServeFn)> {
    SERVERS
        .into_iter()
        .find(|&(variant, model, _)| server_key(variant, model) == key)
}

/// What the experiment runs.
pub struct Setup<'a> {
    pub connections: &'a [usize],
    /// Which servers, in this order (normally [`SERVERS`]).
    pub servers: &'a [(Variant, Model, ServeFn)],
    pub input: Input,
    /// C for the bounded pool.
    pub pool_threads: usize,
    /// How to start a measured server process.
    pub launch: ServerLauncher,
}

impl<'a> Setup<'a> {
    /// The live experiment's setup, with server processes started by `launch`: the default
    /// dataset (50,000 lines), every server, a pool of [`POOL_THREADS`].
    pub fn live(connections: &'a [usize], launch: ServerLauncher) -> Self {
        Setup {
            connections,
            servers: &SERVERS,
            input: Input::dataset(Dataset::Default),
            pool_threads: POOL_THREADS,
            launch,
        }
    }
}

/// One line of the experiment's table.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub connections: usize,
    pub variant: Variant,
    pub model: Model,
    pub pool_threads: usize,
    /// The most threads the server process had at once during the run (`/proc/self/task`,
    /// sampled every millisecond, and counted at the moment every connection was being served).
    pub threads_peak: Option<usize>,
    /// The server process's peak resident memory during the run (`VmHWM`).
    pub peak_rss_kib: Option<u64>,
    /// Its resident memory just before the run: the input, the reference, the runtime-free
    /// process. Part of the peak.
    pub start_rss_kib: Option<u64>,
    /// Frames the server received (and the fleet saw acknowledged).
    pub records: u64,
    /// Fleet start to the last acknowledgement: connection set-up included.
    pub wall: Duration,
    /// Fleet start to the moment every connection was being served: the set-up part of
    /// `wall` (no sensor streams before it).
    pub setup: Option<Duration>,
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

    /// Records per second once every connection was being served: the steady state, without
    /// connection set-up.
    pub fn steady_records_per_second(&self) -> Option<f64> {
        let streaming = self.wall.checked_sub(self.setup?)?;
        (self.outcome.is_ok() && streaming > Duration::ZERO)
            .then(|| self.records as f64 / streaming.as_secs_f64())
    }
}

const COLUMNS: [&str; 6] = [
    "N",
    "variant",
    "threads at peak",
    "peak RSS",
    "records/s",
    "report == reference",
];

fn columns(cells: [&str; 6]) -> String {
    format!(
        "{:>6}  {:<32} {:>15} {:>10} {:>10}  {}",
        cells[0], cells[1], cells[2], cells[3], cells[4], cells[5]
    )
}

impl fmt::Display for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let threads = self
            .threads_peak
            .map_or_else(|| "?".to_owned(), |t| t.to_string());
        let rss = self.peak_rss_kib.map_or_else(|| "?".to_owned(), mib);
        let rate = self
            .records_per_second()
            .map_or_else(|| "—".to_owned(), |r| format!("{r:.0}"));
        let verdict = match &self.outcome {
            Ok(true) => "yes".to_owned(),
            Ok(false) => "NO: differs from the reference".to_owned(),
            Err(why) => format!("FAILED: {why}"),
        };
        f.write_str(&columns([
            &self.connections.to_string(),
            &self.label(),
            &threads,
            &rss,
            &rate,
            &verdict,
        ]))
    }
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

// ANCHOR: experiment
/// The live experiment (`cargo run --release -- demo many-connections`): every server at each
/// of `connections` sensor connections, each run in a fresh server process with its fleet in
/// another (this executable, started as the registered children [`crate::SERVER_CHILD`] and
/// [`crate::FLEET_CHILD`]), on the default dataset. One table line per run, printed as it
/// finishes. Run it and look: which column grows with N, and for whom?
pub fn experiment(out: &mut dyn Write, connections: &[usize]) -> Result<Vec<Row>, PipelineError> {
    experiment_with(out, &Setup::live(connections, workshop_server))
}
// ANCHOR_END: experiment

/// [`experiment`] with any setup (the tests start the processes from the test binary).
pub fn experiment_with(out: &mut dyn Write, setup: &Setup) -> Result<Vec<Row>, PipelineError> {
    let print = |out: &mut dyn Write, text: &str| {
        writeln!(out, "{text}")
            .and_then(|()| out.flush())
            .map_err(|source| PipelineError::WriteOutput {
                path: "(the experiment's output)".into(),
                source,
            })
    };
    print(
        out,
        &format!(
            "{} lines ({}) dealt out to N sensor connections on loopback, line i to sensor \
             i % N. The sensors stay connected until all N are being served; then each streams \
             its lines and hangs up. Each run has a fresh server process, measured, and the \
             sensors in another.\n\
             threads at peak: the most threads the server process had at once; peak RSS: its \
             peak resident memory (the sensors' process not included); records/s: lines / \
             time from the first connect to the last acknowledgement.\n",
            setup.input.line_count(),
            setup.input.name(),
        ),
    )?;
    print(out, &columns(COLUMNS))?;
    let mut rows = Vec::new();
    let mut said: Vec<String> = Vec::new();
    for &connections in setup.connections {
        for &(variant, model, _) in setup.servers {
            let key = server_key(variant, model);
            let command = (setup.launch)(&key, connections, setup.pool_threads);
            let ran = ChildProcess::start(command, setup.input.clone(), "a server process")
                .map_err(|e| error_chain(&e))
                .and_then(|mut child| child.wait(EXPERIMENT_LIMITS.deadline + 2 * GRACE));
            let (measured, lines) = match ran {
                Ok(exited) => match exited.line_starting(MEASURED).map(Measured::parse) {
                    Some(Ok(measured)) => {
                        let lines: Vec<String> = exited
                            .stdout
                            .lines()
                            .filter_map(|l| {
                                let at = l.find("server process:").or(l.find("fleet process:"))?;
                                Some(l[at..].to_owned())
                            })
                            .collect();
                        (measured, lines)
                    }
                    Some(Err(e)) => (Measured::failed(e), Vec::new()),
                    None => (
                        Measured::failed(exited.failure("the server process")),
                        Vec::new(),
                    ),
                },
                Err(e) => (
                    Measured::failed(format!("the server process: {e}")),
                    Vec::new(),
                ),
            };
            for line in lines {
                if !said.contains(&line) {
                    said.push(line);
                }
            }
            let row = Row {
                connections,
                variant,
                model,
                pool_threads: setup.pool_threads,
                threads_peak: measured.threads_peak,
                peak_rss_kib: measured.peak_rss_kib,
                start_rss_kib: measured.start_rss_kib,
                records: measured.records,
                wall: measured.wall,
                setup: measured.setup,
                outcome: measured.outcome,
            };
            print(out, &row.to_string())?;
            rows.push(row);
        }
    }
    let starts: Vec<u64> = rows.iter().filter_map(|r| r.start_rss_kib).collect();
    if let (Some(low), Some(high)) = (starts.iter().min(), starts.iter().max()) {
        print(
            out,
            &format!(
                "\nEvery server process started its run at {} to {} resident (the input, the \
                 reference report): that is part of each peak.",
                mib(*low),
                mib(*high)
            ),
        )?;
    }
    for line in said {
        print(out, &line)?;
    }
    Ok(rows)
}

/// The prefix of the line a server process prints its measurements on.
const MEASURED: &str = "measured:";

/// What a server process measured about its one run.
#[derive(Debug, Clone, PartialEq)]
struct Measured {
    threads_peak: Option<usize>,
    peak_rss_kib: Option<u64>,
    start_rss_kib: Option<u64>,
    records: u64,
    wall: Duration,
    setup: Option<Duration>,
    outcome: Result<bool, String>,
}

impl Measured {
    fn failed(why: String) -> Self {
        Measured {
            threads_peak: None,
            peak_rss_kib: None,
            start_rss_kib: None,
            records: 0,
            wall: Duration::ZERO,
            setup: None,
            outcome: Err(why),
        }
    }

    /// `measured: threads=305 peak_kib=12345 start_kib=4567 records=2000 wall_us=81234
    /// setup_us=40000 outcome=yes` (outcome last: `yes`, `no`, or `failed: <why>`).
    fn line(&self) -> String {
        let opt = |v: Option<u64>| v.map_or_else(|| "?".to_owned(), |v| v.to_string());
        let outcome = match &self.outcome {
            Ok(true) => "yes".to_owned(),
            Ok(false) => "no".to_owned(),
            Err(why) => format!("failed: {why}"),
        };
        format!(
            "{MEASURED} threads={} peak_kib={} start_kib={} records={} wall_us={} setup_us={} \
             outcome={outcome}",
            opt(self.threads_peak.map(|t| t as u64)),
            opt(self.peak_rss_kib),
            opt(self.start_rss_kib),
            self.records,
            self.wall.as_micros(),
            opt(self.setup.map(|d| d.as_micros() as u64)),
        )
    }

    fn parse(line: &str) -> Result<Measured, String> {
        let bad = || format!("cannot read the server process's measurements: {line:?}");
        let rest = line.strip_prefix(MEASURED).ok_or_else(bad)?;
        let (fields, outcome) = rest.split_once(" outcome=").ok_or_else(bad)?;
        let field = |name: &str| {
            fields
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
                .ok_or_else(bad)
        };
        let number = |name: &str| field(name).map(|v| v.parse::<u64>().ok());
        let outcome = match outcome {
            "yes" => Ok(true),
            "no" => Ok(false),
            failed => Err(failed.strip_prefix("failed: ").unwrap_or(failed).to_owned()),
        };
        Ok(Measured {
            threads_peak: number("threads")?.map(|t| t as usize),
            peak_rss_kib: number("peak_kib")?,
            start_rss_kib: number("start_kib")?,
            records: number("records")?.ok_or_else(bad)?,
            wall: Duration::from_micros(number("wall_us")?.ok_or_else(bad)?),
            setup: number("setup_us")?.map(Duration::from_micros),
            outcome,
        })
    }
}

// ANCHOR: server_main
/// A measured server process (the registered child [`crate::SERVER_CHILD`], with `--server
/// NAME --connections N --pool-threads C`): raises its open-file limit, reads the input from
/// stdin, serves `connections` sensors (started as the child [`crate::FLEET_CHILD`]) with the
/// server called `server` (a [`server_key`]), and prints what it measured on stdout. A failed
/// run is a measurement too (`outcome=failed: …`); an error here means it could not start.
pub fn server_main(
    server: &str,
    connections: usize,
    pool_threads: usize,
) -> Result<(), PipelineError> {
    server_main_with(server, connections, pool_threads, harness::workshop_fleet)
}
// ANCHOR_END: server_main

/// [`server_main`], starting the fleet with `launch`.
pub fn server_main_with(
    server: &str,
    connections: usize,
    pool_threads: usize,
    launch: Launcher,
) -> Result<(), PipelineError> {
    let (_, _, serve) = find_server(server)
        .ok_or_else(|| PipelineError::Config(format!("there is no server `{server}`")))?;
    let limit = raise_fd_limit()?;
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut text).map_err(|source| {
        PipelineError::ReadInput {
            path: "stdin".into(),
            source,
        }
    })?;
    let input = Input::from_text("stdin", text);
    let cfg = Config {
        concurrency: pool_threads,
        ..Config::default()
    };
    let reference = run_sequential(&input, &cfg)?;
    let memory = reset_peak_rss().is_ok();
    let start_rss_kib = if memory { peak_rss_kib().ok() } else { None };
    let sampler = ThreadSampler::start();
    let started = Instant::now();
    let fleet = Fleet::Process { input, launch };
    let served = harness::serve(serve, connections, fleet, &cfg, EXPERIMENT_LIMITS);
    let wall = started.elapsed();
    let mut threads_peak = sampler.peak().ok();
    let peak_rss_kib = if memory { peak_rss_kib().ok() } else { None };
    let mut setup = None;
    let (records, outcome, fleet_said) = match served {
        Ok(served) => {
            threads_peak = threads_peak.max(served.threads_at_full);
            setup = served.all_served_at.map(|at| at - started);
            (
                served.report.lines_read(),
                Ok(served.report.text() == reference.text()),
                Some(served.fleet),
            )
        }
        Err(e) => (0, Err(error_chain(&e)), None),
    };
    let measured = Measured {
        threads_peak,
        peak_rss_kib,
        start_rss_kib,
        records,
        wall,
        setup,
        outcome,
    };
    println!("{}", measured.line());
    println!("server process: {limit}");
    if let Some(said) = fleet_said
        && let Some(at) = said.find("fleet process:")
    {
        println!("{}", &said[at..]);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_measurement_line_reads_back() {
        for outcome in [Ok(true), Ok(false), Err("stalled: a = b".to_owned())] {
            let measured = Measured {
                threads_peak: Some(305),
                peak_rss_kib: None,
                start_rss_kib: Some(4567),
                records: 2000,
                wall: Duration::from_micros(81_234),
                setup: Some(Duration::from_micros(40_000)),
                outcome,
            };
            assert_eq!(Measured::parse(&measured.line()), Ok(measured));
        }
    }

    #[test]
    fn steady_records_per_second_leaves_the_set_up_out() {
        let row = |setup: Option<Duration>| Row {
            connections: 10,
            variant: Variant::Sync,
            model: Model::ThreadPerConnection,
            pool_threads: 4,
            threads_peak: None,
            peak_rss_kib: None,
            start_rss_kib: None,
            records: 1_000,
            wall: Duration::from_secs(2),
            setup,
            outcome: Ok(true),
        };
        let measured = row(Some(Duration::from_millis(1_500)));
        assert_eq!(measured.records_per_second(), Some(500.0));
        assert_eq!(measured.steady_records_per_second(), Some(2_000.0));
        assert_eq!(row(None).steady_records_per_second(), None);
        assert_eq!(
            row(Some(Duration::from_secs(2))).steady_records_per_second(),
            None
        );
    }

    #[test]
    fn every_server_has_a_key_that_finds_it() {
        for (variant, model, _) in SERVERS {
            let key = server_key(variant, model);
            let (v, m, _) = find_server(&key).unwrap();
            assert_eq!((v, m), (variant, model), "{key}");
        }
        assert!(find_server("tokio-pool").is_none());
    }
}

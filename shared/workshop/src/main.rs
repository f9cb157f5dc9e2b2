//! `workshop`: the binary behind `cargo run --release`.
//!
//! - no arguments (or `tour`): every chapter, every variant, on the default dataset, with a table
//!   of report checksums, wall times and threads, and a non-zero exit if any variant differs;
//! - `run`: one chapter's variant on your own file;
//! - `generate`: write a seeded dataset to try `run` on;
//! - `demo`: a pitfall, live: the broken pipeline under a watchdog, or its fix;
//! - `exercises`, `check <id>`, `hint <id> [n]`: the exercises and their status;
//! - `bench`: the measurement lab, which writes every table and plot the book shows;
//! - `diagrams`: the book's run-time diagrams, recorded from real runs and drawn;
//! - `doctor`: checks this machine for a session and says what to fix.
#![forbid(unsafe_code)]

mod bench;
mod chapters;
mod demo;
mod diagrams;
mod doctor;
mod exercises;
mod measure;
mod outputs;
mod rejections;
mod run;
mod stdout;
mod tour;
mod watch;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use pipeline::{Config, DatasetSpec, Variant, error_chain};

#[derive(Parser)]
#[command(
    name = "workshop",
    about = "One data pipeline, four ways: sync threads, tokio, async-std and smol side by side.",
    after_help = "With no command, runs the tour. The book: `mdbook serve book`."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run every chapter's four variants on the default dataset (or a chapter's own input) and
    /// compare their reports.
    Tour {
        #[command(flatten)]
        dataset: DatasetArgs,
        /// Runs per variant; the table shows the median wall time.
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=100))]
        repeat: u16,
    },
    /// Run one chapter's pipeline on your own file of `sensor_id,timestamp,value` lines.
    ///
    /// The exit status says whether every line was accepted (0), some were rejected (4), or
    /// none was accepted or more than --max-rejected were (5): see below.
    #[command(after_help = rejections::EXIT_STATUS_HELP)]
    Run {
        /// Chapter number (see the tour for the ones that exist).
        #[arg(long, default_value_t = 1, allow_negative_numbers = true, value_parser = parse_chapter)]
        chapter: u32,
        /// sync, tokio, async-std or smol.
        #[arg(long, default_value = "sync", value_parser = parse_variant)]
        variant: Variant,
        /// The input file.
        #[arg(long)]
        input: PathBuf,
        /// Write the window aggregates here as JSON lines (replaced if it exists, and only
        /// once the run has succeeded).
        #[arg(long)]
        output: Option<PathBuf>,
        /// Write the report here instead of standard output.
        #[arg(long)]
        report: Option<PathBuf>,
        /// Write every rejected line here as JSON lines: line, field, kind, reason, excerpt.
        #[arg(long, value_name = "FILE")]
        rejections: Option<PathBuf>,
        /// More rejected lines than this is a failed input: exit status 5 instead of 4.
        #[arg(long, value_name = "N", allow_negative_numbers = true,
              value_parser = parse_whole)]
        max_rejected: Option<u64>,
        /// Capacity of each channel between stages, in batches (channels allocate it up front).
        #[arg(long, default_value_t = Config::default().channel_capacity as u32,
              allow_negative_numbers = true,
              value_parser = clap::value_parser!(u32).range(1..=MAX_CAPACITY))]
        capacity: u32,
        /// Lines per batch.
        #[arg(long, default_value_t = Config::default().batch_size as u32,
              allow_negative_numbers = true,
              value_parser = clap::value_parser!(u32).range(1..=MAX_BATCH_SIZE))]
        batch_size: u32,
        /// Worker threads for the tokio and smol runtimes.
        #[arg(long, default_value_t = Config::default().worker_threads as u16,
              allow_negative_numbers = true,
              value_parser = clap::value_parser!(u16).range(1..=1024))]
        threads: u16,
        /// Look-ups in flight at once (chapters 2, 5 and 7; in the sync variants, a thread each).
        #[arg(long, default_value_t = Config::default().concurrency as u32,
              allow_negative_numbers = true,
              value_parser = clap::value_parser!(u32).range(1..=MAX_CONCURRENCY))]
        concurrency: u32,
        /// Chapter 6 only: inject the seeded fault plan (failing look-ups, a panicking one, a
        /// refused window) and run the fixed pipeline; the exit code says what was delivered.
        #[arg(long, value_name = "SEED", allow_negative_numbers = true,
              value_parser = parse_whole)]
        faults: Option<u64>,
        /// Chapter 9 only: write the windows to PostgreSQL (a `postgres://` URL or
        /// `host=… dbname=…`) instead of a file, with an idempotent upsert and a checkpoint;
        /// default: $DATABASE_URL if set. Messages show it without its password.
        #[arg(long, value_name = "URL")]
        sink: Option<String>,
        /// Chapter 7 only: where Ctrl-C's checkpoint goes (default: the input's path +
        /// `.checkpoint.json`).
        #[arg(long, value_name = "FILE")]
        checkpoint: Option<PathBuf>,
        /// Chapter 7 only: carry on from the checkpoint of a run Ctrl-C stopped.
        #[arg(long)]
        resume: bool,
        /// Chapter 11 only: log its tracing spans and events on stderr at this level (error,
        /// warn, info, debug or trace; debug shows every look-up and attempt).
        #[arg(long, value_name = "LEVEL")]
        log: Option<tracing::Level>,
    },
    /// Show a pitfall live: the broken pipeline deadlocks or explodes (watched from outside), the
    /// fix doesn't.
    /// Without a name, lists the demos.
    Demo {
        /// The demo, e.g. `guard-across-await` or `lock-order`.
        name: Option<String>,
        /// sync, tokio, async-std or smol.
        #[arg(long, default_value = "tokio", value_parser = parse_variant)]
        variant: Variant,
        /// Run the fixed pipeline instead of the broken one.
        #[arg(long)]
        fixed: bool,
        /// Seconds without progress after which the run counts as stuck.
        #[arg(long, default_value_t = 2, allow_negative_numbers = true,
              value_parser = clap::value_parser!(u32).range(1..=600))]
        stall_secs: u32,
    },
    /// Start the registry as a real HTTP service on 127.0.0.1 (for a session: point a browser or
    /// `curl http://127.0.0.1:PORT/sensors/s-0001` at it). Runs until Ctrl-C.
    Registry {
        /// The port; 0 picks a free one.
        #[arg(long, default_value_t = 8080, allow_negative_numbers = true,
              value_parser = clap::value_parser!(u16))]
        port: u16,
        /// Median latency of an answer, in milliseconds (a long-tailed distribution; 0: at once;
        /// at most a minute).
        #[arg(long, default_value_t = 0, allow_negative_numbers = true,
              value_parser = clap::value_parser!(u32).range(0..=60_000))]
        latency_ms: u32,
        /// Requests in progress at most; past it the service answers 503.
        #[arg(long, default_value_t = 64, allow_negative_numbers = true,
              value_parser = clap::value_parser!(u32).range(1..=MAX_CAPACITY))]
        capacity: u32,
    },
    /// List the exercises with their status (worked out by running their checks) and the next.
    Exercises,
    /// Run one exercise's checks, e.g. `check 04`; with `--watch`, again on every change.
    Check {
        /// The exercise id, e.g. 04.
        id: String,
        /// Keep watching the exercise's files and run the checks again when they change.
        #[arg(long)]
        watch: bool,
    },
    /// Print a hint for an exercise: `hint 04` first, then `hint 04 2`, more explicit.
    Hint {
        /// The exercise id, e.g. 04.
        id: String,
        /// Which hint (1 is the gentlest).
        #[arg(default_value_t = 1, allow_negative_numbers = true,
              value_parser = clap::value_parser!(u16).range(1..))]
        n: u16,
    },
    /// Check this machine for a session (toolchain, a warm build, mdBook, PostgreSQL, open
    /// files) and say what to fix.
    Doctor,
    /// Measure every variant on this machine and write the book's tables and plots
    /// (`book/src/generated/`). About 14 minutes on 2 cores; `--quick` about one.
    Bench {
        /// Fewer and shorter runs (for CI and a first look); the book's files come from a full run.
        #[arg(long)]
        quick: bool,
        /// Only this group: throughput, fan-out, latency, memory, cpu, connections, pitfalls,
        /// scaling-out or build.
        #[arg(long, value_name = "GROUP")]
        only: Option<String>,
        /// Write the files here instead of the book's `src/generated/`.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Measure nothing: say which cells of two runs' tables (two `--out` directories)
        /// moved by more than their spread.
        #[arg(long, num_args = 2, value_names = ["OLD", "NEW"], conflicts_with_all = ["quick", "only", "out"])]
        compare: Option<Vec<PathBuf>>,
        /// With --compare: mark NEW's cells more than 10% away from OLD's with ‡ (NEW's files
        /// are rewritten): the book's run against a second full run of the same code.
        #[arg(long, requires = "compare")]
        mark: bool,
    },
    /// Record chapters 1, 3, 4, 7 and 8 at run time (threads, tasks, queue depth, locks, the
    /// shutdown, the heartbeat), check each recording's shape and draw it as an SVG timeline
    /// (`book/src/generated/diagrams/`). A few seconds.
    Diagrams {
        /// Write the SVGs here instead of the book's `src/generated/diagrams/`.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Write a seeded dataset (some lines malformed on purpose) to a file.
    Generate {
        /// Where to write it.
        #[arg(long)]
        output: PathBuf,
        #[command(flatten)]
        dataset: DatasetArgs,
    },
}

/// The largest `--capacity`: channels allocate their capacity up front (a `sync_channel` or an
/// `async-channel` of 2^32 slots asked for 137 GB and aborted), and a million batches is far
/// more than any run can fill.
const MAX_CAPACITY: i64 = 1_000_000;
/// The largest `--batch-size`: a batch is a vector of lines held at once.
const MAX_BATCH_SIZE: i64 = 1_000_000;
/// The largest `--concurrency`: the sync variants start a thread per look-up in flight.
const MAX_CONCURRENCY: i64 = 10_000;
/// The most lines `generate` and `tour` make: the dataset is built in memory (about 30 bytes a
/// line), and ten million lines is ten times what the book uses.
const MAX_LINES: i64 = 10_000_000;

#[derive(Args)]
struct DatasetArgs {
    /// Lines to generate (at most ten million).
    #[arg(long, default_value_t = DatasetSpec::default().lines as u32,
          allow_negative_numbers = true,
          value_parser = clap::value_parser!(u32).range(0..=MAX_LINES))]
    lines: u32,
    /// Sensors (1 to 1000; checked with the rest of the dataset's settings).
    #[arg(long, default_value_t = DatasetSpec::default().sensors,
          allow_negative_numbers = true)]
    sensors: u32,
    /// Random seed: the same seed gives the same bytes.
    #[arg(long, default_value_t = DatasetSpec::default().seed, allow_negative_numbers = true,
          value_parser = parse_whole)]
    seed: u64,
    /// Malformed lines per thousand (0 to 1000).
    #[arg(long, default_value_t = DatasetSpec::default().malformed_per_mille,
          allow_negative_numbers = true,
          value_parser = clap::value_parser!(u32).range(0..=1000))]
    malformed_per_mille: u32,
}

impl DatasetArgs {
    fn spec(&self) -> DatasetSpec {
        DatasetSpec {
            seed: self.seed,
            lines: self.lines as usize,
            sensors: self.sensors,
            malformed_per_mille: self.malformed_per_mille,
            ..DatasetSpec::default()
        }
    }
}

fn parse_variant(s: &str) -> Result<Variant, String> {
    s.parse()
}

/// A whole number from 0 up (a seed, a count), with a message that says so for `-1` or `x`.
fn parse_whole(s: &str) -> Result<u64, String> {
    s.trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a whole number from 0 to {}", u64::MAX))
}

/// A chapter that exists, or a message that lists the ones that do, for a number that is not
/// one too (`--chapter -1` used to be "unexpected argument '-1' found").
fn parse_chapter(s: &str) -> Result<u32, String> {
    match s.trim().parse::<u32>() {
        Ok(number) => chapters::find(number)
            .map(|c| c.number)
            .map_err(|e| e.to_string()),
        Err(_) => {
            let known: Vec<String> = chapters::CHAPTERS.iter().map(|c| c.label()).collect();
            Err(format!(
                "`{s}` is not a chapter number; available: {}",
                known.join(", ")
            ))
        }
    }
}

/// `registry`: the HTTP registry service, standalone.
fn registry(port: u16, latency_ms: u64, capacity: usize) -> anyhow::Result<()> {
    use registry_service::{Latency, RegistryOptions};
    use std::time::Duration;
    let latency = match latency_ms {
        0 => Latency::None,
        ms => Latency::LongTail {
            median: Duration::from_millis(ms),
            p99: Duration::from_millis(ms * 5),
        },
    };
    let options = RegistryOptions {
        latency,
        capacity,
        ..RegistryOptions::default()
    };
    registry_service::serve(port, options)
        .map_err(|e| anyhow::anyhow!("cannot serve the registry on 127.0.0.1:{port}: {e}"))
}

fn main() -> ExitCode {
    // A process a chapter started as one of its registered children runs that child only.
    if let Some(result) = course::child::dispatch(chapters::all_children()) {
        return match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {}", error_chain(&*e));
                ExitCode::FAILURE
            }
        };
    }
    let cli = Cli::parse();
    let result = match cli.command {
        None => tour::tour(&tour::TourOptions {
            spec: DatasetSpec::default(),
            repeat: 3,
        }),
        Some(Command::Tour { dataset, repeat }) => tour::tour(&tour::TourOptions {
            spec: dataset.spec(),
            repeat: usize::from(repeat),
        }),
        Some(Command::Run {
            chapter,
            variant,
            input,
            output,
            report,
            rejections,
            max_rejected,
            capacity,
            batch_size,
            threads,
            concurrency,
            faults,
            sink,
            checkpoint,
            resume,
            log,
        }) => run::run(&run::RunOptions {
            chapter,
            variant,
            input,
            output,
            report,
            rejections,
            max_rejected,
            capacity: capacity as usize,
            batch_size: batch_size as usize,
            threads: usize::from(threads),
            concurrency: concurrency as usize,
            faults,
            sink,
            checkpoint,
            resume,
            log,
        }),
        Some(Command::Demo {
            name,
            variant,
            fixed,
            stall_secs,
        }) => demo::demo(&demo::DemoOptions {
            name,
            variant,
            fixed,
            stall: std::time::Duration::from_secs(u64::from(stall_secs)),
        }),
        Some(Command::Registry {
            port,
            latency_ms,
            capacity,
        }) => registry(port, u64::from(latency_ms), capacity as usize),
        Some(Command::Exercises) => exercises::list(),
        Some(Command::Check { id, watch: false }) => exercises::check(&id),
        Some(Command::Check { id, watch: true }) => exercises::watch(&id),
        Some(Command::Hint { id, n }) => exercises::hint(&id, usize::from(n)),
        Some(Command::Doctor) => doctor::doctor(),
        Some(Command::Bench {
            quick,
            only,
            out,
            compare,
            mark,
        }) => bench::bench(&bench::BenchOptions {
            quick,
            only,
            out,
            compare: compare.map(|dirs| (dirs[0].clone(), dirs[1].clone())),
            mark,
        }),
        Some(Command::Diagrams { out }) => diagrams::diagrams(out),
        Some(Command::Generate { output, dataset }) => run::generate(&run::GenerateOptions {
            output,
            spec: dataset.spec(),
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(exit) = e.downcast_ref::<run::ExitWith>() {
                // Not an error: a run that finished (or stopped) and says so in its exit code.
                eprintln!("{}", exit.message);
                return ExitCode::from(exit.code);
            }
            if e.downcast_ref::<stdout::StdoutFailed>()
                .is_some_and(stdout::StdoutFailed::is_broken_pipe)
            {
                // The reader has all it wanted (`| head -1`): nothing to say.
                return ExitCode::from(stdout::BROKEN_PIPE);
            }
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

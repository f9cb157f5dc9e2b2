//! # Chapter 2 — waiting well
//!
//! The enrich stage looks every reading up in a registry that takes 15–60 ms to answer
//! ([`registry`]). The work is *waiting*: a look-up costs the machine microseconds and the
//! registry milliseconds. To go faster, wait for many look-ups at once: `C` of them
//! (`cfg.concurrency`).
//!
//! | variant | `C` look-ups in flight on | waits with |
//! |---|---|---|
//! | sync | a pool of `C` OS threads | `thread::sleep` (the thread is blocked) |
//! | tokio | `C` tasks on `cfg.worker_threads` worker threads | `tokio::time::sleep` |
//! | async-std | `C` tasks on the global executor (one thread per CPU) | `async_std::task::sleep` |
//! | smol | `C` tasks on an `Executor` driven by `cfg.worker_threads` threads | `smol::Timer` |
//!
//! Each of the `C` workers (thread or task) takes the next reading from one shared [`WorkQueue`],
//! waits out its look-up, adds the result to its own aggregator, and repeats until the queue is
//! empty; the aggregators are merged at the end. So at most `C` look-ups are in flight, and as
//! long as the machine keeps up, `C` are. Little's law then says how many look-ups per second
//! that gives: `C / mean latency` ([`littles_law_limit`]). [`experiment`] measures every
//! variant against it as `C` grows.
#![forbid(unsafe_code)]

pub mod exercise;
pub mod registry;

/// One module per variant, in the canonical order (`rustfmt.toml` keeps rustfmt from sorting them).
pub mod variants {
    pub mod sync;
    pub mod tokio_rt;
    pub mod async_std_rt;
    pub mod smol_rt;
}

use std::io::Write;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use instruments::Gauge;
use pipeline::{
    Config, DatasetSpec, Input, Parsed, PipelineError, Report, RunFn, Variant, run_sequential,
};

use registry::Latencies;
use variants::{async_std_rt, smol_rt, sync, tokio_rt};

/// The gauge every variant enters for each look-up it is waiting on.
pub const LOOKUPS_IN_FLIGHT: &str = "look-ups in flight";

// ANCHOR: variants
/// The pipelines, in the canonical order, for the tests and the tour.
pub const VARIANTS: [(Variant, RunFn); 4] = [
    (Variant::Sync, sync::run),
    (Variant::Tokio, tokio_rt::run),
    (Variant::AsyncStd, async_std_rt::run),
    (Variant::Smol, smol_rt::run),
];
// ANCHOR_END: variants

/// The same pipelines with a gauge of the look-ups in flight, which the tests watch.
pub type WatchedFn = fn(&Input, &Config, &Gauge) -> Result<Report, PipelineError>;

pub const WATCHED_VARIANTS: [(Variant, WatchedFn); 4] = [
    (Variant::Sync, sync::run_watched),
    (Variant::Tokio, tokio_rt::run_watched),
    (Variant::AsyncStd, async_std_rt::run_watched),
    (Variant::Smol, smol_rt::run_watched),
];

/// How many look-ups each of the `C` workers makes, on average, in an experiment's run. The
/// last look-ups of a run finish unevenly (some workers are idle while others wait out a slow
/// one), which costs up to one slow latency per run: 40 rounds make that a few percent.
pub const ROUNDS: usize = 40;

/// The concurrencies a session's table shows, from one look-up at a time to far past where
/// this machine keeps up.
pub const SESSION_CONCURRENCIES: [usize; 7] = [1, 4, 16, 64, 256, 1024, 4096];

/// The input of a run with `concurrency` workers: `ROUNDS` lines per worker (about 5% of them
/// malformed, so a little fewer look-ups), so every run takes about the same time, about
/// `ROUNDS` × the mean latency, about a second.
pub fn experiment_input(concurrency: usize) -> Input {
    Input::generated(&DatasetSpec {
        lines: ROUNDS * concurrency.max(1),
        ..DatasetSpec::default()
    })
}

/// The chapter's input for the tour and the tests: an experiment's input at the default
/// concurrency (640 lines, about a second per variant).
pub fn chapter_input() -> Input {
    experiment_input(Config::default().concurrency)
}

// ANCHOR: queue
/// The readings still to look up, shared by the `C` workers. The lock is held only to take the
/// next reading — never while waiting for a look-up — so it is a std `Mutex` in every variant,
/// async ones included: nothing awaits while holding it.
pub struct WorkQueue(Mutex<std::vec::IntoIter<Parsed>>);

impl WorkQueue {
    pub fn new(records: Vec<Parsed>) -> Self {
        WorkQueue(Mutex::new(records.into_iter()))
    }

    /// The next reading, or `None` when every reading has been taken.
    pub fn next(&self) -> Option<Parsed> {
        // A worker cannot panic while holding the lock (`next` on a vector iterator does not),
        // so a poisoned lock still holds a consistent iterator.
        self.0.lock().unwrap_or_else(PoisonError::into_inner).next()
    }
}
// ANCHOR_END: queue

// ANCHOR: littles_law
/// Little's law, `L = λ W`: with `L` look-ups in flight on average, each taking `W`, look-ups
/// complete at `λ = L / W` per second. `C` workers keep at most `C` in flight, so no run with
/// concurrency `C` can beat `C / mean latency` look-ups per second; a run that keeps all `C`
/// busy reaches it.
pub fn littles_law_limit(concurrency: usize, mean_latency: Duration) -> f64 {
    if mean_latency.is_zero() {
        return f64::INFINITY;
    }
    concurrency as f64 / mean_latency.as_secs_f64()
}
// ANCHOR_END: littles_law

/// One variant's run, timed.
#[derive(Debug)]
pub struct Measurement {
    pub variant: Variant,
    pub concurrency: usize,
    /// The look-ups the run made and their exact (nominal) latencies.
    pub latencies: Latencies,
    /// Little's limit for this run, look-ups per second: `C / latencies.mean()`.
    pub limit: f64,
    /// Look-ups per second the run achieved: `latencies.lookups / wall`.
    pub achieved: f64,
    /// The whole run: starting the threads or the runtime, parsing, every look-up, the report.
    pub wall: Duration,
    /// The most look-ups that were in flight at once (at most `C`).
    pub peak_in_flight: usize,
    pub report: Report,
}

impl Measurement {
    /// Achieved as a fraction of the limit (1.0 = the limit).
    pub fn of_limit(&self) -> f64 {
        self.achieved / self.limit
    }
}

/// Runs `variant` with `concurrency` workers on `input` (all else as `Config::default()`) and
/// measures it. "Records per second" here means look-ups per second: the readings that reach
/// the registry. Malformed lines are rejected in microseconds and do not count.
pub fn measure(
    variant: Variant,
    concurrency: usize,
    input: &Input,
) -> Result<Measurement, PipelineError> {
    let cfg = Config {
        concurrency,
        ..Config::default()
    };
    let (_, run) = WATCHED_VARIANTS
        .into_iter()
        .find(|(v, _)| *v == variant)
        .expect("every variant is in WATCHED_VARIANTS");
    let latencies = Latencies::of(input);
    let in_flight = Gauge::new(LOOKUPS_IN_FLIGHT);
    let started = Instant::now();
    let report = run(input, &cfg, &in_flight)?;
    let wall = started.elapsed();
    Ok(Measurement {
        variant,
        concurrency,
        latencies,
        limit: littles_law_limit(concurrency, latencies.mean()),
        achieved: latencies.lookups as f64 / wall.as_secs_f64(),
        wall,
        peak_in_flight: in_flight.peak(),
        report,
    })
}

/// One line of the experiment's table: every variant at one concurrency.
#[derive(Debug)]
pub struct Row {
    pub concurrency: usize,
    pub latencies: Latencies,
    pub limit: f64,
    /// The sequential reference's report on the same input.
    pub reference: Report,
    /// One per variant, in the canonical order.
    pub measurements: Vec<Measurement>,
}

impl Row {
    /// The variants whose report differs from the reference (none, or it is a bug).
    pub fn differing(&self) -> Vec<Variant> {
        self.measurements
            .iter()
            .filter(|m| m.report.text() != self.reference.text())
            .map(|m| m.variant)
            .collect()
    }
}

// ANCHOR: experiment
/// For each concurrency: every variant on [`experiment_input`], achieved look-ups per second
/// against Little's limit, printed as a table while it runs. Errors only if a run fails.
pub fn experiment(out: &mut dyn Write, concurrencies: &[usize]) -> Result<Vec<Row>, PipelineError> {
    let print = |out: &mut dyn Write, line: String| {
        // The table is for people watching; a closed pipe must not stop the measurement.
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    };
    print(
        out,
        format!(
            "Look-ups against a registry that takes {}–{} ms (one in {} takes {}–{} ms),\n\
             C at a time; each run has {ROUNDS} lines per worker. Little's law: at most \
             C / mean latency look-ups per second.\n",
            registry::FAST.0.as_millis(),
            registry::FAST.1.as_millis(),
            registry::SLOW_ONE_IN,
            registry::SLOW.0.as_millis(),
            registry::SLOW.1.as_millis(),
        ),
    );
    let mut header = format!(
        "{:>6} {:>9} {:>10} {:>12}",
        "C", "look-ups", "mean wait", "limit/s"
    );
    for variant in Variant::ALL {
        header.push_str(&format!(" {:>17}", format!("{variant}/s")));
    }
    header.push_str("  reports");
    print(out, header);
    let mut rows = Vec::new();
    for &concurrency in concurrencies {
        let input = experiment_input(concurrency);
        let reference = run_sequential(&input, &Config::default())?;
        let latencies = Latencies::of(&input);
        let limit = littles_law_limit(concurrency, latencies.mean());
        let mut line = format!(
            "{concurrency:>6} {:>9} {:>10} {:>12.0}",
            latencies.lookups,
            format!("{:.1} ms", latencies.mean().as_secs_f64() * 1e3),
            limit
        );
        let mut measurements = Vec::new();
        for variant in Variant::ALL {
            let m = measure(variant, concurrency, &input)?;
            line.push_str(&format!(
                " {:>17}",
                format!("{:.0} ({:.0}%)", m.achieved, m.of_limit() * 100.0)
            ));
            measurements.push(m);
        }
        let row = Row {
            concurrency,
            latencies,
            limit,
            reference,
            measurements,
        };
        let differing = row.differing();
        if differing.is_empty() {
            line.push_str("  identical");
        } else {
            let names: Vec<&str> = differing.iter().map(|v| v.name()).collect();
            line.push_str(&format!("  DIFFER: {}", names.join(", ")));
        }
        print(out, line);
        rows.push(row);
    }
    print(
        out,
        "\n(achieved look-ups per second, and as a percentage of the limit; \"identical\": \
         every variant's report is byte-identical to the sequential reference)"
            .to_owned(),
    );
    Ok(rows)
}
// ANCHOR_END: experiment

/// The line under this chapter's tour table, and after `workshop run --chapter 2`: each
/// variant's look-ups per second next to the limit Little's law sets for the concurrency it
/// ran with (`cfg.concurrency`).
pub fn littles_law_note(input: &Input, cfg: &Config, walls: &[(Variant, Duration)]) -> String {
    let latencies = registry::Latencies::of(input);
    let limit = littles_law_limit(cfg.concurrency, latencies.mean());
    let achieved: Vec<String> = walls
        .iter()
        .map(|(variant, wall)| {
            let rate = latencies.lookups as f64 / wall.as_secs_f64().max(1e-9);
            format!("{variant} {rate:.0} ({:.0}%)", 100.0 * rate / limit)
        })
        .collect();
    format!(
        "Little's law: C = {} look-ups in flight, mean latency {:.1} ms → at most \
         {limit:.0} look-ups/s; achieved: {}",
        cfg.concurrency,
        latencies.mean().as_secs_f64() * 1e3,
        achieved.join(", ")
    )
}

/// The session's experiment: [`experiment`] over [`SESSION_CONCURRENCIES`], failing if any
/// variant's report differed from the reference.
fn session_experiment(io: &mut course::ExperimentIo<'_>) -> Result<(), course::BoxError> {
    let rows = experiment(io.out, &SESSION_CONCURRENCIES)?;
    match rows.iter().find(|row| !row.differing().is_empty()) {
        Some(row) => Err(format!(
            "at C = {}, these variants' reports differ from the reference: {:?}",
            row.concurrency,
            row.differing()
        )
        .into()),
        None => Ok(()),
    }
}

/// What the workshop knows of this chapter (see the `course` crate).
pub const CHAPTER: course::Chapter = course::Chapter {
    number: 2,
    slug: "02-waiting-well",
    title: "waiting well: C look-ups in flight against a slow registry",
    variants: VARIANTS,
    input: Some(chapter_input),
    experiments: &[course::Experiment {
        name: "littles-law",
        title: "throughput against Little's law as the concurrency C grows",
        needs_database: false,
        run: session_experiment,
    }],
    note: Some(littles_law_note),
    ..course::Chapter::BASE
};

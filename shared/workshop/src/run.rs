//! `run`: one chapter's variant on the reader's own file; `generate`: a dataset to try it on.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use pipeline::{Config, DatasetSpec, Input, Progress, Report, SinkTarget, Variant};

use crate::chapters;
use crate::text::{group_digits, millis};

/// How many rejected lines `run` lists on stderr (all are counted in the report).
const REJECTIONS_SHOWN: usize = 10;

pub struct RunOptions {
    pub chapter: u32,
    pub variant: Variant,
    pub input: PathBuf,
    pub output: Option<PathBuf>,
    pub report: Option<PathBuf>,
    pub capacity: usize,
    pub batch_size: usize,
    pub threads: usize,
    /// How many look-ups may be in flight at once (chapters 2, 5, 7).
    pub concurrency: usize,
    /// Chapter 6: run under the fault plan drawn from this seed.
    pub faults: Option<u64>,
    /// Chapter 9: a PostgreSQL URL to write the windows to.
    pub sink: Option<String>,
    /// Chapter 7: where the checkpoint goes when Ctrl-C stops the run (and comes from, with
    /// `resume`).
    pub checkpoint: Option<PathBuf>,
    /// Chapter 7: carry on from the checkpoint instead of starting over.
    pub resume: bool,
    /// Chapter 11: log its tracing spans and events at this level on stderr.
    pub log: Option<tracing::Level>,
}

/// An error that carries the process's exit code (a run that finished, but must not exit 0).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ExitWith {
    pub code: u8,
    pub message: String,
}

pub fn run(options: &RunOptions) -> anyhow::Result<()> {
    let chapter = chapters::find(options.chapter)?;
    if let Some(level) = options.log {
        if chapter.number != 11 {
            anyhow::bail!(
                "--log is for chapter 11, whose pipeline is instrumented with tracing spans; \
                 chapter {} has none",
                chapter.number
            );
        }
        ch11_testing_observability::observe::init_log(level);
    }
    // Every path is checked before any work is done, so a typo costs nothing.
    for (flag, path) in [("--output", &options.output), ("--report", &options.report)] {
        if let Some(path) = path {
            check_writable(flag, path)?;
        }
    }
    let input = Input::from_file(&options.input)?;
    let total = input.line_count();
    let cfg = Config {
        channel_capacity: options.capacity,
        batch_size: options.batch_size,
        worker_threads: options.threads,
        concurrency: options.concurrency,
        sink: options
            .output
            .clone()
            .map_or(SinkTarget::ReportOnly, SinkTarget::JsonLines),
        ..Config::default()
    };
    eprintln!(
        "chapter {} ({}), {} variant: {} ({} lines)",
        chapter.number,
        chapter.title,
        options.variant,
        input.name(),
        group_digits(total)
    );

    let (done_tx, done_rx) = mpsc::channel::<()>();
    let watcher = {
        let progress = cfg.progress.clone();
        thread::spawn(move || show_progress(&progress, total, &done_rx))
    };
    let started = Instant::now();
    if chapter.number == 7 {
        let end = stoppable(options, &input, &cfg);
        drop(done_tx);
        let _ = watcher.join();
        return stopped_or_finished(options, &input, end?, started.elapsed());
    }
    let postgres = match (&options.sink, chapter.number) {
        (Some(url), 9) => Some(url.clone()),
        (Some(_), n) => bail!("--sink postgres://… is for chapter 9 (real I/O), not chapter {n}"),
        (None, 9) => std::env::var("DATABASE_URL").ok(),
        (None, _) => None,
    };
    if options.resume || options.checkpoint.is_some() {
        bail!("--checkpoint and --resume are for chapter 7 (cancellation and shutdown)");
    }
    let (result, delivery) = match options.faults {
        None if postgres.is_some() => {
            let url = postgres.as_deref().unwrap_or_default();
            eprintln!("writing the windows to PostgreSQL ({})", redact(url));
            (
                ch09_real_io::run_postgres(options.variant, &input, &cfg, url),
                None,
            )
        }
        None => (chapter.run_fn(options.variant)(&input, &cfg), None),
        Some(seed) => {
            if chapter.number != 6 {
                bail!(
                    "--faults is for chapter 6 (error swallowing), not chapter {}",
                    chapter.number
                );
            }
            let plan = testkit::FaultPlan::seeded(seed, &input);
            let run_with = ch06_error_swallowing::RUN_WITH_VARIANTS
                .iter()
                .find(|(v, _)| *v == options.variant)
                .map(|(_, run_with)| *run_with)
                .expect("chapter 6 lists every variant");
            match run_with(ch06_error_swallowing::Handles::Joined, &input, &cfg, &plan) {
                Ok(outcome) => (Ok(outcome.report.clone()), Some(outcome)),
                Err(e) => (Err(e), None),
            }
        }
    };
    let wall = started.elapsed();
    drop(done_tx);
    let _ = watcher.join();
    let report = result.with_context(|| {
        format!(
            "the {} variant of chapter {} failed on {}",
            options.variant,
            chapter.number,
            input.name()
        )
    })?;

    finish_run(options, &input, &report, wall)?;
    if chapter.number == 2 {
        let latencies = ch02_waiting_well::registry::Latencies::of(&input);
        let limit = ch02_waiting_well::littles_law_limit(options.concurrency, latencies.mean());
        let achieved = latencies.lookups as f64 / wall.as_secs_f64().max(1e-9);
        eprintln!(
            "Little's law: {} look-ups in flight, mean latency {:.1} ms → at most {} look-ups/s; \
             achieved {} look-ups/s ({:.0}% of the limit)",
            options.concurrency,
            latencies.mean().as_secs_f64() * 1e3,
            group_digits(limit as u64),
            group_digits(achieved as u64),
            100.0 * achieved / limit
        );
    }
    if let Some(outcome) = delivery {
        return delivered(&outcome, &cfg);
    }
    Ok(())
}

/// A connection string with its password, if any, replaced by `***`.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Prints the rejections and the report (or writes it), then the summary line; fails if the
/// report does not balance.
fn finish_run(
    options: &RunOptions,
    input: &Input,
    report: &Report,
    wall: Duration,
) -> anyhow::Result<()> {
    print_rejections(input, report);
    match &options.report {
        Some(path) => std::fs::write(path, report.text())
            .with_context(|| format!("cannot write the report to {}", path.display()))?,
        None => print!("{report}"),
    }
    eprintln!(
        "{} lines in {} ({} lines/s): {} accepted, {} rejected, {} windows{}",
        group_digits(report.lines_read()),
        millis(wall),
        group_digits((report.lines_read() as f64 / wall.as_secs_f64().max(1e-9)) as u64),
        group_digits(report.accepted()),
        group_digits(report.rejected()),
        group_digits(report.windows().len() as u64),
        options
            .output
            .as_ref()
            .map(|p| format!(", written to {}", p.display()))
            .unwrap_or_default()
    );
    if !report.is_balanced() {
        bail!("the report does not balance: records were lost or invented (this is a bug)");
    }
    Ok(())
}

/// Chapter 7: a run that Ctrl-C stops gracefully — the source stops, what is in flight
/// drains, a checkpoint is written — and that `--resume` carries on from there.
fn stoppable(
    options: &RunOptions,
    input: &Input,
    cfg: &Config,
) -> anyhow::Result<ch07_cancellation::RunEnd> {
    use ch07_cancellation::{Controls, OnStop, RUN_WITH_VARIANTS, Shutdown};
    let checkpoint = options.checkpoint.clone().unwrap_or_else(|| {
        let mut name = options.input.as_os_str().to_owned();
        name.push(".checkpoint.json");
        PathBuf::from(name)
    });
    let (_, run_with, resume) = RUN_WITH_VARIANTS
        .iter()
        .find(|(v, _, _)| *v == options.variant)
        .copied()
        .expect("chapter 7 lists every variant");
    let shutdown = Shutdown::new();
    ctrlc::set_handler({
        let shutdown = shutdown.clone();
        move || {
            eprintln!(
                "\nstopping: the source stops, what is in flight drains, then a checkpoint …"
            );
            shutdown.trigger();
        }
    })
    .context("cannot install the Ctrl-C handler")?;
    if options.resume {
        eprintln!("resuming from {}", checkpoint.display());
    } else {
        eprintln!(
            "press Ctrl-C to stop gracefully; the checkpoint would go to {}",
            checkpoint.display()
        );
    }
    let controls = Controls::new(shutdown);
    let end = if options.resume {
        resume(input, cfg, &controls, &checkpoint)
    } else {
        run_with(OnStop::Drain, input, cfg, &controls, &checkpoint)
    };
    end.with_context(|| {
        format!(
            "the {} variant of chapter 7 failed on {}",
            options.variant,
            input.name()
        )
    })
}

/// A finished chapter 7 run prints its report; a stopped one says where its checkpoint is and
/// how to resume, and exits 130 (the convention for a run ended by Ctrl-C).
fn stopped_or_finished(
    options: &RunOptions,
    input: &Input,
    end: ch07_cancellation::RunEnd,
    wall: Duration,
) -> anyhow::Result<()> {
    use ch07_cancellation::RunEnd;
    match end {
        RunEnd::Finished(report) => finish_run(options, input, &report, wall),
        RunEnd::Stopped {
            checkpoint,
            next_line,
        } => Err(ExitWith {
            code: 130,
            message: format!(
                "stopped after line {} of {}; nothing lost: checkpoint written to {}\n\
                 resume with: cargo run --release -- run --chapter 7 --variant {} --input {} \
                 --checkpoint {} --resume",
                group_digits(next_line),
                group_digits(input.line_count()),
                checkpoint.display(),
                options.variant,
                options.input.display(),
                checkpoint.display()
            ),
        }
        .into()),
    }
}

/// Chapter 6's last word: what was delivered, where the dead letters are, and an exit code
/// that is 0 only if everything was delivered.
fn delivered(outcome: &ch06_error_swallowing::Outcome, cfg: &Config) -> anyhow::Result<()> {
    let lost = outcome.lost();
    eprintln!(
        "delivered: {} of {} windows written; {} dead letters; lost: {} records, {} windows",
        group_digits(outcome.windows_written),
        group_digits(outcome.report.windows().len() as u64),
        group_digits(outcome.dead_letters.len() as u64),
        lost.records,
        lost.windows
    );
    let code = outcome.exit_code();
    if code == 0 {
        return Ok(());
    }
    let place = ch06_error_swallowing::outcome::dead_letter_path(&cfg.sink).map_or_else(
        || "pass --output FILE to write them next to it".to_owned(),
        |path| format!("written to {}", path.display()),
    );
    Err(ExitWith {
        code: u8::try_from(code).unwrap_or(1),
        message: format!(
            "the run finished, but not everything was delivered: {} dead letters ({place}); \
             exit code {code}",
            group_digits(outcome.dead_letters.len() as u64)
        ),
    }
    .into())
}

/// Lists the first rejected lines as `file:line: field: reason: "text"`, like a compiler.
fn print_rejections(input: &Input, report: &Report) {
    for rejection in report.rejections().iter().take(REJECTIONS_SHOWN) {
        // `Rejection` displays as "line N: ..."; make it "file:N: ...".
        let text = rejection.to_string();
        let rest = text
            .split_once(": ")
            .map_or(text.as_str(), |(_, rest)| rest);
        eprintln!("{}:{}: {rest}", input.name(), rejection.line);
    }
    let more = report.rejections().len().saturating_sub(REJECTIONS_SHOWN);
    if more > 0 {
        eprintln!(
            "… and {} more rejected lines (counted by reason in the report)",
            group_digits(more as u64)
        );
    }
}

/// A progress bar on a terminal; a plain line every two seconds otherwise (CI logs, pipes).
/// Quiet for runs that end within the first second.
fn show_progress(progress: &Progress, total: u64, done: &mpsc::Receiver<()>) {
    let interactive = std::io::stderr().is_terminal();
    let started = Instant::now();
    let mut bar: Option<ProgressBar> = None;
    let mut last_line = Instant::now();
    while let Err(mpsc::RecvTimeoutError::Timeout) = done.recv_timeout(Duration::from_millis(100)) {
        if started.elapsed() < Duration::from_secs(1) {
            continue;
        }
        let read = progress.lines_read();
        if interactive {
            let bar = bar.get_or_insert_with(|| {
                let bar = ProgressBar::new(total);
                bar.set_style(
                    ProgressStyle::with_template(
                        "{spinner} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} lines ({per_sec}, eta {eta})",
                    )
                    .expect("the template is valid"),
                );
                bar
            });
            bar.set_position(read);
        } else if last_line.elapsed() >= Duration::from_secs(2) {
            eprintln!(
                "… read {} of {} lines",
                group_digits(read),
                group_digits(total)
            );
            last_line = Instant::now();
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
}

pub struct GenerateOptions {
    pub output: PathBuf,
    pub spec: DatasetSpec,
}

pub fn generate(options: &GenerateOptions) -> anyhow::Result<()> {
    if let Err(e) = options.spec.validate() {
        bail!("invalid dataset: {e}");
    }
    let text = pipeline::dataset::generate(&options.spec);
    write_new(&options.output, &text)?;
    eprintln!(
        "wrote {} lines to {} ({})",
        group_digits(options.spec.lines as u64),
        options.output.display(),
        options.spec.name()
    );
    Ok(())
}

fn write_new(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// Opens `path` for writing (creating it, not truncating it) to find out now whether the run
/// will be able to write there.
fn check_writable(flag: &str, path: &Path) -> anyhow::Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map(drop)
        .with_context(|| format!("cannot write {flag} {}", path.display()))
}

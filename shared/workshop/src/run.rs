//! `run`: one chapter's variant on the reader's own file; `generate`: a dataset to try it on.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use course::{Chapter, Ran, RunFlag, RunRequest};
use indicatif::{ProgressBar, ProgressStyle};
use pipeline::{Config, DatasetSpec, Input, Progress, Report, SinkTarget, Variant};

use crate::chapters;
use crate::outputs::{Outputs, Requested};
use crate::rejections;
use crate::stdout::out;
use course::text::{group_digits, millis};

pub struct RunOptions {
    pub chapter: u32,
    pub variant: Variant,
    pub input: PathBuf,
    pub output: Option<PathBuf>,
    pub report: Option<PathBuf>,
    /// Every rejected line, as JSON lines.
    pub rejections: Option<PathBuf>,
    /// More rejected lines than this: exit status 5 (see [`rejections::status`]).
    pub max_rejected: Option<u64>,
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
    check_flags(chapter, options)?;
    // Every path is checked before any work is done, so a typo costs nothing, and the outputs
    // are written aside until the run has succeeded, so a failure leaves nothing behind.
    let outputs = Outputs::plan(
        Some(&options.input),
        &options.requested_outputs(),
        &options
            .checkpoint
            .as_deref()
            .map(|path| Requested {
                flag: "--checkpoint",
                path,
            })
            .into_iter()
            .collect::<Vec<_>>(),
    )?;
    let input = Input::from_file(&options.input)?;
    let total = input.line_count();
    let cfg = options.config(&outputs);
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
    let ran = run_chapter(chapter, options, &input, &cfg);
    let wall = started.elapsed();
    drop(done_tx);
    let _ = watcher.join();
    let ran = ran.with_context(|| {
        format!(
            "the {} variant of chapter {} failed on {}",
            options.variant,
            chapter.number,
            input.name()
        )
    })?;

    if let Some(report) = &ran.report {
        finish_run(options, &outputs, &input, report, wall)?;
        if let Some(note) = chapter.note {
            eprintln!("{}", note(&input, &cfg, &[(options.variant, wall)]));
        }
    }
    for line in &ran.after {
        eprintln!("{}", outputs.final_names(line));
    }
    let exit = ran.exit.map(|exit| {
        let message = outputs.final_names(&exit.message);
        (exit.code, message, exit.rerun_with)
    });
    outputs.commit()?;
    // The chapter's own status first (it is about delivery, or a stop); then the input's.
    let exit = exit.or_else(|| {
        let report = ran.report.as_ref()?;
        let (code, message) = rejections::status(report, options.max_rejected)?;
        Some((code, message, Vec::new()))
    });
    match exit {
        None => Ok(()),
        Some((code, mut message, rerun_with)) => {
            if !rerun_with.is_empty() {
                message.push_str(&format!(
                    "\nresume with: cargo run --release -- run --chapter {} --variant {} \
                     --input {} {}",
                    chapter.number,
                    options.variant,
                    options.input.display(),
                    rerun_with.join(" ")
                ));
            }
            Err(ExitWith { code, message }.into())
        }
    }
}

impl RunOptions {
    /// The flags given that only some chapters understand.
    fn chapter_flags(&self) -> Vec<RunFlag> {
        [
            (self.faults.is_some(), RunFlag::Faults),
            (self.sink.is_some(), RunFlag::Sink),
            (self.checkpoint.is_some(), RunFlag::Checkpoint),
            (self.resume, RunFlag::Resume),
            (self.log.is_some(), RunFlag::Log),
        ]
        .into_iter()
        .filter_map(|(given, flag)| given.then_some(flag))
        .collect()
    }

    /// The output files the run writes, with their flags.
    fn requested_outputs(&self) -> Vec<Requested<'_>> {
        [
            ("--output", &self.output),
            ("--report", &self.report),
            ("--rejections", &self.rejections),
        ]
        .into_iter()
        .filter_map(|(flag, path)| {
            Some(Requested {
                flag,
                path: path.as_deref()?,
            })
        })
        .collect()
    }

    /// The pipeline's configuration; its JSON-lines sink writes to the staged `--output`.
    fn config(&self, outputs: &Outputs) -> Config {
        Config {
            channel_capacity: self.capacity,
            batch_size: self.batch_size,
            worker_threads: self.threads,
            concurrency: self.concurrency,
            sink: outputs
                .staged("--output")
                .map_or(SinkTarget::ReportOnly, SinkTarget::JsonLines),
            ..Config::default()
        }
    }
}

/// Refuses a flag the chapter does not declare, naming the chapter(s) that do.
fn check_flags(chapter: &Chapter, options: &RunOptions) -> anyhow::Result<()> {
    for flag in options.chapter_flags() {
        if chapter.flags.contains(&flag) {
            continue;
        }
        let owners: Vec<String> = chapters::CHAPTERS
            .iter()
            .filter(|c| c.flags.contains(&flag))
            .map(|c| format!("chapter {}", c.label()))
            .collect();
        bail!(
            "{flag} is for {}, not chapter {}",
            owners.join(" or "),
            chapter.number
        );
    }
    Ok(())
}

/// The chapter's own run when it has one (flags of its own, an exit status of its own), else
/// the variant's.
fn run_chapter(
    chapter: &Chapter,
    options: &RunOptions,
    input: &Input,
    cfg: &Config,
) -> anyhow::Result<Ran> {
    let Some(custom_run) = chapter.custom_run else {
        return Ok(Ran::report(chapter.run_fn(options.variant)(input, cfg)?));
    };
    let log = options.log.map(|level| level.to_string());
    let request = RunRequest {
        variant: options.variant,
        input,
        input_path: &options.input,
        cfg,
        faults: options.faults,
        sink: options.sink.as_deref(),
        checkpoint: options.checkpoint.as_deref(),
        resume: options.resume,
        log: log.as_deref(),
        say: &|line| eprintln!("{line}"),
    };
    custom_run(&request).map_err(|e| anyhow::anyhow!(e))
}

/// Prints the rejections and the report (or writes it), then the summary line; fails if the
/// report does not balance.
fn finish_run(
    options: &RunOptions,
    outputs: &Outputs,
    input: &Input,
    report: &Report,
    wall: Duration,
) -> anyhow::Result<()> {
    rejections::print_first(input, report, options.rejections.as_deref());
    if let Some(staged) = outputs.staged("--rejections") {
        rejections::write_all(&staged, report)?;
    }
    match outputs.staged("--report") {
        Some(staged) => std::fs::write(&staged, report.text()).with_context(|| {
            format!(
                "cannot write --report {}",
                options.report.as_deref().unwrap_or(&staged).display()
            )
        })?,
        None => out!("{report}")?,
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
    let requested = Requested {
        flag: "--output",
        path: &options.output,
    };
    let outputs = Outputs::plan(None, &[requested], &[])?;
    let text = pipeline::dataset::generate(&options.spec);
    let staged = outputs.staged("--output").expect("planned above");
    std::fs::write(&staged, text)
        .with_context(|| format!("cannot write --output {}", options.output.display()))?;
    outputs.commit()?;
    eprintln!(
        "wrote {} lines to {} ({})",
        group_digits(options.spec.lines as u64),
        options.output.display(),
        options.spec.name()
    );
    Ok(())
}

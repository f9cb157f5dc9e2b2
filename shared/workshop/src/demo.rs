//! `demo`: a pitfall, live, for a session. The broken pipeline runs under a watchdog that
//! watches from another thread and says what it sees in plain words; `--fixed` runs the fix.

use std::time::Duration;

use anyhow::bail;
use instruments::{Pitfall, Verdict, run_demo};
use pipeline::{Config, Variant};

use course::text::group_digits;
use course::{Experiment, ExperimentIo};

use crate::chapters::{all_demos, all_experiments, find_demo, find_experiment};
use crate::stdout::{self, StdoutFailed, outln};

pub struct DemoOptions {
    pub name: Option<String>,
    pub variant: Variant,
    pub fixed: bool,
    pub stall: Duration,
}

pub fn demo(options: &DemoOptions) -> anyhow::Result<()> {
    let Some(name) = &options.name else {
        list()?;
        return Ok(());
    };
    if let Some((chapter, experiment)) = find_experiment(name) {
        outln!(
            "chapter {} — {} (an experiment: every variant, measured on this machine)",
            chapter.number,
            experiment.title
        )?;
        return run_experiment(experiment);
    }
    let demo = find_demo(name)?;
    let case = demo.case(options.variant);
    let (kind, run) = if options.fixed {
        ("fixed", case.fixed)
    } else {
        ("broken", case.broken)
    };
    let Some(run) = run else {
        bail!(
            "the {} variant has no `{}` demo: {} cannot happen there (see chapter {})",
            options.variant,
            demo.name,
            demo.title,
            demo.chapter
        );
    };

    quiet_panics();
    let input = (demo.input)();
    outln!(
        "chapter {} — {} ({}, {kind})",
        demo.chapter,
        demo.title,
        options.variant
    )?;
    outln!(
        "running on {} ({} lines); stuck means no progress for {:?} …",
        input.name(),
        group_digits(input.line_count()),
        options.stall
    )?;
    let cfg = Config::default();
    let reset = procstats::reset_peak_rss().is_ok();
    let (verdict, signals) = run_demo(run, &demo.watch, &input, &cfg, options.stall);
    if let (true, Ok(kib)) = (reset, procstats::peak_rss_kib()) {
        outln!(
            "peak memory of this process during the run: {:.1} MiB",
            kib as f64 / 1024.0
        )?;
    }
    let reference = (demo.reference)(&input, &Config::default())?;
    let fix_hint = format!(
        "the fix: cargo run --release -- demo {} --variant {} --fixed",
        demo.name, options.variant
    );
    match (&verdict, options.fixed, demo.pitfall) {
        (Verdict::Stalled { .. }, false, Pitfall::Deadlock) => {
            outln!("STUCK, as the book says: {verdict}")?;
            outln!("why: {}.", demo.diagnosis)?;
            outln!("{fix_hint}")?;
            // A broken demo that misbehaves exits non-zero, like the broken program would.
            bail!(
                "the broken pipeline deadlocked (see chapter {})",
                demo.chapter
            )
        }
        (Verdict::Finished(report), false, Pitfall::Explosion) => {
            let peak = limited_peak(demo, &signals);
            if peak <= cfg.concurrency {
                bail!(
                    "the broken pipeline stayed within the limit ({peak} ≤ {}), which the book \
                     says it cannot: {}",
                    cfg.concurrency,
                    signals.describe()
                );
            }
            outln!(
                "EXPLODED, as the book says: {} (the limit would be {})",
                signals.describe(),
                cfg.concurrency
            )?;
            if overloaded(report) > 0 {
                outln!(
                    "report: {} of {} readings rejected because the registry was overloaded",
                    group_digits(overloaded(report)),
                    group_digits(report.lines_read())
                )?;
            }
            outln!("why: {}.", demo.diagnosis)?;
            outln!("{fix_hint}")?;
            bail!(
                "the broken pipeline went far past its limit (see chapter {})",
                demo.chapter
            )
        }
        (Verdict::Finished(report), false, Pitfall::Loss) => {
            let missing = report
                .lines_read()
                .saturating_sub(report.accepted() + report.rejected());
            if report.is_balanced() && report.text() == reference.text() {
                bail!(
                    "the broken pipeline lost nothing this time, which the book says it cannot \
                     be trusted to do: {verdict}"
                );
            }
            outln!("LOST, as the book says — and the run itself reported success: {verdict}")?;
            if missing > 0 {
                outln!(
                    "{} of {} lines read are neither accepted nor rejected: they vanished",
                    group_digits(missing),
                    group_digits(report.lines_read())
                )?;
            }
            outln!(
                "the reference run accepts {} and rejects {}; this one accepted {} and rejected {}",
                group_digits(reference.accepted()),
                group_digits(reference.rejected()),
                group_digits(report.accepted()),
                group_digits(report.rejected())
            )?;
            outln!("why: {}.", demo.diagnosis)?;
            outln!("{fix_hint}")?;
            bail!(
                "the broken pipeline lost records without an error (see chapter {})",
                demo.chapter
            )
        }
        (Verdict::Finished(report), true, _) => {
            let same = report.text() == reference.text();
            outln!("{verdict}")?;
            if demo.pitfall == Pitfall::Explosion {
                let peak = limited_peak(demo, &signals);
                if peak > cfg.concurrency || signals.counted() > 0 {
                    bail!(
                        "the fixed pipeline went past its limit of {}: {}",
                        cfg.concurrency,
                        signals.describe()
                    );
                }
                outln!(
                    "within its limit of {}: {}",
                    cfg.concurrency,
                    signals.describe()
                )?;
            }
            if demo.pitfall == Pitfall::Loss {
                outln!(
                    "every line accounted for ({}); failures rejected with their reason: {}",
                    if report.is_balanced() {
                        "balanced"
                    } else {
                        "NOT balanced"
                    },
                    failures(report)
                )?;
            }
            outln!(
                "report {} the reference (the stages run one after the other on one thread)",
                if same { "identical to" } else { "DIFFERS from" }
            )?;
            if !same {
                bail!("the fixed pipeline's report differs from the reference");
            }
            Ok(())
        }
        _ => bail!(
            "unexpected for a {kind} demo: {verdict} ({})",
            signals.describe()
        ),
    }
}

/// A session's screen is no place for a backtrace: a panic (injected on purpose, or the one a
/// broken demo provokes) is shown as one line, with the thread it happened on.
pub fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        let thread = std::thread::current();
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".to_owned());
        eprintln!(
            "  [a panic on thread '{}': {message}]",
            thread.name().unwrap_or("unnamed")
        );
    }));
}

/// "763 registry error, 1 look-up panicked": the rejections that are failures of the system.
fn failures(report: &pipeline::Report) -> String {
    use pipeline::RejectReason::{LookupPanicked, RegistryFailed, RegistryTimedOut};
    let counts: Vec<String> = [RegistryFailed, RegistryTimedOut, LookupPanicked]
        .into_iter()
        .map(|reason| {
            let n = report
                .rejections()
                .iter()
                .filter(|r| r.reason == reason)
                .count();
            (reason, n)
        })
        .filter(|(_, n)| *n > 0)
        .map(|(reason, n)| format!("{} {}", group_digits(n as u64), reason.kind()))
        .collect();
    if counts.is_empty() {
        "none".to_owned()
    } else {
        counts.join(", ")
    }
}

/// The high-water mark of the gauge an explosion demo is limited by.
pub fn limited_peak(demo: &instruments::Demo, signals: &instruments::Signals) -> usize {
    demo.limited.map_or(0, |name| signals.gauge(name).peak())
}

/// How many readings a report rejected because the registry refused the look-up.
fn overloaded(report: &pipeline::Report) -> u64 {
    report
        .rejections()
        .iter()
        .filter(|r| r.reason == pipeline::RejectReason::RegistryOverloaded)
        .count() as u64
}

fn list() -> Result<(), StdoutFailed> {
    outln!("Live demos: cargo run --release -- demo <name> --variant <variant> [--fixed]")?;
    for demo in all_demos() {
        let variants: Vec<&str> = demo
            .cases
            .iter()
            .filter(|c| c.broken.is_some())
            .map(|c| c.variant.name())
            .collect();
        outln!(
            "  {:<20} chapter {:>2}: {} [{}]",
            demo.name,
            demo.chapter,
            demo.title,
            variants.join(", ")
        )?;
    }
    let mut experiments = all_experiments().peekable();
    if experiments.peek().is_some() {
        outln!("Experiments (every variant, measured): cargo run --release -- demo <name>")?;
        for (chapter, experiment) in experiments {
            outln!(
                "  {:<20} chapter {:>2}: {}",
                experiment.name,
                chapter.number,
                experiment.title
            )?;
        }
    }
    Ok(())
}

/// Runs an experiment, with a throwaway PostgreSQL database (or `DATABASE_URL`'s) when it
/// needs one.
fn run_experiment(experiment: &Experiment) -> anyhow::Result<()> {
    use testkit::postgres::Unavailable;
    let database = if experiment.needs_database {
        let name = format!("workshop_{}", experiment.name.replace('-', "_"));
        Some(testkit::postgres::try_test_database(&name).map_err(|e| {
            let why = match e {
                Unavailable::Missing(why) | Unavailable::Broken(why) => why,
            };
            anyhow::anyhow!(
                "this experiment needs PostgreSQL: set DATABASE_URL, or install it \
                 (initdb under /usr/lib/postgresql/<version>/bin): {why}"
            )
        })?)
    } else {
        None
    };
    let mut stdout = stdout::Writer::default();
    let mut io = ExperimentIo {
        out: &mut stdout,
        database: database.as_ref().map(|db| db.conninfo()),
    };
    let result = (experiment.run)(&mut io);
    if let Some(failed) = stdout.failure() {
        return Err(failed.into());
    }
    result.map_err(|e| anyhow::anyhow!(e))
}

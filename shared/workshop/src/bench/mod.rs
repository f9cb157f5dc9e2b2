//! `bench`: the measurement lab. Every figure in the book comes from here: each group measures
//! every variant on this machine, the variants taking turns within each repeat (`stats`), and
//! writes a markdown table (and, where a picture reads faster, an SVG plot) into
//! `book/src/generated/`: the median of the runs with their spread, noisy cells marked, headed
//! by the machine, the date, the commit, the load and steal before and after (`conditions`)
//! and the exact command. `claims` turns the figures into verdicts on the article's claims;
//! `--compare OLD NEW` says which cells of two runs moved by more than their spread, and with
//! `--mark` flags NEW's cells more than 10% away from OLD's (the book's run against a second
//! full run: figures that do not reproduce are marked, and the prose leans on none). `--quick`
//! measures less, for CI; the book's files come from a full run.

mod build;
mod checklist;
mod claims;
mod compare;
mod conditions;
mod connections;
mod cpu;
pub mod doc;
mod fanout;
mod goals;
mod latency;
mod load;
mod memory;
mod pitfalls;
pub(crate) mod plot;
mod scaling;
mod stats;
mod throughput;

use crate::stdout::outln;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};

use doc::{Doc, Provenance, Table, check_markdown, check_svg};
use plot::Chart;

pub struct BenchOptions {
    pub quick: bool,
    pub only: Option<String>,
    /// Where the files go (default: the book's `src/generated/`).
    pub out: Option<PathBuf>,
    /// Instead of measuring: compare the tables of two runs' directories (old, new).
    pub compare: Option<(PathBuf, PathBuf)>,
    /// With `compare`: mark new's cells more than 10% away from old's (two full runs).
    pub mark: bool,
}

/// A measurement group: its name (for `--only` and its files) and what it measures.
struct Group {
    name: &'static str,
    what: &'static str,
    run: fn(&mut Ctx) -> anyhow::Result<GroupOutput>,
}

const GROUPS: &[Group] = &[
    Group {
        name: "throughput",
        what: "records/s through chapter 1's pipeline, batches of 1, 64, 1024",
        run: throughput::run,
    },
    Group {
        name: "fan-out",
        what: "C requests in flight vs Little's limit, in-process and over HTTP",
        run: fanout::run,
    },
    Group {
        name: "latency",
        what: "p50 / p99 / p99.9 per request against a long-tailed registry",
        run: latency::run,
    },
    Group {
        name: "memory",
        what: "10,000 idle threads vs 10,000 idle tasks: RSS, virtual, kernel stack, spawn cost",
        run: memory::run,
    },
    Group {
        name: "cpu",
        what: "CPU-bound stage: one thread, inline, blocking pool, rayon; heartbeat lateness",
        run: cpu::run,
    },
    Group {
        name: "connections",
        what: "100 / 1,000 / 10,000 connections: threads, memory, throughput",
        run: connections::run,
    },
    Group {
        name: "pitfalls",
        what: "every live pitfall demo, broken and fixed: what it did, its peak memory",
        run: pitfalls::run,
    },
    Group {
        name: "scaling-out",
        what: "four worker processes share a PostgreSQL queue; one is killed mid-batch",
        run: scaling::run,
    },
    Group {
        name: "build",
        what: "clean release build time, crates and binary size of the same program per model",
        run: build::run,
    },
];

/// What every group gets.
pub struct Ctx {
    pub quick: bool,
    /// Runs per measurement (the tables show medians).
    pub repeats: usize,
    pub provenance: Provenance,
}

/// Counts a group's steps on a progress bar (or, without a terminal, prints a line per step).
pub struct Step {
    bar: ProgressBar,
    repeats: usize,
    plain: bool,
    done: usize,
    total: usize,
}

impl Step {
    pub fn new(ctx: &Ctx, total: usize) -> Step {
        let plain = !std::io::IsTerminal::is_terminal(&std::io::stderr());
        let bar = if plain {
            ProgressBar::hidden()
        } else {
            ProgressBar::new(total as u64)
        };
        bar.set_style(
            ProgressStyle::with_template("  [{bar:30}] {pos}/{len} {msg} ({elapsed})")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        Step {
            bar,
            repeats: ctx.repeats,
            plain,
            done: 0,
            total,
        }
    }

    pub fn repeats(&self) -> usize {
        self.repeats
    }

    /// Starts the next step.
    pub fn next(&mut self, what: &str) {
        if self.done > 0 {
            self.bar.inc(1);
        }
        self.done += 1;
        if self.plain {
            eprintln!("  {}/{} {what}", self.done, self.total);
        }
        self.bar.set_message(what.to_string());
    }

    /// Updates the current step's message (on a terminal only: a log needs no ticker).
    pub fn detail(&self, what: &str) {
        self.bar.set_message(what.to_string());
    }

    pub fn finish(self) {
        self.bar.finish_and_clear();
    }
}

/// What a group produced: its markdown, its plots, and its lines of the summary.
pub struct GroupOutput {
    name: &'static str,
    doc: Doc,
    plots: Vec<(String, String)>,
    /// More markdown files than the group's own: (file name without `.md`, its document).
    extras: Vec<(String, Doc)>,
    summary: Vec<(String, Vec<String>)>,
    claims: Vec<Claim>,
    /// What the claims' verdicts need from this group.
    pub facts: claims::Facts,
}

/// One of the article's quantitative claims (`shared/reference`'s article, which the book
/// answers), next to what this run measured.
pub struct Claim {
    /// Orders the claims in their table.
    pub order: u32,
    pub claim: &'static str,
    pub measured: String,
    /// Where the details are: a page of the book.
    pub details: &'static str,
}

impl GroupOutput {
    pub fn new(name: &'static str, doc: Doc) -> GroupOutput {
        GroupOutput {
            name,
            doc,
            plots: Vec::new(),
            extras: Vec::new(),
            summary: Vec::new(),
            claims: Vec::new(),
            facts: claims::Facts::default(),
        }
    }

    /// Adds the plot `file`.svg.
    pub fn plot(
        &mut self,
        file: &str,
        chart: &Chart,
        provenance: &Provenance,
    ) -> anyhow::Result<()> {
        self.plots
            .push((file.to_string(), plot::svg(chart, provenance)?));
        Ok(())
    }

    /// Adds another markdown file, `file`.md (e.g. one table per chapter).
    pub fn extra(&mut self, file: &str, doc: Doc) {
        self.extras.push((file.to_string(), doc));
    }

    /// Sets a seed claim beside what this group measured.
    pub fn claim(&mut self, claim: Claim) {
        self.claims.push(claim);
    }

    /// Adds a line to the summary: what, then one cell per variant in the canonical order.
    pub fn summary(&mut self, what: &str, per_variant: impl IntoIterator<Item = String>) {
        self.summary
            .push((what.to_string(), per_variant.into_iter().collect()));
    }
}

/// The default output directory: the book's `src/generated/`.
pub fn book_generated_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../book/src/generated")
}

pub fn bench(options: &BenchOptions) -> anyhow::Result<()> {
    if let Some((old, new)) = &options.compare {
        let lines = if options.mark {
            compare::mark_dirs(old, new)?
        } else {
            compare::compare_dirs(old, new)?
        };
        for line in lines {
            outln!("{line}")?;
        }
        return Ok(());
    }
    let groups: Vec<&Group> = match &options.only {
        None => GROUPS.iter().collect(),
        Some(name) => {
            let Some(group) = GROUPS.iter().find(|g| g.name == name) else {
                let names: Vec<_> = GROUPS.iter().map(|g| g.name).collect();
                bail!(
                    "no measurement group `{name}`; the groups are: {}",
                    names.join(", ")
                );
            };
            vec![group]
        }
    };
    let out_dir = options.out.clone().unwrap_or_else(book_generated_dir);
    in_out_dir(&out_dir, |dir| measure(options, &groups, dir))
}

/// Runs `write` into `dir`, created if missing; if `write` fails, removes what was created
/// (nothing but this run's files is in it): a failed group leaves no half-run behind.
fn in_out_dir(dir: &Path, write: impl FnOnce(&Path) -> anyhow::Result<()>) -> anyhow::Result<()> {
    let created = create_dir(dir)?;
    let result = write(dir);
    if result.is_err()
        && let Some(created) = created
    {
        let _ = std::fs::remove_dir_all(created);
    }
    result
}

/// Creates `dir` and its missing parents; returns the outermost directory it created (`None`
/// if `dir` was there).
fn create_dir(dir: &Path) -> anyhow::Result<Option<PathBuf>> {
    let mut outermost = None;
    for ancestor in dir.ancestors() {
        if ancestor.as_os_str().is_empty() || ancestor.exists() {
            break;
        }
        outermost = Some(ancestor.to_path_buf());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(outermost)
}

fn measure(options: &BenchOptions, groups: &[&Group], out_dir: &Path) -> anyhow::Result<()> {
    let out_dir = out_dir.canonicalize().unwrap_or(out_dir.to_path_buf());
    // Chapter 10's servers open thousands of sockets; so does the fan-out at C = 4096.
    let limit = ch10_many_connections::measure::raise_fd_limit()?;
    let mut command = String::from("cargo run --release -- bench");
    if options.quick {
        command.push_str(" --quick");
    }
    if let Some(name) = &options.only {
        command.push_str(&format!(" --only {name}"));
    }
    let mut ctx = Ctx {
        quick: options.quick,
        repeats: if options.quick { 1 } else { 3 },
        provenance: Provenance::here(command),
    };
    outln!(
        "The measurement lab{}: {} group(s) on {}\nopen files: {limit}\nwriting to {}\n",
        if options.quick { " (quick)" } else { "" },
        groups.len(),
        ctx.provenance.machine(),
        out_dir.display()
    )?;
    let started = Instant::now();
    let run_began = conditions::Snapshot::now();
    let mut facts = claims::Facts::default();
    let mut summary = Table::new(["group", "measure", "sync", "tokio", "async-std", "smol"]);
    let mut summary_rows: Vec<checklist::SummaryRow> = Vec::new();
    let mut written = Vec::new();
    let mut claims = Vec::new();
    for (i, group) in groups.iter().enumerate() {
        outln!(
            "[{}/{}] {}: {}",
            i + 1,
            groups.len(),
            group.name,
            group.what
        )?;
        let group_started = Instant::now();
        ctx.provenance.before = Some(conditions::Snapshot::now());
        let output = (group.run)(&mut ctx).with_context(|| format!("group `{}`", group.name))?;
        let md = out_dir.join(format!("{}.md", output.name));
        std::fs::write(&md, output.doc.into_string())
            .with_context(|| format!("writing {}", md.display()))?;
        check_markdown(&md)?;
        written.push(md);
        for (file, doc) in output.extras {
            let path = out_dir.join(format!("{file}.md"));
            std::fs::write(&path, doc.into_string())
                .with_context(|| format!("writing {}", path.display()))?;
            check_markdown(&path)?;
            written.push(path);
        }
        for (file, svg) in &output.plots {
            let path = out_dir.join(format!("{file}.svg"));
            std::fs::write(&path, svg).with_context(|| format!("writing {}", path.display()))?;
            check_svg(&path)?;
            written.push(path);
        }
        claims.extend(output.claims);
        facts.merge(output.facts);
        for (what, cells) in output.summary {
            summary_rows.push((group.name.to_string(), what.clone(), cells.clone()));
            let mut row = vec![group.name.to_string(), what];
            row.extend(cells);
            summary.row(row);
        }
        outln!(
            "      done in {:.0} s",
            group_started.elapsed().as_secs_f64()
        )?;
    }
    if options.only.is_none() {
        ctx.provenance.before = Some(run_began);
        let mut doc = Doc::new(
            &ctx.provenance,
            "Summary of the measurement lab",
            "One line per headline figure; the groups' own tables have the details.",
        );
        doc.table(&summary);
        doc.text(claims::TIMER_CAVEAT);
        doc.text(
            "The lab's own goals: what it promises about its measurements, judged from this \
             run's figures (`bench/goals.rs`).",
        );
        doc.table(&goals::table(&facts, started.elapsed(), options.quick));
        let path = out_dir.join("summary.md");
        std::fs::write(&path, doc.into_string())
            .with_context(|| format!("writing {}", path.display()))?;
        check_markdown(&path)?;
        written.push(path);

        let mut doc = Doc::new(
            &ctx.provenance,
            "The checklist's figures",
            "The summary's lines, one anchored snippet per group, for chapter 14's checklist to \
             include: its figures are this run's.",
        );
        checklist::snippets(&mut doc, &summary_rows);
        let path = out_dir.join("checklist.md");
        std::fs::write(&path, doc.into_string())
            .with_context(|| format!("writing {}", path.display()))?;
        checklist::check(&path)?;
        written.push(path);

        let mut table = Table::new(["the article says", "measured here", "verdict", "details"]);
        for row in claims::rows(&facts, ctx.provenance.cores) {
            table.row([
                row.claim,
                row.measured,
                row.verdict,
                row.details.to_string(),
            ]);
        }
        // Claims a group wrote itself (build cost) carry their verdict in what they measured.
        claims.sort_by_key(|c| c.order);
        for claim in &claims {
            table.row([
                claim.claim.to_string(),
                claim.measured.clone(),
                "in the figures measured".to_string(),
                claim.details.to_string(),
            ]);
        }
        let mut doc = Doc::new(
            &ctx.provenance,
            "The article's figures, measured",
            "Each figure the article gives, quoted, next to what this run measured, the verdict \
             the lab computes from it (the rules are in `bench/claims.rs`), and where the table is.",
        );
        doc.table(&table);
        doc.text(claims::TIMER_CAVEAT);
        let path = out_dir.join("claims.md");
        std::fs::write(&path, doc.into_string())
            .with_context(|| format!("writing {}", path.display()))?;
        check_markdown(&path)?;
        written.push(path);
    }
    outln!("\n{}", summary.markdown())?;
    outln!(
        "{} files written and checked in {:.0} s:",
        written.len(),
        started.elapsed().as_secs_f64()
    )?;
    for path in &written {
        outln!("  {}", path.display())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_run_removes_the_directories_it_created_and_only_those() {
        let scratch = tempfile::tempdir().unwrap();
        let out = scratch.path().join("new/lab");
        let error = in_out_dir(&out, |dir| {
            std::fs::write(dir.join("fan-out.md"), "half a run")?;
            anyhow::bail!("group `fan-out` failed")
        })
        .unwrap_err();
        assert_eq!(error.to_string(), "group `fan-out` failed");
        assert!(
            !scratch.path().join("new").exists(),
            "the created parent is gone too"
        );

        // A directory that was there stays (with what was in it).
        let there = scratch.path().join("there");
        std::fs::create_dir(&there).unwrap();
        std::fs::write(there.join("keep.md"), "mine").unwrap();
        assert!(in_out_dir(&there, |_| anyhow::bail!("failed")).is_err());
        assert!(there.join("keep.md").exists());

        // A run that succeeds keeps its files.
        in_out_dir(&out, |dir| Ok(std::fs::write(dir.join("a.md"), "a")?)).unwrap();
        assert!(out.join("a.md").exists());
    }
}

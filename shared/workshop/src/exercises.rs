//! The exercise runner: `exercises`, `check <id>`, `hint <id> [n]`.
//!
//! Stateless on purpose: an exercise's status is worked out by running its checks now, never
//! read from a progress file that could have gone stale.

use crate::stdout::outln;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Manifest {
    exercise: Vec<Exercise>,
}

#[derive(Debug, Deserialize)]
pub struct Exercise {
    pub id: String,
    pub title: String,
    pub chapter: u32,
    pub minutes: u32,
    pub starter: String,
    pub solution: String,
    pub path: String,
    /// How many checks the exercise has: fewer ran means the checks were not all run.
    pub checks: usize,
    /// The steps, as the prefixes of their checks' names (`tokio` for `tokio_…`); empty for
    /// an exercise in one step.
    #[serde(default)]
    pub steps: Vec<String>,
    pub hints: Vec<String>,
}

/// The workspace this binary was built from.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn manifest() -> anyhow::Result<Vec<Exercise>> {
    let path = workspace_root().join("exercises/exercises.toml");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read the exercise list {}", path.display()))?;
    let manifest: Manifest =
        toml::from_str(&text).with_context(|| format!("{} is not valid", path.display()))?;
    Ok(manifest.exercise)
}

fn find<'a>(exercises: &'a [Exercise], id: &str) -> anyhow::Result<&'a Exercise> {
    exercises.iter().find(|e| e.id == id).ok_or_else(|| {
        let ids: Vec<&str> = exercises.iter().map(|e| e.id.as_str()).collect();
        anyhow::anyhow!("there is no exercise `{id}`; available: {}", ids.join(", "))
    })
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(workspace_root());
    command
}

/// How one check ended, from libtest's `test checks::<name> ... ok` line.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CheckResult {
    name: String,
    passed: bool,
}

/// The checks' results in a test run's standard output. Only the `checks` module's tests count
/// (the checks file is compiled as that module); an ignored check did not run.
fn parse_results(stdout: &str) -> Vec<CheckResult> {
    stdout
        .lines()
        .filter_map(|line| {
            let (name, outcome) = line.strip_prefix("test ")?.split_once(" ... ")?;
            let name = name.rsplit_once("checks::")?.1;
            let passed = match outcome.split_whitespace().next()? {
                "ok" => true,
                "FAILED" => false,
                _ => return None, // ignored
            };
            Some(CheckResult {
                name: name.to_owned(),
                passed,
            })
        })
        .collect()
}

/// Where an exercise stands after a run of its checks.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Status {
    DoesNotCompile,
    /// Fewer checks ran than the exercise has: not a pass, whatever cargo's exit status.
    TooFewChecks {
        ran: usize,
        declared: usize,
    },
    ToDo,
    Done,
}

/// The verdict on a run: the exit status alone can be fooled (a run of no checks succeeds).
fn judge(declared: usize, cargo_passed: bool, results: &[CheckResult]) -> Status {
    let ran = results.len();
    if ran < declared {
        Status::TooFewChecks { ran, declared }
    } else if cargo_passed && results.iter().all(|r| r.passed) {
        Status::Done
    } else {
        Status::ToDo
    }
}

/// One step's standing: how many of its checks ran and passed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct StepStatus<'a> {
    step: &'a str,
    passed: usize,
    ran: usize,
}

impl StepStatus<'_> {
    fn done(&self) -> bool {
        self.ran > 0 && self.passed == self.ran
    }
}

/// Each step's checks are those named `<step>_…`.
fn step_status<'a>(steps: &'a [String], results: &[CheckResult]) -> Vec<StepStatus<'a>> {
    steps
        .iter()
        .map(|step| {
            let prefix = format!("{step}_");
            let mine = results.iter().filter(|r| r.name.starts_with(&prefix));
            let (ran, passed) = mine.fold((0, 0), |(ran, passed), r| {
                (ran + 1, passed + usize::from(r.passed))
            });
            StepStatus {
                step: step.as_str(),
                passed,
                ran,
            }
        })
        .collect()
}

/// "tokio half done, smol half not yet": one clause per step.
fn describe_steps(steps: &[StepStatus<'_>]) -> String {
    let half = if steps.len() == 2 { "half" } else { "step" };
    steps
        .iter()
        .map(|s| {
            let state = if s.done() {
                "done".to_owned()
            } else if s.ran == 0 {
                "did not run".to_owned()
            } else {
                format!("not yet ({} of {} checks pass)", s.passed, s.ran)
            };
            format!("{} {half} {state}", s.step)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Builds the starter's checks, then runs them, showing cargo's and the checks' output or not.
fn run(exercise: &Exercise, show: bool) -> anyhow::Result<(Status, Vec<CheckResult>)> {
    let output = |show: bool| {
        if show {
            Stdio::inherit()
        } else {
            Stdio::null()
        }
    };
    let built = cargo()
        .args(["test", "--no-run", "-p", &exercise.starter])
        .args(if show { &[][..] } else { &["--quiet"][..] })
        .stdout(output(show))
        .stderr(output(show))
        .status()
        .context("cannot run cargo")?;
    if !built.success() {
        return Ok((Status::DoesNotCompile, Vec::new()));
    }
    // Without --quiet, libtest prints a line per test: that is what `parse_results` reads.
    let mut child = cargo()
        .args(["test", "-p", &exercise.starter])
        .stdout(Stdio::piped())
        .stderr(output(show))
        .spawn()
        .context("cannot run cargo")?;
    let mut stdout = String::new();
    let pipe = child.stdout.take().context("cargo's output")?;
    for line in BufReader::new(pipe).lines() {
        let line = line.context("cannot read cargo's output")?;
        if show {
            outln!("{line}")?;
        }
        stdout.push_str(&line);
        stdout.push('\n');
    }
    let ran = child.wait().context("cannot run cargo")?;
    let results = parse_results(&stdout);
    Ok((judge(exercise.checks, ran.success(), &results), results))
}

/// `exercises`: every exercise with its status, and the next one to do.
pub fn list() -> anyhow::Result<()> {
    let exercises = manifest()?;
    outln!("Exercises (status from running each one's checks now; the first run compiles them):")?;
    let mut next = None;
    for exercise in &exercises {
        eprint!("  checking {} …\r", exercise.id);
        let (status, results) = run(exercise, false)?;
        let steps = step_status(&exercise.steps, &results);
        let label = match status {
            Status::Done => "done".to_owned(),
            Status::ToDo if steps.iter().any(StepStatus::done) => {
                let done: Vec<&str> = steps.iter().filter(|s| s.done()).map(|s| s.step).collect();
                format!("to do ({} done)", done.join(", "))
            }
            Status::ToDo => "to do".to_owned(),
            Status::TooFewChecks { .. } => "checks missing".to_owned(),
            Status::DoesNotCompile => "does not compile".to_owned(),
        };
        outln!(
            "  {}  chapter {:>2}  {:>3} min  {:<22} {}",
            exercise.id,
            exercise.chapter,
            exercise.minutes,
            label,
            exercise.title
        )?;
        if status != Status::Done && next.is_none() {
            next = Some(exercise);
        }
    }
    match next {
        Some(exercise) => {
            outln!()?;
            outln!(
                "Next: {} — {} (chapter {}, about {} minutes)",
                exercise.id,
                exercise.title,
                exercise.chapter,
                exercise.minutes
            )?;
            outln!("  edit:  {}/src/lib.rs", exercise.path)?;
            outln!("  check: cargo run --release -- check {}", exercise.id)?;
            outln!("  stuck: cargo run --release -- hint {}", exercise.id)?;
        }
        None => outln!("\nAll done. The solutions are in solutions/, to compare with yours.")?,
    }
    Ok(())
}

/// `check <id>`: runs one exercise's checks with their output, then says what it means.
pub fn check(id: &str) -> anyhow::Result<()> {
    let exercises = manifest()?;
    let exercise = find(&exercises, id)?;
    check_once(exercise)
}

/// `check <id> --watch`: checks, then checks again each time the exercise's files change.
pub fn watch(id: &str) -> anyhow::Result<()> {
    let exercises = manifest()?;
    let exercise = find(&exercises, id)?;
    let dir = workspace_root().join(&exercise.path);
    crate::watch::on_change(&dir, || {
        if let Err(e) = check_once(exercise) {
            outln!("{e:#}")?;
        }
        outln!(
            "\nwatching {} for changes (Ctrl-C to stop) …",
            exercise.path
        )?;
        Ok(())
    })
}

fn check_once(exercise: &Exercise) -> anyhow::Result<()> {
    outln!(
        "checking exercise {} — {} (cargo test -p {})",
        exercise.id,
        exercise.title,
        exercise.starter
    )?;
    let (status, results) = run(exercise, true)?;
    let steps = step_status(&exercise.steps, &results);
    if !steps.is_empty() && status != Status::DoesNotCompile {
        outln!("exercise {}: {}", exercise.id, describe_steps(&steps))?;
    }
    match status {
        Status::Done => {
            outln!(
                "exercise {} passes: all {} checks ran and passed. Next: cargo run --release -- \
                 exercises",
                exercise.id,
                results.len()
            )?;
            Ok(())
        }
        Status::TooFewChecks { ran, declared } => bail!(
            "exercise {}: only {ran} of the {declared} checks ran, so it does not pass — is the \
             `#[path = \"../tests/checks.rs\"] mod checks;` line still at the end of {}/src/lib.rs, \
             and no check marked `ignore` or filtered out?",
            exercise.id,
            exercise.path
        ),
        Status::ToDo | Status::DoesNotCompile => bail!(
            "exercise {} does not pass yet (the messages above say why); a hint: \
             cargo run --release -- hint {}",
            exercise.id,
            exercise.id
        ),
    }
}

/// `hint <id> [n]`: the n-th hint (from 1), gentle first.
pub fn hint(id: &str, n: usize) -> anyhow::Result<()> {
    let exercises = manifest()?;
    let exercise = find(&exercises, id)?;
    let count = exercise.hints.len();
    let Some(text) = n.checked_sub(1).and_then(|i| exercise.hints.get(i)) else {
        bail!("exercise {id} has hints 1 to {count}");
    };
    outln!(
        "hint {n} of {count} for exercise {id} ({}):",
        exercise.title
    )?;
    outln!("  {text}")?;
    if n < count {
        outln!("more explicit: cargo run --release -- hint {id} {}", n + 1)?;
    } else {
        outln!(
            "that was the last hint; the solution is in solutions/{} (cargo test -p {} runs \
             the same checks on it)",
            exercise.path.trim_start_matches("exercises/"),
            exercise.solution
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What libtest prints per test without `--quiet`, for a crate whose checks are the
    /// `checks` module.
    const RUN: &str = "\
running 3 tests
test checks::smol_keeps_the_queue_within_its_capacity ... FAILED
test checks::tokio_keeps_the_queue_within_its_capacity ... ok
test checks::tokio_is_slow ... ignored, takes a minute
test helper_outside_the_checks ... ok
test result: FAILED. 1 passed; 1 failed; 1 ignored; 0 measured; 0 filtered out
";

    fn results(pairs: &[(&str, bool)]) -> Vec<CheckResult> {
        pairs
            .iter()
            .map(|&(name, passed)| CheckResult {
                name: name.to_owned(),
                passed,
            })
            .collect()
    }

    #[test]
    fn only_the_checks_that_ran_are_counted() {
        assert_eq!(
            parse_results(RUN),
            results(&[
                ("smol_keeps_the_queue_within_its_capacity", false),
                ("tokio_keeps_the_queue_within_its_capacity", true),
            ])
        );
    }

    #[test]
    fn a_run_of_fewer_checks_than_declared_is_not_a_pass() {
        // A deleted `mod checks;` line: cargo succeeds, no check ran.
        assert_eq!(
            judge(2, true, &[]),
            Status::TooFewChecks {
                ran: 0,
                declared: 2
            }
        );
        // An ignored check or a filter: one of two ran, and passed.
        let one = results(&[("tokio_x", true)]);
        assert_eq!(
            judge(2, true, &one),
            Status::TooFewChecks {
                ran: 1,
                declared: 2
            }
        );
        let both = results(&[("tokio_x", true), ("smol_x", true)]);
        assert_eq!(judge(2, true, &both), Status::Done);
        assert_eq!(judge(2, false, &both), Status::ToDo);
        let half = results(&[("tokio_x", true), ("smol_x", false)]);
        assert_eq!(judge(2, false, &half), Status::ToDo);
    }

    #[test]
    fn each_step_is_reported_by_its_checks_names() {
        let steps = ["tokio".to_owned(), "smol".to_owned()];
        let half = results(&[("tokio_a", true), ("tokio_b", true), ("smol_a", false)]);
        assert_eq!(
            describe_steps(&step_status(&steps, &half)),
            "tokio half done, smol half not yet (0 of 1 checks pass)"
        );
        let none = results(&[("enrich_batch_counts", true)]);
        assert_eq!(
            describe_steps(&step_status(&steps, &none)),
            "tokio half did not run, smol half did not run"
        );
    }

    /// The `#[test]` functions of a checks file: what `cargo test -p <solution> -- --list`
    /// lists (CI compares the two; this is the cheap half, run with every `cargo test`).
    fn declared_in(checks_file: &str) -> usize {
        checks_file
            .lines()
            .filter(|line| line.trim() == "#[test]")
            .count()
    }

    #[test]
    fn every_exercise_declares_as_many_checks_as_its_checks_file_has() {
        for exercise in manifest().unwrap() {
            let file = workspace_root()
                .join(&exercise.path)
                .join("tests/checks.rs");
            let text = std::fs::read_to_string(&file).unwrap();
            assert_eq!(
                declared_in(&text),
                exercise.checks,
                "exercise {}: `checks` in exercises.toml against the #[test]s of {}",
                exercise.id,
                file.display()
            );
            assert!(
                !text.contains("#[ignore"),
                "exercise {}: an ignored check",
                exercise.id
            );
            for step in &exercise.steps {
                assert!(
                    text.contains(&format!("fn {step}_")),
                    "exercise {}: step `{step}` has no check named `{step}_…`",
                    exercise.id
                );
            }
        }
    }

    #[test]
    fn the_manifest_is_valid_and_its_crates_exist() {
        let exercises = manifest().unwrap();
        assert!(!exercises.is_empty());
        for exercise in &exercises {
            let dir = workspace_root().join(&exercise.path);
            let starter = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
            assert!(
                starter.contains(&format!("name = \"{}\"", exercise.starter)),
                "{}: starter package name",
                exercise.id
            );
            let solution_dir = workspace_root()
                .join("solutions")
                .join(dir.file_name().unwrap());
            let solution = std::fs::read_to_string(solution_dir.join("Cargo.toml")).unwrap();
            assert!(
                solution.contains(&format!("name = \"{}\"", exercise.solution)),
                "{}: solution package name",
                exercise.id
            );
            assert!(
                (2..=3).contains(&exercise.hints.len()),
                "{}: two or three hints",
                exercise.id
            );
        }
    }
}

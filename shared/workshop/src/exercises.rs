//! The exercise runner: `exercises`, `check <id>`, `hint <id> [n]`.
//!
//! Stateless on purpose: an exercise's status is worked out by running its checks now, never
//! read from a progress file that could have gone stale.

use crate::stdout::outln;
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Done,
    ToDo,
    DoesNotCompile,
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(workspace_root());
    command
}

/// Builds the starter's checks, then runs them: compiles and passes, compiles and fails, or
/// does not compile.
fn status(exercise: &Exercise) -> anyhow::Result<Status> {
    let built = cargo()
        .args(["test", "--quiet", "--no-run", "-p", &exercise.starter])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .context("cannot run cargo")?;
    if !built.success() {
        return Ok(Status::DoesNotCompile);
    }
    let ran = cargo()
        .args(["test", "--quiet", "-p", &exercise.starter])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .context("cannot run cargo")?;
    Ok(if ran.success() {
        Status::Done
    } else {
        Status::ToDo
    })
}

/// `exercises`: every exercise with its status, and the next one to do.
pub fn list() -> anyhow::Result<()> {
    let exercises = manifest()?;
    outln!("Exercises (status from running each one's checks now; the first run compiles them):")?;
    let mut next = None;
    for exercise in &exercises {
        eprint!("  checking {} …\r", exercise.id);
        let status = status(exercise)?;
        let label = match status {
            Status::Done => "done",
            Status::ToDo => "to do",
            Status::DoesNotCompile => "does not compile",
        };
        outln!(
            "  {}  chapter {:>2}  {:>3} min  {:<16} {}",
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
    outln!(
        "checking exercise {} — {} (cargo test -p {})",
        exercise.id,
        exercise.title,
        exercise.starter
    )?;
    let ran = cargo()
        .args(["test", "-p", &exercise.starter])
        .status()
        .context("cannot run cargo")?;
    if ran.success() {
        outln!(
            "exercise {} passes. Next: cargo run --release -- exercises",
            exercise.id
        )?;
        Ok(())
    } else {
        bail!(
            "exercise {} does not pass yet (the messages above say why); a hint: \
             cargo run --release -- hint {}",
            exercise.id,
            exercise.id
        )
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

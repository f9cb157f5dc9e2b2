//! The parent's side: launching the children, one per measurement, each under a deadline, and
//! reducing what they print to rows. The only place that starts a memory child.

use std::io::Read;
use std::process::{Command, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use pipeline::{PipelineError, Variant};

#[cfg(doc)]
use super::idle_main;
use super::{CHILD_DEADLINE, IdleSample, MemoryRow, WORKER_THREADS};

// ANCHOR: measure_memory
/// Runs [`idle_main`] in a child process `repeats` times per variant (in `Variant::ALL`
/// order) and reduces each variant's samples to a [`MemoryRow`] (medians).
///
/// `launch(variant, count)` returns the command that runs the child — the chapter's registered
/// child (`crate::workshop_idle`), or a test binary re-executing itself. Each child gets
/// `ASYNC_STD_THREAD_COUNT` = [`WORKER_THREADS`], is killed if it runs past
/// [`CHILD_DEADLINE`], and must release every unit it spawned.
pub fn measure_memory(
    launch: &dyn Fn(Variant, usize) -> Command,
    count: usize,
    repeats: usize,
) -> Result<Vec<MemoryRow>, PipelineError> {
    measure_memory_within(launch, count, repeats, CHILD_DEADLINE)
}
// ANCHOR_END: measure_memory

/// [`measure_memory`] with a deadline of your choosing for each child.
pub fn measure_memory_within(
    launch: &dyn Fn(Variant, usize) -> Command,
    count: usize,
    repeats: usize,
    deadline: Duration,
) -> Result<Vec<MemoryRow>, PipelineError> {
    if count == 0 || repeats == 0 {
        return Err(PipelineError::Config(
            "count and repeats must be at least 1".into(),
        ));
    }
    Variant::ALL
        .into_iter()
        .map(|variant| {
            let samples = (0..repeats)
                .map(|_| run_child(variant, launch(variant, count), count, deadline))
                .collect::<Result<Vec<_>, _>>()?;
            // `run_child` checked each sample's variant and count, so they reduce to a row.
            MemoryRow::from_samples(&samples).ok_or(PipelineError::StagePanicked {
                stage: child_stage(variant),
                message: "the samples do not belong together".into(),
            })
        })
        .collect()
}

/// The stage name errors about a child carry, so they say which variant it was.
fn child_stage(variant: Variant) -> &'static str {
    match variant {
        Variant::Sync => "memory child (sync)",
        Variant::Tokio => "memory child (tokio)",
        Variant::AsyncStd => "memory child (async-std)",
        Variant::Smol => "memory child (smol)",
    }
}

/// Runs one child under `deadline` and returns the sample it printed.
fn run_child(
    variant: Variant,
    mut command: Command,
    count: usize,
    deadline: Duration,
) -> Result<IdleSample, PipelineError> {
    let stage = child_stage(variant);
    let failed = |message: String| PipelineError::StagePanicked { stage, message };
    command
        .env("ASYNC_STD_THREAD_COUNT", WORKER_THREADS.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().map_err(|source| PipelineError::Start {
        what: stage,
        source,
    })?;
    let stdout = read_all(child.stdout.take());
    let stderr = read_all(child.stderr.take());
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > deadline => {
                // Our own child, by its handle: kill it and reap it. (Its output readers are
                // left behind: a grandchild may still hold the pipes.)
                let _ = child.kill();
                let _ = child.wait();
                return Err(PipelineError::TimedOut {
                    stage,
                    after: deadline,
                });
            }
            Ok(None) => thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(failed(format!("cannot wait for the child: {e}"))),
        }
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    let tail = || {
        let lines: Vec<&str> = stderr.lines().collect();
        lines[lines.len().saturating_sub(8)..].join("\n")
    };
    if !status.success() {
        return Err(failed(format!(
            "the child exited with {status}; its stderr ends:\n{}",
            tail()
        )));
    }
    let samples: Vec<IdleSample> = stdout
        .lines()
        .filter_map(|line| serde_json::from_str(&line[line.find('{')?..]).ok())
        .collect();
    let sample = match samples.as_slice() {
        [one] => one.clone(),
        _ => {
            return Err(failed(format!(
                "the child printed {} measurement lines, expected exactly one; its stdout:\n{}",
                samples.len(),
                stdout.trim_end()
            )));
        }
    };
    if sample.variant != variant || sample.count != count {
        return Err(failed(format!(
            "asked for {count} {variant} units, the child measured {} {} units",
            sample.count, sample.variant
        )));
    }
    if sample.released != count {
        return Err(failed(format!(
            "only {} of {count} units came back with their state intact",
            sample.released
        )));
    }
    Ok(sample)
}

/// Reads a child's pipe to the end on a thread of its own (so a full pipe cannot block it).
fn read_all(pipe: Option<impl Read + Send + 'static>) -> JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

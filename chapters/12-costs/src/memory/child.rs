//! The child process's body: the idle workload of one variant, measured, printed as one line.

use std::io::Write;

use pipeline::{PipelineError, Variant};

use super::{IdleSample, async_std_rt, smol_rt, sync, tokio_rt};

// ANCHOR: idle_main
/// The child's body: spawns `count` idle units of `variant`, measures while all of them wait,
/// releases and joins them, and prints one line of JSON (an [`IdleSample`]) to stdout.
///
/// Each unit keeps 64 bytes of state (its "request"), counts itself as started, and waits for
/// its own reply on a one-shot channel — an operation in flight, waiting for its answer. When
/// all have started, the snapshot is taken; then every reply sender is dropped, which wakes
/// every unit, and each returns a value computed from the state it kept.
pub fn idle_main(variant: Variant, count: usize) -> Result<(), PipelineError> {
    let sample = idle_sample(variant, count)?;
    let line = serde_json::to_string(&sample).map_err(|e| PipelineError::WriteOutput {
        path: "stdout".into(),
        source: e.into(),
    })?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")
        .and_then(|()| stdout.flush())
        .map_err(|source| PipelineError::WriteOutput {
            path: "stdout".into(),
            source,
        })
}
// ANCHOR_END: idle_main

/// [`idle_main`] without the printing.
pub fn idle_sample(variant: Variant, count: usize) -> Result<IdleSample, PipelineError> {
    if count == 0 {
        return Err(PipelineError::Config("count must be at least 1".into()));
    }
    match variant {
        Variant::Sync => sync::idle(count),
        Variant::Tokio => tokio_rt::idle(count),
        Variant::AsyncStd => async_std_rt::idle(count),
        Variant::Smol => smol_rt::idle(count),
    }
}

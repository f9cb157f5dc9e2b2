//! # Exercise 08 — keep the heartbeat beating (chapter 8)
//!
//! The aggregate stage computes a digest over every window: pure CPU, tens of milliseconds and
//! more. Each function below is handed that job and runs it right there, on the runtime's
//! thread — so while it computes, nothing else on the runtime runs: no heartbeat, no timeout,
//! no other connection. The checks run each on a runtime with **one** thread, next to a
//! heartbeat, and the job will not finish until the heartbeat has ticked.
//!
//! 1. **tokio** — `digest_tokio`: run the job where it does not hold the runtime's thread, and
//!    await its result. (~7 min)
//! 2. **smol** — `digest_smol`: the same with smol's tools. (~7 min)
//! 3. **blocking** (harder) — `calibration_tokio` and `calibration_smol` are handed a different
//!    job: a blocking call (the registry's calibration table, read with std I/O — it spends its
//!    time waiting, not computing). Keep the heartbeat beating here too, with the right pool for
//!    a call that waits. (~8 min)
//!
//! Where is the right place? Chapter 8's table: CPU work goes to a pool sized to the cores
//! (rayon); the runtimes' blocking pools are for blocking calls. The checks look at which
//! thread ran each job.
//!
//! Check: `cargo test -p ex08-blocking-and-cpu` (or `cargo run --release -- check 08`).
//! Stuck: `cargo run --release -- hint 08`. Don't change the harness or the checks.
#![forbid(unsafe_code)]

/// The CPU-heavy job the aggregate stage hands over: the digest of a run of windows.
pub type DigestJob = Box<dyn FnOnce() -> u64 + Send + 'static>;

// ANCHOR: task_tokio
// TODO(1): the job runs on the runtime's thread, and nothing else runs until it is done.
pub async fn digest_tokio(job: DigestJob) -> u64 {
    job()
}
// ANCHOR_END: task_tokio

// ANCHOR: task_smol
// TODO(2): the same on smol.
pub async fn digest_smol(job: DigestJob) -> u64 {
    job()
}
// ANCHOR_END: task_smol

/// A blocking call the enrich stage makes: it waits on std I/O, holding its thread while it
/// waits, and returns the calibration table's version.
pub type BlockingCall = Box<dyn FnOnce() -> u64 + Send + 'static>;

// ANCHOR: task_blocking
// TODO(3): a blocking call, made on the runtime's thread. Where do calls that wait belong?
pub async fn calibration_tokio(call: BlockingCall) -> u64 {
    call()
}

// TODO(3): the same on smol.
pub async fn calibration_smol(call: BlockingCall) -> u64 {
    call()
}
// ANCHOR_END: task_blocking

// The checks: one file, shared with the solution crate (its `tests` folder links to this one).
#[cfg(test)]
#[path = "../tests/checks.rs"]
mod checks;

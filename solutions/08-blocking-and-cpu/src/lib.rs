//! # Exercise 08 — keep the heartbeat beating (chapter 8): SOLUTION
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
//!
//! Where is the right place? Chapter 8's table: CPU work goes to a pool sized to the cores
//! (rayon); the runtimes' blocking pools are for blocking calls. The checks look at which
//! thread ran the job.
//!
//! Check: `cargo test -p ex08-blocking-and-cpu` (or `cargo run --release -- check 08`).
//! Stuck: `cargo run --release -- hint 08`. Don't change the harness or the checks.
#![forbid(unsafe_code)]

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

/// The CPU-heavy job the aggregate stage hands over: the digest of a run of windows.
pub type DigestJob = Box<dyn FnOnce() -> u64 + Send + 'static>;

// ANCHOR: solution_tokio
/// The job goes to rayon's pool (one thread per core: the home chapter 8's table gives CPU
/// work); the answer comes back through a `oneshot`, whose receiver is a future, so this task
/// waits without holding the runtime's thread. A panic inside `rayon::spawn` would abort the
/// process, so it is caught there and carried back to be resumed here, in the caller.
pub async fn digest_tokio(job: DigestJob) -> u64 {
    let (done, answer) = tokio::sync::oneshot::channel();
    rayon::spawn(move || {
        let _ = done.send(catch_unwind(AssertUnwindSafe(job)));
    });
    match answer.await {
        Ok(digest) => digest.unwrap_or_else(|panic| resume_unwind(panic)),
        Err(_) => unreachable!("the job always sends its result"),
    }
}
// ANCHOR_END: solution_tokio

// ANCHOR: solution_smol
/// The same with a one-slot `smol::channel`, whose `recv` is a future. (`smol::unblock` would
/// free the executor's thread too, but its pool is made for blocking calls: up to 500 threads,
/// started on demand, not sized to the cores.)
pub async fn digest_smol(job: DigestJob) -> u64 {
    let (done, answer) = smol::channel::bounded(1);
    rayon::spawn(move || {
        let _ = done.try_send(catch_unwind(AssertUnwindSafe(job))); // one slot, one message
    });
    match answer.recv().await {
        Ok(digest) => digest.unwrap_or_else(|panic| resume_unwind(panic)),
        Err(_) => unreachable!("the job always sends its result"),
    }
}
// ANCHOR_END: solution_smol

/// A blocking call the enrich stage makes: it waits on std I/O, holding its thread while it
/// waits, and returns the calibration table's version.
pub type BlockingCall = Box<dyn FnOnce() -> u64 + Send + 'static>;

// ANCHOR: solution_blocking
/// A call that waits goes to the runtime's blocking pool: threads started on demand, many of
/// them (tokio: up to 512), made to sit in a system call. On rayon's pool — one thread per
/// core — it would park a thread that CPU work needs, and a few such calls stall every digest.
/// A panic in the call comes back as the `JoinError`'s panic, resumed here.
pub async fn calibration_tokio(call: BlockingCall) -> u64 {
    match tokio::task::spawn_blocking(call).await {
        Ok(version) => version,
        Err(error) => resume_unwind(error.into_panic()),
    }
}

/// smol's `unblock` is the same pool idea (the `blocking` crate: up to 500 threads); its task
/// resumes a panic of the call by itself.
pub async fn calibration_smol(call: BlockingCall) -> u64 {
    smol::unblock(call).await
}
// ANCHOR_END: solution_blocking

// The checks: one file, shared with the solution crate (its `tests` folder links to this one).
#[cfg(test)]
#[path = "../tests/checks.rs"]
mod checks;

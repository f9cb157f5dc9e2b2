//! Starting the runtimes, once, for every chapter.
//!
//! The chapters' variants differ in *how they use* a runtime; how the runtime is started is the
//! same everywhere, so it lives here: a multi-threaded tokio runtime with `cfg.worker_threads`
//! workers, and a smol [`Executor`] driven by `cfg.worker_threads` threads of our own (smol has
//! no built-in thread pool: an executor runs wherever someone calls `executor.run(..)`).
//! async-std needs nothing: its global executor starts on first use. Chapter 1's smol variant
//! spells the same set-up out in full, because the book explains it there.
//!
//! Joining is the other thing tokio does its own way: [`tokio_joined`] turns its `JoinError`
//! into the error every chapter reports.
#![forbid(unsafe_code)]

mod join;

pub use join::tokio_joined;

use std::thread;

use pipeline::{Config, PipelineError};
use smol::Executor;

/// A multi-threaded tokio runtime with `cfg.worker_threads` workers, timers and I/O enabled.
pub fn tokio_runtime(cfg: &Config) -> Result<tokio::runtime::Runtime, PipelineError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cfg.worker_threads)
        .enable_all()
        .build()
        .map_err(|source| PipelineError::Start {
            what: "the tokio runtime",
            source,
        })
}

/// Runs `main` with a smol executor that `threads` threads of our own drive. `main` typically
/// spawns onto the executor and `smol::block_on`s its result. The threads are scoped: they
/// stop, and are joined, when `main` returns — so no task can outlive the run.
pub fn with_smol_executor<T>(
    threads: usize,
    name: &str,
    main: impl FnOnce(&Executor<'static>) -> Result<T, PipelineError>,
) -> Result<T, PipelineError> {
    let executor = Executor::new();
    let (stop, stopped) = smol::channel::unbounded::<()>();
    thread::scope(|s| {
        let _stop_workers = stop; // dropped on return: ends every worker's `run`
        for _ in 0..threads.max(1) {
            let (executor, stopped) = (&executor, stopped.clone());
            thread::Builder::new()
                .name(name.to_owned())
                .spawn_scoped(s, move || smol::block_on(executor.run(stopped.recv())))
                .map_err(|source| PipelineError::Start {
                    what: "a smol executor thread",
                    source,
                })?;
        }
        main(&executor)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smol_tasks_run_on_the_named_threads_and_stop_with_main() {
        let names = instruments::run_with_deadline("smol", instruments::TEST_DEADLINE, || {
            with_smol_executor(2, "runtimes-test", |executor| {
                let tasks: Vec<_> = (0..8)
                    .map(|_| executor.spawn(async { thread::current().name().map(str::to_owned) }))
                    .collect();
                Ok(smol::block_on(async {
                    let mut names = Vec::new();
                    for task in tasks {
                        names.push(task.await);
                    }
                    names
                }))
            })
        })
        .expect_finished("eight smol tasks on two threads")
        .unwrap();
        assert!(
            names.iter().all(|n| n.as_deref() == Some("runtimes-test")),
            "{names:?}"
        );
    }

    #[test]
    fn the_tokio_runtime_has_the_configured_workers() {
        let cfg = Config {
            worker_threads: 3,
            ..Config::default()
        };
        let rt = tokio_runtime(&cfg).unwrap();
        assert_eq!(rt.metrics().num_workers(), 3);
    }
}

//! Chapter 8, **async-std** variant: the window digests computed inside tasks (broken), on the
//! blocking pool with `task::spawn_blocking`, or on a rayon pool with an `async_channel` back
//! (fixed).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use async_std::task;

use pipeline::{Config, Input, PipelineError, Report, Work, finish, panic_message};

use crate::heartbeat::{Blocked, Heartbeat, PERIOD, blocking_section};
use crate::work::{self, Aggregated, CpuWork, Outcome, WindowValues};
use crate::{Measured, Mode};

/// The fixed pipeline, for the tour and the tests: CPU work on rayon.
pub fn run(input: &Input, cfg: &Config) -> Result<Report, PipelineError> {
    run_with(Mode::Rayon, input, cfg, CpuWork::default()).map(|m| m.outcome.report)
}

/// The pipeline with the digests computed the `mode` way, while a heartbeat task ticks on
/// the same (global) executor. Its thread count is async-std's, not `cfg.worker_threads`: one
/// per CPU unless `ASYNC_STD_THREAD_COUNT` says otherwise before first use.
pub fn run_with(
    mode: Mode,
    input: &Input,
    cfg: &Config,
    cpu: CpuWork,
) -> Result<Measured, PipelineError> {
    cfg.validate()?;
    let sink = cfg.sink.open()?;
    let Work { lines_read, parts } = Work::split(input, cfg, 1);
    let Aggregated {
        aggregator,
        windows,
    } = work::aggregate(parts.into_iter().flatten().collect(), &*cfg.registry);
    let beat = Heartbeat::default();
    let cpu_digest = task::block_on(async {
        let heartbeat = task::spawn(heartbeat(beat.clone(), Instant::now() + PERIOD));
        let digest = match mode {
            Mode::Inline => digest_inline(work::split(windows, work::chunk_count(cfg)), cpu).await,
            Mode::Offload => {
                digest_offloaded(work::split(windows, work::chunk_count(cfg)), cpu).await
            }
            Mode::Rayon => digest_rayon(windows, cpu, cfg).await,
        };
        beat.stop();
        heartbeat.await;
        digest
    })?;
    let report = finish(lines_read, aggregator, sink)?;
    Ok(Measured {
        outcome: Outcome { report, cpu_digest },
        beats: beat.beats(),
    })
}

// ANCHOR: heartbeat
/// Wakes every `PERIOD` (the first time at `due`) and records how late each wake-up was,
/// until it wakes to find it has been asked to stop.
async fn heartbeat(beat: Heartbeat, mut due: Instant) {
    loop {
        task::sleep(due.saturating_duration_since(Instant::now())).await;
        beat.tick(due);
        if beat.stopped() {
            break;
        }
        due = Instant::now() + PERIOD;
    }
}
// ANCHOR_END: heartbeat

// ANCHOR: inline
/// BROKEN ON PURPOSE: each chunk's digests computed right inside a task. The task reaches no
/// `.await` until its chunk is done, so it holds its executor thread all that time; with a
/// chunk on every thread, nothing else on the executor is polled until one of them finishes.
/// (async-std once planned a scheduler that would notice a blocked thread and start another;
/// it never shipped.)
async fn digest_inline(chunks: Vec<Vec<WindowValues>>, cpu: CpuWork) -> Result<u64, PipelineError> {
    let tasks: Vec<_> = chunks
        .into_iter()
        .map(|chunk| task::spawn(async move { work::chunk_digest(&chunk, cpu) }))
        .collect();
    let mut digest = 0u64;
    for done in tasks {
        digest = digest.wrapping_add(done.await);
    }
    Ok(digest)
}
// ANCHOR_END: inline

// ANCHOR: offload
/// FIXED: the same chunks on the blocking pool (async-std hands them to the `blocking` crate's
/// thread pool, the one smol's `unblock` uses). The executor's threads stay free to poll the
/// heartbeat. Made for blocking calls; for CPU work rayon is the better home.
async fn digest_offloaded(
    chunks: Vec<Vec<WindowValues>>,
    cpu: CpuWork,
) -> Result<u64, PipelineError> {
    let tasks: Vec<_> = chunks
        .into_iter()
        .map(|chunk| task::spawn_blocking(move || work::chunk_digest(&chunk, cpu)))
        .collect();
    let mut digest = 0u64;
    for done in tasks {
        digest = digest.wrapping_add(done.await);
    }
    Ok(digest)
}
// ANCHOR_END: offload

// ANCHOR: rayon
/// FIXED: the whole job handed to a rayon pool of `cfg.worker_threads` threads; the answer
/// comes back through a one-slot `async_channel`, whose `recv` is a future: this task waits
/// without holding an executor thread. A panic inside `ThreadPool::spawn` would abort the
/// process, so it is caught there and sent back as a value.
async fn digest_rayon(
    windows: Vec<WindowValues>,
    cpu: CpuWork,
    cfg: &Config,
) -> Result<u64, PipelineError> {
    let pool = work::rayon_pool(cfg)?;
    let (done, answer) = async_channel::bounded(1);
    pool.spawn(move || {
        let digest = catch_unwind(AssertUnwindSafe(|| work::par_digest(&windows, cpu)));
        let _ = done.try_send(digest); // one slot, one message: it cannot be full
    });
    match answer.recv().await {
        Ok(Ok(digest)) => Ok(digest),
        Ok(Err(panic)) => Err(PipelineError::StagePanicked {
            stage: "aggregate",
            message: panic_message(&*panic),
        }),
        Err(_) => Err(PipelineError::closed("aggregate")),
    }
}
// ANCHOR_END: rayon

// ANCHOR: ticks_while_blocked
/// The blocking section run the `mode` way on **one thread** while the heartbeat is due.
/// async-std's global executor has one thread per CPU, so the one-thread set-up is
/// `block_on` with `spawn_local`: local tasks run only on the thread inside `block_on`. Inline,
/// the section occupies that thread and the heartbeat cannot tick until it returns; offloaded,
/// the section blocks another thread and the heartbeat keeps ticking.
pub fn ticks_while_blocked(mode: Mode, blocked_for: Duration) -> Result<Blocked, PipelineError> {
    let beat = Heartbeat::default();
    task::block_on(async {
        let heartbeat = task::spawn_local(heartbeat(beat.clone(), Instant::now() + PERIOD));
        task::sleep(3 * PERIOD).await; // the heartbeat is running, its next tick due soon
        let section = {
            let beat = beat.clone();
            move || blocking_section(&beat, blocked_for)
        };
        let (before, after) = match mode {
            Mode::Inline => task::spawn_local(async move { section() }).await,
            Mode::Offload => task::spawn_blocking(section).await,
            Mode::Rayon => {
                let pool = work::rayon_pool(&Config::default())?;
                let (done, answer) = async_channel::bounded(1);
                pool.spawn(move || {
                    let _ = done.try_send(section());
                });
                answer
                    .recv()
                    .await
                    .map_err(|_| PipelineError::closed("section"))?
            }
        };
        task::sleep(3 * PERIOD).await; // the thread is free again: the heartbeat ticks
        beat.stop();
        heartbeat.await;
        Ok(Blocked {
            before,
            after,
            total: beat.ticks(),
        })
    })
}
// ANCHOR_END: ticks_while_blocked

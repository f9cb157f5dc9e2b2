//! Chapter 8, **tokio** variant: the window digests computed inside tasks (broken), on the
//! blocking pool with `spawn_blocking`, or on a rayon pool with a `oneshot` back (fixed).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tokio::task::JoinSet;

use pipeline::{Config, Input, PipelineError, Report, Work, finish, panic_message};
use runtimes::tokio_joined;

use crate::heartbeat::{Blocked, Heartbeat, PERIOD, blocking_section};
use crate::work::{self, Aggregated, CpuWork, Outcome, WindowValues};
use crate::{Measured, Mode};

/// The fixed pipeline, for the tour and the tests: CPU work on rayon.
pub fn run(input: &Input, cfg: &Config) -> Result<Report, PipelineError> {
    run_with(Mode::Rayon, input, cfg, CpuWork::default()).map(|m| m.outcome.report)
}

/// The pipeline with the digests computed the `mode` way, while a heartbeat task ticks on
/// the same runtime.
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
    let runtime = runtimes::tokio_runtime(cfg)?;
    let beat = Heartbeat::default();
    let cpu_digest = runtime.block_on(async {
        let heartbeat = tokio::spawn(heartbeat(beat.clone(), Instant::now() + PERIOD));
        let digest = match mode {
            Mode::Inline => digest_inline(work::split(windows, work::chunk_count(cfg)), cpu).await,
            Mode::Offload => {
                digest_offloaded(work::split(windows, work::chunk_count(cfg)), cpu).await
            }
            Mode::Rayon => digest_rayon(windows, cpu, cfg).await,
        };
        beat.stop();
        tokio_joined("aggregate", heartbeat.await)?;
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
        tokio::time::sleep_until(due.into()).await;
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
/// `.await` until its chunk is done, so it holds its worker thread all that time; with a chunk
/// on every worker, nothing else on the runtime — the heartbeat, a timeout, another
/// connection — is polled until one of them finishes.
async fn digest_inline(chunks: Vec<Vec<WindowValues>>, cpu: CpuWork) -> Result<u64, PipelineError> {
    let mut tasks = JoinSet::new();
    for chunk in chunks {
        tasks.spawn(async move { work::chunk_digest(&chunk, cpu) });
    }
    let mut digest = 0u64;
    while let Some(done) = tasks.join_next().await {
        digest = digest.wrapping_add(tokio_joined("aggregate", done)?);
    }
    Ok(digest)
}
// ANCHOR_END: inline

// ANCHOR: offload
/// FIXED: the same chunks on tokio's blocking pool. `spawn_blocking` runs a closure on a
/// separate pool of OS threads (up to 512 by default) and gives back a handle to `.await`; the
/// worker threads stay free to poll the heartbeat, and the OS shares the cores between
/// everyone. Made for blocking calls (`std::fs`, a blocking client); for CPU work it starts as
/// many threads as there are chunks, which is why rayon is the better home for that.
async fn digest_offloaded(
    chunks: Vec<Vec<WindowValues>>,
    cpu: CpuWork,
) -> Result<u64, PipelineError> {
    let mut tasks = JoinSet::new();
    for chunk in chunks {
        tasks.spawn_blocking(move || work::chunk_digest(&chunk, cpu));
    }
    let mut digest = 0u64;
    while let Some(done) = tasks.join_next().await {
        digest = digest.wrapping_add(tokio_joined("aggregate", done)?);
    }
    Ok(digest)
}
// ANCHOR_END: offload

// ANCHOR: rayon
/// FIXED: the whole job handed to a rayon pool of `cfg.worker_threads` threads; the answer
/// comes back through a `oneshot`, whose receiver is a future: this task waits without holding
/// a worker thread. A panic inside `ThreadPool::spawn` would abort the process, so it is caught
/// there and sent back as a value.
async fn digest_rayon(
    windows: Vec<WindowValues>,
    cpu: CpuWork,
    cfg: &Config,
) -> Result<u64, PipelineError> {
    let pool = work::rayon_pool(cfg)?;
    let (done, answer) = oneshot::channel();
    pool.spawn(move || {
        let digest = catch_unwind(AssertUnwindSafe(|| work::par_digest(&windows, cpu)));
        let _ = done.send(digest); // the receiver is gone only if the pipeline was cancelled
    });
    match answer.await {
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
/// The blocking section run the `mode` way on a **current-thread** runtime while the heartbeat
/// is due. Inline, the section occupies the runtime's only thread: the heartbeat cannot tick
/// until it returns, however late it is. Offloaded, the section blocks another thread and the
/// heartbeat keeps ticking.
pub fn ticks_while_blocked(mode: Mode, blocked_for: Duration) -> Result<Blocked, PipelineError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| PipelineError::Start {
            what: "the tokio runtime",
            source,
        })?;
    let beat = Heartbeat::default();
    runtime.block_on(async {
        let heartbeat = tokio::spawn(heartbeat(beat.clone(), Instant::now() + PERIOD));
        tokio::time::sleep(3 * PERIOD).await; // the heartbeat is running, its next tick due soon
        let section = {
            let beat = beat.clone();
            move || blocking_section(&beat, blocked_for)
        };
        let (before, after) = match mode {
            Mode::Inline => {
                tokio_joined("aggregate", tokio::spawn(async move { section() }).await)?
            }
            Mode::Offload => tokio_joined("aggregate", tokio::task::spawn_blocking(section).await)?,
            Mode::Rayon => {
                let pool = work::rayon_pool(&Config::default())?;
                let (done, answer) = oneshot::channel();
                pool.spawn(move || {
                    let _ = done.send(section());
                });
                answer.await.map_err(|_| PipelineError::closed("section"))?
            }
        };
        tokio::time::sleep(3 * PERIOD).await; // the thread is free again: the heartbeat ticks
        beat.stop();
        tokio_joined("aggregate", heartbeat.await)?;
        Ok(Blocked {
            before,
            after,
            total: beat.ticks(),
        })
    })
}
// ANCHOR_END: ticks_while_blocked

//! Chapter 8, **sync** variant: the window digests computed on this one thread, or
//! data-parallel on a rayon pool. No runtime: the heartbeat is a thread of its own, and the OS
//! wakes it on time whatever the other threads do.

use std::thread;
use std::time::{Duration, Instant};

use pipeline::{Config, Input, PipelineError, Report, Work, finish};

use crate::heartbeat::{Blocked, Heartbeat, PERIOD, blocking_section};
use crate::work::{self, Aggregated, CpuWork, Outcome, WindowValues};
use crate::{Measured, Mode};

/// The fixed pipeline, for the tour and the tests: CPU work on rayon.
pub fn run(input: &Input, cfg: &Config) -> Result<Report, PipelineError> {
    run_with(Mode::Rayon, input, cfg, CpuWork::default()).map(|m| m.outcome.report)
}

/// The pipeline with the digests computed the `mode` way, while a heartbeat thread ticks.
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
    let cpu_digest = thread::scope(|s| {
        let heartbeat = {
            let beat = beat.clone();
            s.spawn(move || heartbeat(beat, Instant::now() + PERIOD))
        };
        let digest = match mode {
            Mode::Inline => digest_inline(&windows, cpu),
            Mode::Offload => Err(no_runtime()),
            Mode::Rayon => digest_rayon(&windows, cpu, cfg),
        };
        beat.stop();
        pipeline::joined("heartbeat", heartbeat.join().map(Ok))?;
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
fn heartbeat(beat: Heartbeat, mut due: Instant) {
    loop {
        thread::sleep(due.saturating_duration_since(Instant::now()));
        beat.tick(due);
        if beat.stopped() {
            break;
        }
        due = Instant::now() + PERIOD;
    }
}
// ANCHOR_END: heartbeat

// ANCHOR: inline
/// One thread, one window after the other. Nothing to get wrong: this thread is busy, and
/// only this thread — the OS preempts it to run the heartbeat's thread on time.
fn digest_inline(windows: &[WindowValues], cpu: CpuWork) -> Result<u64, PipelineError> {
    Ok(work::chunk_digest(windows, cpu))
}
// ANCHOR_END: inline

// ANCHOR: rayon
/// Data-parallel on a rayon pool of `cfg.worker_threads` threads: `install` runs the closure
/// in the pool and blocks this thread until it returns (a panic inside comes back here as a
/// panic, as with a scoped thread).
fn digest_rayon(
    windows: &[WindowValues],
    cpu: CpuWork,
    cfg: &Config,
) -> Result<u64, PipelineError> {
    let pool = work::rayon_pool(cfg)?;
    Ok(pool.install(|| work::par_digest(windows, cpu)))
}
// ANCHOR_END: rayon

// ANCHOR: ticks_while_blocked
/// The blocking section on this thread (or on a rayon thread) while the heartbeat's thread is
/// due: threads are scheduled by the OS, which preempts, so a blocked thread blocks only
/// itself and the heartbeat keeps ticking either way.
pub fn ticks_while_blocked(mode: Mode, blocked_for: Duration) -> Result<Blocked, PipelineError> {
    let beat = Heartbeat::default();
    thread::scope(|s| {
        let heartbeat = {
            let beat = beat.clone();
            s.spawn(move || heartbeat(beat, Instant::now() + PERIOD))
        };
        thread::sleep(3 * PERIOD); // the heartbeat is running, its next tick due soon
        let section = || blocking_section(&beat, blocked_for);
        let section = match mode {
            Mode::Inline => Ok(section()),
            Mode::Offload => Err(no_runtime()),
            Mode::Rayon => work::rayon_pool(&Config::default()).map(|pool| pool.install(section)),
        };
        thread::sleep(3 * PERIOD); // the heartbeat ticks on
        beat.stop();
        pipeline::joined("heartbeat", heartbeat.join().map(Ok))?;
        let (before, after) = section?;
        Ok(Blocked {
            before,
            after,
            total: beat.ticks(),
        })
    })
}
// ANCHOR_END: ticks_while_blocked

fn no_runtime() -> PipelineError {
    PipelineError::Config(
        "the sync variant has no runtime to offload from: use Inline or Rayon".into(),
    )
}

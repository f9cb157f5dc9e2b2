//! The aggregate stage's CPU-heavy half: a *work digest* per window.
//!
//! The shared [`Aggregator`] computes what the report holds (count, min, max, mean, p95); that
//! is cheap. Real aggregate stages often do much more per window — an exact quantile sketch, a
//! model score, a signature over the raw values — and that is the work this chapter needs: it
//! takes real CPU time and gives a deterministic answer. Each window's digest is an iterated
//! hash over its sorted values, [`CpuWork::rounds`] passes; the run's digest is the wrapping sum
//! of all windows' digests, so it does not depend on which thread computed which window, or in
//! what order. Every variant and every mode must produce the same digest as [`reference`].

use std::collections::BTreeMap;

use pipeline::seeded::mix;
use pipeline::window::WINDOW_SECS;
use pipeline::{
    Aggregator, Config, Enriched, Input, Parsed, PipelineError, Registry, Report, enrich_batch,
    run_sequential,
};
use rayon::prelude::*;

/// How much CPU the digest costs: passes over each window's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuWork {
    pub rounds: u32,
}

impl CpuWork {
    /// The live demo's and the tour's cost: on the order of a second of CPU for the chapter's
    /// input in a release build.
    pub const DEMO: CpuWork = CpuWork { rounds: 12_000 };
}

impl Default for CpuWork {
    fn default() -> Self {
        CpuWork::DEMO
    }
}

/// One window's raw values, sorted, with its key.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowValues {
    pub sensor_id: String,
    pub window_start: i64,
    pub values: Vec<f64>,
}

/// What the cheap half of the stage hands on: the aggregator (for the report) and every
/// window's values (for the digest).
#[derive(Debug, Default)]
pub struct Aggregated {
    pub aggregator: Aggregator,
    pub windows: Vec<WindowValues>,
}

/// The result of a run in this chapter: the shared report plus the digest of the CPU work.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub report: Report,
    pub cpu_digest: u64,
}

/// Enrich and aggregate: cheap, synchronous, the same for every variant.
pub fn aggregate(records: Vec<Parsed>, registry: &dyn Registry) -> Aggregated {
    let enriched: Vec<Enriched> = enrich_batch(registry, records);
    let mut windows: BTreeMap<(String, i64), Vec<f64>> = BTreeMap::new();
    for reading in enriched.iter().flatten() {
        let window_start = reading.timestamp.div_euclid(WINDOW_SECS) * WINDOW_SECS;
        windows
            .entry((reading.sensor_id.clone(), window_start))
            .or_default()
            .push(reading.value);
    }
    let mut aggregator = Aggregator::new();
    aggregator.add_batch(enriched);
    let windows = windows
        .into_iter()
        .map(|((sensor_id, window_start), mut values)| {
            values.sort_by(f64::total_cmp);
            WindowValues {
                sensor_id,
                window_start,
                values,
            }
        })
        .collect();
    Aggregated {
        aggregator,
        windows,
    }
}

// ANCHOR: window_digest
/// One window's work digest: `rounds` passes of a 64-bit mixer over the sorted values, seeded
/// with the window's key. Pure CPU: no allocation, no I/O, no `.await` anywhere inside.
pub fn window_digest(window: &WindowValues, work: CpuWork) -> u64 {
    let mut h = fnv1a(window.sensor_id.as_bytes(), window.window_start);
    for _ in 0..work.rounds {
        for value in &window.values {
            h = mix(h ^ value.to_bits());
        }
    }
    h
}
// ANCHOR_END: window_digest

/// The digests of a run of windows, summed (wrapping): the order does not matter.
pub fn chunk_digest(windows: &[WindowValues], work: CpuWork) -> u64 {
    windows
        .iter()
        .map(|w| window_digest(w, work))
        .fold(0, u64::wrapping_add)
}

// ANCHOR: par_digest
/// The same sum, data-parallel: rayon splits the windows between its threads and steals work
/// from busy ones, so no chunk size has to be chosen by hand.
pub fn par_digest(windows: &[WindowValues], work: CpuWork) -> u64 {
    windows
        .par_iter()
        .map(|w| window_digest(w, work))
        .reduce(|| 0, u64::wrapping_add)
}
// ANCHOR_END: par_digest

/// Splits the windows into `parts` runs of nearly equal length (for the inline and
/// spawn_blocking modes, which hand out work by hand).
pub fn split(windows: Vec<WindowValues>, parts: usize) -> Vec<Vec<WindowValues>> {
    let parts = parts.max(1);
    let per_part = windows.len().div_ceil(parts).max(1);
    let mut chunks = Vec::with_capacity(parts);
    let mut windows = windows.into_iter().peekable();
    while windows.peek().is_some() {
        chunks.push(windows.by_ref().take(per_part).collect());
    }
    chunks
}

/// How many chunks the inline and offload modes cut the windows into: several per worker,
/// so every worker thread gets CPU work (as it would with many connections each doing some).
pub fn chunk_count(cfg: &Config) -> usize {
    cfg.worker_threads * 4
}

/// A rayon pool of `cfg.worker_threads` threads for one run. Not the global pool: every test in
/// a process shares that one, and its size is the machine's, not the configuration's.
pub fn rayon_pool(cfg: &Config) -> Result<rayon::ThreadPool, PipelineError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(cfg.worker_threads)
        .thread_name(|i| format!("ch08-rayon-{i}"))
        .build()
        .map_err(|e| PipelineError::Start {
            what: "a rayon thread pool",
            source: std::io::Error::other(e),
        })
}

/// The reference: the shared sequential pipeline's report, and the digest computed on this
/// thread, one window after the other.
pub fn reference(input: &Input, cfg: &Config, work: CpuWork) -> Result<Outcome, PipelineError> {
    let report = run_sequential(input, cfg)?;
    let records = pipeline::Work::split(input, cfg, 1)
        .parts
        .into_iter()
        .flatten()
        .collect();
    let Aggregated { windows, .. } = aggregate(records, &*cfg.registry);
    Ok(Outcome {
        report,
        cpu_digest: chunk_digest(&windows, work),
    })
}

/// FNV-1a over the key (written out, so the digest cannot change with a dependency).
fn fnv1a(bytes: &[u8], window_start: i64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes.iter().chain(&window_start.to_le_bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

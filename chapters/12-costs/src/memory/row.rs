//! A variant's samples reduced to per-unit figures: the row the lab's table shows.

use pipeline::Variant;
use serde::{Deserialize, Serialize};

use super::{IdleSample, ProcSnapshot};
use crate::serde_variant;

/// [`IdleSample`]s of one variant, reduced to per-unit figures, median over the repeats.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemoryRow {
    #[serde(with = "serde_variant")]
    pub variant: Variant,
    /// Idle units per run.
    pub count: usize,
    /// Child processes measured (the median is over these).
    pub repeats: usize,
    /// Resident memory added per unit: touched stack pages (threads), or future + task header
    /// + reply channel (tasks), plus the spawner's handle and sender for it.
    pub rss_per_unit_bytes: f64,
    /// Virtual size added per unit: for threads, the reserved stack and its guard page, plus
    /// a share of the malloc arenas (see `memory`'s docs); where "2 MB per thread" comes from.
    pub virtual_per_unit_bytes: f64,
    /// Kernel stack added per unit, system-wide (so other processes blur it); `None` where
    /// `/proc/meminfo` has no `KernelStack`.
    pub kernel_stack_per_unit_bytes: Option<f64>,
    /// Time in the spawn calls, per unit.
    pub spawn_ns_per_unit: f64,
    /// Time until every unit had started, per unit.
    pub ready_ns_per_unit: f64,
    /// Threads alive while all units wait (the process's, the test harness's or the
    /// workshop's own included).
    pub threads: usize,
    /// Threads alive before spawning (the runtime's workers included).
    pub threads_before: usize,
    /// Resident memory before spawning, bytes (the runtime already started).
    pub rss_before_bytes: f64,
    /// What one unit hands to `spawn` (closure or future), bytes.
    pub unit_bytes: usize,
    /// The stack each thread reserves (sync only).
    pub thread_stack_bytes: Option<u64>,
    /// The raw samples, in the order they were taken.
    pub samples: Vec<IdleSample>,
}

impl MemoryRow {
    /// Per-unit figures of each sample, median of each figure separately. `None` for no
    /// samples or samples of different variants or counts.
    pub fn from_samples(samples: &[IdleSample]) -> Option<MemoryRow> {
        let first = samples.first()?;
        if samples
            .iter()
            .any(|s| s.variant != first.variant || s.count != first.count || s.count == 0)
        {
            return None;
        }
        let count = first.count as f64;
        let per_unit_kib = |f: &dyn Fn(&ProcSnapshot) -> u64| {
            median_f64(
                samples
                    .iter()
                    .map(|s| (f(&s.during) as f64 - f(&s.before) as f64) * 1024.0 / count)
                    .collect(),
            )
        };
        let kernel_stack: Option<Vec<f64>> = samples
            .iter()
            .map(|s| {
                Some(
                    (s.during.kernel_stack_kib? as f64 - s.before.kernel_stack_kib? as f64)
                        * 1024.0
                        / count,
                )
            })
            .collect();
        Some(MemoryRow {
            variant: first.variant,
            count: first.count,
            repeats: samples.len(),
            rss_per_unit_bytes: per_unit_kib(&|p| p.rss_kib),
            virtual_per_unit_bytes: per_unit_kib(&|p| p.vm_kib),
            kernel_stack_per_unit_bytes: kernel_stack.map(median_f64),
            spawn_ns_per_unit: median_f64(
                samples.iter().map(|s| s.spawn_ns as f64 / count).collect(),
            ),
            ready_ns_per_unit: median_f64(
                samples.iter().map(|s| s.ready_ns as f64 / count).collect(),
            ),
            threads: median_usize(samples.iter().map(|s| s.during.threads).collect()),
            threads_before: median_usize(samples.iter().map(|s| s.before.threads).collect()),
            rss_before_bytes: median_f64(
                samples
                    .iter()
                    .map(|s| s.before.rss_kib as f64 * 1024.0)
                    .collect(),
            ),
            unit_bytes: median_usize(samples.iter().map(|s| s.unit_bytes).collect()),
            thread_stack_bytes: first.thread_stack_bytes,
            samples: samples.to_vec(),
        })
    }
}

/// The middle value (the mean of the two middle ones for an even count).
fn median_f64(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// The middle value (the lower middle one for an even count: a count of threads stays whole).
fn median_usize(mut values: Vec<usize>) -> usize {
    values.sort_unstable();
    values[(values.len() - 1) / 2]
}

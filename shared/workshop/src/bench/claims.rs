//! The article's figures (`shared/reference`), each next to what this run measured and a
//! verdict the lab computes from those measurements — never typed in. Groups hand over the
//! figures a verdict needs ([`Facts`]); this file holds the rules, so a reader can check how a
//! verdict follows from a table.

use std::time::Duration;

use pipeline::Variant;

use super::doc::{bytes, rate};

/// What the groups measured that a claim needs. Each group fills its own part.
#[derive(Debug, Default, Clone)]
pub struct Facts {
    /// The lab's own cost, at most, in % of a timed window (fan-out's calibration).
    pub lab_cost: Option<f64>,
    pub throughput: Option<Throughput>,
    pub fan_out: Vec<FanOut>,
    pub variability: Option<Variability>,
    pub memory: Option<Memory>,
}

impl Facts {
    /// Adds what another group measured.
    pub fn merge(&mut self, other: Facts) {
        self.lab_cost = other.lab_cost.or(self.lab_cost.take());
        self.throughput = other.throughput.or(self.throughput.take());
        if !other.fan_out.is_empty() {
            self.fan_out = other.fan_out;
        }
        self.variability = other.variability.or(self.variability.take());
        self.memory = other.memory.or(self.memory.take());
    }
}

/// Records/s through chapter 1's pipeline, per variant in `Variant::ALL`'s order (medians).
#[derive(Debug, Clone)]
pub struct Throughput {
    pub batch_1024: Vec<f64>,
    pub batch_1: Vec<f64>,
    pub noisy: bool,
}

/// One fan-out point: per variant, the median share of Little's limit (%), whether it was
/// noisy, and the load generator's CPU use (% of the machine; NaN if the window was too short).
#[derive(Debug, Clone)]
pub struct FanOut {
    pub in_process: bool,
    pub latency: Duration,
    pub concurrency: usize,
    pub share: Vec<f64>,
    pub noisy: Vec<bool>,
    pub client_cpu: Vec<f64>,
}

/// The same C and mean wait, fixed and variable: per variant, the share of Little's limit (%).
#[derive(Debug, Clone)]
pub struct Variability {
    pub concurrency: usize,
    pub what: String,
    pub fixed: Vec<f64>,
    pub variable: Vec<f64>,
    /// Per variant, the two cells' spreads (%) added.
    pub spread: Vec<f64>,
}

/// Idle operations in flight (chapter 12's memory children).
#[derive(Debug, Clone)]
pub struct Memory {
    pub count: usize,
    pub thread_rss: f64,
    pub thread_virtual: f64,
    /// The stack a thread reserves (its virtual size per unit also holds a share of malloc's
    /// arenas).
    pub thread_stack: f64,
    /// Per async variant: (variant, RSS per task, the runtime's fixed RSS: its process before
    /// spawning, minus the sync process's).
    pub tasks: Vec<(Variant, f64, f64)>,
}

/// A claim's row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub claim: String,
    pub measured: String,
    pub verdict: String,
    pub details: &'static str,
}

/// A share of Little's limit that counts as keeping every wait in flight.
pub const FULL_SHARE: f64 = 90.0;

/// The rows this run's facts allow, in the article's order.
pub fn rows(facts: &Facts, cores: usize) -> Vec<Row> {
    let mut rows = Vec::new();
    if let Some(t) = &facts.throughput {
        rows.push(throughput(t, cores));
    }
    if let Some(m) = &facts.memory {
        rows.push(task_size(m));
        rows.push(runtime_memory(m));
    }
    if let Some(row) = thresholds(&facts.fan_out) {
        rows.push(row);
    }
    if let Some(v) = &facts.variability {
        rows.push(variability(v));
    }
    rows
}

fn noisy_note(noisy: bool) -> &'static str {
    if noisy {
        " (some cells noisy: read with their spread)"
    } else {
        ""
    }
}

fn throughput(t: &Throughput, cores: usize) -> Row {
    let sync_one = t.batch_1.first().copied().unwrap_or(f64::NAN);
    // "Tens of thousands" ends below 100,000 a second.
    let ceiling = 100_000.0;
    let verdict = if sync_one >= ceiling {
        format!(
            "holds, with room: sync moved {:.1}× the claim's upper end even at one record per \
             message{}",
            sync_one / ceiling,
            noisy_note(t.noisy)
        )
    } else if sync_one >= 10_000.0 {
        format!("holds{}", noisy_note(t.noisy))
    } else {
        format!("does not hold: sync moved {}/s", rate(sync_one))
    };
    Row {
        claim: "Sync code is enough \"up to tens of thousands of records per second\".".into(),
        measured: format!(
            "Chapter 1's pipeline (five stages, bounded channels), {cores} cores, records/s in \
             batches of 1024 / one record per message: {}.",
            Variant::ALL
                .iter()
                .zip(t.batch_1024.iter().zip(&t.batch_1))
                .map(|(v, (big, one))| format!("{v} {} / {}", rate(*big), rate(*one)))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        verdict,
        details: "[Costs: throughput](ch12-costs.md#throughput-and-the-cost-of-a-message)",
    }
}

fn task_size(m: &Memory) -> Row {
    let largest_task = m.tasks.iter().map(|t| t.1).fold(0.0, f64::max);
    let smallest_task = m.tasks.iter().map(|t| t.1).fold(f64::INFINITY, f64::min);
    let two_mib = 2.0 * 1024.0 * 1024.0;
    // "Can be as small as": the smallest runtime's task decides.
    let tasks_small = smallest_task < 1000.0;
    let stack_reserved = (m.thread_stack - two_mib).abs() / two_mib <= 0.1;
    let verdict = match (tasks_small, stack_reserved) {
        (true, true) => format!(
            "holds (the largest task: {}), but a thread's 2 MB is reserved, not resident: it \
             holds {} ({:.0}× the largest task)",
            bytes(largest_task),
            bytes(m.thread_rss),
            m.thread_rss / largest_task.max(1.0)
        ),
        (false, true) => format!(
            "in part: the smallest task held {} (more than a few hundred bytes)",
            bytes(smallest_task)
        ),
        (true, false) => format!(
            "in part: a thread reserved a {} stack, not 2 MB",
            bytes(m.thread_stack)
        ),
        (false, false) => "does not hold on this machine".into(),
    };
    Row {
        claim: "Tasks \"can be as small as a few hundred bytes\"; threads have \"a default stack \
                size of 2 MB\"."
            .into(),
        measured: format!(
            "{} idle units. A thread: a {} stack reserved ({} virtual in all), {} resident. A \
             task: {} resident.",
            m.count,
            bytes(m.thread_stack),
            bytes(m.thread_virtual),
            bytes(m.thread_rss),
            m.tasks
                .iter()
                .map(|(v, rss, _)| format!("{v} {}", bytes(*rss)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        verdict,
        details: "[Costs: memory](ch12-costs.md#memory-per-operation-in-flight)",
    }
}

/// How many operations in flight a runtime's fixed memory takes to pay for itself against
/// threads: fixed / (a thread's RSS − a task's RSS). `None` when a task is not smaller.
pub fn break_even(fixed: f64, thread: f64, task: f64) -> Option<f64> {
    (thread > task).then(|| (fixed / (thread - task)).max(0.0))
}

fn runtime_memory(m: &Memory) -> Row {
    let evens: Vec<(Variant, f64, Option<f64>)> = m
        .tasks
        .iter()
        .map(|&(v, task, fixed)| (v, fixed, break_even(fixed, m.thread_rss, task)))
        .collect();
    // The article: at 10-20 operations the runtime "may not be justified".
    let modest = 20.0;
    let all_above = evens.iter().all(|(_, _, n)| n.is_none_or(|n| n > modest));
    let all_below = evens.iter().all(|(_, _, n)| n.is_some_and(|n| n <= modest));
    let verdict = if all_above {
        format!(
            "holds: in resident memory no runtime pays for itself below {:.0} operations in \
             flight",
            evens
                .iter()
                .filter_map(|e| e.2)
                .fold(f64::INFINITY, f64::min)
        )
    } else if all_below {
        "does not hold: every runtime's fixed memory is paid back by 20 operations".into()
    } else {
        "holds for some runtimes only (see the break-even per runtime)".into()
    };
    Row {
        claim: "\"The runtime itself consumes memory\"; at \"10–20 concurrent operations, the \
                runtime overhead may not be justified\"."
            .into(),
        measured: format!(
            "Resident memory of a process with the runtime started, minus one without, and the \
             operations in flight at which tasks instead of threads pay it back: {}.",
            evens
                .iter()
                .map(|(v, fixed, n)| format!(
                    "{v} {} (break-even {})",
                    bytes(fixed.max(0.0)),
                    n.map_or_else(|| "never".into(), |n| format!("{n:.0}"))
                ))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        verdict,
        details: "[Costs: memory](ch12-costs.md#memory-per-operation-in-flight)",
    }
}

/// The fan-out point in-process at the longest latency nearest to `concurrency`.
fn nearest(points: &[FanOut], concurrency: usize) -> Option<&FanOut> {
    let longest = points
        .iter()
        .filter(|p| p.in_process)
        .map(|p| p.latency)
        .max()?;
    points
        .iter()
        .filter(|p| p.in_process && p.latency == longest)
        .min_by_key(|p| p.concurrency.abs_diff(concurrency))
}

fn thresholds(points: &[FanOut]) -> Option<Row> {
    let low = nearest(points, 100)?;
    let high = nearest(points, 1000)?;
    let best_async = |p: &FanOut| p.share[1..].iter().copied().fold(0.0, f64::max);
    let sync_fine_low = low.share[0] >= FULL_SHARE;
    let sync_short_high = high.share[0] < FULL_SHARE && best_async(high) >= FULL_SHARE;
    let noisy = low.noisy.iter().chain(&high.noisy).any(|n| *n);
    let verdict = match (sync_fine_low, sync_short_high) {
        (true, true) => "holds: sync keeps every wait in flight at the low end and falls short \
                         at the high end, where async does not"
            .to_string(),
        (true, false) => format!(
            "the first half holds; the second not in throughput: at C = {} sync reached {:.0}% \
             of the limit (async at best {:.0}%); what threads cost there is memory and set-up \
             (memory table, fan-out set-up)",
            high.concurrency,
            high.share[0],
            best_async(high)
        ),
        (false, _) => format!(
            "does not hold: sync reached only {:.0}% at C = {}",
            low.share[0], low.concurrency
        ),
    } + noisy_note(noisy);
    let cells = |p: &FanOut| {
        Variant::ALL
            .iter()
            .zip(&p.share)
            .map(|(v, s)| format!("{v} {s:.0}%"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    Some(Row {
        claim: "Concurrency level: \"if < 100, sync is likely sufficient. If > 1000, async is \
                strongly recommended\"."
            .into(),
        measured: format!(
            "Share of Little's limit in-process at W = {} ms (≥ {FULL_SHARE:.0}% counts as \
             keeping up): C = {}: {}; C = {}: {} (CPU in use there: {}).",
            low.latency.as_millis(),
            low.concurrency,
            cells(low),
            high.concurrency,
            cells(high),
            Variant::ALL
                .iter()
                .zip(&high.client_cpu)
                .map(|(v, c)| if c.is_finite() {
                    format!("{v} {c:.0}%")
                } else {
                    format!("{v} not measured")
                })
                .collect::<Vec<_>>()
                .join(", ")
        ),
        verdict,
        details: "[Fan-out](ch02-waiting-well.md#measured-the-labs-fan-out-table)",
    })
}

fn variability(v: &Variability) -> Row {
    // The cost of variability to a variant: how many points of its share it lost.
    let lost: Vec<f64> = v
        .fixed
        .iter()
        .zip(&v.variable)
        .map(|(f, x)| f - x)
        .collect();
    let sync_lost = lost[0];
    let async_lost = lost[1..].iter().copied().fold(f64::INFINITY, f64::min);
    // Each loss is a difference of two cells: its uncertainty is their two spreads added.
    let margin = v.spread.iter().copied().fold(0.0, f64::max);
    let change = |lost: f64| {
        if lost >= 0.0 {
            format!("lost {lost:.0} points")
        } else {
            format!("gained {:.0} points", -lost)
        }
    };
    let verdict = if async_lost - sync_lost > margin {
        format!(
            "the opposite here: with variable latency async {} of its share at least, sync {} \
             (more than the runs' spread, ±{margin:.0})",
            change(async_lost),
            change(sync_lost)
        )
    } else if sync_lost - async_lost > margin {
        format!(
            "holds here: with variable latency sync {}, async at best {} (more than the runs' \
             spread, ±{margin:.0})",
            change(sync_lost),
            change(async_lost)
        )
    } else {
        format!(
            "not seen: with variable latency sync {} and async at best {}, within the runs' \
             spread (±{margin:.0}); with a thread per wait, sync interleaves waits too",
            change(sync_lost),
            change(async_lost)
        )
    };
    Row {
        claim: "Latency variability: \"Async handles variability better by interleaving \
                tasks\"."
            .into(),
        measured: format!(
            "Share of Little's limit at C = {}, {}; fixed → variable: {}.",
            v.concurrency,
            v.what,
            Variant::ALL
                .iter()
                .zip(v.fixed.iter().zip(&v.variable))
                .map(|(name, (f, x))| format!("{name} {f:.0}% → {x:.0}%"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        verdict,
        details: "[Fan-out](ch02-waiting-well.md#measured-the-labs-fan-out-table)",
    }
}

/// The caveat every scheduling figure carries.
pub const TIMER_CAVEAT: &str = "Timer granularity: tokio's timer rounds a sleep up to the next \
    millisecond (a 5 ms wait takes about 6 ms; fan-out's C = 1 table shows each runtime's), so \
    the in-process scheduling figures mix each runtime's timer into its model. The HTTP rows \
    wait on a socket instead.";

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An in-process fan-out point at W = 50 ms (the goals' tests use it too).
    pub(crate) fn point(concurrency: usize, share: [f64; 4]) -> FanOut {
        FanOut {
            in_process: true,
            latency: Duration::from_millis(50),
            concurrency,
            share: share.to_vec(),
            noisy: vec![false; 4],
            client_cpu: vec![10.0; 4],
        }
    }

    #[test]
    fn the_thresholds_verdict_follows_the_shares() {
        let holds = [
            point(100, [97.0, 98.0, 98.0, 98.0]),
            point(1000, [70.0, 96.0, 95.0, 96.0]),
        ];
        assert!(thresholds(&holds).unwrap().verdict.starts_with("holds"));
        let half = [
            point(100, [97.0, 98.0, 98.0, 98.0]),
            point(1000, [94.0, 96.0, 95.0, 96.0]),
        ];
        let row = thresholds(&half).unwrap();
        assert!(row.verdict.starts_with("the first half holds"), "{row:?}");
        assert!(row.measured.contains("C = 1000: sync 94%"), "{row:?}");
        let not = [point(16, [50.0, 98.0, 98.0, 98.0]), point(4096, [20.0; 4])];
        let row = thresholds(&not).unwrap();
        assert!(
            row.verdict
                .starts_with("does not hold: sync reached only 50% at C = 16"),
            "{row:?}"
        );
        assert!(thresholds(&[]).is_none());
    }

    #[test]
    fn the_runtime_memory_verdict_uses_the_break_even() {
        assert_eq!(break_even(100_000.0, 11_000.0, 1_000.0), Some(10.0));
        assert_eq!(break_even(100_000.0, 1_000.0, 1_000.0), None);
        let memory = |fixed: f64| Memory {
            count: 1000,
            thread_rss: 10_500.0,
            thread_virtual: 2.2 * 1024.0 * 1024.0,
            thread_stack: 2.0 * 1024.0 * 1024.0,
            tasks: vec![
                (Variant::Tokio, 500.0, fixed),
                (Variant::AsyncStd, 1400.0, fixed),
                (Variant::Smol, 1300.0, fixed),
            ],
        };
        // 1 MiB of runtime against ~9-10 KiB saved per operation: ~100 operations to pay back.
        let row = runtime_memory(&memory(1024.0 * 1024.0));
        assert!(row.verdict.starts_with("holds"), "{row:?}");
        let row = runtime_memory(&memory(50_000.0));
        assert!(row.verdict.starts_with("does not hold"), "{row:?}");
        // "Can be as small as": the smallest (tokio's 500 B) decides.
        let row = task_size(&memory(0.0));
        assert!(
            row.verdict.starts_with("holds (the largest task: 1400 B)"),
            "{row:?}"
        );
        let mut large = memory(0.0);
        large.tasks.retain(|t| t.1 > 1000.0);
        let row = task_size(&large);
        assert!(
            row.verdict
                .starts_with("in part: the smallest task held 1300 B"),
            "{row:?}"
        );
    }

    #[test]
    fn the_variability_verdict_needs_more_than_the_spread() {
        let v = |sync_variable: f64| Variability {
            concurrency: 1000,
            what: "uniform 10-90 ms".into(),
            fixed: vec![95.0; 4],
            variable: vec![sync_variable, 94.0, 93.0, 94.0],
            spread: vec![3.0; 4],
        };
        assert!(variability(&v(80.0)).verdict.starts_with("holds here"));
        assert!(variability(&v(93.0)).verdict.starts_with("not seen"));
        let mut worse = v(95.0);
        worse.variable = vec![95.0, 80.0, 81.0, 79.0];
        assert!(variability(&worse).verdict.starts_with("the opposite here"));
    }

    #[test]
    fn the_throughput_verdict_compares_with_tens_of_thousands() {
        let t = |sync_one: f64| Throughput {
            batch_1024: vec![1e6; 4],
            batch_1: vec![sync_one, 5e5, 5e5, 5e5],
            noisy: false,
        };
        assert!(
            throughput(&t(300_000.0), 2)
                .verdict
                .starts_with("holds, with room: sync moved 3.0×")
        );
        assert_eq!(throughput(&t(50_000.0), 2).verdict, "holds");
        assert!(
            throughput(&t(5_000.0), 2)
                .verdict
                .starts_with("does not hold")
        );
    }
}

//! What an idle in-flight operation costs: memory, threads and spawn time for N operations that
//! are all started and all waiting at once — as OS threads (sync) or as tasks (tokio,
//! async-std, smol).
//!
//! The claim under test: a task "can be as small as a few hundred bytes", a thread comes with
//! a "2 MB stack". Both are true, and both mislead, until you say *which* memory:
//!
//! - **Virtual size** (`VmSize`) is what a thread *reserves*: its whole stack (std's default,
//!   2 MiB, or `RUST_MIN_STACK`) plus a guard page. That is where "2 MB per thread" lives.
//!   Reserved is not used: it costs address space (plenty on 64-bit), not RAM.
//! - **Resident memory** (`VmRSS`) is what the process really holds in RAM. A thread's stack
//!   only counts the pages it has *touched* — a thread that waits at once touches a few KiB.
//!   A task's is its future (the state machine: every variable it keeps across an `.await`)
//!   plus the runtime's per-task header, plus what it waits on (here: its reply channel).
//! - **Kernel stack** (`KernelStack` in `/proc/meminfo`) is memory *the kernel* holds for each
//!   thread (16 KiB on x86-64), outside the process's RSS. Tasks have none. It is read for
//!   the whole system, so other processes' threads coming and going blur it.
//!
//! What the numbers do not tell you: how much an operation's *real* state weighs (ours hold
//! 64 bytes), what a busy thread's stack grows to, nor anything about latency or throughput.
//! The allocator leaks in too: glibc gives threads that allocate malloc arenas of their own,
//! each reserving 64 MiB of address space (up to 8 per core). Ten thousand threads end up
//! with all 16 of a 2-core machine's: about 100 KiB of each thread's virtual figure
//! (`MALLOC_ARENA_MAX=1` makes it vanish). A task variant's virtual figure, when it is not
//! near zero, is likewise a worker thread's first arena — one 64 MiB reservation however many
//! tasks there are. Reserved, not resident: RSS is the figure to read.
//!
//! The spawn time is measured from a thread outside the runtime (as the workshop's main
//! thread is), so a task's spawn includes waking an idle worker now and then; and on a busy
//! machine every figure in nanoseconds moves. It is an order of magnitude, not a benchmark.
//!
//! The measurement must run in a process of its own — a fresh one, so that RSS starts clean,
//! and a disposable one, because 10,000 threads is not something to do inside a test binary or
//! the workshop. [`idle_main`] is the child's body; [`measure_memory`] launches the children
//! (with a deadline each) and takes the median of each figure.

use std::hint::black_box;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use pipeline::{Config, PipelineError, Variant};
use serde::{Deserialize, Serialize};

use crate::serde_variant;

/// The default number of idle operations per measurement.
pub const DEFAULT_COUNT: usize = 10_000;
/// Worker threads of the task runtimes (the machine this was written on has 2 cores).
/// async-std's global executor gets it through `ASYNC_STD_THREAD_COUNT`, which
/// [`measure_memory`] sets for every child.
pub const WORKER_THREADS: usize = 2;
/// How long [`measure_memory`] lets one child run before it kills it.
pub const CHILD_DEADLINE: Duration = Duration::from_secs(60);
/// How long [`idle_main`] waits for all units to have started before giving up.
const READY_DEADLINE: Duration = Duration::from_secs(50);
/// std's default stack for a spawned thread on Linux (`RUST_MIN_STACK` overrides it).
pub const STD_DEFAULT_STACK_BYTES: u64 = 2 * 1024 * 1024;

/// What the kernel says about this process (and, for the kernel stack, the whole system).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcSnapshot {
    /// Resident memory, `VmRSS` in `/proc/self/status`.
    pub rss_kib: u64,
    /// Virtual size, `VmSize`: everything mapped, touched or not.
    pub vm_kib: u64,
    /// `KernelStack` in `/proc/meminfo`: every thread's kernel stack, system-wide.
    pub kernel_stack_kib: Option<u64>,
    /// This process's threads (`/proc/self/task`).
    pub threads: usize,
}

impl ProcSnapshot {
    /// Reads the snapshot now. Linux only: elsewhere it is an error saying so.
    pub fn now() -> Result<ProcSnapshot, PipelineError> {
        let unavailable = |source| PipelineError::Start {
            what: "a look at /proc (the memory measurement needs Linux)",
            source,
        };
        let status = std::fs::read_to_string("/proc/self/status").map_err(unavailable)?;
        let threads = std::fs::read_dir("/proc/self/task")
            .map_err(unavailable)?
            .count();
        let field = |text: &str, name: &str| -> Option<u64> {
            text.lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))?
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .ok()
        };
        let missing = |name: &str| {
            unavailable(std::io::Error::other(format!(
                "no {name} in /proc/self/status"
            )))
        };
        Ok(ProcSnapshot {
            rss_kib: field(&status, "VmRSS").ok_or_else(|| missing("VmRSS"))?,
            vm_kib: field(&status, "VmSize").ok_or_else(|| missing("VmSize"))?,
            kernel_stack_kib: std::fs::read_to_string("/proc/meminfo")
                .ok()
                .and_then(|meminfo| field(&meminfo, "KernelStack")),
            threads,
        })
    }
}

/// One child's raw numbers: what [`idle_main`] prints, as one line of JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdleSample {
    #[serde(with = "serde_variant")]
    pub variant: Variant,
    /// Units spawned.
    pub count: usize,
    /// Before spawning (the runtime, if any, already started and warmed up).
    pub before: ProcSnapshot,
    /// While every unit has started and waits.
    pub during: ProcSnapshot,
    /// Time spent in the spawn calls, all units.
    pub spawn_ns: u64,
    /// Time from the first spawn until every unit had started running (and was about to
    /// wait): for threads the OS's work, for tasks the workers polling each one once.
    pub ready_ns: u64,
    /// What one unit hands to `spawn`: the closure (threads) or the future (tasks), from
    /// `size_of_val`. For a task this *is* the state it keeps while it waits; for a thread
    /// the closure is moved onto a stack of its own.
    pub unit_bytes: usize,
    /// The stack each thread reserves (sync only): `RUST_MIN_STACK`, else std's 2 MiB.
    pub thread_stack_bytes: Option<u64>,
    /// Units that, once released, returned the state they had kept intact. Must be `count`.
    pub released: usize,
}

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
    /// a share of the malloc arenas (see the module docs); where "2 MB per thread" comes from.
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
        Variant::Sync => idle_threads(count),
        Variant::Tokio => idle_tokio(count),
        Variant::AsyncStd => idle_async_std(count),
        Variant::Smol => idle_smol(count),
    }
}

/// The state a unit keeps while it waits.
fn request(id: usize) -> [u64; 8] {
    [id as u64; 8]
}

/// What a released unit computes from the state it kept: 8 × id if it is intact.
fn answer(state: &[u64; 8], id: usize) -> bool {
    state.iter().sum::<u64>() == 8 * id as u64
}

/// The started counter and the clock shared by every variant's measurement.
struct Readiness {
    started: Arc<AtomicUsize>,
    count: usize,
    t0: Instant,
}

impl Readiness {
    fn new(count: usize) -> Self {
        Readiness {
            started: Arc::new(AtomicUsize::new(0)),
            count,
            t0: Instant::now(),
        }
    }

    /// Restarts the clock: call right before the first spawn.
    fn start_clock(&mut self) {
        self.t0 = Instant::now();
    }

    fn counter(&self) -> Arc<AtomicUsize> {
        Arc::clone(&self.started)
    }

    /// Waits until every unit has counted itself; returns the time since the first spawn.
    fn wait_all_started(&self) -> Result<Duration, PipelineError> {
        loop {
            if self.started.load(Ordering::SeqCst) >= self.count {
                return Ok(self.t0.elapsed());
            }
            if self.t0.elapsed() > READY_DEADLINE {
                return Err(PipelineError::TimedOut {
                    stage: "waiting for every idle unit to start",
                    after: READY_DEADLINE,
                });
            }
            thread::sleep(Duration::from_micros(100));
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The stack std gives a spawned thread: `RUST_MIN_STACK` if set and valid, else 2 MiB.
fn thread_stack_bytes() -> u64 {
    std::env::var("RUST_MIN_STACK")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(STD_DEFAULT_STACK_BYTES)
}

// ANCHOR: idle_thread
/// A thread per unit, default stack, blocked in `recv` on its own `sync_channel`.
fn idle_threads(count: usize) -> Result<IdleSample, PipelineError> {
    let mut ready = Readiness::new(count);
    let mut replies = Vec::with_capacity(count);
    let mut handles: Vec<JoinHandle<bool>> = Vec::with_capacity(count);
    let mut unit_bytes = 0;
    let before = ProcSnapshot::now()?;
    ready.start_clock();
    let mut failed = None;
    for id in 0..count {
        let (reply_tx, reply_rx) = std::sync::mpsc::sync_channel::<()>(1);
        let started = ready.counter();
        let unit = move || {
            let state = black_box(request(id));
            started.fetch_add(1, Ordering::SeqCst);
            let _ = reply_rx.recv(); // blocks this thread until released
            answer(&black_box(state), id)
        };
        unit_bytes = std::mem::size_of_val(&unit);
        match thread::Builder::new().spawn(unit) {
            Ok(handle) => handles.push(handle),
            Err(source) => {
                failed = Some(PipelineError::Start {
                    what: "an idle thread",
                    source,
                });
                break;
            }
        }
        replies.push(reply_tx);
    }
    let spawn_ns = nanos(ready.t0.elapsed());
    let measured = match failed {
        Some(e) => Err(e),
        None => ready
            .wait_all_started()
            .and_then(|ready_after| Ok((ready_after, ProcSnapshot::now()?))),
    };
    drop(replies); // every `recv` returns: each thread finishes
    let released = handles
        .into_iter()
        .map(|h| h.join().unwrap_or(false))
        .filter(|&ok| ok)
        .count();
    let (ready_after, during) = measured?;
    Ok(IdleSample {
        variant: Variant::Sync,
        count,
        before,
        during,
        spawn_ns,
        ready_ns: nanos(ready_after),
        unit_bytes,
        thread_stack_bytes: Some(thread_stack_bytes()),
        released,
    })
}
// ANCHOR_END: idle_thread

// ANCHOR: idle_task
/// A tokio task per unit on a 2-worker runtime, awaiting its own `oneshot`.
fn idle_tokio(count: usize) -> Result<IdleSample, PipelineError> {
    let cfg = Config {
        worker_threads: WORKER_THREADS,
        ..Config::default()
    };
    let runtime = runtimes::tokio_runtime(&cfg)?;
    // Warm up: the workers have run a task before the first snapshot.
    let _ = runtime.block_on(runtime.spawn(async {}));
    let mut ready = Readiness::new(count);
    let mut replies = Vec::with_capacity(count);
    let mut handles = Vec::with_capacity(count);
    let mut unit_bytes = 0;
    let before = ProcSnapshot::now()?;
    ready.start_clock();
    for id in 0..count {
        let (reply_tx, reply_rx) = tokio::sync::oneshot::channel::<()>();
        let started = ready.counter();
        let unit = async move {
            let state = black_box(request(id));
            started.fetch_add(1, Ordering::SeqCst);
            let _ = reply_rx.await; // this task is parked: no thread waits for it
            answer(&black_box(state), id)
        };
        unit_bytes = std::mem::size_of_val(&unit);
        handles.push(runtime.spawn(unit));
        replies.push(reply_tx);
    }
    let spawn_ns = nanos(ready.t0.elapsed());
    let measured = ready
        .wait_all_started()
        .and_then(|ready_after| Ok((ready_after, ProcSnapshot::now()?)));
    drop(replies);
    let released = runtime.block_on(async {
        let mut released = 0;
        for handle in handles {
            released += usize::from(handle.await.unwrap_or(false));
        }
        released
    });
    let (ready_after, during) = measured?;
    Ok(IdleSample {
        variant: Variant::Tokio,
        count,
        before,
        during,
        spawn_ns,
        ready_ns: nanos(ready_after),
        unit_bytes,
        thread_stack_bytes: None,
        released,
    })
}
// ANCHOR_END: idle_task

/// An async-std task per unit on the global executor, awaiting its own `bounded(1)` channel.
fn idle_async_std(count: usize) -> Result<IdleSample, PipelineError> {
    use async_std::task;
    // Warm up: starts the global executor (its thread count comes from ASYNC_STD_THREAD_COUNT).
    task::block_on(task::spawn(async {}));
    let mut ready = Readiness::new(count);
    let mut replies = Vec::with_capacity(count);
    let mut handles = Vec::with_capacity(count);
    let mut unit_bytes = 0;
    let before = ProcSnapshot::now()?;
    ready.start_clock();
    for id in 0..count {
        let (reply_tx, reply_rx) = async_std::channel::bounded::<()>(1);
        let started = ready.counter();
        let unit = async move {
            let state = black_box(request(id));
            started.fetch_add(1, Ordering::SeqCst);
            let _ = reply_rx.recv().await;
            answer(&black_box(state), id)
        };
        unit_bytes = std::mem::size_of_val(&unit);
        handles.push(task::spawn(unit));
        replies.push(reply_tx);
    }
    let spawn_ns = nanos(ready.t0.elapsed());
    let measured = ready
        .wait_all_started()
        .and_then(|ready_after| Ok((ready_after, ProcSnapshot::now()?)));
    drop(replies);
    let released = task::block_on(async {
        let mut released = 0;
        for handle in handles {
            released += usize::from(handle.await);
        }
        released
    });
    let (ready_after, during) = measured?;
    Ok(IdleSample {
        variant: Variant::AsyncStd,
        count,
        before,
        during,
        spawn_ns,
        ready_ns: nanos(ready_after),
        unit_bytes,
        thread_stack_bytes: None,
        released,
    })
}

/// A smol task per unit on an executor two threads of ours drive, awaiting its own
/// `bounded(1)` channel.
fn idle_smol(count: usize) -> Result<IdleSample, PipelineError> {
    runtimes::with_smol_executor(WORKER_THREADS, "ch12-idle-smol", |executor| {
        // Warm up: the executor threads have run a task before the first snapshot.
        smol::block_on(executor.spawn(async {}));
        let mut ready = Readiness::new(count);
        let mut replies = Vec::with_capacity(count);
        let mut handles = Vec::with_capacity(count);
        let mut unit_bytes = 0;
        let before = ProcSnapshot::now()?;
        ready.start_clock();
        for id in 0..count {
            let (reply_tx, reply_rx) = smol::channel::bounded::<()>(1);
            let started = ready.counter();
            let unit = async move {
                let state = black_box(request(id));
                started.fetch_add(1, Ordering::SeqCst);
                let _ = reply_rx.recv().await;
                answer(&black_box(state), id)
            };
            unit_bytes = std::mem::size_of_val(&unit);
            handles.push(executor.spawn(unit));
            replies.push(reply_tx);
        }
        let spawn_ns = nanos(ready.t0.elapsed());
        let measured = ready
            .wait_all_started()
            .and_then(|ready_after| Ok((ready_after, ProcSnapshot::now()?)));
        drop(replies);
        // Awaited, not dropped: dropping a smol task would cancel it.
        let released = smol::block_on(async {
            let mut released = 0;
            for handle in handles {
                released += usize::from(handle.await);
            }
            released
        });
        let (ready_after, during) = measured?;
        Ok(IdleSample {
            variant: Variant::Smol,
            count,
            before,
            during,
            spawn_ns,
            ready_ns: nanos(ready_after),
            unit_bytes,
            thread_stack_bytes: None,
            released,
        })
    })
}

// ANCHOR: measure_memory
/// Runs [`idle_main`] in a child process `repeats` times per variant (in `Variant::ALL`
/// order) and reduces each variant's samples to a [`MemoryRow`] (medians).
///
/// `launch(variant, count)` returns the command that runs the child — the workshop's hidden
/// `__idle --variant <v> --count <n>`, or a test binary re-executing itself. Each child gets
/// `ASYNC_STD_THREAD_COUNT` = [`WORKER_THREADS`], is killed if it runs past
/// [`CHILD_DEADLINE`], and must release every unit it spawned.
pub fn measure_memory(
    launch: &dyn Fn(Variant, usize) -> Command,
    count: usize,
    repeats: usize,
) -> Result<Vec<MemoryRow>, PipelineError> {
    measure_memory_within(launch, count, repeats, CHILD_DEADLINE)
}
// ANCHOR_END: measure_memory

/// [`measure_memory`] with a deadline of your choosing for each child.
pub fn measure_memory_within(
    launch: &dyn Fn(Variant, usize) -> Command,
    count: usize,
    repeats: usize,
    deadline: Duration,
) -> Result<Vec<MemoryRow>, PipelineError> {
    if count == 0 || repeats == 0 {
        return Err(PipelineError::Config(
            "count and repeats must be at least 1".into(),
        ));
    }
    Variant::ALL
        .into_iter()
        .map(|variant| {
            let samples = (0..repeats)
                .map(|_| run_child(variant, launch(variant, count), count, deadline))
                .collect::<Result<Vec<_>, _>>()?;
            // `run_child` checked each sample's variant and count, so they reduce to a row.
            MemoryRow::from_samples(&samples).ok_or(PipelineError::StagePanicked {
                stage: child_stage(variant),
                message: "the samples do not belong together".into(),
            })
        })
        .collect()
}

/// The stage name errors about a child carry, so they say which variant it was.
fn child_stage(variant: Variant) -> &'static str {
    match variant {
        Variant::Sync => "memory child (sync)",
        Variant::Tokio => "memory child (tokio)",
        Variant::AsyncStd => "memory child (async-std)",
        Variant::Smol => "memory child (smol)",
    }
}

/// Runs one child under `deadline` and returns the sample it printed.
fn run_child(
    variant: Variant,
    mut command: Command,
    count: usize,
    deadline: Duration,
) -> Result<IdleSample, PipelineError> {
    let stage = child_stage(variant);
    let failed = |message: String| PipelineError::StagePanicked { stage, message };
    command
        .env("ASYNC_STD_THREAD_COUNT", WORKER_THREADS.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().map_err(|source| PipelineError::Start {
        what: stage,
        source,
    })?;
    let stdout = read_all(child.stdout.take());
    let stderr = read_all(child.stderr.take());
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > deadline => {
                // Our own child, by its handle: kill it and reap it. (Its output readers are
                // left behind: a grandchild may still hold the pipes.)
                let _ = child.kill();
                let _ = child.wait();
                return Err(PipelineError::TimedOut {
                    stage,
                    after: deadline,
                });
            }
            Ok(None) => thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(failed(format!("cannot wait for the child: {e}"))),
        }
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    let tail = || {
        let lines: Vec<&str> = stderr.lines().collect();
        lines[lines.len().saturating_sub(8)..].join("\n")
    };
    if !status.success() {
        return Err(failed(format!(
            "the child exited with {status}; its stderr ends:\n{}",
            tail()
        )));
    }
    let samples: Vec<IdleSample> = stdout
        .lines()
        .filter_map(|line| serde_json::from_str(&line[line.find('{')?..]).ok())
        .collect();
    let sample = match samples.as_slice() {
        [one] => one.clone(),
        _ => {
            return Err(failed(format!(
                "the child printed {} measurement lines, expected exactly one; its stdout:\n{}",
                samples.len(),
                stdout.trim_end()
            )));
        }
    };
    if sample.variant != variant || sample.count != count {
        return Err(failed(format!(
            "asked for {count} {variant} units, the child measured {} {} units",
            sample.count, sample.variant
        )));
    }
    if sample.released != count {
        return Err(failed(format!(
            "only {} of {count} units came back with their state intact",
            sample.released
        )));
    }
    Ok(sample)
}

/// Reads a child's pipe to the end on a thread of its own (so a full pipe cannot block it).
fn read_all(pipe: Option<impl Read + Send + 'static>) -> JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

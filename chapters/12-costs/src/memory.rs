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
//!
//! The files: the four workloads as siblings (`sync.rs`, `tokio_rt.rs`, `async_std_rt.rs`,
//! `smol_rt.rs`), built from the same unit (`unit.rs`); the child's body that runs one of them
//! (`child.rs`); what it records (`snapshot.rs`, `sample.rs`); the parent that launches the
//! children (`launch.rs`); and the per-unit row their samples reduce to (`row.rs`).

mod child;
mod launch;
mod row;
mod sample;
mod snapshot;
mod unit;

// The four idle workloads, one file each, in the canonical order (the numbers keep rustfmt from
// sorting them).
// 1.
mod sync;
// 2.
mod tokio_rt;
// 3.
mod async_std_rt;
// 4.
mod smol_rt;

use std::time::Duration;

pub use child::{idle_main, idle_sample};
pub use launch::{measure_memory, measure_memory_within};
pub use row::MemoryRow;
pub use sample::IdleSample;
pub use snapshot::ProcSnapshot;

/// The default number of idle operations per measurement.
pub const DEFAULT_COUNT: usize = 10_000;
/// Worker threads of the task runtimes (the machine this was written on has 2 cores).
/// async-std's global executor gets it through `ASYNC_STD_THREAD_COUNT`, which
/// [`measure_memory`] sets for every child.
pub const WORKER_THREADS: usize = 2;
/// How long [`measure_memory`] lets one child run before it kills it.
pub const CHILD_DEADLINE: Duration = Duration::from_secs(60);
/// std's default stack for a spawned thread on Linux (`RUST_MIN_STACK` overrides it).
pub const STD_DEFAULT_STACK_BYTES: u64 = 2 * 1024 * 1024;

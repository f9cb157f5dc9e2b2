//! # Chapter 5 — unbounded spawning
//!
//! The enrich stage fans out: every reading needs a registry look-up, the look-ups are slow, so
//! why not run them all at once? Because the registry has a capacity, memory is not free, and
//! the OS will only give you so many threads.
//!
//! | variant | broken: no limit | fixed: at most `cfg.concurrency` in flight |
//! |---|---|---|
//! | sync | a thread per reading | a pool of `concurrency` threads fed by a bounded channel |
//! | tokio | a task per reading | a `Semaphore` permit per task, tasks in a `JoinSet` reaped as they finish |
//! | async-std | a task per reading | `buffer_unordered(concurrency)` |
//! | smol | a task per reading | `for_each_concurrent(concurrency)` |
//!
//! The registry ([`registry::SlowRegistry`]) takes [`registry::REGISTRY_LATENCY`] per
//! look-up and refuses requests past [`registry::REGISTRY_CAPACITY`]; a refused look-up
//! becomes a rejection ("registry overloaded") in the report, counted, never dropped. The
//! gauges from `instruments` record how many tasks and requests were ever in flight at once.
#![forbid(unsafe_code)]

pub mod exercise;
pub mod registry;
pub mod streams;

/// One module per variant, in the canonical order (`rustfmt.toml` keeps rustfmt from sorting them).
pub mod variants {
    pub mod sync;
    pub mod tokio_rt;
    pub mod async_std_rt;
    pub mod smol_rt;
}

use instruments::{Demo, DemoCase, Pitfall, Watch};
use pipeline::{DatasetSpec, Input, RunFn, Variant};

use registry::{REFUSED, REGISTRY_REQUESTS, TASKS_IN_FLIGHT};
use variants::{async_std_rt, smol_rt, sync, tokio_rt};

/// What the demos' signals watch.
pub const WATCH: Watch = Watch {
    locks: &[],
    gauges: &[TASKS_IN_FLIGHT, REGISTRY_REQUESTS],
    counters: &[REFUSED],
};

/// The chapter's input: 2,000 lines of the default dataset's kind. Every look-up takes
/// `REGISTRY_LATENCY`, so a bounded run takes about `lines / concurrency × latency`; this keeps
/// a demo, and each of the tour's runs, under a second.
pub fn chapter_input() -> Input {
    Input::generated(&DatasetSpec {
        lines: 2_000,
        ..DatasetSpec::default()
    })
}

// ANCHOR: variants
/// The fixed pipelines, in the canonical order, for the tests and the tour.
pub const VARIANTS: [(Variant, RunFn); 4] = [
    (Variant::Sync, sync::run),
    (Variant::Tokio, tokio_rt::run),
    (Variant::AsyncStd, async_std_rt::run),
    (Variant::Smol, smol_rt::run),
];
// ANCHOR_END: variants

/// The chapter's live demo: `cargo run --release -- demo unbounded-spawn --variant <v>`.
pub const DEMOS: [Demo; 1] = [Demo {
    chapter: 5,
    name: "unbounded-spawn",
    title: "a task (or thread) per reading, no limit",
    pitfall: Pitfall::Explosion,
    input: chapter_input,
    watch: WATCH,
    limited: Some(TASKS_IN_FLIGHT),
    diagnosis: "the loop spawns a task for every reading without waiting for any, so every \
                look-up is in flight at once: the registry refuses everything past its \
                capacity, and every task's memory is held until the end",
    reference: pipeline::run_sequential,
    cases: [
        DemoCase {
            variant: Variant::Sync,
            broken: Some(sync::broken_unbounded_spawn),
            fixed: Some(sync::fixed_unbounded_spawn),
        },
        DemoCase {
            variant: Variant::Tokio,
            broken: Some(tokio_rt::broken_unbounded_spawn),
            fixed: Some(tokio_rt::fixed_unbounded_spawn),
        },
        DemoCase {
            variant: Variant::AsyncStd,
            broken: Some(async_std_rt::broken_unbounded_spawn),
            fixed: Some(async_std_rt::fixed_unbounded_spawn),
        },
        DemoCase {
            variant: Variant::Smol,
            broken: Some(smol_rt::broken_unbounded_spawn),
            fixed: Some(smol_rt::fixed_unbounded_spawn),
        },
    ],
}];

/// What the workshop knows of this chapter (see the `course` crate).
pub const CHAPTER: course::Chapter = course::Chapter {
    number: 5,
    slug: "05-unbounded-spawning",
    title: "unbounded spawning, fixed (a limit per variant)",
    variants: VARIANTS,
    input: Some(chapter_input),
    demos: &DEMOS,
    ..course::Chapter::BASE
};

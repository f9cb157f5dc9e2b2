//! # Chapter 4 — mutex deadlocks
//!
//! The enrich stage caches registry look-ups in shared state behind a lock, and two enrich
//! workers share it. Two ways to deadlock, really, every time, and four ways out:
//!
//! | pitfall | where | broken | what the watcher sees |
//! |---|---|---|---|
//! | a `std::sync::Mutex` guard held across the look-up's `.await` | tokio, async-std, smol | `broken_guard_across_await` | one task suspended holding the lock, the other blocking the executor's only thread on it |
//! | lock-order inversion (cache → stats vs stats → cache), forced with a barrier | all four | `broken_lock_order` | each side waiting for the lock the other holds |
//!
//! | fix | applies to | function |
//! |---|---|---|
//! | scope the guard: drop it before the `.await` | all four | `run_with(Fix::ScopedGuard, ..)` |
//! | an async-aware lock where a lock must be held across an `.await` | tokio, async-std, smol | `run_with(Fix::AsyncLock, ..)` |
//! | one consistent lock order | all four | `fixed_lock_order` |
//! | message passing: a cache-owner thread/task behind a channel, no lock at all | all four | `run_with(Fix::MessagePassing, ..)` |
//!
//! Every broken pipeline runs only under the watchdog of `instruments::run_demo`, which
//! watches from *another* thread: a timeout inside a runtime whose only thread is blocked can
//! never fire (the tests show that too).
#![forbid(unsafe_code)]

pub mod cache;
pub mod exercise;

/// One module per variant, in the canonical order (`rustfmt.toml` keeps rustfmt from sorting them).
pub mod variants {
    pub mod sync;
    pub mod tokio_rt;
    pub mod async_std_rt;
    pub mod smol_rt;
}

use instruments::{Demo, DemoCase, Pitfall, Signals, Watch};
use pipeline::{Config, Dataset, Input, PipelineError, Report, RunFn, Variant};

use variants::{async_std_rt, smol_rt, sync, tokio_rt};

/// The ways out of the cache deadlock (lock order is its own demo: see `fixed_lock_order`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fix {
    /// Take the std lock, copy out what you need, drop it, *then* await.
    ScopedGuard,
    /// An async mutex (`tokio::sync::Mutex`, `async_lock::Mutex`, `async_std::sync::Mutex`):
    /// waiting for it suspends the task instead of blocking the thread.
    AsyncLock,
    /// One task owns the cache; the workers ask it over a channel.
    MessagePassing,
}

impl Fix {
    pub const ALL: [Fix; 3] = [Fix::ScopedGuard, Fix::AsyncLock, Fix::MessagePassing];

    pub fn name(self) -> &'static str {
        match self {
            Fix::ScopedGuard => "scoped guard",
            Fix::AsyncLock => "async lock",
            Fix::MessagePassing => "message passing",
        }
    }

    /// An async lock only makes sense where there is an `.await` to hold it across.
    pub fn applies_to(self, variant: Variant) -> bool {
        !(self == Fix::AsyncLock && variant == Variant::Sync)
    }
}

/// The name of the cache's lock, as the demos' probes report it.
pub const CACHE_LOCK: &str = "cache";
/// The name of the site statistics' lock (the lock-order demo's second lock).
pub const STATS_LOCK: &str = "stats";

/// The names of the locks the demos' probes watch.
pub const LOCKS: &[&str] = &[CACHE_LOCK, STATS_LOCK];

/// What the demos' signals watch: the two locks.
pub const WATCH: Watch = Watch {
    locks: LOCKS,
    gauges: &[],
    counters: &[],
};

/// The demos run on the default dataset.
pub fn demo_input() -> Input {
    Input::dataset(Dataset::Default)
}

// ANCHOR: variants
/// The fixed pipelines (scoped guard), in the canonical order, for the tests and the tour.
pub const VARIANTS: [(Variant, RunFn); 4] = [
    (Variant::Sync, sync::run),
    (Variant::Tokio, tokio_rt::run),
    (Variant::AsyncStd, async_std_rt::run),
    (Variant::Smol, smol_rt::run),
];
// ANCHOR_END: variants

/// A variant's pipeline with a chosen fix: `variants::*::run_with`.
pub type RunWithFn = fn(Fix, &Input, &Config, &Signals) -> Result<Report, PipelineError>;

/// Every variant's `run_with`, in the canonical order (sync refuses [`Fix::AsyncLock`]).
pub const RUN_WITH_VARIANTS: [(Variant, RunWithFn); 4] = [
    (Variant::Sync, sync::run_with),
    (Variant::Tokio, tokio_rt::run_with),
    (Variant::AsyncStd, async_std_rt::run_with),
    (Variant::Smol, smol_rt::run_with),
];

/// The chapter's live demos: `cargo run --release -- demo <name> --variant <v> [--fixed]`.
pub const DEMOS: [Demo; 2] = [
    Demo {
        chapter: 4,
        name: "guard-across-await",
        title: "a std::sync::Mutex guard held across .await",
        pitfall: Pitfall::Deadlock,
        input: demo_input,
        watch: WATCH,
        limited: None,
        diagnosis: "a task is suspended at an .await while it holds a std::sync::Mutex; \
                    the other task blocks the executor's only thread waiting for that lock, \
                    so the holder can never be polled again to release it",
        reference: pipeline::run_sequential,
        cases: [
            DemoCase {
                variant: Variant::Sync,
                broken: None,
                fixed: None,
            },
            DemoCase {
                variant: Variant::Tokio,
                broken: Some(tokio_rt::broken_guard_across_await),
                fixed: Some(tokio_rt::fixed_guard_across_await),
            },
            DemoCase {
                variant: Variant::AsyncStd,
                broken: Some(async_std_rt::broken_guard_across_await),
                fixed: Some(async_std_rt::fixed_guard_across_await),
            },
            DemoCase {
                variant: Variant::Smol,
                broken: Some(smol_rt::broken_guard_across_await),
                fixed: Some(smol_rt::fixed_guard_across_await),
            },
        ],
    },
    Demo {
        chapter: 4,
        name: "lock-order",
        title: "lock-order inversion between the cache and stats locks",
        pitfall: Pitfall::Deadlock,
        input: demo_input,
        watch: WATCH,
        limited: None,
        diagnosis: "the enrich worker holds the cache lock and waits for the stats lock, \
                    while the snapshot holds the stats lock and waits for the cache lock",
        reference: pipeline::run_sequential,
        cases: [
            DemoCase {
                variant: Variant::Sync,
                broken: Some(sync::broken_lock_order),
                fixed: Some(sync::fixed_lock_order),
            },
            DemoCase {
                variant: Variant::Tokio,
                broken: Some(tokio_rt::broken_lock_order),
                fixed: Some(tokio_rt::fixed_lock_order),
            },
            DemoCase {
                variant: Variant::AsyncStd,
                broken: Some(async_std_rt::broken_lock_order),
                fixed: Some(async_std_rt::fixed_lock_order),
            },
            DemoCase {
                variant: Variant::Smol,
                broken: Some(smol_rt::broken_lock_order),
                fixed: Some(smol_rt::fixed_lock_order),
            },
        ],
    },
];

/// What the workshop knows of this chapter (see the `course` crate).
pub const CHAPTER: course::Chapter = course::Chapter {
    number: 4,
    slug: "04-mutex-deadlocks",
    title: "mutex deadlocks, fixed (scoped guard)",
    variants: VARIANTS,
    demos: &DEMOS,
    ..course::Chapter::BASE
};

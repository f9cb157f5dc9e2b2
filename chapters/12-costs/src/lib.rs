//! # Chapter 12 — costs
//!
//! What each execution model costs, measured rather than quoted:
//!
//! | question | module | how |
//! |---|---|---|
//! | memory and spawn time per idle in-flight operation: a thread vs a task | [`memory`] | N units spawned and all waiting at once, in a fresh child process per measurement; RSS, virtual size, kernel stack, threads |
//! | build time, dependency footprint and binary size of the same program per runtime | [`build_cost`] | standalone packages under `standalone/`, each built clean in release mode |
//!
//! The programs being built are real: each standalone compiles one of chapter 1's own variant
//! files (`chapters/01-baseline/src/variants/*.rs`, which use nothing but `std`, `pipeline`,
//! their own runtime crate and `futures-lite`) through `#[path]`, byte for byte. This crate
//! compiles the very same files the same way, [`VARIANTS`] lists them, and the chapter's test
//! compares their reports with the reference — so the code that is measured is the code that is
//! tested, and it is the code chapter 1 teaches.
//!
//! [`upload`] is exercise 12's harness: an upload task's frame, the slow service it waits on,
//! and the probes that see what a waiting task keeps.
//!
//! This crate computes and returns typed results ([`MemoryRow`], [`BuildRow`]); the workshop's
//! `bench` formats them. The memory child is this chapter's registered [`IDLE_CHILD`] (started
//! by [`workshop_idle`]), which calls [`idle_main`].
#![forbid(unsafe_code)]

/// Chapter 1's variant modules, compiled from chapter 1's own files
/// (`chapters/01-baseline/src/variants/`), in the canonical order (`rustfmt.toml` keeps
/// rustfmt from sorting them). The standalone programs include the same files through `#[path]`.
#[path = "../../01-baseline/src/variants"]
pub mod variants {
    pub mod sync;
    pub mod tokio_rt;
    pub mod async_std_rt;
    pub mod smol_rt;
}

pub mod build_cost;
pub mod cli;
pub mod memory;
pub mod sql;
pub mod store_sync;
pub mod store_tokio;
pub mod upload;

mod serde_variant;

pub use build_cost::{
    BuildRow, STANDALONES, Standalone, compiled_crates, lock_packages, measure_build,
    standalone_dir,
};
pub use memory::{
    CHILD_DEADLINE, DEFAULT_COUNT, IdleSample, MemoryRow, ProcSnapshot, WORKER_THREADS, idle_main,
    idle_sample, measure_memory, measure_memory_within,
};

use pipeline::{DatasetSpec, Input, RunFn, Variant};
use variants::{async_std_rt, smol_rt, sync, tokio_rt};

// ANCHOR: variants
/// The standalone programs' pipelines (chapter 1's variants), in the canonical order, for the
/// tests and the tour.
pub const VARIANTS: [(Variant, RunFn); 4] = [
    (Variant::Sync, sync::run),
    (Variant::Tokio, tokio_rt::run),
    (Variant::AsyncStd, async_std_rt::run),
    (Variant::Smol, smol_rt::run),
];
// ANCHOR_END: variants

/// The chapter's input: the default generated dataset (50,000 lines), what a standalone
/// program would typically be fed.
pub fn chapter_input() -> Input {
    Input::generated(&DatasetSpec::default())
}

/// What the workshop knows of this chapter (see the `course` crate).
pub const CHAPTER: course::Chapter = course::Chapter {
    number: 12,
    slug: "12-costs",
    title: "costs: the standalone programs' pipelines (the ones the lab builds clean)",
    variants: VARIANTS,
    input: Some(chapter_input),
    children: &[IDLE_CHILD],
    ..course::Chapter::BASE
};

/// N idle threads or tasks, measured, in a process of their own ([`workshop_idle`] starts it;
/// [`memory::idle_main`] is what it runs).
pub const IDLE_CHILD: course::Child = course::Child {
    name: "ch12-idle",
    main: |args| {
        Ok(memory::idle_main(
            args.value("--variant")?,
            args.value("--count")?,
        )?)
    },
};

/// The memory measurement's launcher: this very executable, started as [`IDLE_CHILD`] with
/// `--variant V --count N`.
pub fn workshop_idle(variant: Variant, count: usize) -> std::process::Command {
    let mut command = IDLE_CHILD.command();
    command.args(["--variant", variant.name(), "--count", &count.to_string()]);
    command
}

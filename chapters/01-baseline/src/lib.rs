//! # Chapter 1 — baseline: one pipeline, four ways
//!
//! The same five-stage pipeline,
//!
//! ```text
//! source ─▶ parse ─▶ enrich ─▶ aggregate ─▶ sink
//! ```
//!
//! written four times, as siblings: every file has the same functions in the same order
//! (`run`, `run_async` for the async ones, then the stages `source`, `parse`, `enrich`,
//! `aggregate`, `sink`, then `spawn` and `join`). Each stage is its own thread or task, and stages talk
//! through *bounded* channels of capacity [`pipeline::Config::channel_capacity`]. What a stage
//! computes comes from the shared [`pipeline`] crate, so diffing two variants shows only the
//! concurrency model changing:
//!
//! | variant | file | stages run on | channels |
//! |---|---|---|---|
//! | sync | `variants/sync.rs` | one OS thread each, `thread::scope` | `std::sync::mpsc::sync_channel` |
//! | tokio | `variants/tokio_rt.rs` | tasks on a multi-thread runtime | `tokio::sync::mpsc::channel` |
//! | async-std | `variants/async_std_rt.rs` | tasks on the global executor | `async_std::channel::bounded` |
//! | smol | `variants/smol_rt.rs` | tasks on an `Executor` we drive | `smol::channel::bounded` |
//!
//! The identical-output test (`tests/identical_output.rs`) runs all four on several datasets and
//! requires byte-identical reports.
#![forbid(unsafe_code)]

/// One module per variant, in the canonical order (`rustfmt.toml` keeps rustfmt from sorting them).
pub mod variants {
    pub mod sync;
    pub mod tokio_rt;
    pub mod async_std_rt;
    pub mod smol_rt;
}

use pipeline::{RunFn, Variant};

// ANCHOR: variants
/// The chapter's variants, in the canonical order. The tests, the tour and the measurement lab's
/// throughput group loop over this.
pub const VARIANTS: [(Variant, RunFn); 4] = [
    (Variant::Sync, variants::sync::run),
    (Variant::Tokio, variants::tokio_rt::run),
    (Variant::AsyncStd, variants::async_std_rt::run),
    (Variant::Smol, variants::smol_rt::run),
];
// ANCHOR_END: variants

/// What the workshop knows of this chapter (see the `course` crate).
pub const CHAPTER: course::Chapter = course::Chapter {
    number: 1,
    slug: "01-baseline",
    title: "baseline: one pipeline, four ways",
    variants: VARIANTS,
    ..course::Chapter::BASE
};

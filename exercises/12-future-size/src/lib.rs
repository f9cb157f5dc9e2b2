//! # Exercise 12 — what a waiting task keeps (chapter 12)
//!
//! A gateway sends a frame of raw readings for one sensor; the upload task reads it, fetches
//! the sensor's calibration from a slow service, and returns the frame's calibrated summary.
//! Ten thousand uploads wait on that service at once, and each of them, as written, keeps its
//! whole 16 KiB frame while it waits: 160 MB of buffers that nobody will read again.
//!
//! A task's memory is its future: every variable it keeps across an `.await` (chapter 12,
//! "Memory per operation in flight"). Make `upload` keep only what it needs while it waits,
//! with the same summary. (~15 min)
//!
//! The checks look at the future's size, and at whether the frame is still alive when the task
//! starts to wait. The harness (`ch12_costs::upload`) gives you `Link::read_frame`, `tally`,
//! `FrameTally::calibrated`, `Calibrations::fetch` and `summarize`.
//!
//! Check: `cargo test -p ex12-future-size` (or `cargo run --release -- check 12`).
//! Stuck: `cargo run --release -- hint 12`. Don't change the harness or the checks.
#![forbid(unsafe_code)]

use ch12_costs::upload::{Calibrations, Link, Summary, summarize};

// ANCHOR: task
// TODO: the frame is kept across the `.await`, so every waiting upload weighs 16 KiB.
pub async fn upload(link: Link, calibrations: Calibrations) -> Summary {
    let frame = link.read_frame();
    let info = calibrations.fetch(frame.sensor()).await;
    summarize(&frame, &info)
}
// ANCHOR_END: task

// The checks: one file, shared with the solution crate (its `tests` folder links to this one).
#[cfg(test)]
#[path = "../tests/checks.rs"]
mod checks;

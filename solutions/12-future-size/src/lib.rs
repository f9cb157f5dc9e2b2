//! # Exercise 12 — what a waiting task keeps (chapter 12): SOLUTION
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

use ch12_costs::upload::{Calibrations, Link, Summary, tally};

// ANCHOR: solution
/// The frame lives only inside the block: it is read, reduced to its tally (a few numbers and
/// the sensor's id), and dropped at the block's end, before the `.await`. The future keeps the
/// tally across the wait, not the 16 KiB buffer. (`drop(frame)` before the `.await` frees
/// the frame but not its slot: the compiler keeps room in the future for a variable until its
/// scope ends, moved out or not. Boxing the frame would shrink the future but keep the 16 KiB
/// on the heap.)
pub async fn upload(link: Link, calibrations: Calibrations) -> Summary {
    let tally = {
        let frame = link.read_frame();
        tally(&frame)
    };
    let info = calibrations.fetch(tally.sensor()).await;
    tally.calibrated(&info)
}
// ANCHOR_END: solution

// The checks: one file, shared with the solution crate (its `tests` folder links to this one).
#[cfg(test)]
#[path = "../tests/checks.rs"]
mod checks;

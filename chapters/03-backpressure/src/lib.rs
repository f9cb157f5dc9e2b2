//! # Chapter 3 — backpressure and bounded channels
//!
//! A fast source and a slow sink, joined by a channel:
//!
//! ```text
//! source ──(channel of line batches)──▶ sink: parse, enrich, aggregate, write (1–3 ms a batch)
//! ```
//!
//! The source reads a batch in microseconds; the sink needs milliseconds for it
//! ([`write_time`]). Whatever the source is ahead by waits in the channel.
//!
//! | variant | broken: unbounded | fixed: bounded (`cfg.channel_capacity`) |
//! |---|---|---|
//! | sync | `std::sync::mpsc::channel` | `std::sync::mpsc::sync_channel` |
//! | tokio | `tokio::sync::mpsc::unbounded_channel` | `tokio::sync::mpsc::channel` |
//! | async-std | `async_std::channel::unbounded` | `async_std::channel::bounded` |
//! | smol | `smol::channel::unbounded` | `smol::channel::bounded` |
//!
//! With an unbounded channel nothing slows the source down: the queue, and the memory it holds,
//! grow with the input. With a bounded one the source waits when the channel is full and goes
//! at the sink's pace (backpressure); the queue never holds more than the capacity.
//!
//! [`QueueMeter`] measures the queue; the sink starts only once the source can go no further
//! (see [`QueueMeter`] and each variant's `source`), which makes the broken queue's
//! high-water mark exactly the input's batch count and the fixed one's exactly the capacity —
//! on any machine, however the threads are scheduled.
//!
//! The async variants also have a *hybrid* pipeline (`hybrid`): an async source, a sync CPU
//! stage on the runtime's blocking pool, an async sink, joined by bounded channels in both
//! directions, with the blocking send and receive on the sync side and no runtime thread ever
//! blocked.
#![forbid(unsafe_code)]

pub mod exercise;

/// One module per variant, in the canonical order (`rustfmt.toml` keeps rustfmt from sorting them).
pub mod variants {
    pub mod sync;
    pub mod tokio_rt;
    pub mod async_std_rt;
    pub mod smol_rt;
}

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use instruments::{Demo, DemoCase, Gauge, InFlight, Pitfall, Watch};
use pipeline::seeded::mix;
use pipeline::{DatasetSpec, Input, RunFn, Variant};

use variants::{async_std_rt, smol_rt, sync, tokio_rt};

/// The gauge of batches waiting in the channel between the source and the sink.
pub const QUEUE_LENGTH: &str = "batches queued";

/// What the demo's signals watch. No counters: the workshop requires a fixed run's counters
/// to stay at zero, and there is nothing here that should never happen.
pub const WATCH: Watch = Watch {
    locks: &[],
    gauges: &[QUEUE_LENGTH],
    counters: &[],
};

/// Which channel joins the source and the sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queue {
    /// BROKEN ON PURPOSE: no capacity.
    Unbounded,
    /// FIXED: at most `cfg.channel_capacity` batches.
    Bounded,
}

/// The chapter's input: 200,000 lines, 391 batches of the default 512. Enough for the broken
/// queue's memory to show in the process's peak (tens of MiB of queued lines), and a run of
/// about a second (391 batches × 1–3 ms).
pub fn chapter_input() -> Input {
    Input::generated(&DatasetSpec {
        lines: 200_000,
        ..DatasetSpec::default()
    })
}

/// The seed of the sink's write times.
pub const WRITE_SEED: u64 = 3;

// ANCHOR: write_time
/// How long the sink takes to write the `n`th batch it takes (from 1): 1–3 ms, a pure function
/// of ([`WRITE_SEED`], `n`), so every variant and every run waits out the same times.
pub fn write_time(n: u64) -> Duration {
    let hash = mix(WRITE_SEED ^ mix(n));
    Duration::from_micros(1_000 + hash % 2_001)
}
// ANCHOR_END: write_time

// ANCHOR: meter
/// How many batches wait in a channel with one receiver. The sender calls [`sent`] once each
/// `send` has returned; the receiver calls [`QueueReader::about_to_take`] just before each
/// receive, which sets the gauge to `sent − taken`.
///
/// It never over-counts, so a bounded channel's gauge never passes the capacity — no slack to
/// allow for: `sent` lags the batches really in the channel (it is counted after `send`
/// returns) and `taken` is exact (the one receiver counts its own), so `sent − taken` is at
/// most what the channel holds at that moment. It may under-count by a send in progress; at
/// the sink's first receive it is exact, because the source has stopped (see the variants'
/// `source`).
///
/// [`sent`]: QueueMeter::sent
pub struct QueueMeter {
    sent: AtomicUsize,
    queued: Gauge,
}

impl QueueMeter {
    pub fn new(queued: &Gauge) -> Arc<QueueMeter> {
        Arc::new(QueueMeter {
            sent: AtomicUsize::new(0),
            queued: queued.clone(),
        })
    }

    /// The sender: one more batch is in the channel.
    pub fn sent(&self) {
        self.sent.fetch_add(1, Ordering::SeqCst);
    }

    /// The receiver's side (one receiver per meter).
    pub fn reader(self: &Arc<Self>) -> QueueReader {
        QueueReader {
            meter: Arc::clone(self),
            taken: 0,
            held: Vec::new(),
        }
    }
}

/// The receiver's count of what it has taken, and the gauge's entries for what waits.
pub struct QueueReader {
    meter: Arc<QueueMeter>,
    taken: usize,
    held: Vec<InFlight>,
}

impl QueueReader {
    /// Just before a receive: the gauge shows the batches waiting (`sent − taken`); then the
    /// one about to be taken is counted as taken.
    pub fn about_to_take(&mut self) {
        let waiting = self
            .meter
            .sent
            .load(Ordering::SeqCst)
            .saturating_sub(self.taken);
        self.held.truncate(waiting);
        while self.held.len() < waiting {
            self.held.push(self.meter.queued.enter());
        }
        self.taken += 1;
    }

    /// How many batches have been taken (including the one just about to be).
    pub fn taken(&self) -> u64 {
        self.taken as u64
    }
}
// ANCHOR_END: meter

// ANCHOR: variants
/// The fixed pipelines (bounded channels), in the canonical order, for the tests and the tour.
pub const VARIANTS: [(Variant, RunFn); 4] = [
    (Variant::Sync, sync::run),
    (Variant::Tokio, tokio_rt::run),
    (Variant::AsyncStd, async_std_rt::run),
    (Variant::Smol, smol_rt::run),
];
// ANCHOR_END: variants

/// The hybrid pipelines (async source → sync CPU stage → async sink). The sync variant has
/// none: it is threads all the way.
pub const HYBRID_VARIANTS: [(Variant, RunFn); 3] = [
    (Variant::Tokio, tokio_rt::hybrid),
    (Variant::AsyncStd, async_std_rt::hybrid),
    (Variant::Smol, smol_rt::hybrid),
];

/// The chapter's live demo: `cargo run --release -- demo unbounded-queue --variant <v>`.
///
/// The workshop checks an explosion's `limited` gauge against `cfg.concurrency`; the queue's
/// bound is `cfg.channel_capacity`. Both are 16 by default (a test holds them together).
pub const DEMOS: [Demo; 1] = [Demo {
    chapter: 3,
    name: "unbounded-queue",
    title: "a fast source, a slow sink and an unbounded channel between them",
    pitfall: Pitfall::Explosion,
    input: chapter_input,
    watch: WATCH,
    limited: Some(QUEUE_LENGTH),
    diagnosis: "nothing slows the source down: an unbounded channel takes every batch at once, \
                so every batch the sink has not got to yet waits in memory — here, the whole \
                input; a bounded channel makes the source wait for room instead",
    reference: pipeline::run_sequential,
    cases: [
        DemoCase {
            variant: Variant::Sync,
            broken: Some(sync::broken_unbounded_queue),
            fixed: Some(sync::fixed_unbounded_queue),
        },
        DemoCase {
            variant: Variant::Tokio,
            broken: Some(tokio_rt::broken_unbounded_queue),
            fixed: Some(tokio_rt::fixed_unbounded_queue),
        },
        DemoCase {
            variant: Variant::AsyncStd,
            broken: Some(async_std_rt::broken_unbounded_queue),
            fixed: Some(async_std_rt::fixed_unbounded_queue),
        },
        DemoCase {
            variant: Variant::Smol,
            broken: Some(smol_rt::broken_unbounded_queue),
            fixed: Some(smol_rt::fixed_unbounded_queue),
        },
    ],
}];

/// What the workshop knows of this chapter (see the `course` crate).
pub const CHAPTER: course::Chapter = course::Chapter {
    number: 3,
    slug: "03-backpressure",
    title: "backpressure: a fast source, a slow sink, bounded channels",
    variants: VARIANTS,
    input: Some(chapter_input),
    demos: &DEMOS,
    ..course::Chapter::BASE
};

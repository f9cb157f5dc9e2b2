//! # Exercise 03 — a queue that stays small (chapter 3): SOLUTION
//!
//! The source reads batches much faster than the sink can write them. Between them is an
//! unbounded channel, so every batch the sink has not got to yet waits in memory: on a big
//! input, the whole input. Make the source slow down to the sink's pace: at most `capacity`
//! batches may wait.
//!
//! 1. **tokio** — `run_tokio`. (~7 min)
//! 2. **smol** — `run_smol`. (~7 min)
//!
//! The harness measures the queue itself: it counts the batches the [`Source`] hands out and
//! the ones the [`Sink`] takes, and the sink starts only once the source has finished (or after
//! a second, if it cannot). Every batch must come from the source and go through the sink.
//!
//! Check: `cargo test -p ex03-backpressure` (or `cargo run --release -- check 03`).
//! Stuck: `cargo run --release -- hint 03`. Don't change the harness or the checks.
#![forbid(unsafe_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ch03_backpressure::write_time;
use pipeline::{Aggregator, Enriched, Parsed, Registry, enrich_batch};

/// One batch of parsed lines, numbered from 1 in input order.
pub type Batch = (u64, Vec<Parsed>);

// ANCHOR: solution_tokio
/// A bounded channel: `send` waits while `capacity` batches are waiting, so the source goes at
/// the sink's pace.
pub async fn run_tokio(source: Source, capacity: usize, sink: Sink) -> Aggregator {
    let (to_sink, mut from_source) = tokio::sync::mpsc::channel::<Batch>(capacity);
    tokio::spawn(async move {
        for batch in source {
            if to_sink.send(batch).await.is_err() {
                break;
            }
        }
    });
    let mut aggregator = Aggregator::new();
    while let Some(batch) = from_source.recv().await {
        aggregator.add_batch(sink.write_tokio(batch).await);
    }
    aggregator
}
// ANCHOR_END: solution_tokio

// ANCHOR: solution_smol
/// The same with `smol::channel::bounded`: its `send` already waits for room.
pub async fn run_smol(
    executor: &smol::Executor<'static>,
    source: Source,
    capacity: usize,
    sink: Sink,
) -> Aggregator {
    let (to_sink, from_source) = smol::channel::bounded::<Batch>(capacity);
    executor
        .spawn(async move {
            for batch in source {
                if to_sink.send(batch).await.is_err() {
                    break;
                }
            }
        })
        .detach();
    let mut aggregator = Aggregator::new();
    while let Ok(batch) = from_source.recv().await {
        aggregator.add_batch(sink.write_smol(batch).await);
    }
    aggregator
}
// ANCHOR_END: solution_smol

// ---------------------------------------------------------------------------------------------
// The harness. You should not need to change anything below.
// ---------------------------------------------------------------------------------------------

/// How long the sink waits for a source that cannot finish before it starts anyway.
pub const PATIENCE: Duration = Duration::from_secs(1);

/// What the harness sees of the queue, shared by the [`Source`] and the [`Sink`].
///
/// The queue is every batch the source has handed out that the sink has not yet taken: in the
/// channel, in the source's hands while it waits for room, or parked anywhere else. The sink
/// samples it each time it takes a batch (that one no longer counts), so with a bounded channel
/// of `capacity` the peak is `capacity` or `capacity + 1` (the batch the source holds while it
/// waits, if it got to take it from the input before the sample), whatever the scheduling.
#[derive(Default)]
pub struct QueueMeter {
    handed_out: AtomicUsize,
    taken: AtomicUsize,
    peak: AtomicUsize,
    source_done: AtomicBool,
}

impl QueueMeter {
    /// The most batches that waited at once.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }

    /// How many batches the sink took.
    pub fn taken(&self) -> usize {
        self.taken.load(Ordering::SeqCst)
    }

    /// How many batches the source handed out.
    pub fn handed_out(&self) -> usize {
        self.handed_out.load(Ordering::SeqCst)
    }

    /// The sink takes one more: the others handed out and not yet taken are waiting.
    fn take(&self) {
        let taken = self.taken.fetch_add(1, Ordering::SeqCst) + 1;
        let waiting = self.handed_out().saturating_sub(taken);
        self.peak.fetch_max(waiting, Ordering::SeqCst);
    }
}

/// The fast end: the batches, handed out one at a time as fast as they are asked for.
pub struct Source {
    batches: std::vec::IntoIter<Batch>,
    meter: Arc<QueueMeter>,
}

impl Source {
    pub fn new(batches: Vec<Batch>, meter: &Arc<QueueMeter>) -> Self {
        Source {
            batches: batches.into_iter(),
            meter: Arc::clone(meter),
        }
    }
}

impl Iterator for Source {
    type Item = Batch;

    fn next(&mut self) -> Option<Batch> {
        let next = self.batches.next();
        match next {
            Some(_) => self.meter.handed_out.fetch_add(1, Ordering::SeqCst),
            None => {
                self.meter.source_done.store(true, Ordering::SeqCst);
                0
            }
        };
        next
    }
}

/// The slow end: enriches a batch, then takes a seeded 1–3 ms to "write" it. It starts only
/// once the source has handed out everything, or after [`PATIENCE`]: so an unbounded queue
/// holds the whole input every time, not by luck.
pub struct Sink {
    registry: Arc<dyn Registry>,
    meter: Arc<QueueMeter>,
    started: AtomicBool,
}

impl Sink {
    pub fn new(registry: Arc<dyn Registry>, meter: &Arc<QueueMeter>) -> Self {
        Sink {
            registry,
            meter: Arc::clone(meter),
            started: AtomicBool::new(false),
        }
    }

    /// Whether the sink should still wait before its first write.
    fn waiting(&self, since: Instant) -> bool {
        !self.started.load(Ordering::SeqCst)
            && !self.meter.source_done.load(Ordering::SeqCst)
            && since.elapsed() < PATIENCE
    }

    pub async fn write_tokio(&self, (n, batch): Batch) -> Vec<Enriched> {
        let since = Instant::now();
        while self.waiting(since) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        self.started.store(true, Ordering::SeqCst);
        self.meter.take();
        tokio::time::sleep(write_time(n)).await;
        enrich_batch(&*self.registry, batch)
    }

    pub async fn write_smol(&self, (n, batch): Batch) -> Vec<Enriched> {
        let since = Instant::now();
        while self.waiting(since) {
            smol::Timer::after(Duration::from_millis(1)).await;
        }
        self.started.store(true, Ordering::SeqCst);
        self.meter.take();
        smol::Timer::after(write_time(n)).await;
        enrich_batch(&*self.registry, batch)
    }
}

// The checks: one file, shared with the solution crate (its `tests` folder links to this one).
#[cfg(test)]
#[path = "../tests/checks.rs"]
mod checks;

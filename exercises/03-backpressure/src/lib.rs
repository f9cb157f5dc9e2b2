//! # Exercise 03 — a queue that stays small (chapter 3)
//!
//! The source reads batches much faster than the sink can write them. Between them is an
//! unbounded channel, so every batch the sink has not got to yet waits in memory: on a big
//! input, the whole input. Make the source slow down to the sink's pace: at most `capacity`
//! batches may wait.
//!
//! 1. **tokio** — `run_tokio`. (~7 min)
//! 2. **smol** — `run_smol`. (~7 min)
//!
//! Keep the `meter` calls and the `sink.start()` line: they are how the checks see the queue
//! (the sink starts only once the source has finished, or after a second if it cannot finish).
//!
//! Check: `cargo test -p ex03-backpressure` (or `cargo run --release -- check 03`).
//! Stuck: `cargo run --release -- hint 03`. Don't change the harness or the checks.
#![forbid(unsafe_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ch03_backpressure::{QueueMeter, write_time};
use pipeline::{Aggregator, Enriched, Parsed, Registry, enrich_batch};

/// One batch of parsed lines, numbered from 1 in input order.
pub type Batch = (u64, Vec<Parsed>);

// ANCHOR: task_tokio
// TODO(1): nothing slows the source down.
pub async fn run_tokio(
    batches: Vec<Batch>,
    capacity: usize,
    meter: Arc<QueueMeter>,
    sink: Sink,
) -> Aggregator {
    let _ = capacity; // TODO(1): use it
    let (to_sink, mut from_source) = tokio::sync::mpsc::unbounded_channel::<Batch>();
    let source_meter = Arc::clone(&meter);
    let done = sink.source_done();
    tokio::spawn(async move {
        for batch in batches {
            if to_sink.send(batch).is_err() {
                break;
            }
            source_meter.sent();
        }
        done.mark();
    });
    sink.start_tokio().await;
    let mut queue = meter.reader();
    let mut aggregator = Aggregator::new();
    loop {
        queue.about_to_take();
        let Some(batch) = from_source.recv().await else {
            break;
        };
        aggregator.add_batch(sink.write_tokio(batch).await);
    }
    aggregator
}
// ANCHOR_END: task_tokio

// ANCHOR: task_smol
// TODO(2): the same on smol.
pub async fn run_smol(
    executor: &smol::Executor<'static>,
    batches: Vec<Batch>,
    capacity: usize,
    meter: Arc<QueueMeter>,
    sink: Sink,
) -> Aggregator {
    let _ = capacity; // TODO(2): use it
    let (to_sink, from_source) = smol::channel::unbounded::<Batch>();
    let source_meter = Arc::clone(&meter);
    let done = sink.source_done();
    executor
        .spawn(async move {
            for batch in batches {
                if to_sink.send(batch).await.is_err() {
                    break;
                }
                source_meter.sent();
            }
            done.mark();
        })
        .detach();
    sink.start_smol().await;
    let mut queue = meter.reader();
    let mut aggregator = Aggregator::new();
    loop {
        queue.about_to_take();
        let Ok(batch) = from_source.recv().await else {
            break;
        };
        aggregator.add_batch(sink.write_smol(batch).await);
    }
    aggregator
}
// ANCHOR_END: task_smol

// ---------------------------------------------------------------------------------------------
// The harness. You should not need to change anything below.
// ---------------------------------------------------------------------------------------------

/// How long the sink waits for a source that cannot finish before it starts anyway.
pub const PATIENCE: Duration = Duration::from_secs(1);

/// The slow end: enriches a batch, then takes a seeded 1–3 ms to "write" it.
pub struct Sink {
    registry: Arc<dyn Registry>,
    source_done: Arc<AtomicBool>,
}

/// The source's word that it has handed on every batch.
pub struct Done(Arc<AtomicBool>);

impl Done {
    pub fn mark(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

impl Sink {
    pub fn new(registry: Arc<dyn Registry>) -> Self {
        Sink {
            registry,
            source_done: Arc::new(AtomicBool::new(false)),
        }
    }

    /// What the source marks when it has handed on everything.
    pub fn source_done(&self) -> Done {
        Done(Arc::clone(&self.source_done))
    }

    fn waiting(&self, since: Instant) -> bool {
        !self.source_done.load(Ordering::SeqCst) && since.elapsed() < PATIENCE
    }

    /// Waits (on tokio's timer) until the source is done, or for [`PATIENCE`].
    pub async fn start_tokio(&self) {
        let since = Instant::now();
        while self.waiting(since) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Waits (on smol's timer) until the source is done, or for [`PATIENCE`].
    pub async fn start_smol(&self) {
        let since = Instant::now();
        while self.waiting(since) {
            smol::Timer::after(Duration::from_millis(1)).await;
        }
    }

    pub async fn write_tokio(&self, (n, batch): Batch) -> Vec<Enriched> {
        tokio::time::sleep(write_time(n)).await;
        enrich_batch(&*self.registry, batch)
    }

    pub async fn write_smol(&self, (n, batch): Batch) -> Vec<Enriched> {
        smol::Timer::after(write_time(n)).await;
        enrich_batch(&*self.registry, batch)
    }
}

// The checks: one file, shared with the solution crate (its `tests` folder links to this one).
#[cfg(test)]
#[path = "../tests/checks.rs"]
mod checks;

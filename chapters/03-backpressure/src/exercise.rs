//! The harness of exercise 03 (`exercises/03-backpressure`): the fast source and the slow sink
//! the learner's `run_tokio` and `run_smol` join, and the meter that watches the queue between
//! them. It lives here, out of the learner's file, so the starter and the solution share one
//! copy and a fix cannot reach the meter the checks rely on.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pipeline::{Enriched, Parsed, Registry, enrich_batch};

use crate::write_time;

/// One batch of parsed lines, numbered from 1 in input order.
pub type Batch = (u64, Vec<Parsed>);

/// How long the sink waits for a source that cannot finish before it starts anyway.
pub const PATIENCE: Duration = Duration::from_secs(1);

/// What the harness sees of the queue, shared by the [`Source`] and the [`Sink`].
///
/// The queue is every batch the source has handed out that the sink has not yet taken: in the
/// channel, in the source's hands while it waits for room, or parked anywhere else. The sink
/// samples it each time it takes a batch (that one no longer counts). With a bounded channel of
/// `capacity` it is never more than `capacity + 1` (the channel full, and the batch the source
/// holds while it waits for room), and the first sample is exactly that, whatever the
/// scheduling: the sink's first write waits until the source can go no further. So the peak
/// says what bounds the queue, to the batch: `capacity + 1` for `capacity`, one more for
/// `capacity + 1`.
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

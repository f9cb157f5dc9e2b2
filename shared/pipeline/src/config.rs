//! How a run is set up: sizes, the registry, the sink, and the progress counter.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::PipelineError;
use crate::registry::{FleetRegistry, Registry};
use crate::sink::SinkTarget;

/// Everything a variant's `run` needs besides the input. The same `Config` must give the same
/// report in every variant; only the timing may differ.
#[derive(Clone)]
pub struct Config {
    /// Capacity of every channel between stages, in messages (batches). Bounded on purpose:
    /// chapter 3 shows what an unbounded one does.
    pub channel_capacity: usize,
    /// Lines per batch from the source.
    pub batch_size: usize,
    /// Worker threads for runtimes we build ourselves (tokio, smol). The sync variant uses one
    /// thread per stage; async-std always runs on its global executor (one thread per CPU,
    /// `ASYNC_STD_THREAD_COUNT` overrides it before first use).
    pub worker_threads: usize,
    /// How many look-ups (tasks, threads, requests) may be in flight at once, where a chapter
    /// fans the enrich stage out (chapters 2 and 5).
    pub concurrency: usize,
    /// Where the enrich stage looks sensors up.
    pub registry: Arc<dyn Registry>,
    /// Where the sink stage writes window aggregates.
    pub sink: SinkTarget,
    /// Lines read so far, for progress bars. The source stage adds to it.
    pub progress: Progress,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            channel_capacity: 16,
            batch_size: 512,
            worker_threads: 2,
            concurrency: 16,
            registry: Arc::new(FleetRegistry::default()),
            sink: SinkTarget::ReportOnly,
            progress: Progress::default(),
        }
    }
}

impl Config {
    /// Rejects settings no variant can run with (a zero-capacity channel means different things
    /// in std, tokio and async-channel, so we do not allow it at all).
    pub fn validate(&self) -> Result<(), PipelineError> {
        if self.channel_capacity == 0 {
            return Err(PipelineError::Config(
                "channel_capacity must be at least 1".into(),
            ));
        }
        if self.batch_size == 0 {
            return Err(PipelineError::Config(
                "batch_size must be at least 1".into(),
            ));
        }
        if self.concurrency == 0 {
            return Err(PipelineError::Config(
                "concurrency must be at least 1".into(),
            ));
        }
        if self.worker_threads == 0 {
            return Err(PipelineError::Config(
                "worker_threads must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// A shared counter of lines read. Cheap to clone; read it from any thread.
#[derive(Debug, Clone, Default)]
pub struct Progress(Arc<AtomicU64>);

impl Progress {
    /// The source stage's book-keeping for each batch it hands on (its only work).
    pub fn add(&self, lines: usize) {
        let _work = crate::trace::work("source");
        self.0.fetch_add(lines as u64, Ordering::Relaxed);
    }

    pub fn lines_read(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

//! Streams: the composition the fixed async-std and smol pipelines use, with its error handling
//! and its cleanup shown.
//!
//! `buffer_unordered`, `for_each_concurrent` and their `try_` forms are methods of
//! **`futures::StreamExt`** / **`futures::TryStreamExt`** (the `futures` crate). `tokio_stream`'s
//! `StreamExt` has no `buffer_unordered`; futures-lite's neither.
//!
//! The question a stream of look-ups must answer is what one failed look-up does to the others.
//! Two answers, both here:
//!
//! - **stop at the first error** (`try_collect`, `try_for_each_concurrent`, or `?` on each item):
//!   the stream is dropped, and with it every look-up still in flight — cancelled at its
//!   `.await`, its work so far thrown away, and any look-up not yet started never is;
//! - **an error per item** (a `Result` in the stream, collected like any value): every look-up
//!   runs, the failures are counted, nothing is cancelled. This is what the chapter's pipelines
//!   do: a failed look-up is a rejected reading, not the end of the run.
//!
//! The look-ups here are [`probed_lookup`]s: they wait by yielding a few times (no timer, so the
//! order of events is the same on every machine) and report to a [`Probe`] when they start,
//! finish, fail or are dropped half-way.

use std::future::Future;

use futures::stream::{self, StreamExt, TryStreamExt};
use instruments::{Counter, Gauge, InFlight};

/// The probe's names, as a demo's signals would know them.
pub const LOOKUPS_IN_FLIGHT: &str = "stream look-ups in flight";
pub const LOOKUPS_STARTED: &str = "stream look-ups started";
pub const LOOKUPS_FINISHED: &str = "stream look-ups finished";
pub const LOOKUPS_FAILED: &str = "stream look-ups failed";
pub const LOOKUPS_CANCELLED: &str = "stream look-ups cancelled half-way";

/// A look-up that failed, naming the reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the look-up for reading {0} failed")]
pub struct LookupFailed(pub u64);

/// What happened to the look-ups: how many ran at once, and how each ended.
#[derive(Clone)]
pub struct Probe {
    pub in_flight: Gauge,
    pub started: Counter,
    pub finished: Counter,
    pub failed: Counter,
    pub cancelled: Counter,
}

impl Default for Probe {
    fn default() -> Self {
        Probe {
            in_flight: Gauge::new(LOOKUPS_IN_FLIGHT),
            started: Counter::new(LOOKUPS_STARTED),
            finished: Counter::new(LOOKUPS_FINISHED),
            failed: Counter::new(LOOKUPS_FAILED),
            cancelled: Counter::new(LOOKUPS_CANCELLED),
        }
    }
}

/// One look-up in progress: counted as cancelled if it is dropped before it ends.
struct Running<'a> {
    probe: &'a Probe,
    _in_flight: InFlight,
    ended: bool,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        if !self.ended {
            self.probe.cancelled.add(1);
        }
    }
}

/// A look-up of reading `id` that waits `id % 4 + 1` turns and fails if `fails(id)`.
pub async fn probed_lookup(
    id: u64,
    probe: &Probe,
    fails: impl Fn(u64) -> bool,
) -> Result<u64, LookupFailed> {
    probe.started.add(1);
    let mut running = Running {
        probe,
        _in_flight: probe.in_flight.enter(),
        ended: false,
    };
    for _ in 0..id % 4 + 1 {
        futures_lite::future::yield_now().await;
    }
    running.ended = true;
    if fails(id) {
        probe.failed.add(1);
        return Err(LookupFailed(id));
    }
    probe.finished.add(1);
    Ok(id)
}

// ANCHOR: first_error
/// At most `limit` look-ups at once; the FIRST error ends the stream. `try_collect` returns it
/// and drops the stream: the look-ups still in flight are cancelled, the rest never start.
pub async fn enrich_until_first_error<F>(
    ids: impl IntoIterator<Item = u64>,
    limit: usize,
    lookup: impl Fn(u64) -> F,
) -> Result<Vec<u64>, LookupFailed>
where
    F: Future<Output = Result<u64, LookupFailed>>,
{
    stream::iter(ids)
        .map(lookup)
        .buffer_unordered(limit)
        .try_collect()
        .await
}
// ANCHOR_END: first_error

// ANCHOR: every_result
/// At most `limit` look-ups at once; an error is one item's result, and the stream goes on.
pub async fn enrich_every_one<F>(
    ids: impl IntoIterator<Item = u64>,
    limit: usize,
    lookup: impl Fn(u64) -> F,
) -> Vec<Result<u64, LookupFailed>>
where
    F: Future<Output = Result<u64, LookupFailed>>,
{
    stream::iter(ids)
        .map(lookup)
        .buffer_unordered(limit)
        .collect()
        .await
}
// ANCHOR_END: every_result

// ANCHOR: for_each_concurrent
/// The same limit with no results to hand on: `try_for_each_concurrent` runs the look-ups
/// `limit` at a time and stops at the first error, cancelling the others, as `try_collect` does.
pub async fn check_all<F>(
    ids: impl IntoIterator<Item = u64>,
    limit: usize,
    lookup: impl Fn(u64) -> F,
) -> Result<(), LookupFailed>
where
    F: Future<Output = Result<u64, LookupFailed>>,
{
    stream::iter(ids)
        .map(Ok)
        .try_for_each_concurrent(limit, |id| {
            let found = lookup(id);
            async move { found.await.map(drop) }
        })
        .await
}
// ANCHOR_END: for_each_concurrent

//! A timeline recorder: what happened at run time, on which OS thread, in what order, so that the
//! book's diagrams are drawn from real runs instead of by hand.
//!
//! The chapters call the hooks below (`span`, `point`, `level`) at a few clearly named
//! places, the gauges and lock probes call them too, and the pipeline's stages announce each
//! batch's work through `pipeline::trace`, which a recording hooks into. Nothing is recorded unless a
//! [`record`] is under way: outside one, each hook is a single atomic load and returns, so the
//! chapters, their tests and their measurements behave exactly as without it. Recordings are
//! process-wide (a hook cannot know which run it belongs to), so [`record`] runs one at a time.
//!
//! Every event carries a timestamp from a monotonic clock (`Instant`) relative to the start of
//! the recording, the OS thread it happened on, the actor it concerns (a stage, a lock, a gauge)
//! and what happened. The diagrams' tests check the *order* and the *count* of events, never
//! their durations: a loaded machine stretches the times but cannot reorder a lock's wait
//! before its hold.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum What {
    /// Something with a duration began (a poll, a wait for a lock, a late heartbeat).
    Begin(&'static str),
    /// ... and ended.
    End(&'static str),
    /// Something happened at one instant (a lock acquired, the stop, a checkpoint written).
    Point(&'static str),
    /// A level changed to this value (a queue's depth).
    Level(usize),
    /// An OS thread was seen in this scheduler state (`R` running, `S` sleeping, ...).
    State(char),
}

/// One recorded event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Since the recording started (monotonic clock).
    pub at: Duration,
    /// The OS thread it happened on: its name and a number unique in the process,
    /// e.g. `ch01-tokio-worker#3`.
    pub thread: String,
    /// What it concerns: a stage, a lock, a gauge.
    pub actor: String,
    pub what: What,
}

struct Recording {
    start: Instant,
    events: Vec<Event>,
}

static ACTIVE: AtomicBool = AtomicBool::new(false);
static CURRENT: Mutex<Option<Recording>> = Mutex::new(None);
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Runs `run` with the recorder on; returns what it returned and every event recorded meanwhile,
/// in time order. Threads that outlive `run` (a deadlocked demo's) record nothing afterwards.
pub fn record<T>(run: impl FnOnce() -> T) -> (T, Vec<Event>) {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
    pipeline::trace::install(stage_work);
    *current() = Some(Recording {
        start: Instant::now(),
        events: Vec::new(),
    });
    ACTIVE.store(true, Ordering::SeqCst);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(run));
    ACTIVE.store(false, Ordering::SeqCst);
    let mut events = current().take().map(|r| r.events).unwrap_or_default();
    events.sort_by_key(|e| e.at);
    match result {
        Ok(value) => (value, events),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// The pipeline's stage hook (`pipeline::trace`): a stage's work on a batch, as a span
/// `"work"` of the stage on the thread that did it.
fn stage_work(stage: &'static str, begins: bool) {
    let what = if begins {
        What::Begin("work")
    } else {
        What::End("work")
    };
    push(stage, what, None, None);
}

/// Whether a recording is under way (the hooks' fast path).
pub fn recording() -> bool {
    ACTIVE.load(Ordering::Relaxed)
}

fn current() -> MutexGuard<'static, Option<Recording>> {
    CURRENT.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The calling OS thread as events name it: `name#n`.
pub fn this_thread() -> String {
    let thread = std::thread::current();
    let id = format!("{:?}", thread.id());
    let number = id.trim_start_matches("ThreadId(").trim_end_matches(')');
    format!("{}#{number}", thread.name().unwrap_or("thread"))
}

/// Records `what` about `actor`, on the calling thread, at `at` (now if `None`).
fn push(actor: &str, what: What, at: Option<Instant>, thread: Option<String>) {
    if !recording() {
        return;
    }
    let now = at.unwrap_or_else(Instant::now);
    let thread = thread.unwrap_or_else(this_thread);
    if let Some(recording) = current().as_mut() {
        recording.events.push(Event {
            at: now.saturating_duration_since(recording.start),
            thread,
            actor: actor.to_string(),
            what,
        });
    }
}

/// Something happened to `actor` just now, on this thread.
pub fn point(actor: &str, label: &'static str) {
    push(actor, What::Point(label), None, None);
}

/// Something of `actor` begins on this thread (ends with [`end`], on the same thread).
pub fn begin(actor: &str, label: &'static str) {
    push(actor, What::Begin(label), None, None);
}

/// ... and ends.
pub fn end(actor: &str, label: &'static str) {
    push(actor, What::End(label), None, None);
}

/// `actor`'s level (a queue's depth) is now `value`.
pub fn level(actor: &str, value: usize) {
    push(actor, What::Level(value), None, None);
}

/// An OS thread other than the caller was seen in a scheduler state (a sampler's reading).
pub fn thread_state(thread: String, state: char) {
    push(&thread.clone(), What::State(state), None, Some(thread));
}

/// A span of `actor` on this thread from `since` until now (a heartbeat's lateness: from when
/// it was due to when it ran).
pub fn span_since(actor: &str, label: &'static str, since: Instant) {
    if !recording() {
        return;
    }
    push(actor, What::Begin(label), Some(since), None);
    push(actor, What::End(label), None, None);
}

/// A span of `actor` on this thread, from now until the guard is dropped.
pub fn span(actor: &'static str, label: &'static str) -> Span {
    push(actor, What::Begin(label), None, None);
    Span { actor, label }
}

/// Ends its span when dropped.
#[must_use = "the span ends when this is dropped"]
pub struct Span {
    actor: &'static str,
    label: &'static str,
}

impl Drop for Span {
    fn drop(&mut self) {
        push(self.actor, What::End(self.label), None, None);
    }
}

/// The spans of `actor` with `label`, as (begin, end, thread), in begin order; a span still
/// open when the recording ended ends at `until`.
pub fn spans(events: &[Event], actor: &str, label: &str, until: Duration) -> Vec<SpanOf> {
    let mut open: Vec<(Duration, &str)> = Vec::new();
    let mut done = Vec::new();
    for e in events.iter().filter(|e| e.actor == actor) {
        match &e.what {
            What::Begin(l) if *l == label => open.push((e.at, e.thread.as_str())),
            What::End(l) if *l == label => {
                if let Some(i) = open.iter().position(|(_, t)| *t == e.thread) {
                    let (begin, thread) = open.remove(i);
                    done.push(SpanOf {
                        begin,
                        end: e.at,
                        thread: thread.to_string(),
                    });
                }
            }
            _ => {}
        }
    }
    done.extend(open.into_iter().map(|(begin, thread)| SpanOf {
        begin,
        end: until,
        thread: thread.to_string(),
    }));
    done.sort_by_key(|s| s.begin);
    done
}

/// One span, as [`spans`] pairs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpanOf {
    pub begin: Duration,
    pub end: Duration,
    pub thread: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_recorded_outside_a_recording() {
        point("idle", "ignored");
        let ((), events) = record(|| {
            point("stage", "started");
            let _s = span("stage", "work");
        });
        assert_eq!(events.len(), 3, "{events:?}");
        assert_eq!(events[0].what, What::Point("started"));
        assert!(events.iter().all(|e| e.actor == "stage"));
        assert!(events[0].thread.contains('#'));
        let work = spans(&events, "stage", "work", Duration::MAX);
        assert_eq!(work.len(), 1);
        assert!(work[0].begin <= work[0].end);
    }
}

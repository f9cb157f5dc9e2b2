//! The stop signal, once for all four variants: a handle that any thread can trigger (a Ctrl-C
//! handler, a test), and that each variant turns into its own idiom by registering a listener —
//! an `AtomicBool` (sync), a `CancellationToken` (tokio), a channel that is closed (async-std,
//! smol).
//!
//! It also carries the tests' *stop point*: "stop when the reading at line k is looked up". A
//! stop that comes from the data rather than from a clock is what makes fifty different stop
//! points reproducible on any machine.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

type Listener = Box<dyn FnOnce() + Send>;

/// A stop signal. Cheap to clone; every clone is the same signal.
#[derive(Clone, Default)]
pub struct Shutdown(Arc<Inner>);

#[derive(Default)]
struct Inner {
    triggered: AtomicBool,
    /// Who to tell; taken (and so run once) by the first `trigger`.
    listeners: Mutex<Vec<Listener>>,
    stop_point: Option<StopPoint>,
    /// Closed by [`Shutdown::acted`]: releases a reading held at the stop point.
    acted: Gate,
}

/// Where the tests stop a run: when the reading at `line` is looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StopPoint {
    pub line: u64,
    /// Hold that reading's look-up until the run has acted on the stop ([`Shutdown::acted`]),
    /// so that it is certainly in flight when the run reacts. For the broken pipelines only: a
    /// fixed pipeline drains the held reading, so it would wait for it for ever.
    pub hold: bool,
}

impl Shutdown {
    /// A signal that only [`trigger`](Shutdown::trigger) sets off (Ctrl-C, in the workshop).
    pub fn new() -> Self {
        Self::default()
    }

    /// A signal that triggers itself when the reading at `stop.line` is looked up.
    pub fn at(stop: StopPoint) -> Self {
        Shutdown(Arc::new(Inner {
            stop_point: Some(stop),
            ..Inner::default()
        }))
    }

    // ANCHOR: trigger
    /// Asks every run listening to stop. Callable from any thread, any number of times; the
    /// listeners run once, on the thread of the first call.
    pub fn trigger(&self) {
        let listeners = {
            let mut listeners = self.0.listeners.lock().expect("a listener panicked");
            self.0.triggered.store(true, Ordering::SeqCst);
            std::mem::take(&mut *listeners)
        };
        for tell in listeners {
            tell();
        }
    }

    /// Runs `tell` when the signal is triggered — at once, if it already has been. This is how
    /// a variant turns the signal into its own idiom (set a flag, cancel a token, close a
    /// channel).
    pub fn on_trigger(&self, tell: impl FnOnce() + Send + 'static) {
        {
            let mut listeners = self.0.listeners.lock().expect("a listener panicked");
            if !self.0.triggered.load(Ordering::SeqCst) {
                listeners.push(Box::new(tell));
                return;
            }
        }
        tell();
    }
    // ANCHOR_END: trigger

    pub fn is_triggered(&self) -> bool {
        self.0.triggered.load(Ordering::SeqCst)
    }

    pub fn stop_point(&self) -> Option<StopPoint> {
        self.0.stop_point
    }

    /// Called by a run once it has done what it does on a stop (a broken pipeline: dropped its
    /// work and taken its checkpoint). Releases the reading held at the stop point, if any.
    pub fn acted(&self) {
        self.0.acted.open();
    }

    /// The registry calls this before looking up the reading at `line`. At the stop point it
    /// triggers the stop and, if the stop point holds, returns the gate the look-up must wait
    /// at.
    pub fn reached(&self, line: u64) -> Option<Gate> {
        let stop = self.0.stop_point.filter(|stop| stop.line == line)?;
        self.trigger();
        stop.hold.then(|| self.0.acted.clone())
    }
}

impl fmt::Debug for Shutdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shutdown")
            .field("triggered", &self.is_triggered())
            .field("stop_point", &self.0.stop_point)
            .finish_non_exhaustive()
    }
}

/// A gate that is shut until opened, once, for good; sync and async code can wait at it (it is
/// a channel nobody sends on: closing it wakes every receiver, in any runtime).
#[derive(Debug, Clone)]
pub struct Gate {
    open: async_channel::Sender<()>,
    opened: async_channel::Receiver<()>,
}

impl Default for Gate {
    fn default() -> Self {
        let (open, opened) = async_channel::bounded(1);
        Gate { open, opened }
    }
}

impl Gate {
    pub fn open(&self) {
        self.open.close();
    }

    pub fn is_open(&self) -> bool {
        self.open.is_closed()
    }

    /// Blocks the calling thread until the gate opens.
    pub fn wait(&self) {
        let _ = self.opened.recv_blocking();
    }

    /// Waits, without blocking a thread, until the gate opens.
    pub async fn passed(&self) {
        let _ = self.opened.recv().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn listeners_run_once_and_late_ones_at_once() {
        let shutdown = Shutdown::new();
        let told = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&told);
        shutdown.on_trigger(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        assert!(!shutdown.is_triggered());
        shutdown.clone().trigger();
        shutdown.trigger();
        assert_eq!(told.load(Ordering::SeqCst), 1);
        let counter = Arc::clone(&told);
        shutdown.on_trigger(move || {
            counter.fetch_add(10, Ordering::SeqCst);
        });
        assert_eq!(told.load(Ordering::SeqCst), 11);
    }

    #[test]
    fn the_stop_point_triggers_and_holds_until_the_run_acts() {
        let shutdown = Shutdown::at(StopPoint {
            line: 7,
            hold: true,
        });
        assert!(shutdown.reached(6).is_none());
        assert!(!shutdown.is_triggered());
        let gate = shutdown.reached(7).expect("line 7 is held");
        assert!(shutdown.is_triggered());
        assert!(!gate.is_open());
        shutdown.acted();
        // Returns at once: the gate is open. Were it not, `wait` would block for good; under a
        // deadline that is a failure instead.
        let waited = gate.clone();
        testkit::run_with_deadline("gate", testkit::TEST_DEADLINE, move || waited.wait())
            .expect_finished("waiting on an opened gate");
        assert!(gate.is_open());

        let not_held = Shutdown::at(StopPoint {
            line: 7,
            hold: false,
        });
        assert!(not_held.reached(7).is_none());
        assert!(not_held.is_triggered());
    }
}

//! Time, injected.
//!
//! tokio owns its clock: `tokio::time::pause` (or `#[tokio::test(start_paused = true)]`) stops
//! it, and the runtime jumps it forward whenever every task is waiting on a timer, so a test of
//! a retry loop with minutes of backoff runs in microseconds. smol and async-std have nothing
//! like it: their timers are real time, full stop. The way out, in any runtime and in plain
//! threads, is the oldest one in testing: do not reach for the clock, be *handed* one.
//!
//! - [`Clock`]: what the time-dependent code asks for: the time, an async sleep, a blocking
//!   sleep. [`timeout`] is built from `sleep`.
//! - [`SystemClock`]: the real one (`async-io`'s timer, which works under smol and async-std
//!   alike, and `thread::sleep`).
//! - [`ManualClock`]: time moves only when the test says so. [`ManualClock::run`] and
//!   [`ManualClock::run_blocking`] drive code under test and jump the clock to the next
//!   deadline each time that code is waiting for one — by hand, what tokio's paused clock does
//!   by itself.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};

/// What [`Clock::sleep`] returns: a future that is ready once the time has passed.
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

// ANCHOR: clock
/// The time source the retry loop uses, handed in rather than reached for.
pub trait Clock: Send + Sync + 'static {
    /// Time since the clock started.
    fn now(&self) -> Duration;
    /// A future that is ready once `duration` has passed on this clock. The deadline is fixed
    /// when `sleep` is called, not when the future is first polled (as `tokio::time::sleep`).
    fn sleep(&self, duration: Duration) -> Sleep;
    /// Blocks the calling thread until `duration` has passed on this clock.
    fn sleep_blocking(&self, duration: Duration);
}

/// The caller stopped waiting: `limit` passed before the work finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed;

/// `work`, or [`Elapsed`] if `limit` passes on `clock` first. `work` is dropped (cancelled) if
/// the limit wins. Like `tokio::time::timeout`, the work is polled first: if both are ready at
/// the same instant, the work wins.
pub async fn timeout<T>(
    clock: &dyn Clock,
    limit: Duration,
    work: impl Future<Output = T>,
) -> Result<T, Elapsed> {
    let deadline = clock.sleep(limit);
    futures_lite::future::or(async { Ok(work.await) }, async {
        deadline.await;
        Err(Elapsed)
    })
    .await
}
// ANCHOR_END: clock

/// The real clock.
#[derive(Debug)]
pub struct SystemClock {
    started: Instant,
}

impl SystemClock {
    pub fn new() -> SystemClock {
        SystemClock {
            started: Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock::new()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        self.started.elapsed()
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        // async-io's timer: driven by whichever thread is in `block_on`, or by async-io's own
        // thread, so it works on smol's and async-std's executors alike.
        let timer = smol::Timer::after(duration);
        Box::pin(async move {
            timer.await;
        })
    }

    fn sleep_blocking(&self, duration: Duration) {
        thread::sleep(duration);
    }
}

// ANCHOR: manual_clock
/// A clock that moves only when told to. Every sleep on it registers its deadline; the test
/// advances the clock, and the sleeps whose deadline has come are woken.
#[derive(Debug, Clone, Default)]
pub struct ManualClock {
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    /// Notified when time moves or a sleeper arrives.
    changed: Condvar,
}

#[derive(Debug, Default)]
struct State {
    now: Duration,
    next_id: u64,
    /// Sleeps not yet due, by deadline: the waker of an async one, `None` for a blocked thread.
    sleepers: BTreeMap<(Duration, u64), Option<Waker>>,
}

impl ManualClock {
    pub fn new() -> ManualClock {
        ManualClock::default()
    }

    /// Moves time forward by `by`, waking every sleep that is now due.
    pub fn advance(&self, by: Duration) {
        let mut state = self.lock();
        state.now += by;
        self.wake_due(&mut state);
    }

    /// Moves time to the earliest deadline anyone is sleeping towards, and wakes them.
    /// `None` if nobody is sleeping (then nothing the clock can do will make progress).
    pub fn advance_to_next(&self) -> Option<Duration> {
        let mut state = self.lock();
        let (&(deadline, _), _) = state.sleepers.first_key_value()?;
        state.now = state.now.max(deadline);
        self.wake_due(&mut state);
        Some(state.now)
    }

    /// How many sleeps are waiting for time to move.
    pub fn sleepers(&self) -> usize {
        self.lock().sleepers.len()
    }

    /// Runs `future` to completion on this thread, advancing the clock to the next deadline
    /// whenever the future is waiting. Time moves only when the code under test has nothing
    /// else to do, so the order of events is exact, and no real time passes.
    ///
    /// # Panics
    /// If the future is waiting and no sleep is registered: it waits for something that is
    /// not this clock, and would never finish.
    pub fn run<F: Future>(&self, future: F) -> F::Output {
        let mut future = pin!(future);
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return output;
            }
            self.advance_to_next()
                .expect("the future waits, but not for this clock: it would never finish");
        }
    }

    /// Runs blocking `work` on a thread of its own and advances the clock whenever that
    /// thread is asleep on it, until `work` returns. `work` must sleep on this clock from one
    /// thread at a time (the sync pipeline's look-up does).
    pub fn run_blocking<T: Send>(&self, work: impl FnOnce() -> T + Send) -> T {
        thread::scope(|s| {
            let worker = s.spawn(work);
            while !worker.is_finished() {
                if self.wait_for_sleeper(Duration::from_millis(10)) {
                    self.advance_to_next();
                }
            }
            worker
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }
}
// ANCHOR_END: manual_clock

impl ManualClock {
    /// Waits (in real time, at most `limit`) until some thread or task is asleep on the clock.
    fn wait_for_sleeper(&self, limit: Duration) -> bool {
        let state = self.lock();
        let (state, _) = self
            .shared
            .changed
            .wait_timeout_while(state, limit, |s| s.sleepers.is_empty())
            .expect("the clock's lock is never poisoned");
        !state.sleepers.is_empty()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared
            .state
            .lock()
            .expect("the clock's lock is never poisoned")
    }

    /// Removes every sleep whose deadline has come and wakes it.
    fn wake_due(&self, state: &mut State) {
        let later = state
            .sleepers
            .split_off(&(state.now + Duration::from_nanos(1), 0));
        let due = std::mem::replace(&mut state.sleepers, later);
        for waker in due.into_values().flatten() {
            waker.wake();
        }
        self.shared.changed.notify_all();
    }

    fn register(&self, deadline: Duration, id: Option<u64>, waker: Option<Waker>) -> u64 {
        let mut state = self.lock();
        let id = id.unwrap_or_else(|| {
            state.next_id += 1;
            state.next_id
        });
        state.sleepers.insert((deadline, id), waker);
        self.shared.changed.notify_all();
        id
    }

    fn forget(&self, deadline: Duration, id: u64) {
        self.lock().sleepers.remove(&(deadline, id));
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        self.lock().now
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        Box::pin(ManualSleep {
            clock: self.clone(),
            deadline: self.now() + duration,
            id: None,
        })
    }

    fn sleep_blocking(&self, duration: Duration) {
        let deadline = self.now() + duration;
        let id = self.register(deadline, None, None);
        drop(
            self.shared
                .changed
                .wait_while(self.lock(), |s| s.now < deadline)
                .expect("the clock's lock is never poisoned"),
        );
        self.forget(deadline, id);
    }
}

/// An async sleep on a [`ManualClock`]: registered while pending, forgotten when dropped (a
/// timeout that won its race drops the work's sleep, which must not hold the clock back).
struct ManualSleep {
    clock: ManualClock,
    deadline: Duration,
    id: Option<u64>,
}

impl Future for ManualSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.clock.now() >= self.deadline {
            if let Some(id) = self.id.take() {
                self.clock.forget(self.deadline, id);
            }
            return Poll::Ready(());
        }
        let id = self
            .clock
            .register(self.deadline, self.id, Some(cx.waker().clone()));
        self.id = Some(id);
        Poll::Pending
    }
}

impl Drop for ManualSleep {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            self.clock.forget(self.deadline, id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_sleep_is_ready_only_once_its_deadline_has_come() {
        let clock = ManualClock::new();
        let mut sleep = clock.sleep(Duration::from_secs(5));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(sleep.as_mut().poll(&mut cx).is_pending());
        clock.advance(Duration::from_secs(4));
        assert!(sleep.as_mut().poll(&mut cx).is_pending());
        assert_eq!(clock.sleepers(), 1);
        clock.advance(Duration::from_secs(1));
        assert!(sleep.as_mut().poll(&mut cx).is_ready());
        assert_eq!(clock.sleepers(), 0);
    }

    #[test]
    fn a_dropped_sleep_does_not_hold_the_clock_back() {
        let clock = ManualClock::new();
        let mut long = clock.sleep(Duration::from_secs(3600));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(long.as_mut().poll(&mut cx).is_pending());
        drop(long);
        assert_eq!(clock.advance_to_next(), None);
    }

    #[test]
    fn timeout_lets_the_earlier_of_work_and_limit_win_and_work_wins_a_tie() {
        let clock = ManualClock::new();
        // deadline: one thread polling; `run` panics when nothing this clock drives can wake it
        let slow = clock.run(timeout(&clock, Duration::from_secs(30), async {
            clock.sleep(Duration::from_secs(3600)).await;
        }));
        assert_eq!((slow, clock.now()), (Err(Elapsed), Duration::from_secs(30)));
        // deadline: as above
        let tie = clock.run(timeout(&clock, Duration::from_secs(30), async {
            clock.sleep(Duration::from_secs(30)).await;
            7
        }));
        assert_eq!((tie, clock.now()), (Ok(7), Duration::from_secs(60)));
    }

    #[test]
    fn run_blocking_advances_while_the_thread_sleeps() {
        // A worker thread that sleeps on the clock and a loop that advances it: if they ever
        // missed each other, this would wait forever; the deadline makes that a failure.
        let woke_at = testkit::run_with_deadline("run_blocking", testkit::TEST_DEADLINE, || {
            let clock = ManualClock::new();
            clock.run_blocking(|| {
                clock.sleep_blocking(Duration::from_secs(90));
                clock.sleep_blocking(Duration::from_secs(30));
                clock.now()
            })
        })
        .expect_finished("run_blocking with two sleeps");
        assert_eq!(woke_at, Duration::from_secs(120));
    }
}

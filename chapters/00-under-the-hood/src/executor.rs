//! A `block_on` executor of about a hundred lines: one thread, one run queue, tasks spawned and
//! woken through a channel.
//!
//! Everything a runtime does for a future is here in miniature. A *task* is a spawned future,
//! boxed and pinned so that it never moves again. The *run queue* is a `std::sync::mpsc`
//! channel of "poll this again" messages. A *waker* is a handle that sends its task back into
//! that queue: the executor never polls a future that nobody woke, which is why an `async fn`
//! that waits costs nothing while it waits. `block_on` polls the future it was given and every
//! task that is woken, one at a time, on the calling thread, until the given future is ready.
//!
//! One thing a real runtime would not do: when the queue stays empty for `stall_after`, this
//! one gives up and says so ([`Stalled`]). On one thread an empty queue means nothing can run
//! until some other thread wakes a task; if nothing does, the program would hang forever. A
//! test wants an error it can read instead.

use std::panic::AssertUnwindSafe;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use futures_lite::FutureExt;

// ANCHOR: task
/// A spawned future, on the heap and pinned there: the queue moves `Arc<Task>`s around, never
/// the future itself, so a future that borrows from its own state stays valid.
type BoxedFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// What the run queue carries: "poll this again".
enum Runnable {
    /// The future given to `block_on`: it lives pinned on `block_on`'s stack, not in a task.
    Main,
    Task(Arc<Task>),
}

/// A spawned task: its future (`None` once it has finished) and the way back into the queue.
struct Task {
    future: Mutex<Option<BoxedFuture>>,
    queue: Sender<Runnable>,
    counts: Arc<Counts>,
}
// ANCHOR_END: task

// ANCHOR: waker
/// Waking a task sends it back to the run queue; that is all a waker is. `Wake` on an `Arc`
/// is std's safe way to build a `Waker` (no vtable by hand, no `unsafe`): `Waker::from(arc)`.
impl Wake for Task {
    fn wake(self: Arc<Self>) {
        self.counts.wakes.fetch_add(1, Relaxed);
        let queue = self.queue.clone();
        // An error means the executor is gone: nothing is left to poll the task, so no one cares.
        let _ = queue.send(Runnable::Task(self));
    }
}

/// The waker of the future given to `block_on`.
struct MainWaker {
    queue: Sender<Runnable>,
    counts: Arc<Counts>,
}

impl Wake for MainWaker {
    fn wake(self: Arc<Self>) {
        self.counts.wakes.fetch_add(1, Relaxed);
        let _ = self.queue.send(Runnable::Main);
    }
}
// ANCHOR_END: waker

/// How often futures were polled and woken, and how many tasks were spawned.
#[derive(Debug, Default)]
struct Counts {
    polls: AtomicU64,
    wakes: AtomicU64,
    spawned: AtomicU64,
}

/// A snapshot of an executor's counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub polls: u64,
    pub wakes: u64,
    pub spawned: u64,
}

/// `block_on` found nothing to run for `after`, and its future was not finished: something
/// returned `Pending` without arranging for a wake, or waits for a wake that never comes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("stalled: nothing was woken for {after:?} ({} polls, {} wakes so far)", stats.polls, stats.wakes)]
pub struct Stalled {
    pub after: Duration,
    pub stats: Stats,
}

// ANCHOR: executor
/// The executor: the receiving end of the run queue, and the counts.
pub struct Executor {
    queue: Sender<Runnable>,
    runnable: Receiver<Runnable>,
    counts: Arc<Counts>,
    stall_after: Duration,
}

impl Executor {
    /// An executor that reports [`Stalled`] when nothing is woken for `stall_after`.
    pub fn new(stall_after: Duration) -> Self {
        let (queue, runnable) = channel();
        let counts = Arc::default();
        Executor {
            queue,
            runnable,
            counts,
            stall_after,
        }
    }

    /// Polls `future` and every task that is woken, on this thread, until `future` is ready.
    pub fn block_on<T>(&self, future: impl Future<Output = T>) -> Result<T, Stalled> {
        // `poll` takes `Pin<&mut Self>`: the future promises not to move from here on. It stays
        // in this stack frame until it is done, so pinning it here (no heap) is enough.
        let mut main = pin!(future);
        let waker = Waker::from(Arc::new(MainWaker {
            queue: self.queue.clone(),
            counts: Arc::clone(&self.counts),
        }));
        let mut cx = Context::from_waker(&waker);
        let _ = self.queue.send(Runnable::Main); // cannot fail: `self` holds the receiver
        loop {
            match self.runnable.recv_timeout(self.stall_after) {
                Ok(Runnable::Main) => {
                    self.counts.polls.fetch_add(1, Relaxed);
                    if let Poll::Ready(output) = main.as_mut().poll(&mut cx) {
                        return Ok(output);
                    }
                }
                Ok(Runnable::Task(task)) => task.poll(),
                // Disconnected cannot happen (`self` holds a sender); either way, nothing runs.
                Err(_) => {
                    return Err(Stalled {
                        after: self.stall_after,
                        stats: self.stats(),
                    });
                }
            }
        }
    }

    /// A handle that spawns tasks onto this executor (from `block_on`'s future or a task).
    pub fn spawner(&self) -> Spawner {
        Spawner {
            queue: self.queue.clone(),
            counts: Arc::clone(&self.counts),
        }
    }

    pub fn stats(&self) -> Stats {
        Stats {
            polls: self.counts.polls.load(Relaxed),
            wakes: self.counts.wakes.load(Relaxed),
            spawned: self.counts.spawned.load(Relaxed),
        }
    }
}

impl Task {
    /// Polls the task once, with a waker that sends it back to the queue.
    fn poll(self: Arc<Self>) {
        let waker = Waker::from(Arc::clone(&self));
        let mut cx = Context::from_waker(&waker);
        let mut slot = self.future.lock().unwrap_or_else(PoisonError::into_inner);
        // `None`: it was woken again after it finished (a wake may arrive late); nothing to do.
        if let Some(future) = slot.as_mut() {
            self.counts.polls.fetch_add(1, Relaxed);
            if future.as_mut().poll(&mut cx).is_ready() {
                *slot = None; // drop the finished future now, and what it still owns
            }
        }
    }
}
// ANCHOR_END: executor

// ANCHOR: spawn
/// Spawns tasks: a clone of the run queue's sending end.
#[derive(Clone)]
pub struct Spawner {
    queue: Sender<Runnable>,
    counts: Arc<Counts>,
}

impl Spawner {
    /// Boxes and pins `future` as a task, queues its first poll, and returns a handle to its
    /// output. A panic in the task is caught and handed to whoever joins it.
    pub fn spawn<T: Send + 'static>(
        &self,
        future: impl Future<Output = T> + Send + 'static,
    ) -> JoinHandle<T> {
        let (done, output) = async_channel::bounded(1);
        let future = Box::pin(async move {
            let result = AssertUnwindSafe(future).catch_unwind().await;
            let _ = done.send(result).await; // the handle was dropped: nobody wants the output
        });
        let task = Arc::new(Task {
            future: Mutex::new(Some(future)),
            queue: self.queue.clone(),
            counts: Arc::clone(&self.counts),
        });
        self.counts.spawned.fetch_add(1, Relaxed);
        let _ = self.queue.send(Runnable::Task(task));
        JoinHandle { output }
    }
}

/// The output of a spawned task, when it comes.
pub struct JoinHandle<T> {
    output: async_channel::Receiver<std::thread::Result<T>>,
}

impl<T> JoinHandle<T> {
    /// Waits for the task: its output, or its panic (as `std::thread::JoinHandle::join` does).
    pub async fn join(self) -> std::thread::Result<T> {
        match self.output.recv().await {
            Ok(result) => result,
            Err(_) => Err(Box::new("the task was dropped before it finished")),
        }
    }
}
// ANCHOR_END: spawn

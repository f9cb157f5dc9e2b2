//! The runtime differences the chapter's table states, each observed by a function that runs
//! it, so that the book cannot be wrong about them: `tests/chapter06.rs` asserts one row per
//! function. Every wait here is bounded, so a runtime that behaved otherwise fails a test
//! instead of hanging it.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use pipeline::panic_message;

/// How long a fact waits for a task to report before calling it lost.
const WAIT: Duration = Duration::from_secs(10);

/// What became of a spawned task whose handle was dropped before it finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterDrop {
    /// It ran to the end: dropping the handle *detached* it.
    RanToCompletion,
    /// Its future was dropped unfinished: dropping the handle *cancelled* it.
    Cancelled,
    /// It sent no word at all within the wait.
    NoWord,
}

/// What the code that awaits (joins) a task sees when the task panics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PanicSeen {
    /// An `Err` value that says "panicked", with the message (tokio's `JoinError`).
    JoinError(String),
    /// The panic payload as an `Err` from `join()` (std threads).
    ErrPayload(String),
    /// The await itself panics with the task's payload (smol, async-std): without a
    /// `catch_unwind`, the awaiter goes down too.
    ReRaised(String),
    /// The awaiter got a value: the panic was not reported at all.
    Nothing,
}

/// Sends `Dropped` when the future that owns it is dropped — finished or not.
struct Witness(mpsc::Sender<&'static str>);

impl Drop for Witness {
    fn drop(&mut self) {
        let _ = self.0.send("dropped");
    }
}

/// The first word from a task: "finished" if it ran to the end first, "dropped" if its future
/// was dropped unfinished.
fn first_word(words: &mpsc::Receiver<&'static str>) -> AfterDrop {
    match words.recv_timeout(WAIT) {
        Ok("finished") => AfterDrop::RanToCompletion,
        Ok(_) => AfterDrop::Cancelled,
        Err(_) => AfterDrop::NoWord,
    }
}

// ANCHOR: tokio_drop
/// tokio: drop a `JoinHandle` while the task waits, then let it go on.
pub fn tokio_dropped_handle() -> AfterDrop {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .expect("a tokio runtime");
    let (words, heard) = mpsc::channel();
    let (go, wait) = tokio::sync::oneshot::channel::<()>();
    let handle = runtime.spawn(async move {
        let witness = Witness(words.clone());
        let _ = wait.await;
        let _ = words.send("finished");
        drop(witness);
    });
    drop(handle);
    let _ = go.send(());
    first_word(&heard)
}
// ANCHOR_END: tokio_drop

/// async-std: drop a `JoinHandle` while the task waits, then let it go on.
pub fn async_std_dropped_handle() -> AfterDrop {
    let (words, heard) = mpsc::channel();
    let (go, wait) = async_std::channel::bounded::<()>(1);
    let handle = async_std::task::spawn(async move {
        let witness = Witness(words.clone());
        let _ = wait.recv().await;
        let _ = words.send("finished");
        drop(witness);
    });
    drop(handle);
    let _ = go.try_send(());
    first_word(&heard)
}

// ANCHOR: smol_drop
/// smol: drop a `Task` while it waits, then let it go on.
pub fn smol_dropped_task() -> AfterDrop {
    let executor = smol::Executor::new();
    let (words, heard) = mpsc::channel();
    let (go, wait) = smol::channel::bounded::<()>(1);
    let task = executor.spawn(async move {
        let witness = Witness(words.clone());
        let _ = wait.recv().await;
        let _ = words.send("finished");
        drop(witness);
    });
    // Run the executor until the task is parked on `wait`, then drop the task.
    while executor.try_tick() {}
    drop(task);
    let _ = go.try_send(());
    while executor.try_tick() {}
    first_word(&heard)
}
// ANCHOR_END: smol_drop

/// std: drop a thread's `JoinHandle` while it waits, then let it go on.
pub fn std_dropped_handle() -> AfterDrop {
    let (words, heard) = mpsc::channel();
    let (go, wait) = mpsc::channel::<()>();
    let handle = thread::spawn(move || {
        let witness = Witness(words.clone());
        let _ = wait.recv();
        let _ = words.send("finished");
        drop(witness);
    });
    drop(handle);
    let _ = go.send(());
    first_word(&heard)
}

/// What every task in these facts panics with (tests recognise the panic by it).
pub const MESSAGE: &str = "a task panicked on purpose";

// ANCHOR: tokio_panic
/// tokio: await a task that panics.
pub fn tokio_awaited_panic() -> PanicSeen {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .expect("a tokio runtime");
    let awaited = catch_unwind(AssertUnwindSafe(|| {
        runtime.block_on(async { tokio::spawn(async { panic!("{MESSAGE}") }).await })
    }));
    match awaited {
        Ok(Err(e)) if e.is_panic() => PanicSeen::JoinError(panic_message(&*e.into_panic())),
        Ok(_) => PanicSeen::Nothing,
        Err(payload) => PanicSeen::ReRaised(panic_message(&*payload)),
    }
}
// ANCHOR_END: tokio_panic

/// async-std: await a task that panics.
pub fn async_std_awaited_panic() -> PanicSeen {
    let awaited = catch_unwind(|| {
        async_std::task::block_on(async_std::task::spawn(async { panic!("{MESSAGE}") }))
    });
    match awaited {
        Ok(()) => PanicSeen::Nothing,
        Err(payload) => PanicSeen::ReRaised(panic_message(&*payload)),
    }
}

// ANCHOR: smol_panic
/// smol: await a task that panics.
pub fn smol_awaited_panic() -> PanicSeen {
    let executor = smol::Executor::new();
    let task = executor.spawn(async { panic!("{MESSAGE}") });
    let awaited = catch_unwind(AssertUnwindSafe(|| smol::block_on(executor.run(task))));
    match awaited {
        Ok(()) => PanicSeen::Nothing,
        Err(payload) => PanicSeen::ReRaised(panic_message(&*payload)),
    }
}
// ANCHOR_END: smol_panic

/// std: join a thread that panics.
pub fn std_joined_panic() -> PanicSeen {
    match thread::spawn(|| panic!("{MESSAGE}")).join() {
        Ok(()) => PanicSeen::Nothing,
        Err(payload) => PanicSeen::ErrPayload(panic_message(&*payload)),
    }
}

/// Whether the program carries on, none the wiser, after a task nobody awaits panics: a
/// detached task panics, then a second task runs and its result is awaited.
pub fn tokio_detached_panic_swallowed() -> bool {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let (done, finished) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _done = done; // dropped as the panic unwinds: that is our signal
            panic!("{MESSAGE}");
        });
        let _ = finished.await;
        tokio::spawn(async { 42 }).await.ok() == Some(42)
    })
}

/// The same for a std thread whose handle was dropped.
pub fn std_detached_panic_swallowed() -> bool {
    let (done, finished) = mpsc::channel::<()>();
    drop(thread::spawn(move || {
        let _done = done;
        panic!("{MESSAGE}");
    }));
    let _ = finished.recv_timeout(WAIT);
    thread::spawn(|| 42).join().ok() == Some(42)
}

/// The same for async-std.
pub fn async_std_detached_panic_swallowed() -> bool {
    async_std::task::block_on(async {
        let (done, finished) = async_std::channel::bounded::<()>(1);
        drop(async_std::task::spawn(async move {
            let _done = done;
            panic!("{MESSAGE}");
        }));
        let _ = finished.recv().await;
        async_std::task::spawn(async { 42 }).await == 42
    })
}

/// The same for smol (a `detach`ed task).
pub fn smol_detached_panic_swallowed() -> bool {
    let executor = smol::Executor::new();
    smol::block_on(executor.run(async {
        let (done, finished) = smol::channel::bounded::<()>(1);
        executor
            .spawn(async move {
                let _done = done;
                panic!("{MESSAGE}");
            })
            .detach();
        let _ = finished.recv().await;
        executor.spawn(async { 42 }).await == 42
    }))
}

// ANCHOR: rayon_spawn
/// rayon: a panic in a `rayon::spawn`ed closure has no handle to go to, so rayon's default
/// panic handler **aborts the process**. Run only in a child process (the test re-runs its own
/// binary for this); returns only if the process survived.
pub fn rayon_spawn_panic() {
    rayon::spawn(|| panic!("{MESSAGE}"));
    thread::sleep(WAIT);
}
// ANCHOR_END: rayon_spawn

//! Chapter 12's idle workload, **sync** variant: an OS thread per unit.

use std::hint::black_box;
use std::sync::atomic::Ordering;
use std::thread::{self, JoinHandle};

use pipeline::{PipelineError, Variant};

use super::unit::{Readiness, answer, nanos, request};
use super::{IdleSample, ProcSnapshot, STD_DEFAULT_STACK_BYTES};

/// The stack std gives a spawned thread: `RUST_MIN_STACK` if set and valid, else 2 MiB.
fn thread_stack_bytes() -> u64 {
    std::env::var("RUST_MIN_STACK")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(STD_DEFAULT_STACK_BYTES)
}

// ANCHOR: idle_thread
/// A thread per unit, default stack, blocked in `recv` on its own `sync_channel`.
pub fn idle(count: usize) -> Result<IdleSample, PipelineError> {
    let mut ready = Readiness::new(count);
    let mut replies = Vec::with_capacity(count);
    let mut handles: Vec<JoinHandle<bool>> = Vec::with_capacity(count);
    let mut unit_bytes = 0;
    let before = ProcSnapshot::now()?;
    ready.start_clock();
    let mut failed = None;
    for id in 0..count {
        let (reply_tx, reply_rx) = std::sync::mpsc::sync_channel::<()>(1);
        let started = ready.counter();
        let unit = move || {
            let state = black_box(request(id));
            started.fetch_add(1, Ordering::SeqCst);
            let _ = reply_rx.recv(); // blocks this thread until released
            answer(&black_box(state), id)
        };
        unit_bytes = std::mem::size_of_val(&unit);
        match thread::Builder::new().spawn(unit) {
            Ok(handle) => handles.push(handle),
            Err(source) => {
                failed = Some(PipelineError::Start {
                    what: "an idle thread",
                    source,
                });
                break;
            }
        }
        replies.push(reply_tx);
    }
    let spawn_ns = nanos(ready.t0.elapsed());
    let measured = match failed {
        Some(e) => Err(e),
        None => ready
            .wait_all_started()
            .and_then(|ready_after| Ok((ready_after, ProcSnapshot::now()?))),
    };
    drop(replies); // every `recv` returns: each thread finishes
    let released = handles
        .into_iter()
        .map(|h| h.join().unwrap_or(false))
        .filter(|&ok| ok)
        .count();
    let (ready_after, during) = measured?;
    Ok(IdleSample {
        variant: Variant::Sync,
        count,
        before,
        during,
        spawn_ns,
        ready_ns: nanos(ready_after),
        unit_bytes,
        thread_stack_bytes: Some(thread_stack_bytes()),
        released,
    })
}
// ANCHOR_END: idle_thread

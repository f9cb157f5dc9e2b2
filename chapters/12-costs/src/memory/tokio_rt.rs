//! Chapter 12's idle workload, **tokio** variant: a task per unit on a 2-worker runtime.

use std::hint::black_box;
use std::sync::atomic::Ordering;

use pipeline::{Config, PipelineError, Variant};

use super::unit::{Readiness, answer, nanos, request};
use super::{IdleSample, ProcSnapshot, WORKER_THREADS};

// ANCHOR: idle_task
/// A tokio task per unit on a 2-worker runtime, awaiting its own `oneshot`.
pub fn idle(count: usize) -> Result<IdleSample, PipelineError> {
    let cfg = Config {
        worker_threads: WORKER_THREADS,
        ..Config::default()
    };
    let runtime = runtimes::tokio_runtime(&cfg)?;
    // Warm up: the workers have run a task before the first snapshot.
    let _ = runtime.block_on(runtime.spawn(async {}));
    let mut ready = Readiness::new(count);
    let mut replies = Vec::with_capacity(count);
    let mut handles = Vec::with_capacity(count);
    let mut unit_bytes = 0;
    let before = ProcSnapshot::now()?;
    ready.start_clock();
    for id in 0..count {
        let (reply_tx, reply_rx) = tokio::sync::oneshot::channel::<()>();
        let started = ready.counter();
        let unit = async move {
            let state = black_box(request(id));
            started.fetch_add(1, Ordering::SeqCst);
            let _ = reply_rx.await; // this task is parked: no thread waits for it
            answer(&black_box(state), id)
        };
        unit_bytes = std::mem::size_of_val(&unit);
        handles.push(runtime.spawn(unit));
        replies.push(reply_tx);
    }
    let spawn_ns = nanos(ready.t0.elapsed());
    let measured = ready
        .wait_all_started()
        .and_then(|ready_after| Ok((ready_after, ProcSnapshot::now()?)));
    drop(replies);
    let released = runtime.block_on(async {
        let mut released = 0;
        for handle in handles {
            released += usize::from(handle.await.unwrap_or(false));
        }
        released
    });
    let (ready_after, during) = measured?;
    Ok(IdleSample {
        variant: Variant::Tokio,
        count,
        before,
        during,
        spawn_ns,
        ready_ns: nanos(ready_after),
        unit_bytes,
        thread_stack_bytes: None,
        released,
    })
}
// ANCHOR_END: idle_task

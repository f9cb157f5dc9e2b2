//! Chapter 12's idle workload, **async-std** variant: a task per unit on the global executor.

use std::hint::black_box;
use std::sync::atomic::Ordering;

use pipeline::{PipelineError, Variant};

use super::unit::{Readiness, answer, nanos, request};
use super::{IdleSample, ProcSnapshot};

/// An async-std task per unit on the global executor, awaiting its own `bounded(1)` channel.
pub fn idle(count: usize) -> Result<IdleSample, PipelineError> {
    use async_std::task;
    // Warm up: starts the global executor (its thread count comes from ASYNC_STD_THREAD_COUNT).
    task::block_on(task::spawn(async {}));
    let mut ready = Readiness::new(count);
    let mut replies = Vec::with_capacity(count);
    let mut handles = Vec::with_capacity(count);
    let mut unit_bytes = 0;
    let before = ProcSnapshot::now()?;
    ready.start_clock();
    for id in 0..count {
        let (reply_tx, reply_rx) = async_std::channel::bounded::<()>(1);
        let started = ready.counter();
        let unit = async move {
            let state = black_box(request(id));
            started.fetch_add(1, Ordering::SeqCst);
            let _ = reply_rx.recv().await;
            answer(&black_box(state), id)
        };
        unit_bytes = std::mem::size_of_val(&unit);
        handles.push(task::spawn(unit));
        replies.push(reply_tx);
    }
    let spawn_ns = nanos(ready.t0.elapsed());
    let measured = ready
        .wait_all_started()
        .and_then(|ready_after| Ok((ready_after, ProcSnapshot::now()?)));
    drop(replies);
    let released = task::block_on(async {
        let mut released = 0;
        for handle in handles {
            released += usize::from(handle.await);
        }
        released
    });
    let (ready_after, during) = measured?;
    Ok(IdleSample {
        variant: Variant::AsyncStd,
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

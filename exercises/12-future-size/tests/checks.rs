//! Exercise 12's checks. No runtime and no clock: the checks poll your upload by hand. The
//! calibration service answers only when the harness opens its gate, so after the first poll
//! the upload is waiting — and that is the moment the checks look at what it keeps. The
//! harness's probes count frames read and dropped; `std::mem::size_of_val` gives the future's
//! size, what the memory table's "state handed to spawn" column measures.

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use ch12_costs::upload::{Calibrations, FRAME_BYTES, Gate, Link, Summary, UploadProbe, summarize};
use testkit::{TEST_DEADLINE, run_with_deadline};

use super::upload;

const HINT: &str = "hint: `cargo run --release -- hint 12`";
/// What a waiting upload may weigh: its links to the services and a tally, not a frame.
const MAX_FUTURE_BYTES: usize = 1024;
/// How many uploads wait at once in the last check.
const UPLOADS: usize = 200;

/// The lines of upload `n`: 150 readings of one sensor, a few of them broken.
fn frame_lines(n: usize) -> Arc<[String]> {
    let sensor = format!("s-{:04}", n % 97 + 1);
    (0..150)
        .map(|i| match i % 37 {
            36 => format!("{sensor},not-a-time,1.0"),
            _ => format!(
                "{sensor},{},{}.{}",
                1_700_000_000 + 60 * i,
                (n * 7 + i) % 90,
                i % 10
            ),
        })
        .collect()
}

/// What upload `n` must return.
fn expected(n: usize) -> Summary {
    let probe = Arc::new(UploadProbe::default());
    let frame = Link::new(frame_lines(n), Arc::clone(&probe)).read_frame();
    let info = Calibrations::new(Gate::default(), probe).lookup_now(frame.sensor());
    summarize(&frame, &info)
}

/// One upload, polled by hand: once (it must be waiting for its calibration), then again after
/// the gate opens (it must be done).
struct Polled {
    probe: Arc<UploadProbe>,
    first: Poll<Summary>,
    after_the_gate: Option<Summary>,
}

fn poll_by_hand(n: usize) -> Polled {
    run_with_deadline("exercise 12: one upload", TEST_DEADLINE, move || {
        let probe = Arc::new(UploadProbe::default());
        let gate = Gate::default();
        let calibrations = Calibrations::new(gate.clone(), Arc::clone(&probe));
        let mut task = Box::pin(upload(
            Link::new(frame_lines(n), Arc::clone(&probe)),
            calibrations,
        ));
        let mut cx = Context::from_waker(Waker::noop());
        let first = task.as_mut().poll(&mut cx);
        gate.open();
        let after_the_gate = match first {
            Poll::Ready(_) => None,
            Poll::Pending => match task.as_mut().poll(&mut cx) {
                Poll::Ready(summary) => Some(summary),
                Poll::Pending => panic!(
                    "the upload is still pending after its calibration came: await only the \
                     fetch. {HINT}"
                ),
            },
        };
        drop(task);
        Polled {
            probe,
            first,
            after_the_gate,
        }
    })
    .expect_finished("exercise 12's upload")
}

#[test]
fn waits_without_its_frame() {
    let polled = poll_by_hand(3);
    let probe = &polled.probe;
    assert!(
        polled.first.is_pending() && probe.waited() && probe.fetches() == 1,
        "the upload did not wait for its sensor's calibration (fetches: {}; first poll ready: \
         {}): the summary needs the calibration service's answer, fetched once and awaited. \
         {HINT}",
        probe.fetches(),
        polled.first.is_ready()
    );
    assert!(
        !probe.frame_alive_while_waiting(),
        "the upload waits for its calibration while its {FRAME_BYTES}-byte frame is still \
         alive: whatever a task keeps across an `.await` stays in memory for as long as it \
         waits, and ten thousand waiting uploads keep ten thousand frames. Reduce the frame to \
         what the summary needs before the `.await`, and let the frame go there. {HINT}"
    );
    assert_eq!(
        probe.frames_alive(),
        0,
        "the frame was never dropped (forgotten or leaked): its memory is never given back. \
         {HINT}"
    );
    assert_eq!(
        polled.after_the_gate,
        Some(expected(3)),
        "the upload's summary is not the frame's calibrated summary: tally the frame, then \
         calibrate the tally with the fetched answer. {HINT}"
    );
}

#[test]
fn keeps_a_small_future() {
    let probe = Arc::new(UploadProbe::default());
    let task = upload(
        Link::new(frame_lines(1), Arc::clone(&probe)),
        Calibrations::new(Gate::default(), probe),
    );
    let bytes = std::mem::size_of_val(&task);
    assert!(
        bytes <= MAX_FUTURE_BYTES,
        "the upload's future is {bytes} bytes (at most {MAX_FUTURE_BYTES} expected): a task's \
         future keeps a slot for every variable whose scope is still open at an `.await` — here \
         the {FRAME_BYTES}-byte frame, kept until the end of its scope, not its last use. Moving \
         it out (`drop(frame)`) does not give the slot back; a scope that ends before the \
         `.await` does. This is the \"state handed to spawn\" of chapter 12's memory table, \
         paid by every waiting upload. {HINT}"
    );
}

#[test]
fn many_uploads_wait_light_and_sum_right() {
    let probe = Arc::new(UploadProbe::default());
    let results = {
        let probe = Arc::clone(&probe);
        run_with_deadline("exercise 12: many uploads", TEST_DEADLINE, move || {
            let gate = Gate::default();
            let calibrations = Calibrations::new(gate.clone(), Arc::clone(&probe));
            let mut tasks: Vec<_> = (0..UPLOADS)
                .map(|n| {
                    Box::pin(upload(
                        Link::new(frame_lines(n), Arc::clone(&probe)),
                        calibrations.clone(),
                    ))
                })
                .collect();
            let mut cx = Context::from_waker(Waker::noop());
            let first: Vec<Poll<Summary>> = tasks
                .iter_mut()
                .map(|task| task.as_mut().poll(&mut cx))
                .collect();
            let early = first.iter().filter(|poll| poll.is_ready()).count();
            let alive_while_all_wait = probe.frames_alive();
            gate.open();
            let summaries: Vec<Option<Summary>> = tasks
                .iter_mut()
                .zip(first)
                .map(|(task, first)| match first {
                    Poll::Ready(summary) => Some(summary),
                    Poll::Pending => match task.as_mut().poll(&mut cx) {
                        Poll::Ready(summary) => Some(summary),
                        Poll::Pending => None,
                    },
                })
                .collect();
            (early, alive_while_all_wait, summaries)
        })
        .expect_finished("exercise 12's uploads")
    };
    let (early, alive_while_all_wait, summaries) = results;
    assert_eq!(
        early, 0,
        "{early} of {UPLOADS} uploads finished without waiting for their calibration. {HINT}"
    );
    assert_eq!(
        alive_while_all_wait, 0,
        "while {UPLOADS} uploads waited for their calibrations, {alive_while_all_wait} frames \
         of {FRAME_BYTES} bytes were alive: each waiting task kept its frame. {HINT}"
    );
    assert_eq!(
        probe.frames_alive(),
        0,
        "{} frames were never dropped after the uploads ended: forgotten or leaked. {HINT}",
        probe.frames_alive()
    );
    for (n, summary) in summaries.into_iter().enumerate() {
        assert_eq!(
            summary,
            Some(expected(n)),
            "upload {n}'s summary is not the frame's calibrated summary. {HINT}"
        );
    }
}

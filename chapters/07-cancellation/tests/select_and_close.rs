//! `select!` cancel safety and the missing async drop, each with its broken and fixed form.
//! The race is scripted (the tick always fires between a record's two halves), so no test here
//! depends on timing; each runs on a current-thread runtime under the test deadline.

use ch07_cancellation::UNFLUSHED_BYTES;
use ch07_cancellation::async_close::RecordWriter;
use ch07_cancellation::select_safety::{
    Received, Scripted, broken_select_read, encode, fixed_select_read,
};
use instruments::Counter;
use testkit::{TEST_DEADLINE, run_with_deadline};

/// Runs `future` to its end on a current-thread runtime, under the test deadline.
fn within_deadline<T: Send + 'static>(
    what: &str,
    future: impl FnOnce() -> std::pin::Pin<Box<dyn Future<Output = T>>> + Send + 'static,
) -> T {
    run_with_deadline(what, TEST_DEADLINE, move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a current-thread runtime");
        runtime.block_on(future())
    })
    .expect_finished(what)
}

/// The chapter's input, one record per line: 2,000 records.
fn records() -> Vec<Vec<u8>> {
    ch07_cancellation::chapter_input()
        .text()
        .lines()
        .map(|line| line.as_bytes().to_vec())
        .collect()
}

// ANCHOR: select_test
/// A tick between the halves of every 100th record. The broken loop reads the first 99, then
/// the tick wins mid-record: the header is dropped, the body is read as a header, and the
/// stream has lost its place. The fixed loop gets every record, and every tick.
#[test]
fn a_select_branch_that_is_not_cancel_safe_loses_half_read_records() {
    let sent = records();
    let (reader, ticks) = Scripted::new(&sent, 100);
    let broken = within_deadline("broken", move || {
        Box::pin(broken_select_read(reader, ticks))
    });
    assert_eq!(
        broken.records,
        sent[..99],
        "the records before the first tick"
    );
    assert_eq!(broken.ticks, 1);
    let error = broken.error.expect("the broken loop lost its place");
    assert!(error.contains("lost its place"), "{error}");

    let (reader, ticks) = Scripted::new(&sent, 100);
    let fixed = within_deadline("fixed", move || Box::pin(fixed_select_read(reader, ticks)));
    let expected = Received {
        ticks: (sent.len() / 100) as u64,
        records: sent,
        error: None,
    };
    assert_eq!(fixed.records.len(), expected.records.len());
    assert!(fixed == expected, "input = output, every tick handled");
}
// ANCHOR_END: select_test

/// Without ticks the two loops are the same: the broken one is only broken by the race.
#[test]
fn without_a_tick_both_loops_read_everything() {
    let sent = records();
    for tick_every in [0, sent.len() + 1] {
        let (reader, ticks) = Scripted::new(&sent, tick_every);
        let broken = within_deadline("broken", move || {
            Box::pin(broken_select_read(reader, ticks))
        });
        assert_eq!((broken.records.len(), broken.error), (sent.len(), None));
    }
}

// ANCHOR: close_test
/// `close` writes every byte; a writer dropped without it loses its buffer, and the `Drop`
/// safety net counts exactly what was lost (it cannot `.await` the flush).
#[test]
fn close_flushes_and_drop_only_counts_what_it_could_not() {
    let unflushed = Counter::new(UNFLUSHED_BYTES);
    let lost = unflushed.clone();
    let closed = within_deadline("writers", move || {
        Box::pin(async move {
            let mut closed = RecordWriter::new(Vec::new(), lost.clone());
            let mut dropped = RecordWriter::new(tokio::io::sink(), lost);
            for record in [&b"first"[..], b"second"] {
                closed.write_record(record).await.expect("a Vec takes it");
                dropped
                    .write_record(record)
                    .await
                    .expect("the sink takes it");
            }
            drop(dropped);
            closed.close().await.expect("the flush succeeds")
        })
    });
    assert_eq!(closed, [encode(b"first"), encode(b"second")].concat());
    assert_eq!(unflushed.total(), closed.len() as u64);
}
// ANCHOR_END: close_test

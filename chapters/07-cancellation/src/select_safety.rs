//! `select!` and cancel safety: a branch that loses half-read data when the other one wins.
//!
//! `tokio::select!` polls its branches and, when one is ready, *drops the others*. Dropping a
//! future cancels it at the `.await` where it stands — whatever it had done so far is gone. A
//! future that has done something before that `.await` (read a header off a socket, popped an
//! item from a queue) is not *cancel-safe*: dropped between its two halves, it loses the first.
//!
//! The demo reads length-prefixed records (a 4-byte big-endian length, then the body) while a
//! tick fires now and then. The broken loop builds a fresh `read_record` future in every
//! iteration of `select!`, so a tick that wins while a record is half read throws its header
//! away, and the next read takes the body for a header: the stream has lost its place. The fixed
//! loop creates the read once, keeps it pinned across iterations, and `select!`s on `&mut` it:
//! a tick that wins only pauses it. (The other fix is a dedicated reader task that sends whole
//! records over a channel: `mpsc::Receiver::recv` is cancel-safe, so `select!` on it is too.)
//!
//! The race is not left to timing: the [`Scripted`] reader fires the tick exactly between the
//! two halves of every `tick_every`-th record, and `biased;` makes `select!` check the tick
//! first, as a loop that gives its stop signal priority does.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

/// No record here is longer; a longer length means the stream lost its place.
pub const MAX_RECORD: usize = 64 * 1024;

/// One record on the wire: its length, then its bytes.
pub fn encode(record: &[u8]) -> Vec<u8> {
    let len = u32::try_from(record.len()).expect("a record fits a u32 length");
    [&len.to_be_bytes()[..], record].concat()
}

// ANCHOR: read_record
/// Reads one record: `Ok(None)` at a clean end of the stream. NOT cancel-safe: two `.await`s,
/// and the header read by the first is only in this future's state until the second is done.
pub async fn read_record<R: AsyncRead + Unpin>(reader: &mut R) -> io::Result<Option<Vec<u8>>> {
    let mut header = [0u8; 4];
    match reader.read_exact(&mut header).await {
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        other => other?,
    };
    let len = u32::from_be_bytes(header) as usize;
    if len > MAX_RECORD {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a record of {len} bytes: the stream has lost its place"),
        ));
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body).await?; // a tick that wins here drops `header` with the future
    Ok(Some(body))
}
// ANCHOR_END: read_record

/// What a reading loop got: the records, how many ticks it handled, and the error it stopped on.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Received {
    pub records: Vec<Vec<u8>>,
    pub ticks: u64,
    pub error: Option<String>,
}

// ANCHOR: broken
/// BROKEN ON PURPOSE: a new `read_record` future in every iteration. When the tick wins, the
/// half-finished read is dropped, and the header it had consumed with it.
pub async fn broken_select_read(
    mut reader: Scripted,
    mut ticks: UnboundedReceiver<()>,
) -> Received {
    let mut received = Received::default();
    loop {
        tokio::select! {
            biased;
            Some(()) = ticks.recv() => received.ticks += 1,
            record = read_record(&mut reader) => match record {
                Ok(Some(record)) => received.records.push(record),
                Ok(None) => return received,
                Err(e) => {
                    received.error = Some(e.to_string());
                    return received;
                }
            },
        }
    }
}
// ANCHOR_END: broken

// ANCHOR: fixed
/// FIXED: one read in flight, created outside the loop and kept across iterations. It owns the
/// reader and hands it back with the record, so the next read can be started in its place.
/// When the tick wins, `select!` drops only the `&mut` borrow: the read keeps its header.
pub async fn fixed_select_read(reader: Scripted, mut ticks: UnboundedReceiver<()>) -> Received {
    async fn read_owned(mut reader: Scripted) -> (Scripted, io::Result<Option<Vec<u8>>>) {
        let record = read_record(&mut reader).await;
        (reader, record)
    }
    let mut received = Received::default();
    let mut read = Box::pin(read_owned(reader));
    loop {
        tokio::select! {
            biased;
            Some(()) = ticks.recv() => received.ticks += 1,
            (reader, record) = &mut read => match record {
                Ok(Some(record)) => {
                    received.records.push(record);
                    read.set(read_owned(reader));
                }
                Ok(None) => return received,
                Err(e) => {
                    received.error = Some(e.to_string());
                    return received;
                }
            },
        }
    }
}
// ANCHOR_END: fixed

/// A reader over framed records that hands out each record in two halves (header, body) and,
/// before the body of every `tick_every`-th record, sends a tick and returns `Pending` once:
/// the tick is then ready before the body is, every time.
pub struct Scripted {
    halves: VecDeque<(Vec<u8>, bool)>,
    ticks: UnboundedSender<()>,
}

impl Scripted {
    /// The reader and the tick receiver a loop `select!`s on.
    pub fn new(records: &[Vec<u8>], tick_every: usize) -> (Scripted, UnboundedReceiver<()>) {
        let (ticks, tick_rx) = unbounded_channel();
        let halves = records
            .iter()
            .enumerate()
            .flat_map(|(n, record)| {
                let mut frame = encode(record);
                let body = frame.split_off(4);
                let tick = tick_every > 0 && (n + 1) % tick_every == 0;
                [(frame, false), (body, tick)]
            })
            // An empty body has nothing to read (`read_exact` of 0 bytes never polls), so it is
            // not a half of its own, nor a place for a tick.
            .filter(|(half, _)| !half.is_empty())
            .collect();
        (Scripted { halves, ticks }, tick_rx)
    }
}

impl AsyncRead for Scripted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let Some((half, tick_first)) = self.halves.front_mut() else {
            return Poll::Ready(Ok(())); // end of stream
        };
        if *tick_first {
            *tick_first = false;
            let _ = self.ticks.send(());
            cx.waker().wake_by_ref(); // the body is there at the next poll
            return Poll::Pending;
        }
        let n = half.len().min(buf.remaining());
        buf.put_slice(&half[..n]);
        half.drain(..n);
        if half.is_empty() {
            self.halves.pop_front();
        }
        Poll::Ready(Ok(()))
    }
}

//! There is no async drop: `Drop::drop` cannot `.await`, so a value that must flush or say
//! goodbye over the network cannot do it when it goes out of scope. What to do instead: an
//! explicit `async fn close(self)` that does the work and reports its error, and a `Drop` that
//! is only the safety net — it cannot flush, but it can make the mistake visible.

use std::io;

use instruments::Counter;
use tokio::io::{AsyncWrite, AsyncWriteExt, BufWriter};

use crate::select_safety::encode;

// ANCHOR: close
/// Writes framed records through a buffer. `close` flushes it and shuts the writer down; a
/// writer dropped without `close` counts the bytes it lost on `unflushed` (and says so on
/// stderr), because a `Drop` cannot `.await` the flush.
pub struct RecordWriter<W: AsyncWrite + Unpin> {
    inner: Option<BufWriter<W>>,
    unflushed: Counter,
}

impl<W: AsyncWrite + Unpin> RecordWriter<W> {
    pub fn new(writer: W, unflushed: Counter) -> Self {
        RecordWriter {
            inner: Some(BufWriter::new(writer)),
            unflushed,
        }
    }

    pub async fn write_record(&mut self, record: &[u8]) -> io::Result<()> {
        let inner = self.inner.as_mut().expect("only `close` takes the writer");
        inner.write_all(&encode(record)).await
    }

    /// Flushes and shuts down: the one place the last bytes are written and their error seen.
    pub async fn close(mut self) -> io::Result<W> {
        let mut inner = self.inner.take().expect("only `close` takes the writer");
        inner.shutdown().await?; // flushes the buffer, then shuts the writer down
        Ok(inner.into_inner())
    }
}

impl<W: AsyncWrite + Unpin> Drop for RecordWriter<W> {
    /// The safety net: no `.await` here, so nothing can be flushed; count what is lost.
    fn drop(&mut self) {
        let lost = self.inner.as_ref().map_or(0, |inner| inner.buffer().len());
        if lost > 0 {
            self.unflushed.add(lost as u64);
            eprintln!("RecordWriter dropped without close(): {lost} buffered bytes lost");
        }
    }
}
// ANCHOR_END: close

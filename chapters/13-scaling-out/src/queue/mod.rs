//! The work queue, the result tables, and the one transaction a worker runs per batch.
//!
//! The input is cut into batches and put into `ch13.batches` (the lines themselves, so a worker
//! needs nothing but the database). A worker takes one batch at a time:
//!
//! ```text
//! BEGIN
//!   SELECT ... FROM ch13.batches WHERE state = 'pending' ... FOR UPDATE SKIP LOCKED  -- claim
//!   parse, enrich, aggregate the batch's lines (in this process)
//!   INSERT its partial windows and its rejections
//!   UPDATE ch13.batches SET state = 'done' ...
//! COMMIT
//! ```
//!
//! The claim is a row lock, not a write: it lasts exactly as long as the transaction. A worker
//! that commits has done the batch once, with all its results; a worker that dies before its
//! commit — crash, SIGKILL, lost connection — has its transaction rolled back by the server,
//! which also releases the lock, and the batch is `pending` and claimable again, with no trace
//! of the attempt. `SKIP LOCKED` makes the other workers pass over a locked batch instead of
//! queueing behind it.
//!
//! A window's records can come from several batches (readings arrive up to three minutes
//! late), so no worker ever holds a whole window. Each batch writes its own **partial** rows,
//! keyed by (sensor, window, batch), each holding its records'
//! [`Aggregator`](pipeline::Aggregator) state; the final result is their merge ([`merge`]),
//! which is exact and independent of order — the same merge that lets the four variants of
//! every chapter agree to the byte.
//!
//! Every value goes in as a query parameter; the SQL text is constant ([`sql`]). The batch's
//! work is pure ([`partial`]); the transaction around it is written once for `postgres`
//! ([`blocking`]) and once for `tokio-postgres` ([`nonblocking`]); filling the queue and
//! reading it back is [`tables`]. The connection-string and error helpers and the rows are the
//! shared `pgstore` crate's.

pub mod blocking;
pub mod nonblocking;
pub mod partial;
pub mod sql;
pub mod tables;

pub use crate::claim::Claimed;
pub use partial::{Results, batches, merge, process};
pub use pgstore::{RejectionRow, WindowRow, config, db_error, describe, tcp_address};
pub use sql::{
    CLAIM, COUNT_ROWS_OF, ENQUEUE, IDLE_TIMEOUT, INSERT_REJECTION, INSERT_WINDOW, LOAD_BATCH,
    LOAD_REJECTIONS, LOAD_TOTALS, LOAD_WINDOWS, LOAD_WORKERS, LOCK_NOWAIT, MARK_DONE, PENDING,
    RESET, SCHEMA,
};
pub use tables::{BatchRow, Done};

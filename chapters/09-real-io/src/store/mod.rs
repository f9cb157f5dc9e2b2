//! The sink to PostgreSQL, and the run's state that a restart picks up again.
//!
//! The run commits batch by batch, in line order. One batch is **one transaction** that
//!
//! 1. upserts every window the batch touched — `INSERT ... ON CONFLICT (sensor_id,
//!    window_start) DO UPDATE` with the window's *whole* state so far, never a delta, so writing
//!    the same window twice leaves the same row;
//! 2. inserts the batch's rejected lines (`ON CONFLICT (line) DO NOTHING`);
//! 3. moves the source checkpoint — the next line to read — from where this run found it to
//!    the line after the batch.
//!
//! Either all three happen or none does. A run that crashes anywhere leaves the tables exactly
//! as the last commit left them, and the checkpoint says where that was; a restart reads the
//! state back ([`State::restore`]) and goes on from the checkpoint. Nothing is lost (every line
//! after the checkpoint is read again) and nothing is counted twice (nothing before it is).
//!
//! Every value goes in as a query parameter (`$1`, `$2`, …), never spliced into SQL text.
//!
//! The SQL ([`sql`]) and the state ([`state`]) are shared by the four variants; so is the code
//! that runs it, once for the sync `postgres` client ([`blocking`]) and once for
//! `tokio-postgres` ([`nonblocking`], the three async variants). Where a run writes, and the
//! test hook before each commit, is a [`PgTarget`] ([`target`]). What differs per variant is
//! how the connection is made and who drives it (`src/variants/*.rs`, `connect`). The
//! connection-string and error helpers, and the rows, are the shared `pgstore` crate's.

pub mod blocking;
pub mod nonblocking;
pub mod sql;
pub mod state;
pub mod target;

pub use pgstore::{RejectionRow, WindowRow, db_error, describe, tcp_address};
pub use sql::{
    BACKEND_PID, INSERT_REJECTION, LOAD_CHECKPOINT, LOAD_REJECTIONS, LOAD_WINDOWS, MOVE_CHECKPOINT,
    SCHEMA, UPSERT_WINDOW,
};
pub use state::{Batch, State, input_digest};
pub use target::{BatchPoint, BeforeCommit, PgRoute, PgTarget};

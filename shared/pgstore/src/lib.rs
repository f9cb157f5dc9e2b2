//! What the chapters that write to PostgreSQL share, once.
//!
//! Chapter 9 sinks the pipeline's windows into a table and checkpoints its source there;
//! chapter 13 makes a table the work queue of K worker processes. Their SQL and their
//! transactions differ, and stay in the chapters. What does not differ lives here:
//!
//! - [`connect`]: a connection string parsed without ever echoing it (it may hold a password),
//!   a database described for messages without its password, and the TCP address a
//!   `connect_raw` over a non-tokio runtime's own socket dials;
//! - [`error`]: one shape for a database error and for a refusal of the tables' state, so that
//!   every message starts with *where* (the database) and goes on with *what*;
//! - [`rows`]: a window and a rejection as the typed values of their query parameters.
//!
//! It depends on `tokio-postgres` only: the sync `postgres` client re-exports the same
//! `Config` and error types, so both chapters' blocking and non-blocking code use these.
#![forbid(unsafe_code)]

pub mod connect;
pub mod error;
pub mod rows;

pub use connect::{config, describe, describe_parts, tcp_address};
pub use error::{db_error, state_error};
pub use rows::{RejectionRow, WindowRow};

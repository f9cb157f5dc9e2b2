//! The registry as a real HTTP service: what the enrich stage talks to when the I/O is real
//! (chapter 9 onwards).
//!
//! `GET /sensors/{id}` answers for the same fleet as [`pipeline::FleetRegistry`] (or any
//! [`Registry`](pipeline::Registry) you give it):
//!
//! | answer | when |
//! |---|---|
//! | `200` `{"site": "...", "offset": 0.1}` | the sensor is known |
//! | `404` | unknown sensor |
//! | `503` | over capacity: more than [`RegistryOptions::capacity`] requests in progress |
//! | `500` | an injected error ([`ServiceFaults`]), or the registry behind it failed |
//! | no answer | an injected dropped connection: the socket is reset without a response |
//!
//! Every answer takes a latency drawn from a seeded [`Latency`] distribution, plus an injected
//! slow-down for some requests. Which request meets which fault is a pure function of the seed
//! and the request's `x-request-id` header ([`ServiceFaults::decide`]), so a client that names
//! its requests (say, by input line and attempt) meets the same faults in every run and in every
//! variant, whatever order the requests arrive in. Requests without the header are numbered in
//! arrival order instead.
//!
//! The service runs on its own tokio runtime in its own threads ([`RegistryService::start`]),
//! so sync tests, async tests on any runtime, demos and the tour can all use it. It stops when
//! the handle is dropped. [`serve`] runs it in the foreground (the workshop's `registry`
//! command).
//!
//! One idea per module: [`plan`] is what each request meets (latency and faults, pure functions
//! of the seed and the request's key), [`service`] is the axum service and its handle, and
//! `listener` is the TCP listener whose connections a handler can cut (for dropped-connection
//! faults).
#![forbid(unsafe_code)]

mod listener;
pub mod plan;
pub mod service;

pub use plan::{Fault, Latency, REQUEST_ID, ServiceFaults, Wait, request_key};
pub use service::{RegistryOptions, RegistryService, ServiceStats, serve, serve_until_closed};

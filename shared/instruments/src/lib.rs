//! What the chapters measure and inject *while they run*: not test helpers, but part of the
//! programs themselves.
//!
//! A pitfall chapter's demo (`cargo run --release -- demo <name>`), its tour row and its bench
//! all run the broken pipeline beside the fixed one, and what they print comes from here: the
//! gauges say how many tasks were in flight, the probes say who waits for which lock, the fault
//! plan decides which look-ups fail, and the watchdog turns a deadlock into a verdict instead of
//! a hung session. So the chapters depend on this crate as a normal dependency, and it stays
//! small: no HTTP stack, no database client (the registry service and the throwaway PostgreSQL
//! have crates of their own, `registry-service` and `testkit`).
//!
//! - [`deadline`]: run a closure on its own thread and get back `Finished`, `Hung` or
//!   `Panicked` within a deadline, so no test and no broken demo can hang a session or CI;
//! - [`demo`]: a pitfall's broken and fixed pipelines run under a stall watchdog, with a verdict;
//! - [`faults`]: a seeded fault plan (failing look-ups, a panicking one, a failing sink write);
//! - [`gauge`]: in-flight gauges with a high-water mark, and event counters;
//! - [`probe`]: lock probes, so a watcher can say how many wait for each lock;
//! - [`timeline`]: a recorder of who ran, waited and held what, when, for the book's diagrams.
#![forbid(unsafe_code)]

pub mod deadline;
pub mod demo;
pub mod faults;
pub mod gauge;
pub mod probe;
pub mod timeline;

pub use deadline::{Outcome, TEST_DEADLINE, run_with_deadline, run_with_watchdog};
pub use demo::{Demo, DemoCase, DemoFn, Pitfall, Signals, Verdict, Watch, run_demo};
pub use faults::{FaultPlan, INJECTED_PANIC, SinkLedger};
pub use gauge::{Counter, Gauge, InFlight};
pub use probe::LockProbe;

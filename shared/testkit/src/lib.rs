//! What every concurrent test and demo in the workspace uses:
//!
//! - [`deadline`]: run a closure on its own thread and get back `Finished`, `Hung` or
//!   `Panicked` within a deadline, so no test and no broken demo can hang a session or CI;
//! - [`demo`]: a pitfall's broken and fixed pipelines run under a stall watchdog, with a verdict;
//! - [`faults`]: a seeded fault plan (failing look-ups, a panicking one, a failing sink write);
//! - [`gauge`]: in-flight gauges with a high-water mark, and event counters;
//! - [`probe`]: lock probes, so a watcher can say how many wait for each lock;
//! - [`registry_service`]: the registry as a real HTTP service, with seeded latency, a capacity
//!   and injected faults, on its own runtime (chapter 9 onwards);
//! - [`postgres`]: a database of its own for each test: `DATABASE_URL`, or a throwaway cluster
//!   from the local PostgreSQL binaries, or a visible skip;
//! - [`compare`]: check that every variant's report equals the reference, with a failure message
//!   that names the variant and shows the first lines that differ.
#![forbid(unsafe_code)]

pub mod compare;
pub mod deadline;
pub mod demo;
pub mod faults;
pub mod gauge;
pub mod postgres;
pub mod probe;
pub mod registry_service;

pub use compare::{REFERENCE, assert_variants_agree, compare_reports};
pub use deadline::{Outcome, TEST_DEADLINE, run_with_deadline, run_with_watchdog};
pub use demo::{Demo, DemoCase, DemoFn, Pitfall, Signals, Verdict, Watch, run_demo};
pub use faults::{FaultPlan, INJECTED_PANIC, SinkLedger};
pub use gauge::{Counter, Gauge, InFlight};
pub use postgres::{TestDatabase, test_database};
pub use probe::LockProbe;
pub use registry_service::{
    Fault, Latency, RegistryOptions, RegistryService, ServiceFaults, ServiceStats,
};

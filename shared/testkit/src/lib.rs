//! What only tests need (and the workshop's own checks, which are tests run on demand):
//!
//! - [`compare`]: check that every variant's report equals the reference, with a failure message
//!   that names the variant and shows the first lines that differ;
//! - [`balance`]: whether a report's lines add up, and if not how many vanished or appeared;
//! - [`postgres`]: a database of its own for each test: `DATABASE_URL`, or a throwaway cluster
//!   from the local PostgreSQL binaries, or a visible skip;
//! - [`pg_discovery`]: where PostgreSQL is (`DATABASE_URL`, `PATH`, `pg_config`, Debian's and
//!   Homebrew's layouts), in one order shared by the harness, `workshop doctor` and CI;
//! - [`process`]: child processes and external commands with a deadline, killed past it;
//! - [`deadline_lint`]: the check that no test runs concurrent code or a child process outside
//!   a deadline (run by `tests/every_test_has_a_deadline.rs`).
//!
//! The deadline runner lives in `instruments` (the demos and the tour run under it too); it is
//! re-exported here because every concurrent test runs under it, so a test file can name one
//! crate for its harness. Everything else a chapter uses at run time (the demo runner, gauges,
//! probes, fault plans) is named from `instruments`, and the HTTP registry from
//! `registry-service`: a chapter depends on `testkit` only as a dev-dependency.
#![forbid(unsafe_code)]

pub mod balance;
pub mod compare;
pub mod deadline_lint;
pub mod pg_discovery;
pub mod postgres;
pub mod process;

pub use balance::LineBalance;
pub use compare::{
    REFERENCE, assert_outputs_agree, assert_variants_agree, compare_outputs, compare_reports,
};
pub use instruments::{Outcome, TEST_DEADLINE, run_with_deadline, run_with_watchdog};
pub use postgres::{TestDatabase, test_database};
pub use process::{KillOnDrop, output_within, wait_within};

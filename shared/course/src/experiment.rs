//! A measurement shown live, for a session: not a pitfall with a verdict, but a table of what
//! this machine does (throughput against Little's law, a heartbeat's lateness, the cost of many
//! connections). Each prints its own table and fails if a run's result was wrong.

use std::io::Write;

use crate::BoxError;

/// What an experiment gets from the binary that runs it.
pub struct ExperimentIo<'a> {
    /// Where the table goes.
    pub out: &'a mut dyn Write,
    /// A PostgreSQL connection string, for an experiment with [`Experiment::needs_database`]:
    /// the binary provides one (a throwaway cluster, or `DATABASE_URL`) so that the chapter
    /// needs no test harness of its own.
    pub database: Option<&'a str>,
}

pub struct Experiment {
    /// Its name on the command line (`workshop demo NAME`).
    pub name: &'static str,
    pub title: &'static str,
    /// Whether it needs a PostgreSQL database ([`ExperimentIo::database`]).
    pub needs_database: bool,
    pub run: fn(&mut ExperimentIo<'_>) -> Result<(), BoxError>,
}

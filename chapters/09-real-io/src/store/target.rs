//! Where a run writes, how the runtimes without tokio reach it, and (for tests) what happens
//! before each commit.

use std::fmt;
use std::sync::Arc;

use pgstore::describe;
use pipeline::PipelineError;

/// Called inside a batch's transaction, after its rows are written and before the checkpoint
/// moves and it commits. An `Err` ends the run there, as a crash would (the transaction is
/// rolled back). For tests: crash after k batches, terminate the connection, ...
pub type BeforeCommit = Arc<dyn Fn(&BatchPoint) -> Result<(), String> + Send + Sync>;

/// Where a run writes, and (for tests) what happens before each commit.
#[derive(Clone)]
pub struct PgTarget {
    /// `postgresql://user@host:port/db` or `host=... port=... dbname=...`.
    pub conninfo: String,
    pub before_commit: Option<BeforeCommit>,
}

impl PgTarget {
    pub fn new(conninfo: impl Into<String>) -> Self {
        PgTarget {
            conninfo: conninfo.into(),
            before_commit: None,
        }
    }

    pub fn before_commit(
        mut self,
        hook: impl Fn(&BatchPoint) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.before_commit = Some(Arc::new(hook));
        self
    }

    /// The parsed connection string. The error does not repeat the string: it may hold a
    /// password.
    pub fn config(&self) -> Result<tokio_postgres::Config, PipelineError> {
        pgstore::config(&self.conninfo)
    }

    /// `postgresql://user@host:port/db` (no password), for messages.
    pub fn place(&self) -> Result<String, PipelineError> {
        Ok(describe(&self.config()?))
    }
}

impl fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgTarget")
            .field(
                "place",
                &self.place().unwrap_or_else(|_| "(invalid)".into()),
            )
            .field("before_commit", &self.before_commit.is_some())
            .finish()
    }
}

/// How the two runtimes without tokio (async-std, smol) reach PostgreSQL.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PgRoute {
    /// `Config::connect_raw` over the runtime's own `TcpStream`, through a compat adapter:
    /// no tokio runtime anywhere.
    #[default]
    ConnectRaw,
    /// `tokio_postgres::connect` inside `async_compat::Compat`: one line, and a tokio runtime
    /// on a hidden thread.
    AsyncCompat,
}

/// A batch about to be committed, as the [`BeforeCommit`] hook sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchPoint {
    /// 1 for the first batch this run commits.
    pub batch: usize,
    pub first_line: u64,
    pub last_line: u64,
    /// The server process of the sink's connection (for `pg_terminate_backend`).
    pub backend_pid: i32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_place_names_the_server_and_database_but_not_the_password() {
        let target = PgTarget::new("postgresql://ana:secret@db.example:6543/sensors");
        assert_eq!(
            target.place().unwrap(),
            "postgresql://ana@db.example:6543/sensors"
        );
        assert!(!format!("{target:?}").contains("secret"));
        let err = PgTarget::new("postgresql://ana:secret@db.example:notaport/x")
            .place()
            .unwrap_err()
            .to_string();
        assert!(!err.contains("secret"), "{err}");
    }
}

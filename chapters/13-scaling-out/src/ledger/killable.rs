//! A connection the harness can kill at a chosen statement, or pause there.
//!
//! The learner's worker gets a [`Db`], never a client: every statement goes through it, as
//! constant SQL text (`&'static str`) with parameters. The harness counts the statements
//! (BEGIN and COMMIT included) and, at the one it chose, either **kills** the worker — that
//! statement and every later one fail with [`DbError::Killed`] and never reach the server, and
//! the harness then closes the connection, so the server rolls back whatever was open, as it
//! does for a process that died — or **pauses** it, running a second worker to the end before
//! the statement goes out. A crash point by count, not by timer: the same statement every run.

use std::fmt;

use postgres::types::ToSql;
use postgres::{Client, NoTls, Row, Transaction};

/// How long a harness connection waits for a row lock before its statement fails: a worker
/// that waits for a job another one holds gets an error, not a hang.
const LOCK_TIMEOUT_MS: &str = "3000";
const SET_LOCK_TIMEOUT: &str = "SELECT set_config('lock_timeout', $1, false)";

/// A statement's parameters.
pub type Params<'p> = &'p [&'p (dyn ToSql + Sync)];

/// Why a statement failed.
#[derive(Debug)]
pub enum DbError {
    /// The harness killed this worker: nothing after it reaches the server.
    Killed,
    Postgres(postgres::Error),
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbError::Killed => f.write_str("killed by the harness"),
            DbError::Postgres(e) => write!(f, "{}", pipeline::error_chain(e)),
        }
    }
}

impl std::error::Error for DbError {}

impl From<postgres::Error> for DbError {
    fn from(e: postgres::Error) -> DbError {
        DbError::Postgres(e)
    }
}

/// What the harness does at statement `at` (1-based, counted from the connection's first).
pub enum Plan {
    /// Nothing: run to the end.
    Run,
    /// Kill the worker before statement `at` goes out.
    KillAt(usize),
    /// Run `meanwhile` (a second worker) before statement `at` goes out, then go on.
    PauseAt(usize, Box<dyn FnOnce() + Send>),
}

/// The statement counter and the plan: apart from the client, so that a [`Tx`] can borrow both.
struct Gate {
    plan: Plan,
    sent: usize,
    killed_at: Option<(usize, &'static str)>,
    paused_at: Option<(usize, &'static str)>,
}

impl Gate {
    fn before(&mut self, sql: &'static str) -> Result<(), DbError> {
        if self.killed_at.is_some() {
            return Err(DbError::Killed);
        }
        self.sent += 1;
        match &mut self.plan {
            Plan::KillAt(at) if *at == self.sent => {
                self.killed_at = Some((self.sent, sql));
                return Err(DbError::Killed);
            }
            Plan::PauseAt(at, _) if *at == self.sent => {
                self.paused_at = Some((self.sent, sql));
                if let Plan::PauseAt(_, meanwhile) = std::mem::replace(&mut self.plan, Plan::Run) {
                    meanwhile();
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// A worker's connection: statements with parameters, one at a time, under the harness's plan.
pub struct Db {
    client: Client,
    gate: Gate,
}

impl Db {
    /// A connection to `conninfo` under `plan`.
    pub fn connect(conninfo: &str, plan: Plan) -> Result<Db, postgres::Error> {
        let mut client = Client::connect(conninfo, NoTls)?;
        client.execute(SET_LOCK_TIMEOUT, &[&LOCK_TIMEOUT_MS])?;
        Ok(Db {
            client,
            gate: Gate {
                plan,
                sent: 0,
                killed_at: None,
                paused_at: None,
            },
        })
    }

    pub fn query_opt(
        &mut self,
        sql: &'static str,
        params: Params<'_>,
    ) -> Result<Option<Row>, DbError> {
        self.gate.before(sql)?;
        Ok(self.client.query_opt(sql, params)?)
    }

    pub fn query(&mut self, sql: &'static str, params: Params<'_>) -> Result<Vec<Row>, DbError> {
        self.gate.before(sql)?;
        Ok(self.client.query(sql, params)?)
    }

    /// Runs a statement; the number of rows it changed.
    pub fn execute(&mut self, sql: &'static str, params: Params<'_>) -> Result<u64, DbError> {
        self.gate.before(sql)?;
        Ok(self.client.execute(sql, params)?)
    }

    /// BEGIN. Dropping the [`Tx`] without [`Tx::commit`] rolls it back.
    pub fn transaction(&mut self) -> Result<Tx<'_>, DbError> {
        self.gate.before("BEGIN")?;
        Ok(Tx {
            tx: self.client.transaction()?,
            gate: &mut self.gate,
        })
    }

    /// Statements sent (or attempted) so far.
    pub fn statements(&self) -> usize {
        self.gate.sent
    }

    /// Where the harness killed this worker: the statement's number and its SQL.
    pub fn killed_at(&self) -> Option<(usize, &'static str)> {
        self.gate.killed_at
    }

    /// Where the harness paused this worker to run another.
    pub fn paused_at(&self) -> Option<(usize, &'static str)> {
        self.gate.paused_at
    }
}

/// An open transaction on a [`Db`].
pub struct Tx<'a> {
    tx: Transaction<'a>,
    gate: &'a mut Gate,
}

impl Tx<'_> {
    pub fn query_opt(
        &mut self,
        sql: &'static str,
        params: Params<'_>,
    ) -> Result<Option<Row>, DbError> {
        self.gate.before(sql)?;
        Ok(self.tx.query_opt(sql, params)?)
    }

    pub fn query(&mut self, sql: &'static str, params: Params<'_>) -> Result<Vec<Row>, DbError> {
        self.gate.before(sql)?;
        Ok(self.tx.query(sql, params)?)
    }

    /// Runs a statement; the number of rows it changed.
    pub fn execute(&mut self, sql: &'static str, params: Params<'_>) -> Result<u64, DbError> {
        self.gate.before(sql)?;
        Ok(self.tx.execute(sql, params)?)
    }

    /// COMMIT: everything since BEGIN becomes visible to others, at once.
    pub fn commit(self) -> Result<(), DbError> {
        self.gate.before("COMMIT")?;
        Ok(self.tx.commit()?)
    }
}

/// The first words of a statement, for a message.
pub fn describe(sql: &str) -> String {
    let words: Vec<&str> = sql.split_whitespace().take(4).collect();
    words.join(" ")
}

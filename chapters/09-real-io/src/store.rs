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
//! The SQL and the state are shared by the four variants; so is the code that runs it, once
//! for the sync `postgres` client ([`blocking`]) and once for `tokio-postgres` ([`nonblocking`],
//! the three async variants). What differs per variant is how the connection is made and who
//! drives it (`src/variants/*.rs`, `connect`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::hash::Hasher;
use std::io;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use fnv::FnvHasher;
use pipeline::window::WINDOW_SECS;
use pipeline::{Aggregator, Enriched, Input, LineBatch, PipelineError, Rejection, Report, Sink};
use tokio_postgres::config::Host;

// ANCHOR: schema
/// The tables, created if they do not exist.
///
/// `state` keeps every value of the window so far (the window's `Aggregator`, as JSON text),
/// so that a restarted run can go on adding to it: a p95 and an exact mean need all values.
/// It is `text`, not `jsonb`: jsonb stores numbers as `numeric`, which loses `-0.0`, and the
/// state must read back bit for bit.
pub const SCHEMA: &str = "
CREATE SCHEMA IF NOT EXISTS pipeline;
CREATE TABLE IF NOT EXISTS pipeline.windows (
    sensor_id    text             NOT NULL,
    window_start bigint           NOT NULL,
    site         text             NOT NULL,
    count        bigint           NOT NULL CHECK (count > 0),
    min          double precision NOT NULL,
    max          double precision NOT NULL,
    mean         double precision NOT NULL,
    p95          double precision NOT NULL,
    state        text             NOT NULL,
    PRIMARY KEY (sensor_id, window_start)
);
CREATE TABLE IF NOT EXISTS pipeline.rejections (
    line      bigint PRIMARY KEY,
    reason    text   NOT NULL,
    rejection text   NOT NULL
);
CREATE TABLE IF NOT EXISTS pipeline.checkpoint (
    id           integer PRIMARY KEY CHECK (id = 1),
    source       text    NOT NULL,
    input_digest bigint  NOT NULL,
    next_line    bigint  NOT NULL
);
";
// ANCHOR_END: schema

// ANCHOR: upsert
/// The whole window, keyed by (sensor, window): a second write of the same window replaces
/// the first, so writing it again is harmless (idempotent). `count = count + EXCLUDED.count`
/// would not be: every replay would count the records again.
pub const UPSERT_WINDOW: &str = "
INSERT INTO pipeline.windows
    (sensor_id, window_start, site, count, min, max, mean, p95, state)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (sensor_id, window_start) DO UPDATE SET
    site = EXCLUDED.site, count = EXCLUDED.count, min = EXCLUDED.min, max = EXCLUDED.max,
    mean = EXCLUDED.mean, p95 = EXCLUDED.p95, state = EXCLUDED.state";

pub const INSERT_REJECTION: &str = "
INSERT INTO pipeline.rejections (line, reason, rejection) VALUES ($1, $2, $3)
ON CONFLICT (line) DO NOTHING";

/// Moves the checkpoint to `$4`, but only from `$3`, where this run found it: if another run
/// moved it meanwhile, no row changes and the commit is refused.
pub const MOVE_CHECKPOINT: &str = "
INSERT INTO pipeline.checkpoint AS c (id, source, input_digest, next_line)
VALUES (1, $1, $2, $4)
ON CONFLICT (id) DO UPDATE SET next_line = EXCLUDED.next_line
WHERE c.source = EXCLUDED.source AND c.input_digest = EXCLUDED.input_digest
  AND c.next_line = $3";
// ANCHOR_END: upsert

pub const LOAD_CHECKPOINT: &str =
    "SELECT source, input_digest, next_line FROM pipeline.checkpoint WHERE id = 1";
pub const LOAD_WINDOWS: &str =
    "SELECT sensor_id, window_start, state FROM pipeline.windows ORDER BY sensor_id, window_start";
pub const LOAD_REJECTIONS: &str = "SELECT rejection FROM pipeline.rejections ORDER BY line";
pub const BACKEND_PID: &str = "SELECT pg_backend_pid()";

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
        tokio_postgres::Config::from_str(&self.conninfo).map_err(|e| {
            PipelineError::Config(format!("the PostgreSQL connection string is invalid: {e}"))
        })
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

/// `postgresql://user@host:port/dbname`, without the password.
pub fn describe(config: &tokio_postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|host| match host {
            Host::Tcp(name) => name.clone(),
            Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config
        .get_user()
        .map(|u| format!("{u}@"))
        .unwrap_or_default();
    format!(
        "postgresql://{user}{host}:{port}/{}",
        config.get_dbname().unwrap_or("")
    )
}

/// The host and port a `connect_raw` opens its own socket to (TCP hosts only).
pub fn tcp_address(config: &tokio_postgres::Config) -> Result<(String, u16), PipelineError> {
    match config.get_hosts().first() {
        Some(Host::Tcp(host)) => Ok((
            host.clone(),
            config.get_ports().first().copied().unwrap_or(5432),
        )),
        None => Ok(("localhost".into(), 5432)),
        Some(Host::Unix(path)) => Err(PipelineError::Config(format!(
            "this variant connects to PostgreSQL over TCP; {} is a Unix socket directory",
            path.display()
        ))),
    }
}

/// A database error as a pipeline error: *where* (the database) is the output, *what* (which
/// step, which lines or window) and the server's own message come after it.
pub fn db_error(
    place: &str,
    what: impl fmt::Display,
    error: &dyn std::error::Error,
) -> PipelineError {
    PipelineError::WriteOutput {
        path: PathBuf::from(place),
        source: io::Error::other(format!("{what}: {}", pipeline::error_chain(error))),
    }
}

fn state_error(place: &str, what: impl fmt::Display) -> PipelineError {
    PipelineError::WriteOutput {
        path: PathBuf::from(place),
        source: io::Error::other(what.to_string()),
    }
}

/// FNV-1a of the input's text: a checkpoint only applies to the input it was written for.
pub fn input_digest(input: &Input) -> i64 {
    let mut h = FnvHasher::default();
    h.write(input.text().as_bytes());
    h.finish() as i64
}

/// The batches still to read: every line from `next_line` on.
pub fn batches_from(
    input: &Input,
    next_line: u64,
    batch_size: usize,
) -> impl Iterator<Item = LineBatch> + Send + '_ {
    input.batches(batch_size).filter_map(move |mut batch| {
        batch.retain(|line| line.number >= next_line);
        (!batch.is_empty()).then_some(batch)
    })
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

/// One window's row, typed for its query parameters.
#[derive(Debug, Clone)]
pub struct WindowRow {
    pub sensor_id: String,
    pub window_start: i64,
    pub site: String,
    pub count: i64,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    pub p95: f64,
    pub state: String,
}

#[derive(Debug, Clone)]
pub struct RejectionRow {
    pub line: i64,
    pub reason: String,
    pub rejection: String,
}

/// What one batch's transaction writes.
#[derive(Debug, Clone)]
pub struct Batch {
    pub number: usize,
    pub first_line: u64,
    pub last_line: u64,
    pub windows: Vec<WindowRow>,
    pub rejections: Vec<RejectionRow>,
    pub source: String,
    pub input_digest: i64,
    /// Where this run found the checkpoint, and where the batch moves it.
    pub from_line: i64,
    pub next_line: i64,
}

impl Batch {
    pub fn lines(&self) -> String {
        format!("lines {}..={}", self.first_line, self.last_line)
    }

    pub fn point(&self, backend_pid: i32) -> BatchPoint {
        BatchPoint {
            batch: self.number,
            first_line: self.first_line,
            last_line: self.last_line,
            backend_pid,
        }
    }
}

impl WindowRow {
    fn name(&self) -> String {
        format!("{} at {}", self.sensor_id, self.window_start)
    }
}

// ANCHOR: state
/// The run's state: one aggregator per window (so a batch can write just the windows it
/// touched), the rejections, and the next line to read.
pub struct State {
    source: String,
    input_digest: i64,
    next_line: u64,
    batches: usize,
    windows: BTreeMap<(String, i64), Aggregator>,
    rejections: Aggregator,
}

impl State {
    /// A run from the first line.
    pub fn new(input: &Input) -> Self {
        State {
            source: input.name().to_owned(),
            input_digest: input_digest(input),
            next_line: 1,
            batches: 0,
            windows: BTreeMap::new(),
            rejections: Aggregator::new(),
        }
    }

    /// The line to read next (1 for a new run).
    pub fn next_line(&self) -> u64 {
        self.next_line
    }

    /// Lines read and committed before this run started.
    pub fn lines_done(&self) -> usize {
        (self.next_line - 1) as usize
    }

    /// Folds one batch of records (lines `first..=last`) into the state and returns what its
    /// transaction must write: the whole state of every window the batch touched.
    pub fn apply(&mut self, first_line: u64, last_line: u64, records: Vec<Enriched>) -> Batch {
        let mut touched = BTreeSet::new();
        let mut rejections = Vec::new();
        for record in records {
            match record {
                Ok(r) => {
                    let key = (
                        r.sensor_id.clone(),
                        r.timestamp.div_euclid(WINDOW_SECS) * WINDOW_SECS,
                    );
                    self.windows.entry(key.clone()).or_default().add(Ok(r));
                    touched.insert(key);
                }
                Err(rejection) => {
                    rejections.push(RejectionRow {
                        line: rejection.line as i64,
                        reason: rejection.reason.kind().to_owned(),
                        rejection: serde_json::to_string(&rejection)
                            .expect("a rejection serializes"),
                    });
                    self.rejections.add(Err(rejection));
                }
            }
        }
        let windows = touched
            .into_iter()
            .map(|key| window_row(&self.windows[&key]))
            .collect();
        let from_line = self.next_line as i64;
        self.next_line = last_line + 1;
        self.batches += 1;
        Batch {
            number: self.batches,
            first_line,
            last_line,
            windows,
            rejections,
            source: self.source.clone(),
            input_digest: self.input_digest,
            from_line,
            next_line: self.next_line as i64,
        }
    }

    /// The report, after writing every window to `sink` (for PostgreSQL, the windows are
    /// already in the table: pass a `ReportOnlySink`).
    pub fn finish(self, sink: Box<dyn Sink>) -> Result<Report, PipelineError> {
        let mut all = self.rejections;
        for (_, window) in self.windows {
            all.merge(window);
        }
        pipeline::finish(self.next_line - 1, all, sink)
    }
}
// ANCHOR_END: state

impl State {
    /// The state as the tables hold it: the checkpoint row (source, digest, next line), every
    /// window's `(sensor_id, window_start, state)` and every rejection's JSON.
    pub fn restore(
        input: &Input,
        checkpoint: Option<(String, i64, i64)>,
        windows: Vec<(String, i64, String)>,
        rejections: Vec<String>,
    ) -> Result<State, String> {
        let mut state = State::new(input);
        let Some((source, digest, next_line)) = checkpoint else {
            if windows.is_empty() && rejections.is_empty() {
                return Ok(state);
            }
            return Err(
                "the tables in schema `pipeline` hold rows but no checkpoint: they were not \
                 written by this pipeline; use an empty database"
                    .into(),
            );
        };
        if digest != state.input_digest {
            return Err(format!(
                "the checkpoint is for another input ({source}, digest {:#018x}), not {} \
                 (digest {:#018x}); use another database, or DROP SCHEMA pipeline CASCADE to \
                 start over",
                digest as u64, state.source, state.input_digest as u64
            ));
        }
        state.next_line = u64::try_from(next_line)
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| format!("the checkpoint's next line ({next_line}) is not a line"))?;
        for (sensor_id, window_start, json) in windows {
            let window: Aggregator = serde_json::from_str(&json).map_err(|e| {
                format!("the state of window {sensor_id} at {window_start} does not read back: {e}")
            })?;
            state.windows.insert((sensor_id, window_start), window);
        }
        for json in rejections {
            let rejection: Rejection = serde_json::from_str(&json)
                .map_err(|e| format!("a rejected line does not read back: {e}: {json}"))?;
            state.rejections.add(Err(rejection));
        }
        Ok(state)
    }
}

fn window_row(window: &Aggregator) -> WindowRow {
    let state = serde_json::to_string(window).expect("an aggregator serializes");
    let (mut summaries, _) = window.clone().finish();
    let summary = summaries.pop().expect("a touched window has a record");
    WindowRow {
        sensor_id: summary.sensor_id,
        window_start: summary.window_start,
        site: summary.site,
        count: summary.count as i64,
        min: summary.min,
        max: summary.max,
        mean: summary.mean,
        p95: summary.p95,
        state,
    }
}

/// The sink with the sync `postgres` client (the sync variant).
pub mod blocking {
    use super::*;
    use postgres::{Client, IsolationLevel, Statement};

    /// A connected, prepared sink.
    pub struct Db {
        client: Client,
        place: String,
        backend_pid: i32,
        before_commit: Option<BeforeCommit>,
        upsert_window: Statement,
        insert_rejection: Statement,
        move_checkpoint: Statement,
    }

    /// Creates the tables if needed and prepares the statements.
    pub fn open(mut client: Client, target: &PgTarget) -> Result<Db, PipelineError> {
        let place = target.place()?;
        let e = |what: &'static str| {
            let place = place.clone();
            move |e: postgres::Error| db_error(&place, what, &e)
        };
        client
            .batch_execute(SCHEMA)
            .map_err(e("cannot create the tables"))?;
        let backend_pid = client
            .query_one(BACKEND_PID, &[])
            .map_err(e("cannot ask for the backend"))?
            .get(0);
        let upsert_window = client.prepare(UPSERT_WINDOW).map_err(e("cannot prepare"))?;
        let insert_rejection = client
            .prepare(INSERT_REJECTION)
            .map_err(e("cannot prepare"))?;
        let move_checkpoint = client
            .prepare(MOVE_CHECKPOINT)
            .map_err(e("cannot prepare"))?;
        Ok(Db {
            client,
            place,
            backend_pid,
            before_commit: target.before_commit.clone(),
            upsert_window,
            insert_rejection,
            move_checkpoint,
        })
    }

    /// The state the last commit left, read in one snapshot.
    pub fn resume(db: &mut Db, input: &Input) -> Result<State, PipelineError> {
        let place = db.place.clone();
        let e = |e: postgres::Error| db_error(&place, "cannot read the checkpoint", &e);
        let mut tx = db
            .client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(e)?;
        let checkpoint = tx
            .query_opt(LOAD_CHECKPOINT, &[])
            .map_err(e)?
            .map(|row| (row.get(0), row.get(1), row.get(2)));
        let windows = tx
            .query(LOAD_WINDOWS, &[])
            .map_err(e)?
            .iter()
            .map(|row| (row.get(0), row.get(1), row.get(2)))
            .collect();
        let rejections = tx
            .query(LOAD_REJECTIONS, &[])
            .map_err(e)?
            .iter()
            .map(|row| row.get(0))
            .collect();
        tx.commit().map_err(e)?;
        State::restore(input, checkpoint, windows, rejections)
            .map_err(|why| state_error(&place, format!("cannot resume: {why}")))
    }

    // ANCHOR: commit_blocking
    /// One batch, one transaction: its windows, its rejections, the checkpoint.
    pub fn commit(db: &mut Db, batch: &Batch) -> Result<(), PipelineError> {
        let (place, lines) = (&db.place, batch.lines());
        let mut tx = db
            .client
            .transaction()
            .map_err(|e| db_error(place, format!("cannot begin {lines}"), &e))?;
        for w in &batch.windows {
            tx.execute(
                &db.upsert_window,
                &[
                    &w.sensor_id,
                    &w.window_start,
                    &w.site,
                    &w.count,
                    &w.min,
                    &w.max,
                    &w.mean,
                    &w.p95,
                    &w.state,
                ],
            )
            .map_err(|e| {
                db_error(
                    place,
                    format!("cannot write window {} ({lines})", w.name()),
                    &e,
                )
            })?;
        }
        for r in &batch.rejections {
            tx.execute(&db.insert_rejection, &[&r.line, &r.reason, &r.rejection])
                .map_err(|e| {
                    db_error(place, format!("cannot write rejected line {}", r.line), &e)
                })?;
        }
        if let Some(hook) = &db.before_commit {
            hook(&batch.point(db.backend_pid))
                .map_err(|why| state_error(place, format!("{why} (before committing {lines})")))?;
        }
        let moved = tx
            .execute(
                &db.move_checkpoint,
                &[
                    &batch.source,
                    &batch.input_digest,
                    &batch.from_line,
                    &batch.next_line,
                ],
            )
            .map_err(|e| {
                db_error(
                    place,
                    format!("cannot move the checkpoint past {lines}"),
                    &e,
                )
            })?;
        if moved != 1 {
            return Err(state_error(
                place,
                format!(
                    "another run moved the checkpoint while this one read {lines}; nothing of them \
                 was committed"
                ),
            ));
        }
        tx.commit()
            .map_err(|e| db_error(place, format!("cannot commit {lines}"), &e))
    }
    // ANCHOR_END: commit_blocking
}

/// The sink with `tokio-postgres`, on whatever drives its connection (the three async
/// variants). The same statements, in the same order, as [`blocking`], with `.await`.
pub mod nonblocking {
    use super::*;
    use tokio_postgres::{Client, IsolationLevel, Statement};

    /// A connected, prepared sink.
    pub struct Db {
        client: Client,
        place: String,
        backend_pid: i32,
        before_commit: Option<BeforeCommit>,
        upsert_window: Statement,
        insert_rejection: Statement,
        move_checkpoint: Statement,
    }

    /// Creates the tables if needed and prepares the statements.
    pub async fn open(client: Client, target: &PgTarget) -> Result<Db, PipelineError> {
        let place = target.place()?;
        let e = |what: &'static str| {
            let place = place.clone();
            move |e: tokio_postgres::Error| db_error(&place, what, &e)
        };
        client
            .batch_execute(SCHEMA)
            .await
            .map_err(e("cannot create the tables"))?;
        let backend_pid = client
            .query_one(BACKEND_PID, &[])
            .await
            .map_err(e("cannot ask for the backend"))?
            .get(0);
        let upsert_window = client
            .prepare(UPSERT_WINDOW)
            .await
            .map_err(e("cannot prepare"))?;
        let insert_rejection = client
            .prepare(INSERT_REJECTION)
            .await
            .map_err(e("cannot prepare"))?;
        let move_checkpoint = client
            .prepare(MOVE_CHECKPOINT)
            .await
            .map_err(e("cannot prepare"))?;
        Ok(Db {
            client,
            place,
            backend_pid,
            before_commit: target.before_commit.clone(),
            upsert_window,
            insert_rejection,
            move_checkpoint,
        })
    }

    /// The state the last commit left, read in one snapshot.
    pub async fn resume(db: &mut Db, input: &Input) -> Result<State, PipelineError> {
        let place = db.place.clone();
        let e = |e: tokio_postgres::Error| db_error(&place, "cannot read the checkpoint", &e);
        let tx = db
            .client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(e)?;
        let checkpoint = tx
            .query_opt(LOAD_CHECKPOINT, &[])
            .await
            .map_err(e)?
            .map(|row| (row.get(0), row.get(1), row.get(2)));
        let windows = tx
            .query(LOAD_WINDOWS, &[])
            .await
            .map_err(e)?
            .iter()
            .map(|row| (row.get(0), row.get(1), row.get(2)))
            .collect();
        let rejections = tx
            .query(LOAD_REJECTIONS, &[])
            .await
            .map_err(e)?
            .iter()
            .map(|row| row.get(0))
            .collect();
        tx.commit().await.map_err(e)?;
        State::restore(input, checkpoint, windows, rejections)
            .map_err(|why| state_error(&place, format!("cannot resume: {why}")))
    }

    // ANCHOR: commit
    /// One batch, one transaction: its windows, its rejections, the checkpoint.
    pub async fn commit(db: &mut Db, batch: &Batch) -> Result<(), PipelineError> {
        let (place, lines) = (&db.place, batch.lines());
        let tx = db
            .client
            .transaction()
            .await
            .map_err(|e| db_error(place, format!("cannot begin {lines}"), &e))?;
        for w in &batch.windows {
            tx.execute(
                &db.upsert_window,
                &[
                    &w.sensor_id,
                    &w.window_start,
                    &w.site,
                    &w.count,
                    &w.min,
                    &w.max,
                    &w.mean,
                    &w.p95,
                    &w.state,
                ],
            )
            .await
            .map_err(|e| {
                db_error(
                    place,
                    format!("cannot write window {} ({lines})", w.name()),
                    &e,
                )
            })?;
        }
        for r in &batch.rejections {
            tx.execute(&db.insert_rejection, &[&r.line, &r.reason, &r.rejection])
                .await
                .map_err(|e| {
                    db_error(place, format!("cannot write rejected line {}", r.line), &e)
                })?;
        }
        if let Some(hook) = &db.before_commit {
            hook(&batch.point(db.backend_pid))
                .map_err(|why| state_error(place, format!("{why} (before committing {lines})")))?;
        }
        let moved = tx
            .execute(
                &db.move_checkpoint,
                &[
                    &batch.source,
                    &batch.input_digest,
                    &batch.from_line,
                    &batch.next_line,
                ],
            )
            .await
            .map_err(|e| {
                db_error(
                    place,
                    format!("cannot move the checkpoint past {lines}"),
                    &e,
                )
            })?;
        if moved != 1 {
            return Err(state_error(
                place,
                format!(
                    "another run moved the checkpoint while this one read {lines}; nothing of them \
                 was committed"
                ),
            ));
        }
        tx.commit()
            .await
            .map_err(|e| db_error(place, format!("cannot commit {lines}"), &e))
    }
    // ANCHOR_END: commit
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipeline::{DatasetSpec, FleetRegistry, ReportOnlySink, enrich_batch, parse_batch};

    fn input() -> Input {
        Input::generated(&DatasetSpec {
            lines: 1_000,
            ..DatasetSpec::default()
        })
    }

    /// The whole run in memory, stopping after `stop_after` batches, then restored from what
    /// the batches wrote (the last write of each window wins, as in the table).
    fn run_in_memory(input: &Input, stop_after: usize) -> Report {
        let fleet = FleetRegistry::default();
        let mut state = State::new(input);
        let mut windows = BTreeMap::new();
        let mut rejections = BTreeMap::new();
        let mut checkpoint = None;
        for batch in batches_from(input, 1, 100).take(stop_after) {
            let (first, last) = (batch[0].number, batch[batch.len() - 1].number);
            let written = state.apply(first, last, enrich_batch(&fleet, parse_batch(batch)));
            for w in written.windows {
                windows.insert((w.sensor_id.clone(), w.window_start), w.state);
            }
            for r in written.rejections {
                rejections.insert(r.line, r.rejection);
            }
            checkpoint = Some((written.source, written.input_digest, written.next_line));
        }
        let windows = windows.into_iter().map(|((s, w), j)| (s, w, j)).collect();
        let mut state = State::restore(
            input,
            checkpoint,
            windows,
            rejections.into_values().collect(),
        )
        .unwrap();
        for batch in batches_from(input, state.next_line(), 100) {
            let (first, last) = (batch[0].number, batch[batch.len() - 1].number);
            state.apply(first, last, enrich_batch(&fleet, parse_batch(batch)));
        }
        state.finish(Box::new(ReportOnlySink)).unwrap()
    }

    #[test]
    fn restoring_what_the_batches_wrote_gives_the_reference_report() {
        let input = input();
        let reference = pipeline::run_sequential(&input, &pipeline::Config::default()).unwrap();
        for stop_after in [0, 1, 4, 10] {
            assert_eq!(
                run_in_memory(&input, stop_after).text(),
                reference.text(),
                "stopped after {stop_after} batches"
            );
        }
    }

    #[test]
    fn a_checkpoint_for_other_input_is_refused() {
        let other = Input::from_text("other", "s-0001,60,1.0\n");
        let err = State::restore(
            &input(),
            Some(("other".into(), input_digest(&other), 2)),
            vec![],
            vec![],
        )
        .err()
        .unwrap();
        assert!(err.contains("another input (other"), "{err}");
        let err = State::restore(&input(), None, vec![("s".into(), 0, "{}".into())], vec![])
            .err()
            .unwrap();
        assert!(err.contains("no checkpoint"), "{err}");
    }

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

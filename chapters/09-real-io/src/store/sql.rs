//! The sink's SQL: the tables, the batch's three writes, and what a restart reads back. Every
//! value goes in as a query parameter (`$1`, `$2`, …), never spliced into SQL text.

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

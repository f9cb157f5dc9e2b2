//! The queue's SQL: the tables, the claim, the batch's writes, and what setting up and reading
//! back ask. Every value goes in as a query parameter; the SQL text is constant.

// ANCHOR: schema
/// The tables, in their own schema, created if they do not exist.
///
/// `attempts` counts *committed* attempts: a claim that was rolled back left no trace, so
/// every batch ends with exactly 1 (the book says what it takes to count failed ones too).
/// `state` in `windows` is the partial window's `Aggregator` as JSON text (not `jsonb`, which
/// would store numbers as `numeric` and lose `-0.0`): every value, so the merge is exact.
pub const SCHEMA: &str = "
CREATE SCHEMA IF NOT EXISTS ch13;
CREATE TABLE IF NOT EXISTS ch13.batches (
    id          bigint  PRIMARY KEY,
    first_line  bigint  NOT NULL,
    lines       text[]  NOT NULL CHECK (cardinality(lines) > 0),
    state       text    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done')),
    claimed_by  text,
    attempts    integer NOT NULL DEFAULT 0,
    CHECK ((state = 'done') = (claimed_by IS NOT NULL))
);
CREATE INDEX IF NOT EXISTS batches_pending ON ch13.batches (id) WHERE state = 'pending';
CREATE TABLE IF NOT EXISTS ch13.windows (
    sensor_id    text             NOT NULL,
    window_start bigint           NOT NULL,
    batch_id     bigint           NOT NULL REFERENCES ch13.batches (id),
    site         text             NOT NULL,
    count        bigint           NOT NULL CHECK (count > 0),
    min          double precision NOT NULL,
    max          double precision NOT NULL,
    state        text             NOT NULL,
    PRIMARY KEY (sensor_id, window_start, batch_id)
);
CREATE TABLE IF NOT EXISTS ch13.rejections (
    line      bigint PRIMARY KEY,
    batch_id  bigint NOT NULL REFERENCES ch13.batches (id),
    field     text   NOT NULL,
    reason    text   NOT NULL,
    rejection text   NOT NULL
);
";
// ANCHOR_END: schema

/// Empties the queue and the results (only this chapter's schema).
pub const RESET: &str = "TRUNCATE ch13.windows, ch13.rejections, ch13.batches";
pub const ENQUEUE: &str = "INSERT INTO ch13.batches (id, first_line, lines) VALUES ($1, $2, $3)";

// ANCHOR: claim
/// The claim: the first pending batch that no one else has locked, locked for this
/// transaction. A batch another worker holds is skipped, not waited for.
pub const CLAIM: &str = "
SELECT id, first_line, lines
FROM ch13.batches
WHERE state = 'pending'
ORDER BY id
LIMIT 1
FOR UPDATE SKIP LOCKED";
// ANCHOR_END: claim

// ANCHOR: write
/// No `ON CONFLICT`: a batch's rows are written once, by the transaction that marks it done.
/// A second write would be a bug, and the primary key turns it into an error.
pub const INSERT_WINDOW: &str = "
INSERT INTO ch13.windows (sensor_id, window_start, batch_id, site, count, min, max, state)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

pub const INSERT_REJECTION: &str = "
INSERT INTO ch13.rejections (line, batch_id, field, reason, rejection)
VALUES ($1, $2, $3, $4, $5)";

/// Only a pending batch can be marked done: if this changes no row, something else did the
/// batch, and the transaction must not commit.
pub const MARK_DONE: &str = "
UPDATE ch13.batches SET state = 'done', claimed_by = $2, attempts = attempts + 1
WHERE id = $1 AND state = 'pending'";
// ANCHOR_END: write

/// A session setting, as a parameter: how long this session may sit idle inside a transaction
/// (milliseconds) before the server ends it (see [`crate::worker::IDLE_IN_TRANSACTION`]).
pub const IDLE_TIMEOUT: &str =
    "SELECT set_config('idle_in_transaction_session_timeout', $1, false)";

/// How many batches are still to do, locked by someone or not.
pub const PENDING: &str = "SELECT count(*) FROM ch13.batches WHERE state = 'pending'";

pub const LOAD_TOTALS: &str = "
SELECT count(*) FILTER (WHERE state = 'pending'),
       count(*),
       coalesce(sum(cardinality(lines)), 0)::bigint
FROM ch13.batches";
pub const LOAD_WINDOWS: &str =
    "SELECT state FROM ch13.windows ORDER BY sensor_id, window_start, batch_id";
pub const LOAD_REJECTIONS: &str = "SELECT rejection FROM ch13.rejections ORDER BY line";
pub const LOAD_WORKERS: &str = "
SELECT claimed_by, count(*), sum(cardinality(lines))::bigint
FROM ch13.batches WHERE state = 'done'
GROUP BY claimed_by ORDER BY claimed_by";
pub const LOAD_BATCH: &str = "SELECT state, claimed_by, attempts FROM ch13.batches WHERE id = $1";
pub const LOCK_NOWAIT: &str = "SELECT id FROM ch13.batches WHERE id = $1 FOR UPDATE NOWAIT";
pub const COUNT_ROWS_OF: &str = "
SELECT (SELECT count(*) FROM ch13.windows WHERE batch_id = $1)
     + (SELECT count(*) FROM ch13.rejections WHERE batch_id = $1)";

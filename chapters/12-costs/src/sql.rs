//! The SQL of the two `*-postgres` standalone programs, shared by the sync (`postgres`) and
//! the async (`tokio-postgres`) store. Every value goes in as a parameter (`$1` …), never
//! spliced into the SQL text.

use std::io;
use std::path::PathBuf;

use pipeline::{PipelineError, WindowSummary, error_chain};

/// One row per window, created if missing.
pub const CREATE_TABLE: &str = "
CREATE TABLE IF NOT EXISTS report_windows (
    sensor_id    text             NOT NULL,
    window_start bigint           NOT NULL,
    site         text             NOT NULL,
    count        bigint           NOT NULL CHECK (count > 0),
    min          double precision NOT NULL,
    max          double precision NOT NULL,
    mean         double precision NOT NULL,
    p95          double precision NOT NULL,
    PRIMARY KEY (sensor_id, window_start)
)";

/// The whole window, keyed by (sensor, window): running the program twice on the same input
/// leaves the same rows (idempotent), never doubled counts.
pub const UPSERT_WINDOW: &str = "
INSERT INTO report_windows (sensor_id, window_start, site, count, min, max, mean, p95)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (sensor_id, window_start) DO UPDATE SET
    site = EXCLUDED.site, count = EXCLUDED.count, min = EXCLUDED.min, max = EXCLUDED.max,
    mean = EXCLUDED.mean, p95 = EXCLUDED.p95";

/// A window's count as PostgreSQL's `bigint`.
pub fn count(window: &WindowSummary) -> Result<i64, PipelineError> {
    i64::try_from(window.count).map_err(|_| PipelineError::WriteOutput {
        path: PathBuf::from("PostgreSQL"),
        source: io::Error::other(format!(
            "window {} {} counts {} records, more than a bigint holds",
            window.sensor_id, window.window_start, window.count
        )),
    })
}

/// A database error as a `PipelineError`, with what was being done and the driver's causes
/// (never the connection string: it may hold a password).
pub fn db_error(what: &str, error: &dyn std::error::Error) -> PipelineError {
    PipelineError::WriteOutput {
        path: PathBuf::from("PostgreSQL"),
        source: io::Error::other(format!("{what}: {}", error_chain(error))),
    }
}

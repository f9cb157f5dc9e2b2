//! Exercise 13's harness: a queue of jobs whose effect is not idempotent, and a connection
//! that can be killed at a chosen statement.
//!
//! Each job is a batch of lines; its effect is one row per sensor in a ledger (`ex13.ledger`:
//! how many readings the sensor sent in this job, and how many were rejected) — an append-only
//! feed, like a bill or a message sent: posting a job's rows twice is a double charge, posting
//! them never is a lost one, and nothing in the table stops either. What makes a worker safe
//! is where its transaction boundaries are, not what the table forgives.
//!
//! The learner's worker talks to the database only through a [`Db`] ([`killable`]): constant
//! SQL text (`&'static str`) and parameters, and a statement count at which the harness kills
//! the worker, or pauses it to let a second worker run.

pub mod killable;

use std::collections::BTreeMap;

use pipeline::{Input, parse_line};
use postgres::{Client, Row};

pub use killable::{Db, DbError, Plan, Tx, describe};

/// The tables, in their own schema, created if they do not exist.
pub const SCHEMA: &str = "
CREATE SCHEMA IF NOT EXISTS ex13;
CREATE TABLE IF NOT EXISTS ex13.jobs (
    id          bigint  PRIMARY KEY,
    first_line  bigint  NOT NULL,
    lines       text[]  NOT NULL,
    state       text    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done')),
    done_by     text
);
CREATE TABLE IF NOT EXISTS ex13.ledger (
    job_id     bigint NOT NULL REFERENCES ex13.jobs (id),
    sensor_id  text   NOT NULL,
    readings   bigint NOT NULL,
    rejected   bigint NOT NULL
);
";
/// Empties the jobs and the ledger.
pub const RESET: &str = "TRUNCATE ex13.ledger, ex13.jobs";
pub const ENQUEUE: &str = "INSERT INTO ex13.jobs (id, first_line, lines) VALUES ($1, $2, $3)";

// ANCHOR: sql
/// The claim: the first pending job no one else has locked, locked until the end of the
/// transaction it runs in (outside one, the lock ends with the statement).
pub const CLAIM: &str = "
SELECT id, first_line, lines FROM ex13.jobs
WHERE state = 'pending' ORDER BY id LIMIT 1
FOR UPDATE SKIP LOCKED";

/// One row of a job's effect. Append-only: nothing stops a second copy.
pub const POST: &str =
    "INSERT INTO ex13.ledger (job_id, sensor_id, readings, rejected) VALUES ($1, $2, $3, $4)";

/// Marks a pending job done; changes no row if it is done already.
pub const MARK_DONE: &str =
    "UPDATE ex13.jobs SET state = 'done', done_by = $2 WHERE id = $1 AND state = 'pending'";
// ANCHOR_END: sql

const LOAD_LEDGER: &str = "
SELECT job_id, sensor_id, readings, rejected FROM ex13.ledger
ORDER BY job_id, sensor_id, readings, rejected";
const LOAD_PENDING: &str = "SELECT id FROM ex13.jobs WHERE state <> 'done' ORDER BY id";

/// What one call of a worker's `work_one` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Worked {
    /// Did this job (its effect posted and the job marked done).
    Job(i64),
    /// Found no job to claim: none pending, or every pending one held by another worker.
    NothingToClaim,
}

/// A worker's one step: claim a job, post its effect, mark it done.
pub type WorkOne = fn(&mut Db, &str) -> Result<Worked, DbError>;

/// Runs `work_one` as worker `name` until it finds nothing to claim, is killed, or fails.
/// At most `limit` steps: a worker that keeps reporting work past that is an error too.
pub fn drain(db: &mut Db, name: &str, work_one: WorkOne, limit: usize) -> Result<(), String> {
    for _ in 0..limit {
        match work_one(db, name) {
            _ if db.killed_at().is_some() => return Ok(()),
            Ok(Worked::Job(_)) => {}
            Ok(Worked::NothingToClaim) => return Ok(()),
            Err(e) => return Err(format!("worker {name} failed: {e}")),
        }
    }
    Err(format!(
        "worker {name} still reported work after {limit} steps, more than there are jobs"
    ))
}

/// A job a worker has claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: i64,
    pub first_line: i64,
    pub lines: Vec<String>,
}

impl Job {
    /// The job in a row of [`CLAIM`].
    pub fn from_row(row: &Row) -> Job {
        Job {
            id: row.get(0),
            first_line: row.get(1),
            lines: row.get(2),
        }
    }

    /// The job's effect: per sensor, its readings and rejections in this job, by sensor id.
    /// A line too broken to name its sensor counts for the sensor `?`.
    pub fn entries(&self) -> Vec<Entry> {
        let mut by_sensor: BTreeMap<String, (i64, i64)> = BTreeMap::new();
        for (n, text) in self.lines.iter().enumerate() {
            let line = self.first_line as u64 + n as u64;
            let (sensor, ok) = match parse_line(line, text) {
                Ok(reading) => (reading.sensor_id, true),
                Err(_) => (
                    text.split(',')
                        .next()
                        .filter(|s| !s.is_empty())
                        .unwrap_or("?")
                        .to_owned(),
                    false,
                ),
            };
            let counts = by_sensor.entry(sensor).or_default();
            if ok {
                counts.0 += 1;
            } else {
                counts.1 += 1;
            }
        }
        by_sensor
            .into_iter()
            .map(|(sensor_id, (readings, rejected))| Entry {
                job_id: self.id,
                sensor_id,
                readings,
                rejected,
            })
            .collect()
    }
}

/// One row of the ledger.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Entry {
    pub job_id: i64,
    pub sensor_id: String,
    pub readings: i64,
    pub rejected: i64,
}

/// `input` cut into jobs of `lines_per_job` lines.
pub fn jobs(input: &Input, lines_per_job: usize) -> Vec<Job> {
    let lines: Vec<&str> = input.text().lines().collect();
    lines
        .chunks(lines_per_job)
        .enumerate()
        .map(|(n, chunk)| Job {
            id: n as i64 + 1,
            first_line: (n * lines_per_job) as i64 + 1,
            lines: chunk.iter().map(|l| (*l).to_owned()).collect(),
        })
        .collect()
}

/// What the ledger must hold once every job is done, each exactly once.
pub fn expected_ledger(jobs: &[Job]) -> Vec<Entry> {
    let mut entries: Vec<Entry> = jobs.iter().flat_map(Job::entries).collect();
    entries.sort();
    entries
}

/// Creates the tables if needed, empties them and queues `jobs`, in one transaction.
pub fn reset(client: &mut Client, jobs: &[Job]) -> Result<(), postgres::Error> {
    client.batch_execute(SCHEMA)?;
    let mut tx = client.transaction()?;
    tx.batch_execute(RESET)?;
    for job in jobs {
        tx.execute(ENQUEUE, &[&job.id, &job.first_line, &job.lines])?;
    }
    tx.commit()
}

/// The ledger's rows, sorted, and the jobs not done.
pub fn read_back(client: &mut Client) -> Result<(Vec<Entry>, Vec<i64>), postgres::Error> {
    let ledger = client
        .query(LOAD_LEDGER, &[])?
        .iter()
        .map(|row| Entry {
            job_id: row.get(0),
            sensor_id: row.get(1),
            readings: row.get(2),
            rejected: row.get(3),
        })
        .collect();
    let pending = client
        .query(LOAD_PENDING, &[])?
        .iter()
        .map(|row| row.get(0))
        .collect();
    Ok((ledger, pending))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_posts_one_entry_per_sensor_counting_its_rejections() {
        let job = Job {
            id: 3,
            first_line: 21,
            lines: [
                "s-0002,1700000000,1.5",
                "s-0001,1700000000,2.5",
                "s-0002,oops,1",
                "",
            ]
            .map(String::from)
            .into(),
        };
        let entry = |sensor: &str, readings, rejected| Entry {
            job_id: 3,
            sensor_id: sensor.into(),
            readings,
            rejected,
        };
        assert_eq!(
            job.entries(),
            [
                entry("?", 0, 1),
                entry("s-0001", 1, 0),
                entry("s-0002", 1, 1)
            ]
        );
    }
}

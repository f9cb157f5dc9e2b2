//! Exercise 09's checks. Each gets a new, empty database (testkit's throwaway PostgreSQL, or
//! `DATABASE_URL`), creates the table, and runs your stage on its runtime with about 190
//! readings and a connection string that points at the chapter crate's proxy. Then: the stage
//! says it wrote every reading, and the table holds exactly those rows; the stage's bytes went
//! through the proxy; and while they did, no tokio runtime existed in the process (the proxy
//! looks each time your stage sends something). One check at a time, under a deadline.

use std::time::Duration;

use ch09_real_io::exercise::{self, Proxy, SCHEMA, SELECT};
use pipeline::Reading;
use testkit::postgres::try_test_database;
use testkit::{Outcome, run_with_deadline};

use super::{store_async_std, store_smol};

const HINT: &str = "hint: `cargo run --release -- hint 09`";
const LINES: usize = 200;
/// A stage that runs does so in a second or two; this only turns a hang into a failure.
const DEADLINE: Duration = Duration::from_secs(20);

fn check(runtime: &str, test: &str, stage: fn(String, Vec<Reading>) -> Result<u64, String>) {
    let _alone = exercise::one_at_a_time();
    let db = try_test_database(test).unwrap_or_else(|why| {
        panic!(
            "exercise 09 needs PostgreSQL, and there is none to check against: {why:?}. \
             `cargo run --release -- doctor` says what is missing."
        )
    });
    db.client()
        .batch_execute(SCHEMA)
        .expect("the table is created");
    let readings = exercise::readings(LINES);
    let proxy = Proxy::start(db.conninfo()).expect("the proxy starts");
    let (conninfo, input) = (proxy.conninfo().to_owned(), readings.clone());
    let outcome = match run_with_deadline(test, DEADLINE, move || stage(conninfo, input)) {
        Outcome::Finished(outcome) => outcome,
        Outcome::Panicked(message) => panic!(
            "the {runtime} stage panicked: {message}. A `tokio-postgres` future that opens a \
             tokio socket (`connect`) or drives one needs a tokio runtime around it; give it a \
             socket of {runtime}'s own instead. {HINT}"
        ),
        Outcome::Hung { after } => panic!(
            "the {runtime} stage did not finish within {after:?}: is the `Connection` polled \
             (spawned on {runtime}) while the client waits for its answers? {HINT}"
        ),
    };
    let seen = proxy.seen();
    let written = outcome.unwrap_or_else(|e| {
        panic!(
            "the {runtime} stage failed: {e}. Whoever polls the `Connection` does its I/O: is it \
             spawned on the runtime, and kept (awaited) until the client is done? {HINT}"
        )
    });
    let rows: Vec<(i64, String, i64, f64)> = db
        .client()
        .query(SELECT, &[])
        .expect("the rows read back")
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3)))
        .collect();
    let expected: Vec<(i64, String, i64, f64)> = readings
        .iter()
        .map(|r| (r.line as i64, r.sensor_id.clone(), r.timestamp, r.value))
        .collect();
    assert!(
        written == expected.len() as u64 && rows == expected,
        "the {runtime} stage said it wrote {written} rows; the table holds {} of the {} \
         readings' rows{}: write them all, with `write_readings`. {HINT}",
        rows.len(),
        expected.len(),
        if rows.len() == expected.len() {
            ", but not the same ones"
        } else {
            ""
        }
    );
    assert!(
        seen.chunks > 0,
        "the {runtime} stage wrote its rows without a byte through the connection string it \
         was given: use the `conninfo` argument. {HINT}"
    );
    if let Some(tokio) = seen.tokio {
        panic!(
            "the {runtime} stage wrote every row, but while it talked to PostgreSQL {tokio}: a \
             tokio runtime, next to the {runtime} one. `Compat` starts one on a thread of its \
             own; the sync `postgres` client has one inside. Give `tokio-postgres` a socket of \
             {runtime}'s own (`Config::connect_raw`) and let {runtime} drive the `Connection`. \
             {HINT}"
        );
    }
}

#[test]
fn smol_talks_to_postgres_without_tokio() {
    check("smol", "ex09_smol", |conninfo, readings| {
        smol::block_on(store_smol(conninfo, readings))
    });
}

#[test]
fn async_std_talks_to_postgres_without_tokio() {
    check("async-std", "ex09_async_std", |conninfo, readings| {
        async_std::task::block_on(store_async_std(conninfo, readings))
    });
}

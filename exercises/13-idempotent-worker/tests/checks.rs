//! Exercise 13's checks, on a PostgreSQL database of their own (testkit's throwaway cluster,
//! or `DATABASE_URL`). A few small jobs; after each scenario the ledger must hold every job's
//! entries exactly once and every job must be done. The harness's `Db` counts your worker's
//! statements: it kills the worker before statement k (nothing from k on reaches the server,
//! and the connection is closed, as when a process dies), or pauses it there while a second
//! worker drains the queue — for every k of a clean run. No timer decides anything; a worker
//! that waits for a row lock another holds fails after a few seconds instead of hanging.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use ch13_scaling_out::ledger::{
    self, Db, Entry, Job, Plan, WorkOne, describe, drain, expected_ledger, read_back,
};
use pipeline::{DatasetSpec, Input};
use testkit::{TEST_DEADLINE, TestDatabase, run_with_deadline};

use super::work_one;

const HINT: &str = "hint: `cargo run --release -- hint 13`";
const WORK_ONE: WorkOne = work_one;

/// Three jobs of six lines each.
fn jobs() -> Vec<Job> {
    let input = Input::generated(&DatasetSpec {
        lines: 18,
        ..DatasetSpec::default()
    });
    ledger::jobs(&input, 6)
}

/// More steps than any worker needs for three jobs.
const STEPS: usize = 20;

fn database(test: &str) -> TestDatabase {
    testkit::postgres::try_test_database(test).unwrap_or_else(|why| {
        panic!(
            "exercise 13 needs PostgreSQL, and there is none to use: {why:?}. `cargo run \
             --release -- doctor` says what to install. {HINT}"
        )
    })
}

/// Why a worker that was killed could post a job twice.
const KILLED_TWICE: &str = "The killed worker's entries were already visible to others while \
     its job was still pending, so the next worker posted them again: a job's entries and its \
     mark must become visible together — one transaction with the claim, committed last.";
/// Why a worker that was paused could see its job done twice.
const PAUSED_TWICE: &str = "The second worker did a job the first one had claimed: nothing kept \
     it off the job while the first worked on it. A row lock taken by the claim lasts until the \
     end of the transaction it is taken in — outside one, it ends with its statement — so claim, \
     post and mark in one transaction, and let the mark's row count tell you if the job was \
     still yours.";

/// What is wrong with the ledger and the queue after `scenario`, if anything; `why_twice` is
/// what a duplicate means in that scenario.
fn judge(scenario: &str, why_twice: &str, db: &TestDatabase, jobs: &[Job]) -> Result<(), String> {
    let (ledger, pending) = read_back(&mut db.client()).expect("the ledger reads back");
    let mut posted: BTreeMap<&Entry, usize> = BTreeMap::new();
    for entry in &ledger {
        *posted.entry(entry).or_default() += 1;
    }
    let expected = expected_ledger(jobs);
    let twice: Vec<String> = posted
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(e, n)| format!("job {}'s entry for {} ({n} times)", e.job_id, e.sensor_id))
        .collect();
    let lost: Vec<String> = expected
        .iter()
        .filter(|e| !posted.contains_key(e))
        .map(|e| format!("job {}'s entry for {}", e.job_id, e.sensor_id))
        .collect();
    if !twice.is_empty() {
        let more = match twice.len() - 1 {
            0 => String::new(),
            n => format!(" and {n} more"),
        };
        return Err(format!(
            "{scenario}: posted more than once: {}{more}. {why_twice} {HINT}",
            twice[0]
        ));
    }
    if !lost.is_empty() || !pending.is_empty() {
        return Err(format!(
            "{scenario}: lost: {} entries never posted ({}), jobs not done: {pending:?}. A job \
             marked done must have its entries, and a job whose worker died must be pending \
             and claimable again: the mark commits with the entries, never before. {HINT}",
            lost.len(),
            lost.first().map_or("-", String::as_str)
        ));
    }
    if ledger != expected {
        return Err(format!(
            "{scenario}: the ledger holds entries no job has. {HINT}"
        ));
    }
    Ok(())
}

/// A clean run: one worker drains the queue. Returns how many statements it sent.
fn clean_run(db: &TestDatabase, jobs: &[Job]) -> Result<usize, String> {
    ledger::reset(&mut db.client(), jobs).expect("the queue is set up");
    let mut worker = Db::connect(db.conninfo(), Plan::Run).expect("a connection");
    drain(&mut worker, "w1", WORK_ONE, STEPS).map_err(|e| format!("{e}. {HINT}"))?;
    let sent = worker.statements();
    drop(worker);
    judge("one worker, never killed", KILLED_TWICE, db, jobs)?;
    Ok(sent)
}

#[test]
fn drains_the_queue_once() {
    let db = database("ex13_clean");
    let jobs = jobs();
    run_with_deadline("exercise 13: one worker", TEST_DEADLINE, move || {
        clean_run(&db, &jobs)
    })
    .expect_finished("exercise 13's clean run")
    .unwrap_or_else(|why| panic!("{why}"));
}

#[test]
fn a_worker_killed_at_any_statement_loses_and_duplicates_nothing() {
    let db = database("ex13_killed");
    let jobs = jobs();
    run_with_deadline("exercise 13: killed workers", TEST_DEADLINE, move || {
        let statements = clean_run(&db, &jobs)?;
        for k in 1..=statements {
            ledger::reset(&mut db.client(), &jobs).expect("the queue is set up");
            let mut first = Db::connect(db.conninfo(), Plan::KillAt(k)).expect("a connection");
            drain(&mut first, "w1", WORK_ONE, STEPS).map_err(|e| format!("{e}. {HINT}"))?;
            let at = first.killed_at().map(|(n, sql)| (n, describe(sql)));
            drop(first); // the process is gone: its connection closes
            let scenario = match at {
                Some((n, sql)) => format!(
                    "worker w1 killed before its statement {n} (`{sql}`), then w2 drained the \
                     queue"
                ),
                None => continue,
            };
            let mut second = Db::connect(db.conninfo(), Plan::Run).expect("a connection");
            drain(&mut second, "w2", WORK_ONE, STEPS)
                .map_err(|e| format!("{scenario}: {e}. {HINT}"))?;
            drop(second);
            judge(&scenario, KILLED_TWICE, &db, &jobs)?;
        }
        Ok(())
    })
    .expect_finished("exercise 13's killed workers")
    .unwrap_or_else(|why: String| panic!("{why}"));
}

#[test]
fn a_second_worker_never_does_a_job_the_first_holds() {
    let db = database("ex13_paused");
    let jobs = jobs();
    run_with_deadline("exercise 13: two workers", TEST_DEADLINE, move || {
        let statements = clean_run(&db, &jobs)?;
        for k in 1..=statements {
            ledger::reset(&mut db.client(), &jobs).expect("the queue is set up");
            let conninfo = db.conninfo().to_owned();
            let second: Arc<Mutex<Option<Result<(), String>>>> = Arc::default();
            let meanwhile = {
                let second = Arc::clone(&second);
                Box::new(move || {
                    let mut db = Db::connect(&conninfo, Plan::Run).expect("a connection");
                    *second.lock().expect("not poisoned") =
                        Some(drain(&mut db, "w2", WORK_ONE, STEPS));
                })
            };
            let mut first =
                Db::connect(db.conninfo(), Plan::PauseAt(k, meanwhile)).expect("a connection");
            let first_ran = drain(&mut first, "w1", WORK_ONE, STEPS);
            let at = first.paused_at().map(|(n, sql)| (n, describe(sql)));
            drop(first);
            let Some((n, sql)) = at else { continue };
            let scenario = format!(
                "worker w1 paused before its statement {n} (`{sql}`) while w2 drained the queue"
            );
            if let Some(Err(e)) = second.lock().expect("not poisoned").take() {
                return Err(format!(
                    "{scenario}: {e}. A worker must pass over a job another worker holds \
                     (`SKIP LOCKED`), not wait for it. {HINT}"
                ));
            }
            first_ran.map_err(|e| format!("{scenario}: {e}. {HINT}"))?;
            judge(&scenario, PAUSED_TWICE, &db, &jobs)?;
        }
        Ok(())
    })
    .expect_finished("exercise 13's two workers")
    .unwrap_or_else(|why: String| panic!("{why}"));
}

//! Chapter 13's claims, as tests.
//!
//! - One worker of any variant, alone, drains the queue to the single-process reference report.
//! - Four worker processes (sync, tokio, async-std, smol), one of them killed with SIGKILL inside
//!   a batch's transaction: nothing lost, nothing done twice, the report from the tables is the
//!   reference — whichever variant is killed.
//! - `SKIP LOCKED` passes over a batch another worker holds; plain `FOR UPDATE` waits for it.
//! - Without a database, or with one that is down, a run fails and says why.
//!
//! Each test gets its own database from `testkit::postgres` and prints a SKIP line without one
//! (a failure with `REQUIRE_POSTGRES=1`). Worker processes are this test binary, started again
//! with [`ROLE`] set.

use std::net::{Ipv4Addr, TcpListener};
use std::process::Command;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ch13_scaling_out::experiment::four_workers;
use ch13_scaling_out::queue::{self, CLAIM, Claimed};
use ch13_scaling_out::{
    BATCH_SIZE, ENV_DATABASE, Exit, RUN_ON_VARIANTS, Setup, VARIANTS, Worker, WorkerSpec,
    chapter_input, experiment_with, work, worker_main_from_env,
};
use pipeline::{Config, FleetRegistry, Report, Variant, error_chain, run_sequential};
use testkit::{
    REFERENCE, TEST_DEADLINE, TestDatabase, assert_variants_agree, compare_reports,
    run_with_deadline, test_database,
};

/// Set in a worker process: run the worker, not the test.
const ROLE: &str = "CH13_TEST_ROLE";

fn cfg() -> Config {
    Config {
        batch_size: BATCH_SIZE,
        ..Config::default()
    }
}

fn reference() -> Report {
    run_sequential(&chapter_input(), &cfg()).unwrap()
}

fn runs<T: Send + 'static>(what: &str, run: impl FnOnce() -> T + Send + 'static) -> T {
    run_with_deadline(what, TEST_DEADLINE, run).expect_finished(what)
}

/// One number from a query.
fn count(db: &TestDatabase, sql: &str) -> i64 {
    db.client().query_one(sql, &[]).unwrap().get(0)
}

/// The windows merged in SQL — count, min, max per (sensor, window) over every batch's
/// partial — as `sensor window count min max` lines.
fn merged_in_sql(db: &TestDatabase) -> Vec<String> {
    db.client()
        .query(
            "SELECT sensor_id, window_start, sum(count)::bigint, min(min), max(max)
             FROM ch13.windows GROUP BY sensor_id, window_start ORDER BY sensor_id, window_start",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| {
            let (min, max): (f64, f64) = (r.get(3), r.get(4));
            format!(
                "{} {} {} {min:?} {max:?}",
                r.get::<_, String>(0),
                r.get::<_, i64>(1),
                r.get::<_, i64>(2)
            )
        })
        .collect()
}

fn windows_of(report: &Report) -> Vec<String> {
    report
        .windows()
        .iter()
        .map(|w| {
            format!(
                "{} {} {} {:?} {:?}",
                w.sensor_id, w.window_start, w.count, w.min, w.max
            )
        })
        .collect()
}

// ANCHOR: alone
#[test]
fn one_worker_of_any_variant_drains_the_queue_to_the_reference_report() {
    let reference = reference();
    let mut reports = Vec::new();
    for (variant, run) in RUN_ON_VARIANTS {
        let Some(db) = test_database(&format!("alone_{variant}")) else {
            return;
        };
        let conninfo = db.conninfo().to_owned();
        let report = runs(&format!("one {variant} worker"), move || {
            run(&chapter_input(), &cfg(), &conninfo)
        })
        .unwrap_or_else(|e| panic!("{variant}: {}", error_chain(&e)));
        // Every batch done once, by this worker (two lanes, one name).
        assert_eq!(
            count(&db, "SELECT count(*) FROM ch13.batches"),
            40,
            "{variant}"
        );
        let by_others = db
            .client()
            .query_one(
                "SELECT count(*) FROM ch13.batches
                 WHERE state <> 'done' OR claimed_by <> $1 OR attempts <> 1",
                &[&variant.name()],
            )
            .unwrap()
            .get::<_, i64>(0);
        assert_eq!(by_others, 0, "{variant}: every batch done once, by it");
        // The partial rows merge in SQL too (count, min, max need no values).
        assert_eq!(merged_in_sql(&db), windows_of(&reference), "{variant}");
        reports.push((variant, report));
    }
    assert_variants_agree("chapter 13", &reference, &reports);
    insta::assert_snapshot!("report", reports[0].1.text());
}
// ANCHOR_END: alone

#[test]
fn without_a_database_a_run_says_what_to_set_and_a_down_one_is_named() {
    if std::env::var_os(ENV_DATABASE).is_none() {
        for (variant, run) in VARIANTS {
            let err = runs(&format!("the {variant} run"), move || {
                run(&chapter_input(), &cfg())
            })
            .unwrap_err()
            .to_string();
            assert!(
                err.contains(ENV_DATABASE) && err.contains("needs PostgreSQL"),
                "{variant}: {err}"
            );
        }
    }
    // A port nobody listens on: each variant's own connect fails, naming the server.
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let down = format!("host=127.0.0.1 port={port} user=nobody dbname=queue connect_timeout=5");
    for variant in Variant::ALL {
        let down = down.clone();
        let result = runs(&format!("a {variant} worker"), move || {
            let worker = Arc::new(Worker::new("w", &cfg(), 2));
            work(variant, &down, &worker)
        });
        let err = error_chain(&result.unwrap_err());
        assert!(
            err.starts_with(&format!(
                "cannot write output postgresql://nobody@127.0.0.1:{port}/queue: cannot connect"
            )),
            "{variant}: {err}"
        );
    }
}

/// Starts a worker process: this test binary again, running only `test`, with [`ROLE`] set.
fn test_worker(test: &'static str) -> impl Fn(&WorkerSpec) -> Command {
    move |_| {
        // deadline: a launcher; the queue's supervisor starts it and kills it (the test's
        // runs are under `runs`)
        let mut command = Command::new(std::env::current_exe().unwrap());
        command
            .args(["--exact", test, "--nocapture", "--test-threads=1"])
            .env(ROLE, "worker");
        command
    }
}

/// In a worker process: be the worker.
fn worker_role() -> bool {
    if std::env::var_os(ROLE).is_none() {
        return false;
    }
    if let Err(e) = worker_main_from_env() {
        panic!("worker failed: {}", error_chain(&e));
    }
    true
}

/// The batch the victim stops in: it commits the two before it, alone.
const STOP_IN_BATCH: usize = 3;

// ANCHOR: killed
/// Four worker processes, one per variant. The victim starts alone, commits batches 1 and 2,
/// and stops inside batch 3's transaction (rows written, lock held); the other three start and
/// skip batch 3; once they commit, the victim is killed with SIGKILL. The server rolls its
/// transaction back and releases the lock; a survivor takes batch 3. In turn, every variant is
/// the victim.
#[test]
fn a_worker_killed_mid_batch_loses_nothing_and_duplicates_nothing() {
    if worker_role() {
        return;
    }
    let reference = reference();
    for victim in Variant::ALL {
        let Some(db) = test_database(&format!("killed_{victim}")) else {
            return;
        };
        let conninfo = db.conninfo().to_owned();
        let (outcome, printed) = runs(&format!("the {victim} victim"), move || {
            let launch =
                test_worker("a_worker_killed_mid_batch_loses_nothing_and_duplicates_nothing");
            let setup = Setup {
                input: chapter_input(),
                batch_size: BATCH_SIZE,
                workers: four_workers(Some((victim, STOP_IN_BATCH))),
                victim: Variant::ALL.iter().position(|v| *v == victim),
                launch: &launch,
                deadline: TEST_DEADLINE,
            };
            let mut printed = Vec::new();
            let outcome = experiment_with(&mut printed, &conninfo, &setup);
            (outcome, String::from_utf8(printed).unwrap())
        });
        let outcome = outcome.unwrap_or_else(|e| panic!("{victim}: {}", error_chain(&e)));

        // The victim: held batch 3 (locked, its rows invisible), was killed; batches 1 and 2,
        // committed before, are its own, and nothing else is.
        let killed = outcome.killed.clone().expect("a victim");
        let victim_row = outcome.rows.iter().find(|r| r.variant == victim).unwrap();
        assert_eq!(killed.batch, STOP_IN_BATCH as i64, "{victim}");
        assert!(killed.locked_while_stopped, "{victim}: the row was locked");
        assert_eq!(killed.rows_visible_while_stopped, 0, "{victim}");
        assert_eq!(victim_row.exit, Exit::Killed, "{victim}");
        assert_eq!(victim_row.logged, [1, 2], "{victim}");
        assert_eq!(
            victim_row.batches, 2,
            "{victim}: its commits, from the table"
        );
        // Batch 3: done once, by a survivor.
        let done_by = killed.done_by.clone().expect("batch 3 is done");
        assert_ne!(done_by, victim_row.name, "{victim}");
        assert_eq!(
            killed.attempts, 1,
            "{victim}: the killed attempt left no trace"
        );
        // Every survivor drained the queue; what each says it committed is what the table
        // says it did; together they did every batch exactly once.
        let mut all = Vec::new();
        for row in &outcome.rows {
            if row.variant != victim {
                assert_eq!(row.exit, Exit::Finished, "{victim}: {}", row.name);
            }
            let ids: Vec<i64> = db
                .client()
                .query(
                    "SELECT id FROM ch13.batches WHERE claimed_by = $1 ORDER BY id",
                    &[&row.name],
                )
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect();
            let mut logged = row.logged.clone();
            logged.sort();
            assert_eq!(logged, ids, "{victim}: {}", row.name);
            all.extend(logged);
        }
        all.sort();
        assert_eq!(
            all,
            (1..=40).collect::<Vec<i64>>(),
            "{victim}: each batch once"
        );
        assert_eq!(
            count(
                &db,
                "SELECT count(*) FROM ch13.batches WHERE state <> 'done' OR attempts <> 1"
            ),
            0,
            "{victim}"
        );
        // Batch 3's rows are exactly one processing's worth: the killed attempt's are gone.
        let batch3 = queue::batches(&chapter_input(), BATCH_SIZE)
            .into_iter()
            .find(|(id, _, _)| *id == 3)
            .map(|(id, first_line, lines)| Claimed {
                id,
                first_line,
                lines,
            })
            .unwrap();
        let expected = queue::process(&batch3, &FleetRegistry::default());
        let rows_of_3 = db
            .client()
            .query_one(queue::COUNT_ROWS_OF, &[&3i64])
            .unwrap()
            .get::<_, i64>(0);
        assert_eq!(
            rows_of_3,
            (expected.windows.len() + expected.rejections.len()) as i64
        );
        // And the report from the tables is the single-process one.
        if let Err(diff) = compare_reports("chapter 13", &reference, (victim, &outcome.report)) {
            panic!("with {victim} killed, the merged tables differ from {REFERENCE}: {diff}");
        }
        assert!(
            printed.contains("with SIGKILL while it held batch 3"),
            "{printed}"
        );
        assert!(
            printed.contains("identical to the single-process"),
            "{printed}"
        );
    }
}
// ANCHOR_END: killed

// ANCHOR: hung
/// A worker that hangs inside a batch — alive, connected, silent — is not a dead one: its
/// lock holds until the server ends its idle session (`idle_in_transaction_session_timeout`,
/// 300 ms here). Then another worker takes the batch; when the hung one wakes up, its commit
/// is refused, so the batch is still done once. Each variant hangs in turn, next to the next.
#[test]
fn a_hung_worker_holds_its_batch_until_the_server_ends_its_session() {
    let reference = reference();
    for (i, hung_variant) in Variant::ALL.into_iter().enumerate() {
        let survivor_variant = Variant::ALL[(i + 1) % 4];
        let Some(db) = test_database(&format!("hung_{hung_variant}")) else {
            return;
        };
        let conninfo = db.conninfo().to_owned();
        let (hung_result, survivor, held) = runs("a hung worker and a survivor", move || {
            queue::blocking::enqueue(&conninfo, &chapter_input(), BATCH_SIZE).unwrap();
            let (stopped, stopped_rx) = mpsc::channel();
            let (wake, woken) = mpsc::channel::<()>();
            let woken = Mutex::new(woken);
            let hung = Arc::new(
                Worker::new("hung", &cfg(), 1)
                    .idle_timeout(Duration::from_millis(300))
                    .hook(move |_, n, batch| {
                        if n == 1 {
                            stopped.send(batch.id).unwrap();
                            woken.lock().unwrap().recv().unwrap();
                        }
                        Ok(())
                    }),
            );
            let hung_thread = {
                let (conninfo, hung) = (conninfo.clone(), Arc::clone(&hung));
                std::thread::spawn(move || work(hung_variant, &conninfo, &hung))
            };
            let held = stopped_rx.recv().unwrap();
            let survivor = Arc::new(Worker::new("survivor", &cfg(), 1));
            let summary = work(survivor_variant, &conninfo, &survivor);
            wake.send(()).unwrap();
            (hung_thread.join().unwrap(), summary, held)
        });
        let what = format!("{hung_variant} hung next to {survivor_variant}");
        assert_eq!(held, 1, "{what}");
        let survivor = survivor.unwrap_or_else(|e| panic!("{what}: {}", error_chain(&e)));
        assert_eq!(survivor.batches, 40, "{what}: the survivor did every batch");
        let err = error_chain(&hung_result.expect_err("the hung worker's commit is refused"));
        assert!(
            err.contains("cannot mark batch 1 (lines 1..=50) done"),
            "{what}: {err}"
        );
        let batch1 = queue::blocking::batch(db.conninfo(), 1).unwrap();
        assert_eq!(batch1.claimed_by.as_deref(), Some("survivor"), "{what}");
        assert_eq!(batch1.attempts, 1, "{what}");
        let report = queue::blocking::report(db.conninfo()).unwrap();
        if let Err(diff) = compare_reports("chapter 13", &reference, (hung_variant, &report)) {
            panic!("{what}: {diff}");
        }
    }
}
// ANCHOR_END: hung

// ANCHOR: skip_locked
/// Two claims while a third transaction holds batch 1: with `SKIP LOCKED`, the claim takes
/// batch 2 at once; without it, the claim waits on batch 1's lock (the server says so in
/// `pg_stat_activity`) and gets batch 1 only when the holder gives it up.
#[test]
fn skip_locked_passes_over_a_held_batch_where_for_update_waits() {
    let Some(db) = test_database("skip_locked") else {
        return;
    };
    let conninfo = db.conninfo().to_owned();
    runs("the three transactions", move || {
        queue::blocking::enqueue(&conninfo, &chapter_input(), BATCH_SIZE).unwrap();
        let claim = |tx: &mut postgres::Transaction, sql: &str| -> i64 {
            tx.query_one(sql, &[]).unwrap().get(0)
        };
        let mut holder = postgres::Client::connect(&conninfo, postgres::NoTls).unwrap();
        let mut held = holder.transaction().unwrap();
        assert_eq!(claim(&mut held, CLAIM), 1);

        let mut skipper = postgres::Client::connect(&conninfo, postgres::NoTls).unwrap();
        let mut tx = skipper.transaction().unwrap();
        assert_eq!(claim(&mut tx, CLAIM), 2, "SKIP LOCKED takes the next one");
        tx.rollback().unwrap();

        let without_skip = CLAIM.replace("SKIP LOCKED", "");
        let (pid_tx, pid_rx) = mpsc::channel();
        let waiter = {
            let conninfo = conninfo.clone();
            std::thread::spawn(move || {
                let mut client = postgres::Client::connect(&conninfo, postgres::NoTls).unwrap();
                let pid: i32 = client
                    .query_one("SELECT pg_backend_pid()", &[])
                    .unwrap()
                    .get(0);
                pid_tx.send(pid).unwrap();
                let mut tx = client.transaction().unwrap();
                claim(&mut tx, &without_skip)
            })
        };
        let pid = pid_rx.recv().unwrap();
        let mut observer = postgres::Client::connect(&conninfo, postgres::NoTls).unwrap();
        let started = Instant::now();
        loop {
            let waiting: Option<String> = observer
                .query_one(
                    "SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1",
                    &[&pid],
                )
                .unwrap()
                .get(0);
            if waiting.as_deref() == Some("Lock") {
                break;
            }
            assert!(
                !waiter.is_finished(),
                "FOR UPDATE without SKIP LOCKED did not wait"
            );
            assert!(started.elapsed() < TEST_DEADLINE, "never seen waiting");
            std::thread::sleep(Duration::from_millis(5));
        }
        held.rollback().unwrap();
        assert_eq!(
            waiter.join().unwrap(),
            1,
            "it gets batch 1 once it is released"
        );
    });
}
// ANCHOR_END: skip_locked

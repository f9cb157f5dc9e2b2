//! Chapter 9's claims, as tests.
//!
//! - Over HTTP, every variant's report is the sequential reference's; under the service's
//!   injected faults (errors, dropped connections) it is exactly the report the fault plan
//!   predicts, in every variant.
//! - To PostgreSQL, every variant (and both routes of async-std and smol) writes the same table,
//!   which holds exactly the report's windows.
//! - A run that crashes after k commits, is killed with SIGKILL, loses its connection mid-batch
//!   or hits a constraint leaves exactly the committed batches behind, says what and where, and
//!   a restart finishes with the reference report and table; a database that is down fails the
//!   run before any work.
//! - Lock-in: what each crate does when called from the wrong runtime.
//!
//! Tests that need PostgreSQL get a database of their own from `testkit::postgres` and print a
//! SKIP line without one (a failure with `REQUIRE_POSTGRES=1`).

use std::net::{Ipv4Addr, TcpListener};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ch09_real_io::lockin::NonTokio;
use ch09_real_io::variants::tokio_rt;
use ch09_real_io::{
    PgRoute, PgTarget, RUN_WITH_VARIANTS, Setup, VARIANTS, http, lockin, own_registry, store,
};
use pipeline::{
    Aggregator, Config, DatasetSpec, FleetRegistry, Input, LookupError, Registry, Report, Variant,
    WindowSummary, enrich_with, error_chain, parse_batch, run_sequential,
};
use registry_service::{
    Fault, Latency, RegistryOptions, RegistryService, ServiceFaults, request_key,
};
use testkit::{
    Outcome, REFERENCE, TEST_DEADLINE, TestDatabase, assert_variants_agree, output_within,
    run_with_deadline, test_database,
};

/// 400 lines, committed in eight batches of 50.
fn pg_input() -> Input {
    Input::generated(&DatasetSpec {
        lines: 400,
        ..DatasetSpec::default()
    })
}

fn pg_cfg() -> Config {
    Config {
        batch_size: 50,
        ..Config::default()
    }
}

/// The first `lines` lines of `input`, under the same name: what a table holds after the
/// batches up to that line were committed.
fn prefix(input: &Input, lines: usize) -> Input {
    let text: String = input
        .text()
        .lines()
        .take(lines)
        .map(|l| format!("{l}\n"))
        .collect();
    Input::from_text(input.name(), text)
}

fn runs<T: Send + 'static>(what: &str, run: impl FnOnce() -> T + Send + 'static) -> T {
    run_with_deadline(what, TEST_DEADLINE, run).expect_finished(what)
}

fn registry(options: RegistryOptions) -> RegistryService {
    RegistryService::start(options).expect("the registry service starts")
}

fn pg_setup(service: &RegistryService, target: PgTarget) -> Setup {
    Setup {
        registry: Some(service.url()),
        postgres: Some(target),
        pg_route: PgRoute::ConnectRaw,
    }
}

/// A run of `variant` that must succeed.
fn report(variant: Variant, input: &Input, cfg: &Config, setup: &Setup) -> Report {
    let (input, cfg, setup) = (input.clone(), cfg.clone(), setup.clone());
    runs(&format!("the {variant} run"), move || {
        ch09_real_io::run_with(variant, &input, &cfg, &setup)
    })
    .unwrap_or_else(|e| panic!("{variant}: {}", error_chain(&e)))
}

/// A run of `variant` that must fail; its error, on one line.
fn failure(variant: Variant, input: &Input, cfg: &Config, setup: &Setup) -> String {
    let (input, cfg, setup) = (input.clone(), cfg.clone(), setup.clone());
    let result = runs(&format!("the {variant} run"), move || {
        ch09_real_io::run_with(variant, &input, &cfg, &setup)
    });
    match result {
        Ok(report) => panic!("{variant}: the run should have failed, it reported:\n{report}"),
        Err(e) => error_chain(&e),
    }
}

/// `pipeline.windows`, one line per row, floats exact (`{:?}` round-trips).
fn table(db: &TestDatabase) -> Vec<String> {
    db.client()
        .query(
            "SELECT sensor_id, window_start, site, count, min, max, mean, p95 \
             FROM pipeline.windows ORDER BY sensor_id, window_start",
            &[],
        )
        .expect("the windows table")
        .iter()
        .map(|r| {
            row(
                r.get(0),
                r.get(1),
                r.get(2),
                r.get::<_, i64>(3) as u64,
                [r.get(4), r.get(5), r.get(6), r.get(7)],
            )
        })
        .collect()
}

fn row(sensor: &str, start: i64, site: &str, count: u64, v: [f64; 4]) -> String {
    format!(
        "{sensor} {start} {site} {count} {:?} {:?} {:?} {:?}",
        v[0], v[1], v[2], v[3]
    )
}

/// The rows a table holding exactly these windows has.
fn rows(windows: &[WindowSummary]) -> Vec<String> {
    windows
        .iter()
        .map(|w| {
            row(
                &w.sensor_id,
                w.window_start,
                &w.site,
                w.count,
                [w.min, w.max, w.mean, w.p95],
            )
        })
        .collect()
}

fn checkpoint(db: &TestDatabase) -> Option<i64> {
    db.client()
        .query_opt("SELECT next_line FROM pipeline.checkpoint", &[])
        .expect("the checkpoint table")
        .map(|r| r.get(0))
}

fn rejected_rows(db: &TestDatabase) -> i64 {
    db.client()
        .query_one("SELECT count(*) FROM pipeline.rejections", &[])
        .expect("the rejections table")
        .get(0)
}

/// The table matches the run of the first `lines` lines, and the checkpoint is right after it.
#[track_caller]
fn assert_holds_exactly(db: &TestDatabase, input: &Input, lines: usize, what: &str) {
    let expected = run_sequential(&prefix(input, lines), &pg_cfg()).unwrap();
    assert_eq!(
        table(db),
        rows(expected.windows()),
        "{what}: the table should hold the windows of lines 1..={lines}, no more, no less"
    );
    assert_eq!(rejected_rows(db), expected.rejected() as i64, "{what}");
    assert_eq!(checkpoint(db), Some(lines as i64 + 1), "{what}");
}

fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

// ANCHOR: over_http
#[test]
fn over_http_every_variant_gives_the_reference_report() {
    let input = pg_input();
    let reference = run_sequential(&input, &Config::default()).unwrap();
    let reports: Vec<(Variant, Report)> = VARIANTS
        .into_iter()
        .map(|(variant, run)| {
            let input = input.clone();
            let report = runs(variant.name(), move || run(&input, &Config::default()))
                .unwrap_or_else(|e| panic!("{variant}: {}", error_chain(&e)));
            (variant, report)
        })
        .collect();
    assert_variants_agree(input.name(), &reference, &reports);
}
// ANCHOR_END: over_http

/// What the service's fault plan does to a run: per reading, its attempts in order (a dropped
/// connection means try again, an error is final), as the service decides them per request id.
/// Returns the report and how many attempts were dropped and answered 500.
fn predicted(input: &Input, options: &RegistryOptions) -> (Report, u64, u64) {
    let fleet = FleetRegistry::default();
    let (mut dropped, mut failed) = (0, 0);
    let mut lookup = |line: u64, sensor: &str| {
        for attempt in 1..=http::MAX_ATTEMPTS {
            let key = request_key(&http::request_id(line, attempt));
            match options.faults.decide(options.seed, key).0 {
                Fault::Drop => dropped += 1,
                Fault::Error => {
                    failed += 1;
                    return Err(LookupError::Failed);
                }
                Fault::None if options.faults.failing_sensors.contains(sensor) => {
                    failed += 1;
                    return Err(LookupError::Failed);
                }
                Fault::None => return fleet.lookup(sensor),
            }
        }
        Err(LookupError::Failed)
    };
    let mut aggregator = Aggregator::new();
    let mut lines = 0;
    for batch in input.batches(512) {
        lines += batch.len() as u64;
        for parsed in parse_batch(batch) {
            aggregator.add(parsed.and_then(|r| {
                let found = lookup(r.line, &r.sensor_id);
                enrich_with(r, found)
            }));
        }
    }
    let (windows, tally) = aggregator.finish();
    (Report::new(lines, tally, windows), dropped, failed)
}

// ANCHOR: faults
#[test]
fn under_injected_faults_every_variant_gives_the_predicted_report() {
    let input = Input::generated(&DatasetSpec {
        lines: 600,
        ..DatasetSpec::default()
    });
    let options = RegistryOptions {
        seed: 11,
        faults: ServiceFaults {
            failing_sensors: ["s-0003".to_owned()].into(),
            error_per_mille: 20,
            drop_per_mille: 150,
            ..ServiceFaults::none()
        },
        ..own_registry(&Config::default())
    };
    let (expected, drops, errors) = predicted(&input, &options);
    let failed = expected
        .rejections()
        .iter()
        .filter(|r| r.reason == pipeline::RejectReason::RegistryFailed)
        .count();
    assert!(
        drops > 40 && failed > 30,
        "the plan must bite: {drops} drops, {failed} failed"
    );
    let service = registry(options);
    let mut reports = Vec::new();
    for (variant, run) in RUN_WITH_VARIANTS {
        let before = service.stats();
        let setup = Setup {
            registry: Some(service.url()),
            ..Setup::default()
        };
        let (input, setup) = (input.clone(), setup.clone());
        let report = runs(variant.name(), move || {
            run(&input, &Config::default(), &setup)
        })
        .unwrap_or_else(|e| panic!("{variant}: {}", error_chain(&e)));
        let after = service.stats();
        assert_eq!(
            after.dropped - before.dropped,
            drops,
            "{variant}: dropped connections"
        );
        assert_eq!(
            after.failed - before.failed,
            errors,
            "{variant}: answers 500"
        );
        assert_eq!(after.overloaded, 0, "{variant}: within capacity");
        reports.push((variant, report));
    }
    assert_variants_agree(input.name(), &expected, &reports);
}
// ANCHOR_END: faults

// ANCHOR: same_table
#[test]
fn every_variant_writes_the_same_table_and_report() {
    let input = pg_input();
    let cfg = pg_cfg();
    let reference = run_sequential(&input, &cfg).unwrap();
    let service = registry(own_registry(&cfg));
    let mut reports = Vec::new();
    let mut tables = Vec::new();
    let routes = RUN_WITH_VARIANTS
        .iter()
        .map(|(v, _)| (*v, PgRoute::ConnectRaw))
        .chain([
            (Variant::AsyncStd, PgRoute::AsyncCompat),
            (Variant::Smol, PgRoute::AsyncCompat),
        ]);
    for (variant, route) in routes {
        let Some(db) = test_database(&format!("same_table_{variant}_{route:?}")) else {
            return;
        };
        let setup = Setup {
            pg_route: route,
            ..pg_setup(&service, PgTarget::new(db.conninfo()))
        };
        let report = report(variant, &input, &cfg, &setup);
        let table = table(&db);
        assert_eq!(
            table,
            rows(report.windows()),
            "{variant} ({route:?}): the table holds exactly the report's windows"
        );
        assert_eq!(rejected_rows(&db), report.rejected() as i64);
        assert_eq!(checkpoint(&db), Some(401));
        tables.push(((variant, route), table));
        reports.push((variant, report));
    }
    assert_variants_agree(input.name(), &reference, &reports);
    // Every table against the reference's windows, never against another variant's table: when
    // two disagree, only the reference says which one is wrong.
    let expected = rows(reference.windows());
    for ((variant, route), table) in &tables {
        assert_eq!(
            table, &expected,
            "{variant} ({route:?}) wrote another table than {REFERENCE}'s windows"
        );
    }
    let table = expected.join("\n");
    let summary = format!(
        "{}\npipeline.windows: {} rows, digest {:#018x}\n{}\n…\npipeline.rejections: {} rows\n\
         pipeline.checkpoint: next line {}\n",
        reference.text(),
        expected.len(),
        fnv(&table),
        expected[..3].join("\n"),
        reference.rejected(),
        reference.lines_read() + 1
    );
    insta::assert_snapshot!("report_and_table", summary);
}
// ANCHOR_END: same_table

// ANCHOR: crash_restart
#[test]
fn a_crash_after_two_commits_loses_and_duplicates_nothing_on_restart() {
    let input = pg_input();
    let cfg = pg_cfg();
    let reference = run_sequential(&input, &cfg).unwrap();
    let service = registry(own_registry(&cfg));
    for (variant, _) in RUN_WITH_VARIANTS {
        let Some(db) = test_database(&format!("crash_restart_{variant}")) else {
            return;
        };
        // Batches 1 and 2 commit; batch 3 has written its rows when the "crash" comes.
        let crashing = PgTarget::new(db.conninfo()).before_commit(|point| match point.batch {
            3 => Err("injected crash".into()),
            _ => Ok(()),
        });
        let error = failure(variant, &input, &cfg, &pg_setup(&service, crashing));
        assert!(
            error.contains("injected crash (before committing lines 101..=150)"),
            "{variant}: {error}"
        );
        assert_holds_exactly(&db, &input, 100, &format!("{variant} after the crash"));

        let restarted = report(
            variant,
            &input,
            &cfg,
            &pg_setup(&service, PgTarget::new(db.conninfo())),
        );
        assert_eq!(
            restarted.text(),
            reference.text(),
            "{variant}: the restarted run's report"
        );
        assert_holds_exactly(&db, &input, 400, &format!("{variant} after the restart"));

        // Once more: the run is complete, so nothing is read or looked up again.
        let before = service.stats().requests;
        let again = report(
            variant,
            &input,
            &cfg,
            &pg_setup(&service, PgTarget::new(db.conninfo())),
        );
        assert_eq!(
            again.text(),
            reference.text(),
            "{variant}: a finished run reports the same"
        );
        assert_eq!(
            service.stats().requests,
            before,
            "{variant}: and asks nobody anything"
        );
        assert_holds_exactly(
            &db,
            &input,
            400,
            &format!("{variant} after a second restart"),
        );
    }
}
// ANCHOR_END: crash_restart

/// The child role of the next test.
const ROLE: &str = "CH09_CHILD_ROLE";

// ANCHOR: killed
/// A real crash: the run is a child process, killed with SIGKILL once its first batch is
/// committed. Whatever it was doing — looking up, writing rows of the next batch — is gone;
/// the table holds exactly the committed batches, and a restart finishes the job.
#[test]
fn a_run_killed_with_sigkill_restarts_from_its_checkpoint() {
    if std::env::var(ROLE).as_deref() == Ok("killed-run") {
        let setup = Setup {
            registry: std::env::var("CH09_REGISTRY").ok(),
            postgres: std::env::var("CH09_DB").ok().map(PgTarget::new),
            pg_route: PgRoute::ConnectRaw,
        };
        let cfg = Config {
            concurrency: 2,
            ..pg_cfg()
        };
        // deadline: this is the child process; its parent kills it (that is the test)
        let result = tokio_rt::run_with(&pg_input(), &cfg, &setup);
        panic!("the child should have been killed before it ended: {result:?}");
    }
    let Some(db) = test_database("killed_run") else {
        return;
    };
    let input = pg_input();
    // 5 ms a look-up, two at a time: a batch of 50 takes over 100 ms, the whole run about one
    // second; the child is killed within milliseconds of its first commit.
    let slow = registry(RegistryOptions {
        latency: Latency::Fixed(Duration::from_millis(5)),
        ..RegistryOptions::default()
    });
    // deadline: polled below against TEST_DEADLINE, then killed by its handle and reaped
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_run_killed_with_sigkill_restarts_from_its_checkpoint",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ROLE, "killed-run")
        .env("CH09_REGISTRY", slow.url())
        .env("CH09_DB", db.conninfo())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the test binary starts again");
    let started = Instant::now();
    let committed = loop {
        // The checkpoint table exists once the child has connected.
        let next = db
            .client()
            .query_opt("SELECT next_line FROM pipeline.checkpoint", &[])
            .ok()
            .flatten()
            .map(|r| r.get::<_, i64>(0));
        if let Some(next) = next {
            break next;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the child ended ({status}) before its first commit");
        }
        if started.elapsed() > TEST_DEADLINE {
            let _ = child.kill();
            panic!("the child committed nothing within {TEST_DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    child.kill().expect("SIGKILL");
    let status = child.wait().unwrap();
    assert!(!status.success(), "killed: {status}");
    let next = checkpoint(&db).unwrap();
    assert!(
        next >= committed && next < 401,
        "killed mid-run, at line {next}"
    );
    assert_holds_exactly(&db, &input, next as usize - 1, "after SIGKILL");

    let cfg = pg_cfg();
    let restarted = report(
        Variant::Tokio,
        &input,
        &cfg,
        &pg_setup(&slow, PgTarget::new(db.conninfo())),
    );
    assert_eq!(
        restarted.text(),
        run_sequential(&input, &cfg).unwrap().text()
    );
    assert_holds_exactly(&db, &input, 400, "after the restart");
}
// ANCHOR_END: killed

// ANCHOR: terminated
#[test]
fn a_connection_terminated_mid_batch_is_named_and_loses_nothing() {
    let input = pg_input();
    let cfg = pg_cfg();
    let reference = run_sequential(&input, &cfg).unwrap();
    let service = registry(own_registry(&cfg));
    for (variant, _) in RUN_WITH_VARIANTS {
        let Some(db) = test_database(&format!("terminated_{variant}")) else {
            return;
        };
        let admin = db.conninfo().to_owned();
        // In batch 2, after its rows are written: another connection ends the sink's backend,
        // and waits until it is gone. (A thread of its own: the hook runs inside the pipeline,
        // which for three variants is an async task — no place for a blocking client.)
        let target = PgTarget::new(db.conninfo()).before_commit(move |point| {
            if point.batch == 2 {
                let (admin, pid) = (admin.clone(), point.backend_pid);
                // deadline: inside the pipeline run, which `failure` runs under the deadline
                std::thread::spawn(move || terminate(&admin, pid))
                    .join()
                    .unwrap();
            }
            Ok(())
        });
        let error = failure(variant, &input, &cfg, &pg_setup(&service, target));
        let place = store::describe(&db.conninfo().parse().unwrap());
        assert!(
            error.contains(&place),
            "{variant}: names the database: {error}"
        );
        assert!(
            error.contains("cannot move the checkpoint past lines 51..=100"),
            "{variant}: names the step and the lines: {error}"
        );
        assert_holds_exactly(&db, &input, 50, &format!("{variant} after the termination"));
        let restarted = report(
            variant,
            &input,
            &cfg,
            &pg_setup(&service, PgTarget::new(db.conninfo())),
        );
        assert_eq!(restarted.text(), reference.text(), "{variant}");
        assert_holds_exactly(&db, &input, 400, &format!("{variant} after the restart"));
    }
}
// ANCHOR_END: terminated

// ANCHOR: moved
/// Two runs on one database must not both commit the same lines: the checkpoint moves only
/// from where this run found it. Here "another run" moves it while batch 2 is being written.
#[test]
fn a_checkpoint_moved_by_another_run_refuses_the_commit() {
    let input = pg_input();
    let cfg = pg_cfg();
    let service = registry(own_registry(&cfg));
    for (variant, _) in RUN_WITH_VARIANTS {
        let Some(db) = test_database(&format!("moved_{variant}")) else {
            return;
        };
        let other = db.conninfo().to_owned();
        let target = PgTarget::new(db.conninfo()).before_commit(move |point| {
            if point.batch == 2 {
                let other = other.clone();
                // deadline: inside the pipeline run, which `failure` runs under the deadline
                std::thread::spawn(move || {
                    let mut other = postgres::Client::connect(&other, postgres::NoTls).unwrap();
                    other
                        .execute("UPDATE pipeline.checkpoint SET next_line = 101", &[])
                        .unwrap();
                })
                .join()
                .unwrap();
            }
            Ok(())
        });
        let error = failure(variant, &input, &cfg, &pg_setup(&service, target));
        assert!(
            error.contains(
                "another run moved the checkpoint while this one read lines 51..=100; nothing \
                 of them was committed"
            ),
            "{variant}: {error}"
        );
        // Batch 1 is there; nothing of this run's batch 2 is.
        let first = run_sequential(&prefix(&input, 50), &cfg).unwrap();
        assert_eq!(table(&db), rows(first.windows()), "{variant}");
        assert_eq!(
            checkpoint(&db),
            Some(101),
            "{variant}: as the other run left it"
        );
    }
}
// ANCHOR_END: moved

/// `pg_terminate_backend(pid)`, then wait until the backend is gone.
fn terminate(conninfo: &str, pid: i32) {
    let mut admin = postgres::Client::connect(conninfo, postgres::NoTls).unwrap();
    let done: bool = admin
        .query_one("SELECT pg_terminate_backend($1)", &[&pid])
        .unwrap()
        .get(0);
    assert!(done, "backend {pid} was there to terminate");
    let started = Instant::now();
    while admin
        .query_opt("SELECT 1 FROM pg_stat_activity WHERE pid = $1", &[&pid])
        .unwrap()
        .is_some()
    {
        assert!(
            started.elapsed() < TEST_DEADLINE,
            "backend {pid} does not go away"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

// ANCHOR: constraint
/// A reading the pipeline accepts (-5000 is within the sensors' range) and the database's own
/// rule refuses: the run stops at the batch with the window that breaks it, and says which.
#[test]
fn a_constraint_violation_names_window_and_lines_and_loses_nothing() {
    let base = pg_input();
    let mut lines: Vec<&str> = base.text().lines().collect();
    let line_175 = lines[174].to_owned();
    let (sensor, rest) = line_175.split_once(',').unwrap();
    let (timestamp, _) = rest.split_once(',').unwrap();
    let bad = format!("{sensor},{timestamp},-5000");
    lines[174] = &bad;
    let input = Input::from_text("constraint", lines.join("\n") + "\n");
    let cfg = pg_cfg();
    let window = timestamp.parse::<i64>().unwrap().div_euclid(60) * 60;
    let service = registry(own_registry(&cfg));
    for (variant, _) in RUN_WITH_VARIANTS {
        let Some(db) = test_database(&format!("constraint_{variant}")) else {
            return;
        };
        let mut client = db.client();
        client.batch_execute(store::SCHEMA).unwrap();
        client
            .batch_execute(
                "ALTER TABLE pipeline.windows \
                 ADD CONSTRAINT plausible_min CHECK (min >= -1000)",
            )
            .unwrap();
        let error = failure(
            variant,
            &input,
            &cfg,
            &pg_setup(&service, PgTarget::new(db.conninfo())),
        );
        for expected in [
            format!("cannot write window {sensor} at {window} (lines 151..=200)"),
            "violates check constraint \"plausible_min\"".to_owned(),
        ] {
            assert!(
                error.contains(&expected),
                "{variant}: `{expected}` in: {error}"
            );
        }
        assert_holds_exactly(&db, &input, 150, &format!("{variant} after the violation"));

        // Somebody decides the reading is right and the rule wrong: restart, and it finishes.
        client
            .batch_execute("ALTER TABLE pipeline.windows DROP CONSTRAINT plausible_min")
            .unwrap();
        let restarted = report(
            variant,
            &input,
            &cfg,
            &pg_setup(&service, PgTarget::new(db.conninfo())),
        );
        assert_eq!(
            restarted.text(),
            run_sequential(&input, &cfg).unwrap().text(),
            "{variant}"
        );
        assert_holds_exactly(&db, &input, 400, &format!("{variant} after the restart"));
    }
}
// ANCHOR_END: constraint

// ANCHOR: server_down
#[test]
fn a_database_that_is_down_fails_the_run_before_any_work() {
    // A port nobody listens on.
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let target = PgTarget::new(format!(
        "host=127.0.0.1 port={port} user=postgres dbname=sensors"
    ));
    let service = registry(own_registry(&Config::default()));
    for (variant, _) in RUN_WITH_VARIANTS {
        let error = failure(
            variant,
            &pg_input(),
            &pg_cfg(),
            &pg_setup(&service, target.clone()),
        );
        let place = format!("postgresql://postgres@127.0.0.1:{port}/sensors");
        assert!(
            error.starts_with(&format!("cannot write output {place}: cannot connect: ")),
            "{variant}: {error}"
        );
        assert!(error.contains("Connection refused"), "{variant}: {error}");
    }
    assert_eq!(service.stats().requests, 0, "no reading was looked up");
}
// ANCHOR_END: server_down

// ANCHOR: lockin_sync_in_async
#[test]
fn the_sync_crates_panic_inside_a_tokio_task_and_work_in_spawn_blocking() {
    let service = registry(RegistryOptions::default());
    let url = format!("{}/sensors/s-0001", service.url());

    let in_task = {
        let url = url.clone();
        run_with_deadline("reqwest::blocking in a task", TEST_DEADLINE, move || {
            lockin::reqwest_blocking_in_tokio_task(&url)
        })
    };
    if cfg!(debug_assertions) {
        // reqwest checks, in debug builds only, that it is not inside a runtime.
        assert_eq!(
            in_task,
            Outcome::Panicked(
                "Cannot drop a runtime in a context where blocking is not allowed. This happens \
                 when a runtime is dropped from within an asynchronous context."
                    .into()
            )
        );
    } else {
        // In release builds nothing checks: it works, and blocks a worker thread meanwhile.
        assert_eq!(in_task, Outcome::Finished(Ok(200)));
    }
    let fixed = run_with_deadline(
        "reqwest::blocking, spawn_blocking",
        TEST_DEADLINE,
        move || lockin::reqwest_blocking_in_spawn_blocking(&url),
    );
    assert_eq!(fixed, Outcome::Finished(Ok(200)));

    // postgres panics before it touches the network, so any address shows it; a live server
    // shows that spawn_blocking fixes it.
    let db = test_database("lockin_postgres");
    let conninfo = db.as_ref().map_or_else(
        || "host=127.0.0.1 port=1 user=postgres".to_owned(),
        |db| db.conninfo().to_owned(),
    );
    let in_task = {
        let conninfo = conninfo.clone();
        run_with_deadline("postgres in a task", TEST_DEADLINE, move || {
            lockin::postgres_in_tokio_task(&conninfo)
        })
    };
    assert_eq!(
        in_task,
        Outcome::Panicked(
            "Cannot start a runtime from within a runtime. This happens because a function \
             (like `block_on`) attempted to block the current thread while the thread is being \
             used to drive asynchronous tasks. If you are in an async function, use `.await` on \
             the future instead of blocking on it."
                .into()
        )
    );
    if db.is_some() {
        let fixed = run_with_deadline("postgres, spawn_blocking", TEST_DEADLINE, move || {
            lockin::postgres_in_spawn_blocking(&conninfo)
        });
        assert_eq!(fixed, Outcome::Finished(Ok(1)));
    }
}
// ANCHOR_END: lockin_sync_in_async

// ANCHOR: lockin_async_without_tokio
#[test]
fn the_async_crates_panic_without_tokio_and_work_through_compat() {
    fn no_tokio<T>() -> Outcome<T> {
        Outcome::Panicked(
            "there is no reactor running, must be called from the context of a Tokio 1.x runtime"
                .to_owned(),
        )
    }
    let service = registry(RegistryOptions::default());
    let url = format!("{}/sensors/s-0001", service.url());
    let db = test_database("lockin_tokio_postgres");
    // tokio-postgres panics before it reaches the server, so any address shows it.
    let conninfo = db.as_ref().map_or_else(
        || "host=127.0.0.1 port=1 user=postgres".to_owned(),
        |db| db.conninfo().to_owned(),
    );
    for runtime in NonTokio::BOTH {
        let call = |what: &str, f: fn(NonTokio, &str) -> lockin::Answer<u16>| {
            let url = url.clone();
            run_with_deadline(what, TEST_DEADLINE, move || f(runtime, &url))
        };
        let outcome = call("reqwest", lockin::reqwest_without_compat);
        assert_eq!(outcome, no_tokio(), "{runtime:?}: reqwest without Compat");
        let outcome = call("reqwest in Compat", lockin::reqwest_through_compat);
        assert_eq!(
            outcome,
            Outcome::Finished(Ok(200)),
            "{runtime:?}: in Compat"
        );
        let conninfo = conninfo.clone();
        let outcome = run_with_deadline("tokio-postgres", TEST_DEADLINE, move || {
            lockin::tokio_postgres_without_compat(runtime, &conninfo)
        });
        assert_eq!(outcome, no_tokio(), "{runtime:?}: tokio_postgres::connect");
    }
    if db.is_some() {
        // The way out that needs no tokio: smol's own socket (the pipelines' `connect`).
        let outcome = run_with_deadline("tokio-postgres, connect_raw", TEST_DEADLINE, move || {
            smol::block_on(lockin::select_one_raw(&conninfo))
        });
        assert_eq!(outcome, Outcome::Finished(Ok(1)));
    }
}
// ANCHOR_END: lockin_async_without_tokio

// ANCHOR: lockin_blocks_executor
#[test]
fn the_sync_crates_work_on_smol_and_async_std_but_block_the_executor_thread() {
    let service = registry(RegistryOptions::default());
    let url = format!("{}/sensors/s-0001", service.url());
    for runtime in NonTokio::BOTH {
        let url = url.clone();
        let outcome = runs("reqwest::blocking in a task", move || {
            lockin::reqwest_blocking_in_task(runtime, &url)
        });
        assert_eq!(
            outcome,
            Ok(200),
            "{runtime:?}: no tokio context to trip over"
        );
    }
    let Some(db) = test_database("lockin_blocks") else {
        return;
    };
    for runtime in NonTokio::BOTH {
        let conninfo = db.conninfo().to_owned();
        let outcome = runs("postgres in a task", move || {
            lockin::postgres_in_task(runtime, &conninfo)
        });
        assert_eq!(outcome, Ok(1), "{runtime:?}: no tokio context to trip over");
    }
    // But the thread is taken for the whole call: on one smol thread, a task spawned next to
    // the call runs only after it.
    let conninfo = db.conninfo().to_owned();
    let (answer, events) = runs("postgres on one smol thread", move || {
        lockin::postgres_in_smol_task(&conninfo)
    });
    assert_eq!(answer, Ok(1));
    assert_eq!(
        events,
        ["call starts", "call ends", "other task runs"],
        "the other task waited for the whole call"
    );
    let conninfo = db.conninfo().to_owned();
    let (answer, events) = runs("tokio-postgres on one smol thread", move || {
        lockin::tokio_postgres_raw_in_smol_task(&conninfo)
    });
    assert_eq!(answer, Ok(1));
    assert_eq!(
        events,
        ["call starts", "other task runs", "call ends"],
        "the other task ran while the query waited"
    );
}
// ANCHOR_END: lockin_blocks_executor

// ANCHOR: lockin_threads
/// Which threads each route starts, counted in a fresh process (thread names are global):
/// `reqwest::blocking` starts a runtime thread of its own; tokio-postgres over smol's socket
/// starts no tokio thread at all; reqwest through `Compat` starts async-compat's.
#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "not measured on this OS: thread names come from Linux's /proc/self/task"
)]
fn a_hidden_runtime_thread_for_reqwest_blocking_and_compat_none_for_connect_raw() {
    const REQWEST: &str = "reqwest-interna"; // thread names are cut to 15 bytes
    const COMPAT: &str = "async-compat/to";
    const TOKIO: &str = "tokio-runtime-w";
    if std::env::var(ROLE).as_deref() == Ok("threads") {
        let count = |name: &str| lockin::thread_names().iter().filter(|n| *n == name).count();
        // On a line of its own: libtest has printed the test's name without a newline.
        let show = |stage: &str, answer: String| {
            let counts = (count(REQWEST), count(COMPAT), count(TOKIO));
            println!(
                "\nthreads: {stage} {} {} {} {answer}",
                counts.0, counts.1, counts.2
            );
        };
        let url = std::env::var("CH09_REGISTRY").unwrap();
        show("baseline", String::new());
        let client = reqwest::blocking::Client::new();
        let status = client.get(&url).send().unwrap().status();
        show("reqwest::blocking", status.to_string());
        drop(client);
        if let Ok(conninfo) = std::env::var("CH09_DB") {
            // deadline: this is the child process, run by its parent under a deadline
            let one = smol::block_on(lockin::select_one_raw(&conninfo)).unwrap();
            show("connect_raw", one.to_string());
        }
        let status = lockin::reqwest_through_compat(NonTokio::Smol, &url).unwrap();
        show("compat", status.to_string());
        return;
    }
    let service = registry(RegistryOptions::default());
    let db = test_database("lockin_threads");
    // Past its deadline the child is killed by its handle, not left running.
    let output = output_within(
        Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "a_hidden_runtime_thread_for_reqwest_blocking_and_compat_none_for_connect_raw",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(ROLE, "threads")
            .env("CH09_REGISTRY", format!("{}/sensors/s-0001", service.url()))
            .envs(db.as_ref().map(|db| ("CH09_DB", db.conninfo()))),
        TEST_DEADLINE,
    )
    .unwrap_or_else(|e| panic!("the child: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("threads: "))
        .collect();
    let mut expected = vec![
        "baseline 0 0 0 ",
        "reqwest::blocking 1 0 0 200 OK", // one runtime thread for the client
    ];
    if db.is_some() {
        expected.push("connect_raw 0 0 0 1"); // the client is gone; and no tokio thread started
    }
    expected.push("compat 0 1 0 200"); // async-compat's runtime, on a thread of its own
    assert_eq!(lines, expected, "{stdout}");
}
// ANCHOR_END: lockin_threads

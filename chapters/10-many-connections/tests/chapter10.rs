//! Chapter 10's claims, as tests: every server gives the reference report whichever connection a
//! line travels on; a malformed frame is a counted rejection naming its connection; a thread per
//! connection costs a thread per connection and a task per connection does not; a bounded pool
//! smaller than the fleet stalls and says so; out of file descriptors or threads, a server fails
//! with the OS's error instead of hanging.
//!
//! Where a test measures this process's threads or lowers one of its limits, it runs in a child
//! process: the test binary re-executes itself with `CH10_ROLE` naming the role, and the sensors
//! run in a grandchild the same way (`fleet_process`).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Output};
use std::time::Duration;

use ch10_many_connections::experiment::{Setup, experiment_with, server_main_with};
use ch10_many_connections::{
    DEFAULT_CONNECTIONS, Fleet, Limits, Model, SERVERS, ServeFn, VARIANTS, fleet, serve,
};
use pipeline::{
    Config, DatasetSpec, Field, Input, PipelineError, RejectReason, Report, Variant, error_chain,
    run_sequential,
};
use testkit::{TEST_DEADLINE, compare_reports, output_within, run_with_deadline};

/// Selects a child process's role: `fleet ADDR N`, `experiment`, `fd-limit`, `thread-limit`.
const ROLE: &str = "CH10_ROLE";

const LIMITS: Limits = Limits {
    // Generous: every legitimate run moves every few milliseconds; only a stuck one waits this
    // long (the bounded pool, on purpose).
    stall: Duration::from_secs(5),
    deadline: TEST_DEADLINE,
};

fn input() -> Input {
    Input::generated(&DatasetSpec {
        lines: 2_000,
        ..DatasetSpec::default()
    })
}

fn label(variant: Variant, model: Model) -> String {
    format!("{variant} ({})", model.label())
}

/// Runs `server` under a deadline; the run's result.
fn run(
    what: &str,
    server: ServeFn,
    connections: usize,
    fleet: Fleet,
    cfg: Config,
) -> Result<ch10_many_connections::harness::Served, PipelineError> {
    run_with_deadline(what, TEST_DEADLINE, move || {
        serve(server, connections, fleet, &cfg, LIMITS)
    })
    .expect_finished(what)
}

// ANCHOR: same_report
#[test]
fn every_server_gives_the_reference_report_over_20_connections() {
    let input = input();
    let expected = run_sequential(&input, &Config::default()).expect("the reference runs");
    let cfg = Config {
        concurrency: 20, // the pool: a thread for every sensor
        ..Config::default()
    };
    for (variant, model, server) in SERVERS {
        let what = label(variant, model);
        let served = run(
            &what,
            server,
            20,
            Fleet::InProcess(input.clone()),
            cfg.clone(),
        )
        .unwrap_or_else(|e| panic!("{what}: {}", error_chain(&e)));
        assert_eq!(served.connections, 20, "{what}: connections served");
        assert_eq!(served.report.lines_read(), input.line_count(), "{what}");
        compare_reports(input.name(), &expected, (variant, &served.report))
            .unwrap_or_else(|diff| panic!("{what}: {diff}"));
    }
    insta::assert_snapshot!("reference", expected.text());
}
// ANCHOR_END: same_report

#[test]
fn the_tour_entries_give_the_reference_report_over_the_default_connections() {
    let input = input();
    let expected = run_sequential(&input, &Config::default()).expect("the reference runs");
    for (variant, run) in VARIANTS {
        let run_input = input.clone();
        let report = run_with_deadline(variant.name(), TEST_DEADLINE, move || {
            run(&run_input, &Config::default())
        })
        .expect_finished(variant.name())
        .unwrap_or_else(|e| panic!("{variant}: {}", error_chain(&e)));
        compare_reports(input.name(), &expected, (variant, &report))
            .unwrap_or_else(|diff| panic!("{variant} over {DEFAULT_CONNECTIONS}: {diff}"));
    }
}

/// A client that speaks the protocol badly: frames without a line number, with a bad one, a
/// line that fails validation, and a last frame cut off by hanging up. Returns the server's
/// acknowledgement.
fn sloppy_sensor(address: SocketAddr) -> Result<String, String> {
    let failed = |e: std::io::Error| e.to_string();
    let mut stream = TcpStream::connect(address).map_err(failed)?;
    stream
        .set_read_timeout(Some(TEST_DEADLINE))
        .map_err(failed)?;
    let mut greeting = [0; 6];
    stream.read_exact(&mut greeting).map_err(failed)?;
    stream
        .write_all(
            b"1\ts-0001,1700000040,20.5\n\
              s-0001,1700000041,20.6\n\
              x3\ts-0001,1700000042,20.7\n\
              4\ts-0001,oops,20.8\n\
              5\ts-0001,1700000044,2",
        )
        .map_err(failed)?;
    stream.shutdown(std::net::Shutdown::Write).map_err(failed)?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).map_err(failed)?;
    Ok(answer)
}

// ANCHOR: malformed
#[test]
fn a_malformed_frame_is_a_counted_rejection_naming_its_connection() {
    let cfg = Config {
        concurrency: 1,
        ..Config::default()
    };
    let mut accepted_parts = Vec::new();
    for (variant, model, server) in SERVERS {
        let what = label(variant, model);
        let served = run(
            &what,
            server,
            1,
            Fleet::Custom(Box::new(sloppy_sensor)),
            cfg.clone(),
        )
        .unwrap_or_else(|e| panic!("{what}: {}", error_chain(&e)));
        assert_eq!(
            served.fleet, "ok 5\n",
            "{what}: the server counted 5 frames"
        );
        let report = &served.report;
        assert!(report.is_balanced(), "{what}:\n{report}");
        assert_eq!(
            (report.lines_read(), report.accepted(), report.rejected()),
            (5, 1, 4),
            "{what}:\n{report}"
        );
        let rejections: Vec<(u64, Field, String)> = report
            .rejections()
            .iter()
            .map(|r| (r.line, r.field, r.reason.kind().to_owned()))
            .collect();
        let frame = |_: u32| RejectReason::MalformedFrame.kind().to_owned();
        assert_eq!(
            rejections,
            [
                (0, Field::Record, frame(1)),
                (0, Field::Record, frame(2)),
                (4, Field::Timestamp, "timestamp not an integer".to_owned()),
                (5, Field::Record, frame(0)),
            ],
            "{what}:\n{report}"
        );
        let excerpts: Vec<&str> = report
            .rejections()
            .iter()
            .map(|r| r.excerpt.as_str())
            .collect();
        for (excerpt, frame, problem) in [
            (excerpts[0], 2, "no tab after the line number"),
            (excerpts[1], 3, "the line number is not a positive integer"),
            (excerpts[3], 5, "cut off: the connection ended mid-frame"),
        ] {
            let prefix = format!("malformed frame {frame} on connection 1 (127.0.0.1:");
            assert!(
                excerpt.starts_with(&prefix) && excerpt.contains(problem),
                "{what}: {excerpt}"
            );
        }
        accepted_parts.push((what, windows(report)));
    }
    // What the one good line gives, run through the sequential reference: every server must
    // have accepted exactly that (compared with the reference, never with another server).
    let good = Input::from_text("the sloppy sensor's good line", "s-0001,1700000040,20.5\n");
    let expected = windows(&run_sequential(&good, &cfg).expect("the reference runs"));
    for (what, windows) in &accepted_parts {
        assert_eq!(
            windows, &expected,
            "{what} accepted other windows than the reference"
        );
    }
}
// ANCHOR_END: malformed

/// The accepted part of a report (the rejections' excerpts name a port, which differs per run).
fn windows(report: &Report) -> String {
    format!("{} accepted: {:?}", report.accepted(), report.windows())
}

// ---- child processes ----------------------------------------------------------------------

/// The launcher the experiment uses in tests: this test binary, as the fleet.
fn fleet_process(address: SocketAddr, connections: usize) -> Command {
    // deadline: a launcher; the harness starts it inside `run`'s deadline
    let mut command = Command::new(std::env::current_exe().expect("the test binary"));
    command
        .args(["--exact", "fleet_role", "--nocapture", "--test-threads=1"])
        .env_remove("RUST_MIN_STACK")
        .env(ROLE, format!("fleet {address} {connections}"));
    command
}

/// The fleet, when this test binary is started as one (see `fleet_process`).
#[test]
fn fleet_role() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let mut words = role.split(' ');
    if words.next() != Some("fleet") {
        return;
    }
    let address: SocketAddr = words.next().unwrap().parse().unwrap();
    let connections: usize = words.next().unwrap().parse().unwrap();
    match fleet::main(address, connections) {
        Ok(()) => std::process::exit(0),
        Err(e) => {
            eprintln!("{}", error_chain(&e));
            std::process::exit(1)
        }
    }
}

/// Runs this test binary's test `name` in a child process with `CH10_ROLE=role` (and
/// `RUST_MIN_STACK=min_stack`, if given), through `sh -c "{shell} exec ..."`, under a deadline
/// (a child that does not finish is killed).
fn child(name: &str, role: &str, shell: &str, min_stack: Option<&str>) -> Output {
    output_within(
        Command::new("sh")
            .arg("-c")
            .arg(format!(r#"{shell} exec "$0" "$@""#))
            .arg(std::env::current_exe().unwrap())
            .args(["--exact", name, "--nocapture", "--test-threads=1"])
            .env(ROLE, role)
            .env_remove("RUST_MIN_STACK")
            .envs(min_stack.map(|min_stack| ("RUST_MIN_STACK", min_stack))),
        TEST_DEADLINE,
    )
    .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn is_role(role: &str) -> bool {
    std::env::var(ROLE).is_ok_and(|r| r == role)
}

fn show(output: &Output) -> String {
    format!(
        "status {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The launcher the experiment uses in tests: this test binary, as a measured server process.
fn server_process(server: &str, connections: usize, pool_threads: usize) -> Command {
    // deadline: a launcher; the experiment starts it inside `run_with_deadline`
    let mut command = Command::new(std::env::current_exe().expect("the test binary"));
    command
        .args(["--exact", "server_role", "--nocapture", "--test-threads=1"])
        .env(
            ROLE,
            format!("server {server} {connections} {pool_threads}"),
        );
    command
}

/// A measured server, when this test binary is started as one (see `server_process`).
#[test]
fn server_role() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let mut words = role.split(' ');
    if words.next() != Some("server") {
        return;
    }
    let server = words.next().unwrap();
    let connections: usize = words.next().unwrap().parse().unwrap();
    let pool_threads: usize = words.next().unwrap().parse().unwrap();
    match server_main_with(server, connections, pool_threads, fleet_process) {
        Ok(()) => std::process::exit(0),
        Err(e) => {
            eprintln!("{}", error_chain(&e));
            std::process::exit(1)
        }
    }
}

// ANCHOR: experiment_counts
/// The experiment at 300 connections (each server in a process of its own): a thread per
/// connection has at least 300 threads at its peak, every task-per-connection server fewer than
/// 100; a pool of 64 threads serves 64 sensors and stalls, saying so; every other server gives
/// the reference report.
#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "not measured on this OS: thread counts come from Linux's /proc/self/task"
)]
fn the_experiment_counts_a_thread_per_connection_and_the_pool_stalls() {
    let (rows, printed) = run_with_deadline("the experiment", TEST_DEADLINE, || {
        let mut printed = Vec::new();
        let rows = experiment_with(
            &mut printed,
            &Setup {
                connections: &[300],
                servers: &SERVERS,
                input: input(),
                pool_threads: 64,
                launch: server_process,
            },
        );
        (rows, String::from_utf8(printed).unwrap())
    })
    .expect_finished("the experiment");
    let rows = rows.unwrap_or_else(|e| panic!("{}", error_chain(&e)));
    assert_eq!(rows.len(), SERVERS.len(), "{printed}");
    for row in &rows {
        assert!(printed.contains(&row.to_string()), "every row is printed");
        let threads = row.threads_peak.expect("Linux: /proc/self/task");
        match row.model {
            Model::ThreadPerConnection => {
                assert!(row.same_report(), "{row}");
                assert!(threads >= 300, "{row}");
            }
            Model::TaskPerConnection => {
                assert!(row.same_report(), "{row}");
                assert!(threads < 100, "{row}");
            }
            Model::Pool => {
                let failure = row.failure().unwrap_or_else(|| panic!("{row}"));
                assert!(
                    failure.contains("stalled")
                        && failure.contains("with 64 of 300 connections served (65 accepted)"),
                    "{row}"
                );
            }
        }
    }
    for said in [
        "server process: open-file limit",
        "fleet process: open-file limit",
    ] {
        assert!(printed.contains(said), "{said}:\n{printed}");
    }
}
// ANCHOR_END: experiment_counts

// ANCHOR: fd_limit
/// Out of file descriptors: a server process whose soft limit is 64 cannot accept 200
/// connections. Every variant fails with the OS's error (EMFILE), and the harness hangs the
/// sensors up so that the server returns instead of waiting for them.
#[test]
fn out_of_file_descriptors_every_server_fails_with_the_os_error() {
    if is_role("fd-limit") {
        let (_, hard) = rlimit::Resource::NOFILE.get().unwrap();
        rlimit::Resource::NOFILE.set(64, hard).unwrap();
        for (variant, model, server) in SERVERS {
            if model == Model::Pool {
                continue; // it takes one connection per thread: it never runs out
            }
            let fleet = Fleet::Process {
                input: input(),
                launch: fleet_process,
            };
            let what = label(variant, model);
            match run(&what, server, 200, fleet, Config::default()) {
                Ok(_) => panic!("{what}: served 200 connections with 64 file descriptors"),
                Err(e) => println!("{what}: {}", error_chain(&e)),
            }
        }
        return;
    }
    let output = child(
        "out_of_file_descriptors_every_server_fails_with_the_os_error",
        "fd-limit",
        "",
        None,
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", show(&output));
    for (variant, model, _) in SERVERS {
        if model == Model::Pool {
            continue;
        }
        let line = stdout
            .lines()
            .find(|l| l.contains(&format!("{}: ", label(variant, model))))
            .unwrap_or_else(|| panic!("no line for {variant}:\n{}", show(&output)));
        assert!(
            line.contains("cannot read input the listener on 127.0.0.1:")
                && line.contains("Too many open files"),
            "{line}"
        );
    }
}
// ANCHOR_END: fd_limit

// ANCHOR: thread_limit
/// Out of threads: in a process with 4 GiB of address space (`ulimit -v`) whose threads each
/// reserve a 256 MiB stack (`RUST_MIN_STACK`), the OS refuses a thread after a dozen or so. A thread
/// per connection cannot serve 100 connections there: it fails with the OS's refusal, and the
/// harness hangs the sensors up so that it returns. (Big stacks make the stack reservation
/// the allocation that fails; with small ones, some other allocation of a new thread may fail
/// first, and glibc aborts the process instead: still no hang, but no clear error either.)
#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "not measured on this OS: the thread limit under `ulimit -v` is Linux's"
)]
fn out_of_threads_a_thread_per_connection_fails_with_the_os_error() {
    if is_role("thread-limit") {
        let fleet = Fleet::Process {
            input: input(),
            launch: fleet_process,
        };
        let (variant, model, server) = SERVERS[0];
        assert_eq!(model, Model::ThreadPerConnection);
        match run(
            &label(variant, model),
            server,
            100,
            fleet,
            Config::default(),
        ) {
            Ok(_) => panic!("100 threads of 256 MiB fitted in 4 GiB"),
            Err(e) => println!("thread per connection: {}", error_chain(&e)),
        }
        return;
    }
    let output = child(
        "out_of_threads_a_thread_per_connection_fails_with_the_os_error",
        "thread-limit",
        "ulimit -v 4194304 &&",
        Some("268435456"),
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", show(&output));
    assert!(
        stdout.contains(
            "thread per connection: cannot start a thread for a connection: \
             Resource temporarily unavailable"
        ),
        "{}",
        show(&output)
    );
}
// ANCHOR_END: thread_limit

/// The live experiment, from the test binary (the workshop runs it as `cargo run --release --
/// demo many-connections`): `cargo test --release -p ch10-many-connections -- --ignored
/// --nocapture`.
#[test]
#[ignore = "the full measurement, 100 to 10,000 connections: run it in release mode"]
fn the_live_experiment() {
    let connections = ch10_many_connections::experiment::CONNECTIONS;
    let rows = experiment_with(
        &mut std::io::stdout(),
        &Setup::live(&connections, server_process),
    )
    .unwrap_or_else(|e| panic!("{}", error_chain(&e)));
    assert_eq!(rows.len(), connections.len() * SERVERS.len());
}

//! The workshop binary as a newcomer meets it: exit codes and messages, not internals.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use testkit::{TEST_DEADLINE, run_with_deadline};

/// Runs the workshop binary; if it has not exited by the deadline it is killed and the test
/// fails, so a hung child cannot outlive `cargo test`.
fn workshop(args: &[&str]) -> Output {
    workshop_with_env(args, &[], &[])
}

/// [`workshop`] with environment variables set (`set`) and removed (`unset`).
fn workshop_with_env(args: &[&str], set: &[(&str, &str)], unset: &[&str]) -> Output {
    let what = format!("`workshop {}`", args.join(" "));
    let mut command = Command::new(env!("CARGO_BIN_EXE_workshop"));
    for (key, value) in set {
        command.env(key, value);
    }
    for key in unset {
        command.env_remove(key);
    }
    let child = command
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the workshop binary starts");
    let pid = child.id();
    let outcome = run_with_deadline("workshop", TEST_DEADLINE, move || child.wait_with_output());
    if outcome.is_hung() {
        // The child is owned by the stuck waiting thread; kill it by its process id.
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
    }
    outcome
        .expect_finished(&what)
        .expect("waiting for the workshop binary")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A scratch folder for one test, removed at the end.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("workshop-cli-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn path(&self, file: &str) -> String {
        self.0.join(file).display().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn the_tour_checks_every_variant_and_exits_zero() {
    let out = workshop(&["tour", "--lines", "3000", "--repeat", "1"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    for variant in ["sync", "tokio", "async-std", "smol"] {
        assert!(
            stdout.lines().any(|l| l.trim_start().starts_with(variant)),
            "no row for {variant}:\n{stdout}"
        );
    }
    let identical = stdout.matches(" yes ").count();
    assert!(
        identical >= 4 && identical.is_multiple_of(4),
        "four per chapter: {stdout}"
    );
    assert!(!stdout.contains(" NO "), "{stdout}");
    assert!(stdout.contains("byte-identical"), "{stdout}");
}

#[test]
fn generate_then_run_accounts_for_every_line() {
    let scratch = Scratch::new("run");
    let (input, output) = (scratch.path("readings.csv"), scratch.path("windows.jsonl"));
    let generated = workshop(&[
        "generate", "--output", &input, "--lines", "2000", "--seed", "9",
    ]);
    assert!(generated.status.success(), "{}", text(&generated.stderr));

    let run = workshop(&[
        "run",
        "--variant",
        "smol",
        "--input",
        &input,
        "--output",
        &output,
    ]);
    let (stdout, stderr) = (text(&run.stdout), text(&run.stderr));
    assert!(run.status.success(), "{stderr}");
    assert!(stdout.contains("lines read       2000"), "{stdout}");
    assert!(stdout.contains("balance          ok"), "{stdout}");
    // rejected lines are listed compiler-style, file:line first
    assert!(stderr.contains(&format!("{input}:")), "{stderr}");
    let windows = stdout
        .lines()
        .find_map(|l| l.strip_prefix("windows          "))
        .expect("the report counts windows");
    let written = std::fs::read_to_string(Path::new(&output)).unwrap();
    assert_eq!(written.lines().count().to_string(), windows);
}

#[test]
fn a_missing_input_is_a_clear_error() {
    let out = workshop(&["run", "--input", "/no/such/readings.csv"]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with("error: cannot read input /no/such/readings.csv: "),
        "{stderr}"
    );
    assert_eq!(
        stderr.lines().count(),
        1,
        "one line, no backtrace: {stderr}"
    );
}

#[test]
fn an_unwritable_output_is_a_clear_error() {
    let scratch = Scratch::new("unwritable");
    let input = scratch.path("readings.csv");
    std::fs::write(&input, "s-0001,1700000000,1.5\n").unwrap();
    let out = workshop(&["run", "--input", &input, "--output", "/no/such/dir/w.jsonl"]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with("error: cannot write --output /no/such/dir/w.jsonl: "),
        "{stderr}"
    );
    assert!(
        !stderr.contains("chapter 1 ("),
        "the path is checked before the run starts: {stderr}"
    );
}

#[test]
fn bad_arguments_are_explained() {
    let out = workshop(&["run", "--variant", "rayon", "--input", "x.csv"]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("expected one of: sync, tokio, async-std, smol"),
        "{stderr}"
    );

    let out = workshop(&["run", "--chapter", "99", "--input", "x.csv"]);
    assert!(text(&out.stderr).contains("there is no chapter 99 yet; available: 1"));

    let out = workshop(&["generate", "--output", "x.csv", "--sensors", "0"]);
    assert!(text(&out.stderr).contains("sensors must be between 1 and 1000"));
}

#[test]
fn a_broken_demo_is_reported_stuck_and_exits_non_zero() {
    let out = workshop(&[
        "demo",
        "guard-across-await",
        "--variant",
        "smol",
        "--stall-secs",
        "1",
    ]);
    let stdout = text(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(
        stdout.contains("STUCK, as the book says: no progress for"),
        "{stdout}"
    );
    assert!(stdout.contains("1 waiting for the cache lock"), "{stdout}");
    assert!(
        stdout.contains("demo guard-across-await --variant smol --fixed"),
        "{stdout}"
    );
}

#[test]
fn a_fixed_demo_finishes_with_the_reference_report() {
    let out = workshop(&["demo", "lock-order", "--variant", "sync", "--fixed"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(
        stdout.contains("report identical to the reference"),
        "{stdout}"
    );
}

#[test]
fn a_demo_that_does_not_exist_for_a_variant_says_why() {
    let out = workshop(&["demo", "guard-across-await", "--variant", "sync"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("the sync variant has no `guard-across-await` demo"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn an_unbounded_spawn_demo_shows_the_explosion_and_its_fix_stays_within_the_limit() {
    let out = workshop(&["demo", "unbounded-spawn", "--variant", "tokio"]);
    let stdout = text(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(
        stdout.contains("EXPLODED, as the book says: tasks in flight: peak"),
        "{stdout}"
    );
    assert!(
        stdout.contains("readings rejected because the registry was overloaded"),
        "{stdout}"
    );

    let out = workshop(&["demo", "unbounded-spawn", "--variant", "tokio", "--fixed"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(
        stdout.contains("within its limit of 16: tasks in flight: peak"),
        "{stdout}"
    );
    assert!(stdout.contains("look-ups refused: 0"), "{stdout}");
}

#[test]
fn hints_go_from_gentle_to_explicit_and_say_where_the_next_is() {
    let out = workshop(&["hint", "04"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        stdout.starts_with("hint 1 of 3 for exercise 04"),
        "{stdout}"
    );
    assert!(
        stdout.contains("cargo run --release -- hint 04 2"),
        "{stdout}"
    );

    let out = workshop(&["hint", "04", "3"]);
    assert!(text(&out.stdout).contains("that was the last hint"));

    let out = workshop(&["hint", "99"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr)
            .contains("there is no exercise `99`; available: 01, 03, 04, 05, 06, 07, 08")
    );
}

#[test]
fn a_run_under_faults_dead_letters_the_failures_and_exits_2() {
    let scratch = Scratch::new("faults");
    let (input, output) = (scratch.path("readings.csv"), scratch.path("windows.jsonl"));
    let generated = workshop(&["generate", "--output", &input, "--lines", "3000"]);
    assert!(generated.status.success(), "{}", text(&generated.stderr));
    let run = workshop(&[
        "run",
        "--chapter",
        "6",
        "--variant",
        "tokio",
        "--input",
        &input,
        "--output",
        &output,
        "--faults",
        "6",
    ]);
    let (stdout, stderr) = (text(&run.stdout), text(&run.stderr));
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(stdout.contains("balance          ok"), "{stdout}");
    assert!(stderr.contains("lost: 0 records, 0 windows"), "{stderr}");
    let letters = scratch.path("windows.dead-letters.jsonl");
    assert!(stderr.contains(&letters), "{stderr}");
    let written = std::fs::read_to_string(&letters).unwrap();
    assert!(
        written.contains(r#""reason":"look-up panicked""#),
        "{written}"
    );
    assert!(written.contains(r#""kind":"window""#), "{written}");

    let elsewhere = workshop(&["run", "--chapter", "1", "--input", &input, "--faults", "6"]);
    assert_eq!(elsewhere.status.code(), Some(1));
    assert!(text(&elsewhere.stderr).contains("--faults is for chapter 6"));
}

#[test]
fn the_error_swallowing_demo_shows_the_silent_loss_and_the_fix_accounts_for_it() {
    let out = workshop(&["demo", "swallowed-errors", "--variant", "smol"]);
    let stdout = text(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(stdout.contains("LOST, as the book says"), "{stdout}");
    assert!(
        stdout.contains("neither accepted nor rejected: they vanished"),
        "{stdout}"
    );

    let out = workshop(&["demo", "swallowed-errors", "--variant", "smol", "--fixed"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(
        stdout.contains("every line accounted for (balanced)"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "failures rejected with their reason: 763 registry error, 1 look-up panicked"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("report identical to the reference"),
        "{stdout}"
    );
}

#[test]
fn ctrl_c_stops_chapter_7_with_a_checkpoint_and_resume_gives_the_full_report() {
    use std::io::{BufRead, BufReader};
    let scratch = Scratch::new("ctrl-c");
    let (input, checkpoint) = (scratch.path("readings.csv"), scratch.path("stop.json"));
    let (full, resumed) = (scratch.path("full.txt"), scratch.path("resumed.txt"));
    let generated = workshop(&["generate", "--output", &input, "--lines", "30000"]);
    assert!(generated.status.success(), "{}", text(&generated.stderr));
    let whole = workshop(&[
        "run",
        "--chapter",
        "7",
        "--variant",
        "sync",
        "--input",
        &input,
        "--report",
        &full,
    ]);
    assert!(whole.status.success(), "{}", text(&whole.stderr));

    // Start a run, wait until it says Ctrl-C is handled, then send SIGINT as a terminal would.
    let mut child = Command::new(env!("CARGO_BIN_EXE_workshop"))
        .args([
            "run",
            "--chapter",
            "7",
            "--variant",
            "tokio",
            "--input",
            &input,
            "--checkpoint",
            &checkpoint,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the workshop binary starts");
    let pid = child.id().to_string();
    let stderr = child.stderr.take().expect("piped stderr");
    let outcome = run_with_deadline("ctrl-c run", TEST_DEADLINE, move || {
        let mut lines = BufReader::new(stderr).lines();
        let mut seen = Vec::new();
        for line in lines.by_ref() {
            let line = line.expect("stderr is text");
            let ready = line.starts_with("press Ctrl-C");
            seen.push(line);
            if ready {
                let _ = Command::new("kill").args(["-INT", &pid]).status();
                break;
            }
        }
        seen.extend(lines.map_while(Result::ok));
        (child.wait().expect("waiting for the run"), seen.join("\n"))
    });
    let (status, said) = outcome.expect_finished("the run stopped by Ctrl-C");
    assert_eq!(status.code(), Some(130), "{said}");
    assert!(
        said.contains("nothing lost: checkpoint written to"),
        "{said}"
    );
    assert!(said.contains("--resume"), "{said}");
    assert!(Path::new(&checkpoint).exists(), "{said}");

    let resume = workshop(&[
        "run",
        "--chapter",
        "7",
        "--variant",
        "smol",
        "--input",
        &input,
        "--checkpoint",
        &checkpoint,
        "--resume",
        "--report",
        &resumed,
    ]);
    assert!(resume.status.success(), "{}", text(&resume.stderr));
    assert_eq!(
        std::fs::read_to_string(&resumed).unwrap(),
        std::fs::read_to_string(&full).unwrap(),
        "stopped (tokio) + resumed (smol) must be exactly the uninterrupted run's report"
    );
}

#[test]
fn run_chapter_9_writes_its_windows_to_postgres_and_a_rerun_changes_nothing() {
    let Some(db) = testkit::postgres::test_database("workshop_cli_sink") else {
        return; // the harness said SKIP (or failed, under REQUIRE_POSTGRES=1)
    };
    let scratch = Scratch::new("pg-sink");
    let input = scratch.path("readings.csv");
    let generated = workshop(&["generate", "--output", &input, "--lines", "1500"]);
    assert!(generated.status.success(), "{}", text(&generated.stderr));
    let args = [
        "run",
        "--chapter",
        "9",
        "--variant",
        "tokio",
        "--input",
        &input,
        "--sink",
        db.conninfo(),
    ];
    let first = workshop(&args);
    let (stdout, stderr) = (text(&first.stdout), text(&first.stderr));
    assert!(first.status.success(), "{stderr}");
    let windows: i64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("windows          "))
        .and_then(|n| n.trim().parse().ok())
        .expect("the report counts windows");
    let count = |db: &testkit::postgres::TestDatabase| -> i64 {
        db.client()
            .query_one("SELECT count(*) FROM pipeline.windows", &[])
            .expect("the windows table exists")
            .get(0)
    };
    assert_eq!(count(&db), windows, "one row per window of the report");
    let again = workshop(&args);
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert_eq!(text(&again.stdout), stdout, "a rerun reports the same");
    assert_eq!(count(&db), windows, "and writes no row twice");
}

#[test]
fn doctor_says_what_to_fix_on_a_machine_without_mdbook_or_postgres() {
    let out = workshop_with_env(
        &["doctor"],
        &[
            ("MDBOOK", "/nonexistent/mdbook"),
            ("PG_BINDIR", "/nonexistent"),
        ],
        &["DATABASE_URL"],
    );
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "warnings only, so exit 0:\n{stdout}{}",
        text(&out.stderr)
    );
    for expected in [
        "ok    Rust toolchain",
        "warn  mdBook",
        "fix: cargo install mdbook --version 0.5.4 --locked",
        "warn  PostgreSQL",
        "PG_BINDIR=/nonexistent has no initdb and postgres",
        "fix: sudo apt-get install postgresql",
        "Ready, with",
    ] {
        assert!(stdout.contains(expected), "no `{expected}` in:\n{stdout}");
    }
}

#[test]
fn doctor_fails_on_a_database_url_that_does_not_connect() {
    let out = workshop_with_env(
        &["doctor"],
        &[("DATABASE_URL", "postgres://nobody@127.0.0.1:1/nothing")],
        &[],
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("FAIL  PostgreSQL"), "{stdout}");
    assert!(stdout.contains("fix: fix DATABASE_URL"), "{stdout}");
    assert!(stderr.contains("1 check(s) failed"), "{stderr}");
}

#[test]
fn bench_names_its_groups_when_asked_for_one_that_does_not_exist() {
    let out = workshop(&["bench", "--only", "speed"]);
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("no measurement group `speed`; the groups are: throughput, fan-out"),
        "{stderr}"
    );
}

#[test]
fn bench_writes_a_table_with_its_provenance_and_checks_it() {
    let scratch = Scratch::new("bench");
    let dir = scratch.path("generated");
    let out = workshop(&["bench", "--quick", "--only", "connections", "--out", &dir]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}{stderr}");
    let table = std::fs::read_to_string(Path::new(&dir).join("connections.md")).unwrap();
    assert!(
        table.contains("> with `cargo run --release -- bench --quick --only connections`"),
        "{table}"
    );
    assert!(table.contains("cores"), "{table}");
    // One row per server at N = 100, every one with the reference's report.
    assert_eq!(table.matches("| 100 | ").count(), 5, "{table}");
    assert_eq!(table.matches("same report").count(), 5, "{table}");
    assert!(stdout.contains("1 files written and checked"), "{stdout}");
}

#[test]
fn chapter_11_logs_its_spans_on_request_and_other_chapters_say_they_have_none() {
    let scratch = Scratch::new("log");
    let input = scratch.path("readings.csv");
    let generated = workshop(&["generate", "--output", &input, "--lines", "300"]);
    assert!(generated.status.success(), "{}", text(&generated.stderr));

    let run = workshop(&[
        "run",
        "--chapter",
        "11",
        "--variant",
        "tokio",
        "--input",
        &input,
        "--log",
        "info",
    ]);
    let (stdout, stderr) = (text(&run.stdout), text(&run.stderr));
    assert!(run.status.success(), "{stderr}");
    assert!(stdout.contains("lines read       300"), "{stdout}");
    // Every event carries the spans it happened in: the variant, the stage, the batch.
    assert!(
        stderr.contains(r#"pipeline{variant="tokio"}:stage{stage="enrich"}:batch{first_line=1"#),
        "{stderr}"
    );
    assert!(stderr.contains("rejected line="), "{stderr}");

    let other = workshop(&["run", "--chapter", "1", "--input", &input, "--log", "info"]);
    assert!(!other.status.success());
    assert!(
        text(&other.stderr).contains("--log is for chapter 11"),
        "{}",
        text(&other.stderr)
    );
}

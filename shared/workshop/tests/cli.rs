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
    // deadline: run by `output_within` below, which kills it past the deadline.
    let mut command = Command::new(env!("CARGO_BIN_EXE_workshop"));
    for (key, value) in set {
        command.env(key, value);
    }
    for key in unset {
        command.env_remove(key);
    }
    command.args(args);
    testkit::output_within(&mut command, TEST_DEADLINE).unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// `run`'s exit status when some lines were rejected: the generated datasets have malformed
/// lines on purpose, so every run on one ends with it.
const SOME_REJECTED: i32 = 4;

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
    assert_eq!(run.status.code(), Some(SOME_REJECTED), "{stderr}");
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
    assert!(text(&out.stderr).contains(
        "there is no exercise `99`; available: 01, 02, 03, 04, 05, 06, 07, 08, 09, 10, 11, 12, 13"
    ));
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
    assert_eq!(
        whole.status.code(),
        Some(SOME_REJECTED),
        "{}",
        text(&whole.stderr)
    );

    // Start a run, wait until it says Ctrl-C is handled, then send SIGINT as a terminal would.
    // deadline: its stderr is read under `run_with_deadline` and it is waited for with
    // `wait_within`, which kills it past the deadline.
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
                // deadline: `kill` sends a signal and returns at once.
                let _ = Command::new("kill").args(["-INT", &pid]).status();
                break;
            }
        }
        seen.extend(lines.map_while(Result::ok));
        seen.join("\n")
    });
    let status = testkit::wait_within(&mut child, TEST_DEADLINE);
    let said = outcome.expect_finished("the run stopped by Ctrl-C");
    let status = status.unwrap_or_else(|e| panic!("{e}: {said}"));
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
    assert_eq!(
        resume.status.code(),
        Some(SOME_REJECTED),
        "{}",
        text(&resume.stderr)
    );
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
    assert_eq!(first.status.code(), Some(SOME_REJECTED), "{stderr}");
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
    assert_eq!(
        again.status.code(),
        Some(SOME_REJECTED),
        "{}",
        text(&again.stderr)
    );
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
fn bench_compare_names_the_cells_that_moved_more_than_their_spread() {
    let scratch = Scratch::new("compare");
    let (old, new) = (scratch.path("old"), scratch.path("new"));
    let table = |tokio: &str| {
        format!(
            "> header\n\n| C | sync | tokio |\n| --- | --- | --- |\n| 16 | 300/s ±2% | {tokio} |\n"
        )
    };
    for (dir, tokio) in [(&old, "310/s ±1%"), (&new, "400/s ±1%")] {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(Path::new(dir).join("fan-out.md"), table(tokio)).unwrap();
    }
    let out = workshop(&["bench", "--compare", &old, &new]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("fan-out.md, table 1, row \"16\", tokio: 310/s ±1% → 400/s ±1% (+29%"),
        "{stdout}"
    );
    assert!(
        stdout.contains("1 cell(s) moved by more than their spread, 1 stayed within it"),
        "{stdout}"
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
    assert_eq!(run.status.code(), Some(SOME_REJECTED), "{stderr}");
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

/// One bad input or invocation, and what it must get.
struct Bad {
    what: &'static str,
    /// Written to `in.csv` in a fresh folder, which also holds `link.csv` (a symlink to it) and
    /// `hard.csv` (a hard link to it). `{d}` in `args` is that folder.
    input: &'static [u8],
    args: &'static [&'static str],
    code: i32,
    /// Every one must be in stderr (`{d}` replaced).
    says: &'static [&'static str],
    /// The files the run may leave in the folder besides the input and its links: anything else
    /// (a 0-byte output, a staging directory) is a failure.
    leaves: &'static [&'static str],
}

const GOOD: &[u8] = b"s-0001,1700000000,1.5\n";
const MIXED: &[u8] = b"s-0001,1700000000,1.5\nnot a reading\n";
/// The bad inputs and invocations a newcomer (or a script) tries, each with its message (naming
/// the file and, for data, the line), its exit status, and what it may leave behind.
const BAD: &[Bad] = &[
    Bad {
        what: "an empty file",
        input: b"",
        args: &["run", "--input", "{d}/in.csv", "--output", "{d}/w.jsonl"],
        code: 5,
        says: &["no line accepted: the input has no lines"],
        leaves: &["w.jsonl"],
    },
    Bad {
        what: "only a header",
        input: b"sensor_id,timestamp,value\n",
        args: &[
            "run",
            "--input",
            "{d}/in.csv",
            "--rejections",
            "{d}/rejected.jsonl",
        ],
        code: 5,
        says: &[
            "{d}/in.csv:1: timestamp: not an integer",
            "no line accepted: all 1 lines were rejected",
        ],
        leaves: &["rejected.jsonl"],
    },
    Bad {
        what: "a directory as the input",
        input: GOOD,
        args: &["run", "--input", "{d}", "--output", "{d}/w.jsonl"],
        code: 1,
        says: &["error: cannot read input {d}: Is a directory"],
        leaves: &[],
    },
    Bad {
        what: "an input that does not exist, with every output asked for",
        input: GOOD,
        args: &[
            "run",
            "--input",
            "{d}/missing.csv",
            "--output",
            "{d}/w.jsonl",
            "--report",
            "{d}/report.txt",
            "--rejections",
            "{d}/rejected.jsonl",
        ],
        code: 1,
        says: &["error: cannot read input {d}/missing.csv: No such file"],
        leaves: &[],
    },
    Bad {
        what: "invalid UTF-8",
        input: b"s-0001,1700000000,1.5\ns-0001,17000\xff00060,1.5\n",
        args: &["run", "--input", "{d}/in.csv"],
        code: 4,
        says: &[
            "{d}/in.csv:2: timestamp: not an integer",
            "1 of 2 lines rejected",
        ],
        leaves: &[],
    },
    Bad {
        what: "NUL bytes",
        input: b"s-0001,1700000000,1.5\n\0\0\0\n",
        args: &["run", "--input", "{d}/in.csv", "--variant", "tokio"],
        code: 4,
        says: &["{d}/in.csv:2: record: 1 field, expected 3"],
        leaves: &[],
    },
    Bad {
        what: "CRLF line ends",
        input: b"s-0001,1700000000,1.5\r\ns-0002,1700000060,2.5\r\n",
        args: &["run", "--input", "{d}/in.csv", "--output", "{d}/w.jsonl"],
        code: 0,
        says: &["2 accepted, 0 rejected"],
        leaves: &["w.jsonl"],
    },
    Bad {
        what: "a lone CR (one line, five fields)",
        input: b"s-0001,1700000000,1.5\rs-0002,1700000060,2.5\n",
        args: &["run", "--input", "{d}/in.csv", "--variant", "smol"],
        code: 5,
        says: &["{d}/in.csv:1: record: 5 fields, expected 3"],
        leaves: &[],
    },
    Bad {
        what: "a byte-order mark (not data: the reading is accepted)",
        input: b"\xef\xbb\xbfs-0005,1700000000,1.5\n",
        args: &["run", "--input", "{d}/in.csv", "--variant", "async-std"],
        code: 0,
        says: &["1 accepted, 0 rejected"],
        leaves: &[],
    },
    Bad {
        what: "more rejected lines than --max-rejected",
        input: MIXED,
        args: &[
            "run",
            "--input",
            "{d}/in.csv",
            "--max-rejected",
            "0",
            "--rejections",
            "{d}/rejected.jsonl",
        ],
        code: 5,
        says: &["1 lines rejected, more than --max-rejected 0"],
        leaves: &["rejected.jsonl"],
    },
    Bad {
        what: "a negative --max-rejected",
        input: MIXED,
        args: &["run", "--input", "{d}/in.csv", "--max-rejected", "-1"],
        code: 2,
        says: &["`-1` is not a whole number from 0"],
        leaves: &[],
    },
    Bad {
        what: "an unknown variant",
        input: GOOD,
        args: &["run", "--input", "{d}/in.csv", "--variant", "rayon"],
        code: 2,
        says: &["expected one of: sync, tokio, async-std, smol"],
        leaves: &[],
    },
    Bad {
        what: "an unknown chapter",
        input: GOOD,
        args: &["run", "--input", "{d}/in.csv", "--chapter", "99"],
        code: 2,
        says: &["there is no chapter 99 yet; available: 1 ("],
        leaves: &[],
    },
    Bad {
        what: "a negative chapter",
        input: GOOD,
        args: &["run", "--input", "{d}/in.csv", "--chapter", "-1"],
        code: 2,
        says: &["`-1` is not a chapter number; available: 1 ("],
        leaves: &[],
    },
    Bad {
        what: "a capacity of 2^32 - 1 (aborted three variants: 137 GB asked for)",
        input: GOOD,
        args: &[
            "run",
            "--input",
            "{d}/in.csv",
            "--capacity",
            "4294967295",
            "--output",
            "{d}/w.jsonl",
        ],
        code: 2,
        says: &["4294967295 is not in 1..=1000000"],
        leaves: &[],
    },
    Bad {
        what: "a capacity of zero",
        input: GOOD,
        args: &["run", "--input", "{d}/in.csv", "--capacity", "0"],
        code: 2,
        says: &["0 is not in 1..=1000000"],
        leaves: &[],
    },
    Bad {
        what: "a negative batch size",
        input: GOOD,
        args: &["run", "--input", "{d}/in.csv", "--batch-size", "-5"],
        code: 2,
        says: &["-5 is not in 1..=1000000"],
        leaves: &[],
    },
    Bad {
        what: "a huge concurrency",
        input: GOOD,
        args: &[
            "run",
            "--input",
            "{d}/in.csv",
            "--chapter",
            "2",
            "--concurrency",
            "100000000",
        ],
        code: 2,
        says: &["100000000 is not in 1..=10000"],
        leaves: &[],
    },
    Bad {
        what: "zero threads",
        input: GOOD,
        args: &["run", "--input", "{d}/in.csv", "--threads", "0"],
        code: 2,
        says: &["0 is not in 1..=1024"],
        leaves: &[],
    },
    Bad {
        what: "an output in a missing directory",
        input: GOOD,
        args: &[
            "run",
            "--input",
            "{d}/in.csv",
            "--output",
            "{d}/no/such/w.jsonl",
        ],
        code: 1,
        says: &["error: cannot write --output {d}/no/such/w.jsonl: No such file"],
        leaves: &[],
    },
    Bad {
        what: "an output where nothing may be written",
        input: GOOD,
        args: &["run", "--input", "{d}/in.csv", "--output", "/proc/w.jsonl"],
        code: 1,
        says: &["error: cannot write --output /proc/w.jsonl: "],
        leaves: &[],
    },
    Bad {
        what: "an output that is a directory",
        input: GOOD,
        args: &["run", "--input", "{d}/in.csv", "--report", "{d}"],
        code: 1,
        says: &["error: cannot write --report {d}: it is a directory"],
        leaves: &[],
    },
    Bad {
        what: "--output is the input, spelled with ./",
        input: GOOD,
        args: &["run", "--input", "{d}/in.csv", "--output", "{d}/./in.csv"],
        code: 1,
        says: &["error: --output {d}/./in.csv is the input file {d}/in.csv"],
        leaves: &[],
    },
    Bad {
        what: "--report is the input, through a symlink",
        input: GOOD,
        args: &["run", "--input", "{d}/in.csv", "--report", "{d}/link.csv"],
        code: 1,
        says: &["error: --report {d}/link.csv is the input file {d}/in.csv"],
        leaves: &[],
    },
    Bad {
        what: "--rejections is the input, through a hard link",
        input: MIXED,
        args: &[
            "run",
            "--input",
            "{d}/in.csv",
            "--rejections",
            "{d}/hard.csv",
        ],
        code: 1,
        says: &["error: --rejections {d}/hard.csv is the input file {d}/in.csv"],
        leaves: &[],
    },
    Bad {
        what: "two outputs that are the same file",
        input: GOOD,
        args: &[
            "run",
            "--input",
            "{d}/in.csv",
            "--output",
            "{d}/w.jsonl",
            "--report",
            "{d}/./w.jsonl",
        ],
        code: 1,
        says: &["error: --output {d}/w.jsonl and --report {d}/./w.jsonl are the same file"],
        leaves: &[],
    },
    Bad {
        what: "a checkpoint that is the input",
        input: GOOD,
        args: &[
            "run",
            "--chapter",
            "7",
            "--input",
            "{d}/in.csv",
            "--checkpoint",
            "{d}/link.csv",
        ],
        code: 1,
        says: &["error: --checkpoint {d}/link.csv is the input file"],
        leaves: &[],
    },
    Bad {
        what: "a flag for another chapter",
        input: GOOD,
        args: &[
            "run",
            "--input",
            "{d}/in.csv",
            "--resume",
            "--output",
            "{d}/w.jsonl",
        ],
        code: 1,
        says: &["error: --resume is for chapter 7"],
        leaves: &[],
    },
    Bad {
        what: "--resume without a checkpoint",
        input: GOOD,
        args: &[
            "run",
            "--chapter",
            "7",
            "--input",
            "{d}/in.csv",
            "--resume",
            "--output",
            "{d}/w.jsonl",
            "--report",
            "{d}/report.txt",
        ],
        code: 1,
        says: &["{d}/in.csv.checkpoint.json"],
        leaves: &[],
    },
    Bad {
        what: "a failed variant (chapter 9's database does not answer)",
        input: GOOD,
        args: &[
            "run",
            "--chapter",
            "9",
            "--input",
            "{d}/in.csv",
            "--sink",
            "postgresql://u@127.0.0.1:1/d",
            "--output",
            "{d}/w.jsonl",
            "--report",
            "{d}/report.txt",
            "--rejections",
            "{d}/rejected.jsonl",
        ],
        code: 1,
        says: &[
            "error: the sync variant of chapter 9 failed on {d}/in.csv: ",
            "127.0.0.1:1",
        ],
        leaves: &[],
    },
    Bad {
        what: "generate: more lines than fit in memory",
        input: GOOD,
        args: &[
            "generate",
            "--output",
            "{d}/g.csv",
            "--lines",
            "99999999999",
        ],
        code: 2,
        says: &["99999999999 is not in 0..=10000000"],
        leaves: &[],
    },
    Bad {
        what: "generate: no sensors",
        input: GOOD,
        args: &["generate", "--output", "{d}/g.csv", "--sensors", "0"],
        code: 1,
        says: &["sensors must be between 1 and 1000, got 0"],
        leaves: &[],
    },
    Bad {
        what: "generate: more malformed lines than lines",
        input: GOOD,
        args: &[
            "generate",
            "--output",
            "{d}/g.csv",
            "--malformed-per-mille",
            "1001",
        ],
        code: 2,
        says: &["1001 is not in 0..=1000"],
        leaves: &[],
    },
    Bad {
        what: "generate over the input of another run, in a missing directory",
        input: GOOD,
        args: &["generate", "--output", "{d}/missing/g.csv", "--lines", "10"],
        code: 1,
        says: &["error: cannot write --output {d}/missing/g.csv: No such file"],
        leaves: &[],
    },
    Bad {
        what: "tour: zero repeats",
        input: GOOD,
        args: &["tour", "--repeat", "0"],
        code: 2,
        says: &["0 is not in 1..=100"],
        leaves: &[],
    },
    Bad {
        what: "tour: a negative number of lines",
        input: GOOD,
        args: &["tour", "--lines", "-3"],
        code: 2,
        says: &["-3 is not in 0..=10000000"],
        leaves: &[],
    },
    Bad {
        what: "demo: a negative stall",
        input: GOOD,
        args: &["demo", "lock-order", "--stall-secs", "-1"],
        code: 2,
        says: &["-1 is not in 1..=600"],
        leaves: &[],
    },
    Bad {
        what: "registry: a negative latency",
        input: GOOD,
        args: &["registry", "--latency-ms", "-1"],
        code: 2,
        says: &["-1 is not in 0..=60000"],
        leaves: &[],
    },
    Bad {
        what: "registry: a port past 65535",
        input: GOOD,
        args: &["registry", "--port", "70000"],
        code: 2,
        says: &["70000 is not in 0..=65535"],
        leaves: &[],
    },
    Bad {
        what: "registry: a latency whose p99 (5 times it) would overflow",
        input: GOOD,
        args: &["registry", "--latency-ms", "18446744073709551615"],
        code: 2,
        says: &[
            "invalid value '18446744073709551615' for '--latency-ms <LATENCY_MS>': number too large",
        ],
        leaves: &[],
    },
    Bad {
        what: "hint: hint zero",
        input: GOOD,
        args: &["hint", "04", "0"],
        code: 2,
        says: &["0 is not in 1..=65535"],
        leaves: &[],
    },
];

/// Every bad input and invocation in [`BAD`]: the message, the exit status, what is left.
#[test]
fn bad_inputs_and_invocations_get_a_message_an_exit_status_and_leave_nothing_behind() {
    let mut failures = Vec::new();
    for (i, bad) in BAD.iter().enumerate() {
        let scratch = Scratch::new(&format!("bad-{i}"));
        let dir = scratch.0.display().to_string();
        std::fs::write(scratch.0.join("in.csv"), bad.input).unwrap();
        std::os::unix::fs::symlink(scratch.0.join("in.csv"), scratch.0.join("link.csv")).unwrap();
        std::fs::hard_link(scratch.0.join("in.csv"), scratch.0.join("hard.csv")).unwrap();
        let args: Vec<String> = bad.args.iter().map(|a| a.replace("{d}", &dir)).collect();
        let out = workshop(&args.iter().map(String::as_str).collect::<Vec<_>>());
        let stderr = text(&out.stderr);
        let mut wrong = Vec::new();
        if out.status.code() != Some(bad.code) {
            wrong.push(format!(
                "exit status {:?}, not {}",
                out.status.code(),
                bad.code
            ));
        }
        for says in bad.says {
            let says = says.replace("{d}", &dir);
            if !stderr.contains(&says) {
                wrong.push(format!("no `{says}`"));
            }
        }
        if stderr.contains("panicked") || stderr.contains("RUST_BACKTRACE") {
            wrong.push("a panic".into());
        }
        if stderr.contains("workshop-staging") {
            wrong.push("a staging directory's name in a message".into());
        }
        let mut left: Vec<String> = std::fs::read_dir(&scratch.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| !["in.csv", "link.csv", "hard.csv"].contains(&name.as_str()))
            .collect();
        left.sort();
        let mut leaves: Vec<&str> = bad.leaves.to_vec();
        leaves.sort_unstable();
        if left != leaves {
            wrong.push(format!("left {left:?}, not {leaves:?}"));
        }
        if std::fs::read(scratch.0.join("in.csv")).unwrap() != bad.input {
            wrong.push("the input was changed".into());
        }
        if !wrong.is_empty() {
            failures.push(format!(
                "{} (`workshop {}`): {}\n  stderr: {stderr}",
                bad.what,
                args.join(" "),
                wrong.join("; ")
            ));
        }
    }
    assert!(BAD.len() >= 25);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_rejected_line_can_be_written_and_the_report_text_does_not_change() {
    let scratch = Scratch::new("rejections");
    let (input, rejected) = (scratch.path("readings.csv"), scratch.path("rejected.jsonl"));
    let generated = workshop(&["generate", "--output", &input, "--lines", "2000"]);
    assert!(generated.status.success(), "{}", text(&generated.stderr));
    let plain = workshop(&["run", "--input", &input]);
    let with_file = workshop(&["run", "--input", &input, "--rejections", &rejected]);
    assert_eq!(with_file.status.code(), Some(SOME_REJECTED));
    assert_eq!(text(&plain.stdout), text(&with_file.stdout));
    let count: usize = text(&plain.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("rejected         "))
        .and_then(|n| n.trim().parse().ok())
        .expect("the report counts rejected lines");
    assert!(count > 10, "more than the ten stderr lists: {count}");
    let written = std::fs::read_to_string(&rejected).unwrap();
    assert_eq!(
        written.lines().count(),
        count,
        "every one, not the first ten"
    );
    for line in written.lines() {
        for field in [
            r#"{"line":"#,
            r#","field":"#,
            r#","kind":"#,
            r#","reason":"#,
            r#","excerpt":"#,
        ] {
            assert!(line.contains(field), "{line}");
        }
    }
    assert!(
        text(&with_file.stderr).contains(&format!("every one is in {rejected}")),
        "{}",
        text(&with_file.stderr)
    );
}

/// Standard output closed by its reader (`| head -1`): a quiet end with 141, no panic, and no
/// output file (the run did not finish).
#[test]
fn a_closed_stdout_ends_the_run_quietly_and_a_full_one_says_so() {
    let scratch = Scratch::new("stdout");
    let input = scratch.path("in.csv");
    std::fs::write(&input, GOOD).unwrap();
    let output = scratch.path("w.jsonl");
    for args in [
        vec!["hint", "04"],
        vec!["demo"],
        vec!["run", "--input", &input, "--output", &output],
    ] {
        let errors = scratch.path("stderr.txt");
        // The reader is gone before the child starts, so its first write fails, however the
        // two processes are scheduled (closing it after `spawn` would race the child's writes
        // into the pipe's buffer).
        let (reader, writer) = std::io::pipe().expect("a pipe");
        drop(reader);
        // deadline: waited for with `wait_within`, which kills it past the deadline.
        let mut child = Command::new(env!("CARGO_BIN_EXE_workshop"))
            .args(&args)
            .stdout(writer)
            .stderr(std::fs::File::create(&errors).unwrap())
            .spawn()
            .expect("the workshop binary starts");
        let status = testkit::wait_within(&mut child, TEST_DEADLINE).unwrap();
        let stderr = std::fs::read_to_string(&errors).unwrap();
        let out = Output {
            status,
            stdout: Vec::new(),
            stderr: stderr.clone().into_bytes(),
        };
        assert_eq!(out.status.code(), Some(141), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(!stderr.contains("error"), "quietly: {args:?}: {stderr}");
        assert!(!Path::new(&output).exists(), "{args:?}");
    }

    let full = std::fs::File::create("/dev/full").expect("/dev/full exists on Linux");
    let errors = scratch.path("stderr.txt");
    // deadline: waited for with `wait_within`, which kills it past the deadline.
    let mut child = Command::new(env!("CARGO_BIN_EXE_workshop"))
        .args(["run", "--input", &input, "--output", &output])
        .stdout(full)
        .stderr(std::fs::File::create(&errors).unwrap())
        .spawn()
        .expect("the workshop binary starts");
    let status = testkit::wait_within(&mut child, TEST_DEADLINE).unwrap();
    let out = Output {
        status,
        stdout: Vec::new(),
        stderr: std::fs::read(&errors).unwrap(),
    };
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error: cannot write to standard output: No space left on device"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!Path::new(&output).exists());
}

/// A password given in either form of connection string, to any command that takes one, is
/// never printed: not when it says where it writes, not when the connection fails.
#[test]
fn no_command_prints_a_database_password() {
    let scratch = Scratch::new("secrets");
    let input = scratch.path("in.csv");
    std::fs::write(&input, GOOD).unwrap();
    let forms = [
        "host=127.0.0.1 port=1 user=u password=s3cret dbname=d",
        "postgresql://u:s3cret@127.0.0.1:1/d",
        "postgres://u:s3cret@127.0.0.1:1/d?connect_timeout=5",
        "host=127.0.0.1 port=not-a-port password=s3cret",
    ];
    for conninfo in forms {
        let mut runs: Vec<(String, Output)> = Vec::new();
        for variant in ["sync", "tokio", "async-std", "smol"] {
            let args = [
                "run",
                "--chapter",
                "9",
                "--variant",
                variant,
                "--input",
                &input,
                "--sink",
                conninfo,
            ];
            runs.push((args.join(" "), workshop(&args)));
        }
        let env = [("DATABASE_URL", conninfo)];
        for args in [
            &["run", "--chapter", "9", "--input", &input][..],
            &["doctor"],
            &["demo", "scaling-out"],
        ] {
            runs.push((
                format!("DATABASE_URL=… {}", args.join(" ")),
                workshop_with_env(args, &env, &[]),
            ));
        }
        for (what, out) in runs {
            let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
            assert!(
                !out.status.success() || what.contains("doctor"),
                "{what}: {stderr}"
            );
            assert!(
                !stdout.contains("s3cret") && !stderr.contains("s3cret"),
                "`{what}` printed the password:\n{stdout}{stderr}"
            );
        }
    }
    // And it still says where it tried: user, host, port and database, from the driver's parser.
    let out = workshop(&[
        "run",
        "--chapter",
        "9",
        "--input",
        &input,
        "--sink",
        forms[0],
    ]);
    assert!(
        text(&out.stderr).contains("postgresql://u@127.0.0.1:1/d"),
        "{}",
        text(&out.stderr)
    );
}

/// Chapter 9's registered registry child, as the lab starts it: it says its URL, answers a
/// request, and ends by itself when its standard input closes (so it cannot outlive the lab).
#[test]
fn the_registry_child_serves_until_its_stdin_closes() {
    run_with_deadline("the registry child", TEST_DEADLINE, move || {
        use std::io::{BufRead, BufReader, Read, Write};

        // deadline: `wait_within` below, and KillOnDrop if an assertion fails first
        let mut command = Command::new(env!("CARGO_BIN_EXE_workshop"));
        command
            .env(course::child::CHILD_VAR, "ch09-registry")
            .args(["--latency", "fixed:1000", "--seed", "0", "--capacity", "4"])
            .args(["--wait", "precise"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        let mut child = testkit::KillOnDrop(command.spawn().unwrap());
        let mut line = String::new();
        BufReader::new(child.0.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let host = line.trim().trim_start_matches("http://").to_string();
        let mut socket = std::net::TcpStream::connect(&host).unwrap();
        socket
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let sensor = pipeline::FleetRegistry::sensor_id(0);
        write!(
            socket,
            "GET /sensors/{sensor} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        socket.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        drop(child.0.stdin.take());
        let status = child.wait_within(TEST_DEADLINE).unwrap();
        assert!(status.success(), "{status}");
    })
    .expect_finished("the registry child");
}

/// `diagrams` records each run, checks its shape (the command fails otherwise), draws it and
/// parses the SVG back — in a process of its own, as CI runs it: the recorder hears every
/// pipeline in its process, so inside a test binary it would also record the other tests'.
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "chapter 1's sync diagram reads thread states from Linux's /proc: not measured on this OS"
)]
#[test]
fn the_diagrams_are_recorded_checked_and_drawn() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let out = workshop(&["diagrams", "--out", &dir.path().display().to_string()]);
    assert!(
        out.status.success(),
        "diagrams failed:\n{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let drawn: Vec<String> = std::fs::read_dir(dir.path())
        .expect("the output directory")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".svg"))
        .collect();
    assert_eq!(drawn.len(), 6, "{drawn:?}");
}

//! Chapter 12's claims, as tests.
//!
//! - The standalone programs' pipelines — chapter 1's own variant files
//!   (`chapters/01-baseline/src/variants/*.rs`), which this crate and every standalone compile
//!   through `#[path]` — give the reference report; the programs' `main` prints it or fails
//!   with exit 1.
//! - The memory measurement really has every unit alive at once, in a child process: a thread
//!   each for sync, a handful of threads for the task variants; a child that hangs is killed
//!   at its deadline, one that fails is an error naming the variant.
//! - The standalone packages are workspaces of their own, with locks that pin the workspace's
//!   versions and are current (`cargo metadata --locked`); the build counter counts cargo's
//!   "Compiling" lines.
//!
//! No test asserts a duration or a size threshold that the machine could move. The clean
//! release builds take minutes, so they are not run here; two ignored tests run the real
//! measurements by hand (`cargo test -p ch12-costs -- --ignored --nocapture`).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use ch12_costs::variants::tokio_rt;
use ch12_costs::{
    IdleSample, MemoryRow, ProcSnapshot, STANDALONES, VARIANTS, chapter_input, cli,
    compiled_crates, idle_main, lock_packages, measure_build, measure_memory,
    measure_memory_within, standalone_dir, store_sync, store_tokio,
};
use pipeline::{Config, PipelineError, Report, Variant, error_chain, run_sequential};
use testkit::{
    TEST_DEADLINE, assert_variants_agree, output_within, run_with_deadline, test_database,
};

// ---------------------------------------------------------------------------------------------
// The pipelines the standalone programs run

fn reference() -> Report {
    run_sequential(&chapter_input(), &Config::default()).expect("the reference runs")
}

// ANCHOR: variants_agree
#[test]
fn every_standalone_pipeline_gives_the_reference_report() {
    let input = chapter_input();
    let expected = reference();
    let reports: Vec<(Variant, Report)> = VARIANTS
        .iter()
        .map(|&(variant, run)| {
            let input = input.clone();
            let report = run_with_deadline(variant.name(), TEST_DEADLINE, move || {
                run(&input, &Config::default())
            })
            .expect_finished(&format!("the {variant} pipeline"))
            .unwrap_or_else(|e| panic!("{variant}: {}", error_chain(&e)));
            (variant, report)
        })
        .collect();
    assert_variants_agree(input.name(), &expected, &reports);
    insta::assert_snapshot!("report", expected.text());
}
// ANCHOR_END: variants_agree

#[test]
fn a_standalone_main_prints_the_report_or_the_error() {
    let input = chapter_input();
    let expected = reference();
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let code = run_with_deadline("cli", TEST_DEADLINE, move || {
        let code = cli::run_program(
            tokio_rt::run,
            input.text().as_bytes(),
            &mut stdout,
            &mut stderr,
        );
        (code, stdout, stderr)
    })
    .expect_finished("the tokio program");
    let (code, stdout, stderr) = code;
    assert_eq!(code, 0, "{}", String::from_utf8_lossy(&stderr));
    assert_eq!(String::from_utf8(stdout).unwrap(), expected.text());

    // Bytes that are not UTF-8 are a rejected line, not a failed run.
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let code = cli::run_program(
        run_sequential,
        &b"s-0001,1700000040,20.5\n\xff\xfe\n"[..],
        &mut stdout,
        &mut stderr,
    );
    assert_eq!(code, 0);
    let text = String::from_utf8(stdout).unwrap();
    let report = run_sequential(
        &pipeline::Input::from_text("stdin", "s-0001,1700000040,20.5\n\u{fffd}\u{fffd}\n"),
        &Config::default(),
    )
    .unwrap();
    assert_eq!(report.rejected(), 1);
    assert_eq!(text, report.text());

    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let code = cli::run_program(
        |_, _| Err(PipelineError::Config("no good".into())),
        &b""[..],
        &mut stdout,
        &mut stderr,
    );
    assert_eq!(code, 1);
    assert!(stdout.is_empty());
    assert_eq!(
        String::from_utf8(stderr).unwrap(),
        "error: invalid configuration: no good\n"
    );
}

/// What the `*-postgres` programs wrote: (sensor, window start, site, count, mean bits).
fn rows(client: &mut postgres::Client) -> Vec<(String, i64, String, i64, u64)> {
    client
        .query(
            "SELECT sensor_id, window_start, site, count, mean FROM report_windows \
             ORDER BY sensor_id, window_start",
            &[],
        )
        .expect("the table exists")
        .iter()
        .map(|r| {
            (
                r.get(0),
                r.get(1),
                r.get(2),
                r.get(3),
                r.get::<_, f64>(4).to_bits(),
            )
        })
        .collect()
}

#[test]
fn both_postgres_stores_upsert_every_window_once() {
    let report = reference();
    let expected: Vec<(String, i64, String, i64, u64)> = report
        .windows()
        .iter()
        .map(|w| {
            (
                w.sensor_id.clone(),
                w.window_start,
                w.site.clone(),
                w.count as i64,
                w.mean.to_bits(),
            )
        })
        .collect();
    let windows = report.windows().to_vec();
    let Some(sync_db) = test_database("ch12_sync_store") else {
        return;
    };
    let conninfo = sync_db.conninfo().to_owned();
    let written = run_with_deadline("sync store", TEST_DEADLINE, move || {
        // Twice: the second run replaces the rows, it does not add to them.
        let first = store_sync::write_windows(&conninfo, &windows)?;
        let second = store_sync::write_windows(&conninfo, &windows)?;
        Ok::<_, PipelineError>((first, second))
    })
    .expect_finished("the sync store")
    .unwrap_or_else(|e| panic!("{}", error_chain(&e)));
    let n = expected.len() as u64;
    assert_eq!(written, (n, n));
    assert_eq!(rows(&mut sync_db.client()), expected);

    let Some(tokio_db) = test_database("ch12_tokio_store") else {
        return;
    };
    let conninfo = tokio_db.conninfo().to_owned();
    let windows = report.windows().to_vec();
    let written = run_with_deadline("tokio store", TEST_DEADLINE, move || {
        store_tokio::runtime(&Config::default())?.block_on(async {
            let first = store_tokio::write_windows(&conninfo, &windows).await?;
            let second = store_tokio::write_windows(&conninfo, &windows).await?;
            Ok::<_, PipelineError>((first, second))
        })
    })
    .expect_finished("the tokio store")
    .unwrap_or_else(|e| panic!("{}", error_chain(&e)));
    assert_eq!(written, (n, n));
    assert_eq!(rows(&mut tokio_db.client()), expected);
}

// ---------------------------------------------------------------------------------------------
// Memory per idle in-flight operation

/// Selects the child role: `<variant> <count>`.
const CHILD_ROLE: &str = "CH12_IDLE_CHILD";
/// The test whose child role is the idle child.
const CHILD_TEST: &str = "idle_units_are_all_alive_at_once_in_a_child_process";

// ANCHOR: launch
/// What the workshop's `__idle` subcommand does, for tests: this test binary, re-executed to
/// run only [`CHILD_TEST`], which sees [`CHILD_ROLE`] and calls `idle_main`.
// deadline: a launcher; `measure_memory` starts it and kills it at its own deadline
fn launch(variant: Variant, count: usize) -> Command {
    let mut command = Command::new(std::env::current_exe().expect("the test binary"));
    command
        .args(["--exact", CHILD_TEST, "--nocapture", "--test-threads=1"])
        .env(CHILD_ROLE, format!("{variant} {count}"));
    command
}
// ANCHOR_END: launch

/// In the child role: be the child, then return true.
fn act_as_child() -> bool {
    let Ok(role) = std::env::var(CHILD_ROLE) else {
        return false;
    };
    let (variant, count) = role.split_once(' ').expect("`<variant> <count>`");
    let variant: Variant = variant.parse().expect("a variant name");
    let count: usize = count.parse().expect("a count");
    if let Err(e) = idle_main(variant, count) {
        panic!("idle child: {}", error_chain(&e));
    }
    true
}

const COUNT: usize = 300;
const REPEATS: usize = 3;

// ANCHOR: all_alive
#[test]
fn idle_units_are_all_alive_at_once_in_a_child_process() {
    if act_as_child() {
        return;
    }
    let rows = run_with_deadline("memory", TEST_DEADLINE, || {
        measure_memory(&launch, COUNT, REPEATS)
    })
    .expect_finished("the memory measurement")
    .unwrap_or_else(|e| panic!("{}", error_chain(&e)));

    let variants: Vec<Variant> = rows.iter().map(|r| r.variant).collect();
    assert_eq!(variants, Variant::ALL);
    for row in &rows {
        let v = row.variant;
        assert_eq!(row.count, COUNT, "{v}");
        assert_eq!(row.samples.len(), REPEATS, "{v}");
        // Every child released every unit with its state intact (measure_memory checks it).
        assert!(row.samples.iter().all(|s| s.released == COUNT), "{v}");
        assert!(row.unit_bytes > 0, "{v}");
        match v {
            Variant::Sync => {
                // A thread each, all alive at the moment of the snapshot.
                assert!(
                    row.threads >= row.threads_before + COUNT,
                    "sync: {} threads while {COUNT} units waited ({} before)",
                    row.threads,
                    row.threads_before
                );
                assert!(row.rss_per_unit_bytes > 0.0, "sync: {row:?}");
                // Each thread reserves its whole stack: the "2 MB" is address space.
                let stack = row.thread_stack_bytes.expect("sync reports its stack size");
                assert!(
                    row.virtual_per_unit_bytes >= stack as f64,
                    "sync: {} virtual bytes per thread, stack {stack}",
                    row.virtual_per_unit_bytes
                );
            }
            _ => {
                // A task is not a thread: the runtime's few workers wait for all of them.
                assert!(row.threads < 20, "{v}: {} threads", row.threads);
                assert_eq!(row.thread_stack_bytes, None, "{v}");
                // The future holds the unit's 64-byte state across its `.await`.
                assert!(
                    row.unit_bytes >= 64,
                    "{v}: a {}-byte future",
                    row.unit_bytes
                );
            }
        }
    }
}
// ANCHOR_END: all_alive

/// A sample as a child would print it.
fn sample(variant: Variant, rss_during_kib: u64, kernel: Option<u64>) -> IdleSample {
    IdleSample {
        variant,
        count: 10,
        before: ProcSnapshot {
            rss_kib: 1_000,
            vm_kib: 10_000,
            kernel_stack_kib: kernel,
            threads: 3,
        },
        during: ProcSnapshot {
            rss_kib: rss_during_kib,
            vm_kib: 30_000,
            kernel_stack_kib: kernel.map(|k| k + 160),
            threads: 13,
        },
        spawn_ns: 1_000,
        ready_ns: 5_000,
        unit_bytes: 96,
        thread_stack_bytes: None,
        released: 10,
    }
}

#[test]
fn a_row_is_the_median_of_each_figure_per_unit() {
    let samples = [
        sample(Variant::Tokio, 1_010, Some(500)),
        sample(Variant::Tokio, 1_030, Some(500)),
        sample(Variant::Tokio, 1_020, Some(500)),
    ];
    let row = MemoryRow::from_samples(&samples).unwrap();
    assert_eq!(row.repeats, 3);
    assert_eq!(row.rss_per_unit_bytes, 2048.0); // median of 10, 30, 20 KiB over 10 units
    assert_eq!(row.virtual_per_unit_bytes, 2_048_000.0);
    assert_eq!(row.kernel_stack_per_unit_bytes, Some(16_384.0));
    assert_eq!(row.spawn_ns_per_unit, 100.0);
    assert_eq!(row.ready_ns_per_unit, 500.0);
    assert_eq!((row.threads, row.threads_before), (13, 3));

    // An even number of samples: the mean of the middle two.
    let row = MemoryRow::from_samples(&samples[..2]).unwrap();
    assert_eq!(row.rss_per_unit_bytes, 2048.0);
    // One sample without the kernel's figure: no kernel figure at all.
    let row = MemoryRow::from_samples(&[samples[0].clone(), sample(Variant::Tokio, 1_010, None)])
        .unwrap();
    assert_eq!(row.kernel_stack_per_unit_bytes, None);
    // Samples that do not belong together are no row.
    assert_eq!(
        MemoryRow::from_samples(&[samples[0].clone(), sample(Variant::Smol, 1_010, None)]),
        None
    );
    assert_eq!(MemoryRow::from_samples(&[]), None);

    // Rows travel as JSON, with the variant's command-line name.
    let json = serde_json::to_string(
        &MemoryRow::from_samples(&[sample(Variant::AsyncStd, 1_010, None)]).unwrap(),
    )
    .unwrap();
    assert!(json.contains(r#""variant":"async-std""#), "{json}");
    let back: MemoryRow = serde_json::from_str(&json).unwrap();
    assert_eq!(back.variant, Variant::AsyncStd);
}

// deadline: a launcher for `measure_memory_within`, which kills it at its deadline
fn sh(script: &str) -> Command {
    let mut command = Command::new("sh");
    command.arg("-c").arg(script);
    command
}

#[test]
fn a_hung_child_is_killed_at_its_deadline_and_named() {
    let dir = std::env::temp_dir().join(format!("ch12-hung-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pid_file = dir.join("pid");
    let script = format!("echo $$ > {}; exec sleep 30", pid_file.display());
    // The deadline only has to outlast `sh` writing its pid; the child would sleep for 30 s.
    let err = measure_memory_within(&|_, _| sh(&script), 5, 1, Duration::from_millis(1_500))
        .expect_err("the child sleeps past its deadline");
    let message = error_chain(&err);
    assert!(
        message.contains("memory child (sync)") && message.contains("timed out"),
        "{message}"
    );
    let pid = std::fs::read_to_string(&pid_file).expect("the child wrote its pid in time");
    assert!(
        !Path::new(&format!("/proc/{}", pid.trim())).exists(),
        "the child {} should have been killed and reaped",
        pid.trim()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_child_without_a_good_measurement_is_an_error_naming_the_variant() {
    let failing = |command: Command| {
        let err = measure_memory_within(&move |_, _| clone(&command), 10, 1, TEST_DEADLINE)
            .expect_err("no good measurement");
        error_chain(&err)
    };
    let message = failing(sh("echo the child broke >&2; exit 3"));
    assert!(message.contains("memory child (sync)"), "{message}");
    assert!(message.contains("exit status: 3"), "{message}");
    assert!(message.contains("the child broke"), "{message}");

    let message = failing(sh("echo hello"));
    assert!(message.contains("printed 0 measurement lines"), "{message}");

    // A measurement that lost units is refused.
    let mut lost = sample(Variant::Sync, 1_010, None);
    lost.released = 9;
    let line = serde_json::to_string(&lost).unwrap();
    let message = failing(sh(&format!("echo '{line}'")));
    assert!(message.contains("only 9 of 10 units"), "{message}");

    // A measurement of another variant is refused.
    let line = serde_json::to_string(&sample(Variant::Smol, 1_010, None)).unwrap();
    let message = failing(sh(&format!("echo '{line}'")));
    assert!(
        message.contains("the child measured 10 smol units"),
        "{message}"
    );
}

/// `Command` is not `Clone`: the same program and arguments again.
// deadline: a launcher for `measure_memory_within`, which kills it at its deadline
fn clone(command: &Command) -> Command {
    let mut copy = Command::new(command.get_program());
    copy.args(command.get_args());
    copy
}

/// The real measurement, by hand: `cargo test -p ch12-costs --release -- --ignored
/// memory_by_hand --nocapture`.
#[test]
#[ignore = "10,000 threads and tasks per child, 3 children per variant: run by hand"]
fn memory_by_hand() {
    let rows = measure_memory(&launch, ch12_costs::DEFAULT_COUNT, 3)
        .unwrap_or_else(|e| panic!("{}", error_chain(&e)));
    for row in &rows {
        println!(
            "{:<9} rss/unit {:>9.0} B  virtual/unit {:>9.0} B  kernel stack/unit {:>7} B  \
             spawn {:>6.0} ns  ready {:>6.0} ns  threads {:>5} (before {})  unit {} B",
            row.variant.name(),
            row.rss_per_unit_bytes,
            row.virtual_per_unit_bytes,
            row.kernel_stack_per_unit_bytes
                .map_or("-".into(), |k| format!("{k:.0}")),
            row.spawn_ns_per_unit,
            row.ready_ns_per_unit,
            row.threads,
            row.threads_before,
            row.unit_bytes,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The standalone programs' builds

/// Chapter 1's variant file each variant's program must compile, relative to `chapters/`.
fn variant_file(variant: Variant) -> &'static str {
    match variant {
        Variant::Sync => "01-baseline/src/variants/sync.rs",
        Variant::Tokio => "01-baseline/src/variants/tokio_rt.rs",
        Variant::AsyncStd => "01-baseline/src/variants/async_std_rt.rs",
        Variant::Smol => "01-baseline/src/variants/smol_rt.rs",
    }
}

#[test]
fn every_standalone_is_a_workspace_of_its_own_that_compiles_the_tested_files() {
    let chapters = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap();
    // This crate's `variants` (what `VARIANTS` runs) are chapter 1's files too.
    let lib = std::fs::read_to_string(chapters.join("12-costs/src/lib.rs")).unwrap();
    assert!(
        lib.contains("#[path = \"../../01-baseline/src/variants\"]\npub mod variants {"),
        "ch12's `variants` must be chapter 1's files"
    );
    let mut names: Vec<&str> = STANDALONES.iter().map(|s| s.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), STANDALONES.len(), "names are unique");
    // The four plain variant programs come in the canonical order.
    let plain: Vec<Variant> = STANDALONES
        .iter()
        .filter(|s| Some(s.name) == s.variant.map(Variant::name))
        .filter_map(|s| s.variant)
        .collect();
    assert_eq!(plain, Variant::ALL);

    for s in &STANDALONES {
        let dir = standalone_dir(s);
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml"))
            .unwrap_or_else(|e| panic!("{}: {e}", s.name));
        assert!(
            manifest.lines().any(|l| l.trim() == "[workspace]"),
            "{}: its Cargo.toml needs a [workspace] table of its own",
            s.name
        );
        assert!(
            manifest.contains(&format!("name = \"{}\"", s.package)),
            "{}: package {}",
            s.name,
            s.package
        );
        assert!(
            dir.join("Cargo.lock").is_file(),
            "{}: a committed lock",
            s.name
        );
        // Every `#[path]`, resolved from the program's `src/`, relative to `chapters/`.
        let main = std::fs::read_to_string(dir.join("src/main.rs")).unwrap();
        let included: Vec<String> = main
            .lines()
            .filter_map(|l| l.trim().strip_prefix("#[path = \""))
            .filter_map(|l| l.strip_suffix("\"]"))
            .map(|file| {
                let path = dir.join("src").join(file).canonicalize();
                let path = path.unwrap_or_else(|e| panic!("{}: includes {file}: {e}", s.name));
                let path = path
                    .strip_prefix(&chapters)
                    .unwrap_or_else(|_| panic!("{}: includes {file}, outside chapters/", s.name));
                path.to_str().unwrap().to_owned()
            })
            .collect();
        // Every crate an included file `use`s is one this program declares: a file that starts
        // using a workspace crate (say `runtimes`) compiles in the workspace and breaks here
        // only when the lab builds the program.
        let declared = declared_crates(&manifest);
        for file in &included {
            let text = std::fs::read_to_string(chapters.join(file)).unwrap();
            for used in used_crates(&text) {
                assert!(
                    declared.contains(&used),
                    "{}: {file} uses the crate `{used}`, which the program's Cargo.toml does not \
                     declare (it declares {declared:?}); keep the file to std, pipeline and its \
                     runtime, or declare the crate",
                    s.name
                );
            }
        }
        match s.variant {
            Some(v) => assert!(
                included.iter().any(|f| f == variant_file(v)),
                "{}: should compile {} (the file the tests check), includes {included:?}",
                s.name,
                variant_file(v)
            ),
            None => assert!(main.contains("pipeline::run_sequential"), "{}", s.name),
        }
    }
}

/// The crates a standalone's `[dependencies]` declare, as Rust names them (`-` is `_`), and
/// the ones every program has.
fn declared_crates(manifest: &str) -> Vec<String> {
    let mut crates: Vec<String> = ["std", "core", "alloc", "crate", "self", "super"]
        .map(String::from)
        .to_vec();
    let mut in_dependencies = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_dependencies = line == "[dependencies]";
        } else if in_dependencies && let Some((name, _)) = line.split_once('=') {
            let name = name.trim();
            if !name.is_empty() && !name.starts_with('#') {
                crates.push(name.replace('-', "_"));
            }
        }
    }
    crates
}

/// The first segment of every `use` path at the start of a line (`use x::…`, `pub use x::…`).
fn used_crates(source: &str) -> Vec<String> {
    source
        .lines()
        .map(str::trim_start)
        .filter_map(|l| {
            l.strip_prefix("pub use ")
                .or_else(|| l.strip_prefix("use "))
        })
        .filter_map(|path| {
            let first: String = path
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            (!first.is_empty()).then_some(first)
        })
        .collect()
}

#[test]
fn the_use_scan_names_undeclared_crates() {
    let manifest = "[package]\nname = \"x\"\n[dependencies]\npipeline = { path = \"p\" }\nasync-std = \"1\"\n[workspace]\n";
    let declared = declared_crates(manifest);
    assert!(declared.contains(&"async_std".to_string()));
    let used = used_crates(
        "use std::sync::Arc;\n    use runtimes::tokio_joined;\npub use pipeline::Report;\n",
    );
    assert_eq!(used, ["std", "runtimes", "pipeline"]);
    assert!(!declared.contains(&"runtimes".to_string()));
}

/// Package versions in the workspace's lock.
fn workspace_lock() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.lock");
    lock_packages(&std::fs::read_to_string(root).expect("the workspace lock"))
}

// ANCHOR: same_versions
#[test]
fn standalone_locks_pin_the_workspace_versions() {
    let workspace = workspace_lock();
    let version_in_workspace = |name: &str| -> Vec<&str> {
        workspace
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    for s in &STANDALONES {
        let lock = std::fs::read_to_string(standalone_dir(s).join("Cargo.lock")).unwrap();
        let packages = lock_packages(&lock);
        assert!(packages.len() > 1, "{}: an empty lock", s.name);
        for (name, version) in &packages {
            if name == s.package {
                continue;
            }
            assert!(
                workspace.contains(&(name.clone(), version.clone())),
                "{}: {name} {version} is not in the workspace's lock (it has {:?}); \
                 regenerate the standalone's lock from it",
                s.name,
                version_in_workspace(name)
            );
        }
        let has = |name: &str| packages.iter().any(|(n, _)| n == name);
        for runtime in [
            "tokio",
            "async-std",
            "smol",
            "rayon",
            "postgres",
            "tokio-postgres",
        ] {
            if has(runtime) {
                let version = &packages.iter().find(|(n, _)| n == runtime).unwrap().1;
                assert_eq!(
                    version_in_workspace(runtime),
                    [version.as_str()],
                    "{}: {runtime}",
                    s.name
                );
            }
        }
    }
}
// ANCHOR_END: same_versions

/// How long a `cargo metadata` or `cargo tree` may take: it can wait on cargo's locks while
/// another build holds them. Past it, it is killed and the test fails naming the command.
const CARGO_DEADLINE: Duration = Duration::from_secs(300);

// deadline: every caller runs it with `output_within(…, CARGO_DEADLINE)`
fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// The packages a standalone's build compiles on this platform (`cargo tree`, normal
/// dependencies, proc-macros included), by name. `--locked`: fails if the manifest needs
/// anything its lock does not say (a stale lock), as the measured build would.
fn build_graph(dir: &Path) -> Vec<String> {
    let output = output_within(
        cargo()
            .args([
                "tree",
                "--locked",
                "--offline",
                "-e",
                "normal",
                "--prefix",
                "none",
            ])
            .args(["--format", "{p}", "--manifest-path"])
            .arg(dir.join("Cargo.toml")),
        CARGO_DEADLINE,
    )
    .expect("cargo runs");
    assert!(
        output.status.success(),
        "{}: {}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let mut names: Vec<String> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

// ANCHOR: own_runtime
#[test]
fn standalones_resolve_locked_to_their_own_runtime_outside_the_workspace() {
    for s in &STANDALONES {
        let dir = standalone_dir(s);
        let output = output_within(
            cargo()
                .args([
                    "metadata",
                    "--format-version",
                    "1",
                    "--no-deps",
                    "--offline",
                ])
                .arg("--manifest-path")
                .arg(dir.join("Cargo.toml")),
            CARGO_DEADLINE,
        )
        .expect("cargo runs");
        assert!(
            output.status.success(),
            "{}: {}",
            s.name,
            String::from_utf8_lossy(&output.stderr)
        );
        let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(
            Path::new(metadata["workspace_root"].as_str().unwrap()),
            dir.canonicalize().unwrap(),
            "{}: its own workspace root",
            s.name
        );
        // Each program builds its own runtime and no other — except that the sync PostgreSQL
        // client brings tokio with it.
        let graph = build_graph(&dir);
        let runtimes: Vec<&str> = ["async-std", "postgres", "smol", "tokio", "tokio-postgres"]
            .into_iter()
            .filter(|r| graph.iter().any(|p| p == r))
            .collect();
        let expected: &[&str] = match s.name {
            "sequential" | "sync" => &[],
            "tokio" => &["tokio"],
            "async-std" => &["async-std"],
            "smol" => &["smol"],
            "sync-postgres" => &["postgres", "tokio", "tokio-postgres"],
            "tokio-postgres" => &["tokio", "tokio-postgres"],
            other => panic!("a new standalone, {other}: say what it depends on"),
        };
        assert_eq!(runtimes, expected, "{}: builds {graph:?}", s.name);
        assert!(graph.iter().any(|p| p == "pipeline"), "{}", s.name);
    }
    // The book's workspace does not list them.
    let output = output_within(
        cargo()
            .args([
                "metadata",
                "--format-version",
                "1",
                "--no-deps",
                "--offline",
            ])
            .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")),
        CARGO_DEADLINE,
    )
    .expect("cargo runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let names: Vec<&str> = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert!(names.contains(&"ch12-costs"), "{names:?}");
    for s in &STANDALONES {
        assert!(
            !names.contains(&s.package),
            "{} is listed in the book's workspace",
            s.package
        );
    }
}
// ANCHOR_END: own_runtime

#[test]
fn the_build_counter_counts_cargos_compiling_lines() {
    // What cargo printed for a clean `costs-tokio` build (abridged).
    let stderr = "\
    Blocking waiting for file lock on package cache
   Compiling proc-macro2 v1.0.106
   Compiling unicode-ident v1.0.24
   Compiling libc v0.2.186
   Compiling pipeline v0.1.0 (/work/main/shared/pipeline)
warning: unused variable: `x`
   Compiling tokio v1.54.1
   Compiling costs-tokio v0.1.0 (/work/main/chapters/12-costs/standalone/tokio)
    Finished `release` profile [optimized] target(s) in 41.25s
";
    assert_eq!(
        compiled_crates(stderr),
        [
            "proc-macro2 v1.0.106",
            "unicode-ident v1.0.24",
            "libc v0.2.186",
            "pipeline v0.1.0",
            "tokio v1.54.1",
            "costs-tokio v0.1.0",
        ]
    );
    assert!(compiled_crates("    Finished `release` profile\n").is_empty());
}

/// The real measurement, by hand: `cargo test -p ch12-costs -- --ignored builds_by_hand
/// --nocapture` (clean release builds of every standalone: minutes).
#[test]
#[ignore = "clean release builds of every standalone program: minutes; run by hand"]
fn builds_by_hand() {
    let scratch = std::env::temp_dir().join("ch12-costs-builds");
    for s in &STANDALONES {
        let row = measure_build(s, &scratch, &mut |line| eprintln!("  {line}"))
            .unwrap_or_else(|e| panic!("{}: {}", s.name, error_chain(&e)));
        println!(
            "{:<15} {:>7.1} s  {:>3} crates  {:>9} B  stripped {:>9}  ({})",
            row.name,
            row.seconds,
            row.crates_compiled,
            row.binary_bytes,
            row.stripped_bytes.map_or("-".into(), |b| format!("{b} B")),
            row.cargo_version
        );
        println!("  {}", row.compiled.join(", "));
        assert_eq!(
            row.compiled.last().map(String::as_str),
            Some(&*format!("{} v0.1.0", s.package))
        );
    }
}

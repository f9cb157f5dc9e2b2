//! Chapter 8's claims, as tests. Where the CPU work runs changes nothing in the result: every
//! variant, in every mode, gives the reference's report and CPU digest. And an inline blocking
//! call on a one-thread runtime stops the heartbeat for as long as it blocks, while an
//! offloaded one does not — asserted by counting ticks, never by timing them. (The lateness
//! itself is measured and printed by the demo, `ch08_blocking_and_cpu::experiment`.)

use std::time::Duration;

use ch08_blocking_and_cpu::heartbeat::{Blocked, PERIOD};
use ch08_blocking_and_cpu::variants::sync;
use ch08_blocking_and_cpu::work::{
    self, CpuWork, WindowValues, chunk_digest, par_digest, rayon_pool, split,
};
use ch08_blocking_and_cpu::{
    BLOCKED_VARIANTS, Mode, RUN_WITH_VARIANTS, VARIANTS, chapter_input, experiment_with,
};
use pipeline::{Config, Dataset, Input, PipelineError, Variant, error_chain, run_sequential};
use testkit::{TEST_DEADLINE, assert_variants_agree, compare_reports, run_with_deadline};

/// Enough rounds to be work, few enough for a debug build: the result must not depend on it.
const TEST_WORK: CpuWork = CpuWork { rounds: 4 };

/// How long the blocking section blocks: sixty heartbeat periods.
const BLOCKED_FOR: Duration = Duration::from_millis(300);

// ANCHOR: same_result
#[test]
fn every_variant_in_every_mode_gives_the_reference_report_and_digest() {
    let input = chapter_input();
    let cfg = Config::default();
    let reference = work::reference(&input, &cfg, TEST_WORK).expect("the reference runs");
    let mut runs = 0;
    for (variant, run_with) in RUN_WITH_VARIANTS {
        for mode in Mode::ALL.into_iter().filter(|m| m.applies_to(variant)) {
            let what = format!("{variant} ({})", mode.label(variant));
            let run_input = input.clone();
            let measured = run_with_deadline(&what, TEST_DEADLINE, move || {
                run_with(mode, &run_input, &Config::default(), TEST_WORK)
            })
            .expect_finished(&what)
            .unwrap_or_else(|e| panic!("{what}: {}", error_chain(&e)));
            if let Err(diff) = compare_reports(
                input.name(),
                &reference.report,
                (variant, &measured.outcome.report),
            ) {
                panic!("{what}: {diff}");
            }
            assert_eq!(
                measured.outcome.cpu_digest, reference.cpu_digest,
                "{what}: the CPU digest differs from the reference's"
            );
            assert!(measured.beats.ticks > 0, "{what}: the heartbeat never ran");
            runs += 1;
        }
    }
    assert_eq!(
        runs, 11,
        "sync has two modes, the async variants three each"
    );
    insta::assert_snapshot!(
        "reference",
        format!(
            "{}cpu digest       {:#018x} ({} rounds)\n",
            reference.report.text(),
            reference.cpu_digest,
            TEST_WORK.rounds
        )
    );
}
// ANCHOR_END: same_result

#[test]
fn the_tours_entries_agree_with_the_reference() {
    // The tour runs `VARIANTS` (rayon, the demo's CPU cost) on the chapter input in a release
    // build; here, on the small hand-written dataset, so a debug build stays quick.
    let input = Input::dataset(Dataset::Extremes);
    let expected = run_sequential(&input, &Config::default()).expect("the reference runs");
    let reports: Vec<_> = VARIANTS
        .into_iter()
        .map(|(variant, run)| {
            let run_input = input.clone();
            let report = run_with_deadline(variant.name(), TEST_DEADLINE, move || {
                run(&run_input, &Config::default())
            })
            .expect_finished(variant.name())
            .unwrap_or_else(|e| panic!("{variant}: {}", error_chain(&e)));
            (variant, report)
        })
        .collect();
    assert_variants_agree(input.name(), &expected, &reports);
}

#[test]
fn the_experiment_prints_a_line_per_variant_and_mode_and_every_result_matches() {
    let input = Input::generated(&pipeline::DatasetSpec {
        lines: 2_000,
        ..pipeline::DatasetSpec::default()
    });
    let (rows, printed) = run_with_deadline("experiment", TEST_DEADLINE, move || {
        let mut printed = Vec::new();
        let rows = experiment_with(&mut printed, &input, &Config::default(), TEST_WORK);
        (rows, String::from_utf8(printed).expect("the table is text"))
    })
    .expect_finished("the experiment");
    let rows = rows.unwrap_or_else(|e| panic!("{}", error_chain(&e)));
    let expected: Vec<(Variant, Mode)> = RUN_WITH_VARIANTS
        .iter()
        .flat_map(|&(variant, _)| {
            Mode::ALL
                .into_iter()
                .filter(move |m| m.applies_to(variant))
                .map(move |mode| (variant, mode))
        })
        .collect();
    let seen: Vec<(Variant, Mode)> = rows.iter().map(|r| (r.variant, r.mode)).collect();
    assert_eq!(seen, expected, "{printed}");
    for row in &rows {
        assert!(row.same_result(), "{row}\n{printed}");
        assert!(
            printed.contains(&row.to_string()),
            "each row is printed:\n{printed}"
        );
    }
    for label in ["one thread", "inline", "spawn_blocking", "unblock", "rayon"] {
        assert!(printed.contains(label), "{label} missing:\n{printed}");
    }
}

fn blocked(variant: Variant, mode: Mode) -> Blocked {
    let (_, ticks_while_blocked) = BLOCKED_VARIANTS
        .into_iter()
        .find(|(v, _)| *v == variant)
        .expect("every variant is in BLOCKED_VARIANTS");
    let what = format!("{variant} ({})", mode.label(variant));
    run_with_deadline(&what, TEST_DEADLINE, move || {
        ticks_while_blocked(mode, BLOCKED_FOR)
    })
    .expect_finished(&what)
    .unwrap_or_else(|e| panic!("{what}: {}", error_chain(&e)))
}

// ANCHOR: inline_stops_the_heartbeat
/// On a one-thread runtime, a task that blocks holds the only thread: the heartbeat, due every
/// 5 ms, does not tick once in 300 ms. It is not lost, only late: it ticks again as soon as
/// the thread is free.
#[test]
fn an_inline_blocking_call_stops_the_heartbeat_on_a_one_thread_runtime() {
    for variant in [Variant::Tokio, Variant::AsyncStd, Variant::Smol] {
        let counts = blocked(variant, Mode::Inline);
        assert_eq!(
            counts.during(),
            0,
            "{variant}: the heartbeat ticked while the only thread was blocked: {counts:?}"
        );
        assert!(
            counts.since() > 0,
            "{variant}: the heartbeat should tick again once the thread is free: {counts:?}"
        );
    }
}
// ANCHOR_END: inline_stops_the_heartbeat

// ANCHOR: offloaded_keeps_it_ticking
/// The same section offloaded (`spawn_blocking`, `unblock`, rayon) blocks another thread: the
/// runtime's thread stays free and the heartbeat ticks all through it. The sync variant needs
/// no offloading: its heartbeat has a thread of its own.
#[test]
fn an_offloaded_blocking_call_leaves_the_heartbeat_ticking() {
    let cases = [
        (Variant::Sync, Mode::Inline),
        (Variant::Sync, Mode::Rayon),
        (Variant::Tokio, Mode::Offload),
        (Variant::Tokio, Mode::Rayon),
        (Variant::AsyncStd, Mode::Offload),
        (Variant::AsyncStd, Mode::Rayon),
        (Variant::Smol, Mode::Offload),
        (Variant::Smol, Mode::Rayon),
    ];
    for (variant, mode) in cases {
        let counts = blocked(variant, mode);
        assert!(
            counts.during() > 0,
            "{variant} ({}): the heartbeat should tick while another thread blocks \
             ({} periods of {PERIOD:?}): {counts:?}",
            mode.label(variant),
            BLOCKED_FOR.as_millis() / PERIOD.as_millis(),
        );
    }
}
// ANCHOR_END: offloaded_keeps_it_ticking

#[test]
fn the_sync_variant_has_no_runtime_to_offload_from() {
    let result = run_with_deadline("sync", TEST_DEADLINE, || {
        sync::run_with(
            Mode::Offload,
            &Input::dataset(Dataset::Empty),
            &Config::default(),
            TEST_WORK,
        )
    })
    .expect_finished("the sync variant asked to offload");
    assert!(
        matches!(result, Err(PipelineError::Config(_))),
        "{result:?}"
    );
}

fn windows(n: usize) -> Vec<WindowValues> {
    (0..n)
        .map(|i| WindowValues {
            sensor_id: format!("s-{i:04}"),
            window_start: 60 * i as i64,
            values: vec![i as f64, 0.5, -1.0],
        })
        .collect()
}

#[test]
fn split_keeps_every_window_once_in_order() {
    for n in [0, 1, 7, 8, 9, 100] {
        for parts in [1, 3, 8] {
            let chunks = split(windows(n), parts);
            assert!(chunks.len() <= parts, "{n} windows, {parts} parts");
            assert_eq!(chunks.concat(), windows(n), "{n} windows, {parts} parts");
        }
    }
}

#[test]
fn the_digest_does_not_depend_on_how_the_windows_are_split_but_sees_a_lost_window() {
    let all = chunk_digest(&windows(50), TEST_WORK);
    let pool = rayon_pool(&Config::default()).unwrap();
    assert_eq!(pool.install(|| par_digest(&windows(50), TEST_WORK)), all);
    let by_parts = split(windows(50), 7)
        .iter()
        .map(|c| chunk_digest(c, TEST_WORK))
        .fold(0, u64::wrapping_add);
    assert_eq!(by_parts, all);
    let mut fewer = windows(50);
    fewer.pop();
    assert_ne!(chunk_digest(&fewer, TEST_WORK), all, "a lost window shows");
    let more_rounds = CpuWork {
        rounds: TEST_WORK.rounds + 1,
    };
    assert_ne!(
        chunk_digest(&windows(50), more_rounds),
        all,
        "the rounds count"
    );
}

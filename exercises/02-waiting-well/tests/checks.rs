//! Exercise 02's checks. Each runs your function on about a hundred readings with a limit of
//! eight, and reads the probes of the chapter crate's `Lookups` (out of your code's reach):
//! every reading looked up once and answered in input order; never more than `limit` look-ups
//! in flight, and `limit` reached (one at a time stays under any limit); and while one look-up
//! is slow, the others go on around it — Little's law needs `limit` in flight *all the time*,
//! not in groups. Nothing is timed: the slow look-up waits for others to finish, and gives up
//! after two seconds if they cannot. Runs under a deadline, so nothing hangs.

use std::sync::Arc;
use std::time::Duration;

use ch02_waiting_well::exercise::{HELD_UNTIL, Lookups, readings};
use pipeline::{Config, Enriched, Reading};
use testkit::run_with_deadline;

use super::{enrich_all_smol, enrich_all_tokio};

const HINT: &str = "hint: `cargo run --release -- hint 02`";
const LIMIT: usize = 8;
const LINES: usize = 100;
/// The slow look-up: the second reading's, so a group or a window that holds it is the first.
const HELD: usize = 1;

fn setup() -> (Vec<Reading>, Arc<Lookups>) {
    let readings = readings(LINES);
    let lookups = Arc::new(Lookups::new(
        Arc::clone(&Config::default().registry),
        readings[HELD].line,
    ));
    (readings, lookups)
}

fn judge(runtime: &str, readings: &[Reading], lookups: &Lookups, got: &[Enriched]) {
    let expected = lookups.expected(readings);
    let seen = lookups.seen();
    let line = |e: &Enriched| match e {
        Ok(r) => r.line,
        Err(r) => r.line,
    };
    let mut got_lines: Vec<u64> = got.iter().map(line).collect();
    got_lines.sort_unstable();
    let want_lines: Vec<u64> = readings.iter().map(|r| r.line).collect();
    assert!(
        got_lines == want_lines && seen.made == readings.len(),
        "the {runtime} stage made {} look-ups for {} readings and returned {} answers, for \
         {} distinct lines: every reading is looked up once, through `lookups`, and every \
         answer comes back. {HINT}",
        seen.made,
        readings.len(),
        got.len(),
        {
            let mut distinct = got_lines.clone();
            distinct.dedup();
            distinct.len()
        }
    );
    assert!(
        seen.peak <= LIMIT,
        "the {runtime} stage had {} look-ups in flight at once; the limit is {LIMIT}: the \
         registry gets them all at once. Start the next look-up only when one is done. {HINT}",
        seen.peak
    );
    assert!(
        seen.peak == LIMIT,
        "the {runtime} stage never had more than {} look-up(s) in flight at once (the limit is \
         {LIMIT}): Little's law, C / mean latency look-ups per second, with C = {}. The time goes \
         to waiting, so wait for {LIMIT} at once. {HINT}",
        seen.peak,
        seen.peak
    );
    assert!(
        seen.released,
        "the {runtime} stage reached {LIMIT} look-ups in flight, but while one look-up was slow \
         fewer than {HELD_UNTIL} others finished around it: the stage waited for the slow one \
         before it started more (a group that waits for its slowest, or a window that only \
         moves when its oldest look-up is done). Little's law counts the look-ups in flight on \
         average: keep {LIMIT} going all the time, and put the answers back in order \
         afterwards. {HINT}"
    );
    let first_out_of_order = got
        .iter()
        .zip(&expected)
        .position(|(g, e)| g != e)
        .map(|i| (i, line(&got[i]), line(&expected[i])));
    assert!(
        first_out_of_order.is_none(),
        "the {runtime} stage's answers are complete, but not in input order: answer {} is for \
         line {}, the reading there is line {}. Look-ups finish in any order (their latencies \
         differ); the answers must not. {HINT}",
        first_out_of_order.map_or(0, |o| o.0),
        first_out_of_order.map_or(0, |o| o.1),
        first_out_of_order.map_or(0, |o| o.2),
    );
}

#[test]
fn tokio_keeps_the_limit_in_flight_in_order() {
    let (readings, lookups) = setup();
    let (input, probe) = (readings.clone(), Arc::clone(&lookups));
    let got = run_with_deadline("exercise 02, tokio", Duration::from_secs(30), move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        runtime.block_on(enrich_all_tokio(input, probe, LIMIT))
    })
    .expect_finished("the tokio run");
    judge("tokio", &readings, &lookups, &got);
}

#[test]
fn smol_keeps_the_limit_in_flight_in_order() {
    let (readings, lookups) = setup();
    let (input, probe) = (readings.clone(), Arc::clone(&lookups));
    let got = run_with_deadline("exercise 02, smol", Duration::from_secs(30), move || {
        smol::block_on(enrich_all_smol(input, &probe, LIMIT))
    })
    .expect_finished("the smol run");
    judge("smol", &readings, &lookups, &got);
}

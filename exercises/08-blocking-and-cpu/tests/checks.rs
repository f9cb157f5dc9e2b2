//! Exercise 08's checks. Each runtime gets exactly one thread, shared by a heartbeat (a task
//! that ticks every millisecond) and your function. The job computes real window digests, then
//! waits until the heartbeat has ticked twice since it started — which can only happen if your
//! function let go of the runtime's thread. It waits at most two seconds, so a job that blocks
//! the runtime fails the check instead of hanging it; no duration is asserted. The job also
//! notes the thread it ran on: CPU work belongs on a rayon pool (chapter 8's table), not on a
//! pool for blocking calls nor on another executor's threads.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ch08_blocking_and_cpu::work::{self, CpuWork};
use pipeline::{Config, DatasetSpec, Input};
use testkit::run_with_deadline;

use super::{DigestJob, digest_smol, digest_tokio};

const HINT: &str = "hint: `cargo run --release -- hint 08`";
const BEAT: Duration = Duration::from_millis(1);
/// How long the job waits for the heartbeat before it gives up.
const PATIENCE: Duration = Duration::from_secs(2);
const WORK: CpuWork = CpuWork { rounds: 200 };

/// The heartbeat's tick count, whether the job saw it move, and where the job ran: the
/// thread's name, and whether it is a rayon pool's.
#[derive(Clone, Default)]
struct Beat {
    ticks: Arc<AtomicU64>,
    seen: Arc<AtomicBool>,
    ran_on: Arc<Mutex<Option<(String, bool)>>>,
}

/// The digests of a small input's windows, and the job that computes them and then waits for
/// two heartbeats.
fn job(beat: &Beat) -> (u64, DigestJob) {
    let input = Input::generated(&DatasetSpec {
        lines: 2_000,
        ..DatasetSpec::default()
    });
    let cfg = Config::default();
    let expected = work::reference(&input, &cfg, WORK)
        .expect("the reference runs")
        .cpu_digest;
    let (records, registry) = (
        pipeline::Work::split(&input, &cfg, 1).parts.concat(),
        Arc::clone(&cfg.registry),
    );
    let beat = beat.clone();
    let job: DigestJob = Box::new(move || {
        let thread = std::thread::current();
        let name = thread.name().unwrap_or("an unnamed thread").to_owned();
        *beat.ran_on.lock().expect("not poisoned") =
            Some((name, rayon::current_thread_index().is_some()));
        let windows = work::aggregate(records, &*registry).windows;
        let digest = work::chunk_digest(&windows, WORK);
        let start = beat.ticks.load(Ordering::SeqCst);
        let waited = Instant::now();
        while waited.elapsed() < PATIENCE {
            if beat.ticks.load(Ordering::SeqCst) >= start + 2 {
                beat.seen.store(true, Ordering::SeqCst);
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        digest
    });
    (expected, job)
}

fn judge(runtime: &str, expected: u64, got: u64, beat: &Beat) {
    assert!(
        beat.seen.load(Ordering::SeqCst),
        "the heartbeat never ticked while the {runtime} job ran ({} ticks in all): the job held \
         the runtime's only thread, so nothing else could run — a timeout would fire late, every \
         other connection would stall. Run it somewhere else and await the result. {HINT}",
        beat.ticks.load(Ordering::SeqCst)
    );
    let ran_on = beat.ran_on.lock().expect("not poisoned").clone();
    let (thread, on_rayon) = ran_on.expect("the job ran");
    assert!(
        on_rayon,
        "the heartbeat kept beating, but the {runtime} job ran on `{thread}`, which is not a \
         rayon thread. Chapter 8's table: CPU work goes to a pool sized to the cores (rayon, \
         with a channel back); `spawn_blocking` and `unblock` are for blocking calls (hundreds \
         of threads, started on demand), and another executor's threads are for tasks. {HINT}"
    );
    assert_eq!(
        got, expected,
        "the {runtime} digest is not the reference's: return what the job computed. {HINT}"
    );
}

#[test]
fn tokio_keeps_the_heartbeat_beating() {
    let beat = Beat::default();
    let (expected, job) = job(&beat);
    let ticks = beat.clone();
    let got = run_with_deadline("exercise 08, tokio", Duration::from_secs(20), move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        runtime.block_on(async move {
            let heartbeat = tokio::spawn(async move {
                loop {
                    tokio::time::sleep(BEAT).await;
                    ticks.ticks.fetch_add(1, Ordering::SeqCst);
                }
            });
            let digest = digest_tokio(job).await;
            heartbeat.abort();
            digest
        })
    })
    .expect_finished("the tokio run");
    judge("tokio", expected, got, &beat);
}

#[test]
fn smol_keeps_the_heartbeat_beating() {
    let beat = Beat::default();
    let (expected, job) = job(&beat);
    let ticks = beat.clone();
    let got = run_with_deadline("exercise 08, smol", Duration::from_secs(20), move || {
        let executor = smol::LocalExecutor::new();
        smol::block_on(executor.run(async {
            let heartbeat = executor.spawn(async move {
                loop {
                    smol::Timer::after(BEAT).await;
                    ticks.ticks.fetch_add(1, Ordering::SeqCst);
                }
            });
            let digest = digest_smol(job).await;
            drop(heartbeat); // dropping a smol task cancels it
            digest
        }))
    })
    .expect_finished("the smol run");
    judge("smol", expected, got, &beat);
}

//! Exercise 08's checks. Each runtime gets exactly one thread, shared by a heartbeat (a task
//! that ticks every millisecond) and your function. The job computes real window digests, then
//! waits until the heartbeat has ticked twice since it started — which can only happen if your
//! function let go of the runtime's thread. It waits at most two seconds, so a job that blocks
//! the runtime fails the check instead of hanging it; no duration is asserted. The job also
//! notes the thread it ran on: CPU work belongs on a rayon pool (chapter 8's table), not on a
//! pool for blocking calls nor on another executor's threads. The third step's blocking call is
//! judged the other way round: a call that waits belongs on the runtime's blocking pool, not on
//! rayon's few threads.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ch08_blocking_and_cpu::work::{self, CpuWork};
use pipeline::{Config, DatasetSpec, Input};
use testkit::run_with_deadline;

use super::{
    BlockingCall, DigestJob, calibration_smol, calibration_tokio, digest_smol, digest_tokio,
};

const HINT: &str = "hint: `cargo run --release -- hint 08`";
const BEAT: Duration = Duration::from_millis(1);
/// How long the job waits for the heartbeat before it gives up.
const PATIENCE: Duration = Duration::from_secs(2);
const WORK: CpuWork = CpuWork { rounds: 200 };

/// The calibration table's version the blocking call returns.
const CALIBRATION_VERSION: u64 = 20_261_205;

/// The thread a job ran on: its name, whether it is a rayon pool's, and whether it is one of a
/// tokio runtime's (a worker's or its blocking pool's: both carry the runtime's context).
#[derive(Clone, Debug)]
struct Thread {
    name: String,
    on_rayon: bool,
    in_tokio: bool,
}

impl Thread {
    fn current() -> Self {
        let thread = std::thread::current();
        Thread {
            name: thread.name().unwrap_or("an unnamed thread").to_owned(),
            on_rayon: rayon::current_thread_index().is_some(),
            in_tokio: tokio::runtime::Handle::try_current().is_ok(),
        }
    }
}

/// The heartbeat's tick count, whether the job saw it move, and where the job ran.
#[derive(Clone, Default)]
struct Beat {
    ticks: Arc<AtomicU64>,
    seen: Arc<AtomicBool>,
    ran_on: Arc<Mutex<Option<Thread>>>,
}

impl Beat {
    /// Notes where the job runs, then waits (at most [`PATIENCE`]) until the heartbeat has
    /// ticked twice — which it can only do if the job is not holding the runtime's thread.
    fn note_and_wait(&self) {
        *self.ran_on.lock().expect("not poisoned") = Some(Thread::current());
        let start = self.ticks.load(Ordering::SeqCst);
        let waited = Instant::now();
        while waited.elapsed() < PATIENCE {
            if self.ticks.load(Ordering::SeqCst) >= start + 2 {
                self.seen.store(true, Ordering::SeqCst);
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn ran_on(&self) -> Thread {
        self.ran_on
            .lock()
            .expect("not poisoned")
            .clone()
            .expect("the job ran")
    }

    fn assert_seen(&self, what: &str) {
        assert!(
            self.seen.load(Ordering::SeqCst),
            "the heartbeat never ticked while {what} ran ({} ticks in all): it held the \
             runtime's only thread, so nothing else could run — a timeout would fire late, every \
             other connection would stall. Run it somewhere else and await the result. {HINT}",
            self.ticks.load(Ordering::SeqCst)
        );
    }
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
        let windows = work::aggregate(records, &*registry).windows;
        let digest = work::chunk_digest(&windows, WORK);
        beat.note_and_wait();
        digest
    });
    (expected, job)
}

/// The blocking call: it waits (a stand-in for std I/O) until the heartbeat has ticked twice.
fn call(beat: &Beat) -> BlockingCall {
    let beat = beat.clone();
    Box::new(move || {
        beat.note_and_wait();
        CALIBRATION_VERSION
    })
}

fn judge(runtime: &str, expected: u64, got: u64, beat: &Beat) {
    beat.assert_seen(&format!("the {runtime} job"));
    let Thread { name, on_rayon, .. } = beat.ran_on();
    assert!(
        on_rayon,
        "the heartbeat kept beating, but the {runtime} job ran on `{name}`, which is not a \
         rayon thread. Chapter 8's table: CPU work goes to a pool sized to the cores (rayon, \
         with a channel back); `spawn_blocking` and `unblock` are for blocking calls (hundreds \
         of threads, started on demand), and another executor's threads are for tasks. {HINT}"
    );
    assert_eq!(
        got, expected,
        "the {runtime} digest is not the reference's: return what the job computed. {HINT}"
    );
}

/// Runs `work` on a current-thread tokio runtime beside a heartbeat that ticks `beat` every
/// [`BEAT`], under a deadline; a panic about the multi-threaded runtime is explained.
fn on_tokio<F, Fut>(beat: &Beat, work: F) -> u64
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = u64>,
{
    let ticks = beat.clone();
    let outcome = run_with_deadline("exercise 08, tokio", Duration::from_secs(20), move || {
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
            let answer = work().await;
            heartbeat.abort();
            answer
        })
    });
    finished(outcome, "the tokio run")
}

/// The same on a single-threaded smol executor.
fn on_smol<F, Fut>(beat: &Beat, work: F) -> u64
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = u64>,
{
    let ticks = beat.clone();
    let outcome = run_with_deadline("exercise 08, smol", Duration::from_secs(20), move || {
        let executor = smol::LocalExecutor::new();
        smol::block_on(executor.run(async {
            let heartbeat = executor.spawn(async move {
                loop {
                    smol::Timer::after(BEAT).await;
                    ticks.ticks.fetch_add(1, Ordering::SeqCst);
                }
            });
            let answer = work().await;
            drop(heartbeat); // dropping a smol task cancels it
            answer
        }))
    });
    finished(outcome, "the smol run")
}

#[test]
fn tokio_keeps_the_heartbeat_beating() {
    let beat = Beat::default();
    let (expected, job) = job(&beat);
    let got = on_tokio(&beat, move || digest_tokio(job));
    judge("tokio", expected, got, &beat);
}

#[test]
fn smol_keeps_the_heartbeat_beating() {
    let beat = Beat::default();
    let (expected, job) = job(&beat);
    let got = on_smol(&beat, move || digest_smol(job));
    judge("smol", expected, got, &beat);
}

/// Where a blocking call belongs: not on the runtime's thread (the heartbeat), not on rayon's
/// pool (one thread per core, for CPU work), and on the runtime's own blocking pool — tokio's
/// carries the runtime's context, smol's (the `blocking` crate) names its threads `blocking-N`.
fn judge_blocking(runtime: &str, got: u64, beat: &Beat) {
    beat.assert_seen(&format!("the {runtime} blocking call"));
    let thread = beat.ran_on();
    assert!(
        !thread.on_rayon,
        "the heartbeat kept beating, but the {runtime} blocking call ran on rayon's pool \
         (`{}`). rayon has one thread per core, for CPU work: a call that waits parks one of \
         them, and a few such calls stall every digest. Calls that wait go to the runtime's \
         blocking pool (chapter 8's table). {HINT}",
        thread.name
    );
    let on_the_pool = match runtime {
        "tokio" => thread.in_tokio,
        _ => thread.name.starts_with("blocking-"),
    };
    assert!(
        on_the_pool,
        "the heartbeat kept beating, but the {runtime} blocking call ran on `{}`, which is not \
         the runtime's blocking pool: a thread started per call has no limit and no reuse, and \
         another executor's threads are for tasks. Calls that wait go to the runtime's blocking \
         pool (chapter 8's table). {HINT}",
        thread.name
    );
    assert_eq!(
        got, CALIBRATION_VERSION,
        "the {runtime} call's answer is not the calibration version: return what the call \
         returned. {HINT}"
    );
}

/// The outcome of a run; a panic about the multi-threaded runtime is `block_in_place`'s.
fn finished<T>(outcome: testkit::Outcome<T>, what: &str) -> T {
    if let testkit::Outcome::Panicked(message) = &outcome
        && message.contains("multi-threaded runtime")
    {
        panic!(
            "{what} panicked: {message}. `block_in_place` tells a multi-threaded runtime to move \
             its other tasks off this worker while it blocks; a current-thread runtime has no \
             other worker, so it refuses. Hand the work to another pool and await it instead. \
             {HINT}"
        );
    }
    outcome.expect_finished(what)
}

#[test]
fn blocking_tokio_call_waits_on_the_blocking_pool() {
    let beat = Beat::default();
    let call = call(&beat);
    let got = on_tokio(&beat, move || calibration_tokio(call));
    judge_blocking("tokio", got, &beat);
}

#[test]
fn blocking_smol_call_waits_on_the_blocking_pool() {
    let beat = Beat::default();
    let call = call(&beat);
    let got = on_smol(&beat, move || calibration_smol(call));
    judge_blocking("smol", got, &beat);
}

//! The load generator behind the fan-out and latency measurements: `C` workers (threads or
//! tasks) make `requests` between them, each its own share of the request numbers (worker `w`
//! the `w`-th run of `requests / C` numbers in a row), waiting for each answer before asking
//! again — so at most `C` are in flight, and as long as the machine keeps up and no worker has
//! finished its share, exactly `C` are.
//!
//! Only the requests are inside the timed window. Everything the lab needs is ready before the
//! clock starts: the workers are spawned, over HTTP each opens its connection with one
//! request that is not recorded, and each waits at a start line (all this is timed on its own,
//! the *set-up*), and every request's latency goes into a slot of one slab
//! allocated beforehand, turned into an HDR histogram after the window. (A histogram per
//! worker, built inside the window, cost 172 KiB zeroed per worker: 672 MiB at C = 4096, most
//! of what the lab used to measure.) The window ends at the last answer, before the workers
//! are joined.
//!
//! Inside the window the lab's own work per request is as small as it can be, because at
//! C = 4096 and W = 5 ms it is paid 800,000 times a second: one clock read (an answer's time is
//! also the next request's start) and two stores into the request's own slot, next to the
//! worker's other slots. Nothing in the window is shared between workers: the numbers are
//! handed out before the clock starts, and the window's end and the steady-state count are
//! worked out from the slots after the workers are joined. (A shared counter of numbers, and
//! shared running totals, cost a cache line moving between the cores on every request: the
//! calibration measured 140 ns of CPU per request with one worker per core, against 36 ns for
//! one worker alone, 5% of the busiest window.)
//!
//! A request is either *in-process* (sleep for the registry's latency: the model's cost alone),
//! *HTTP* (`GET /sensors/{id}` to the local registry service, which waits the same seeded
//! latency before answering: the model plus a real client, sockets and a server), or *nothing*
//! (no wait at all: the lab's own cost per request, its calibration). The four files are
//! siblings: diff them to see only the concurrency model change.

pub mod async_std_rt;
pub mod own_io;
pub mod registry_process;
pub mod smol_rt;
pub mod sync;
pub mod tokio_rt;

use std::ops::Range;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use pipeline::{PipelineError, Variant};
use registry_service::{Latency, REQUEST_ID};
use smol::lock::{RwLock, RwLockWriteGuard};

/// What one request is.
#[derive(Debug, Clone)]
pub enum Target {
    /// No wait: read the clock, record. What is left is the lab's own cost per request, in
    /// the calibration rows.
    Nothing,
    /// Wait `latency.sample(seed, n)` for request `n`, in-process.
    InProcess { latency: Latency, seed: u64 },
    /// `GET {url}/sensors/{id}` with `x-request-id: bench-{n}`; the service draws the latency.
    Http { url: String },
    /// The same request with a client on the variant's own reactor ([`own_io`]).
    OwnHttp(own_io::OwnHttp),
}

impl Target {
    /// Whether a request goes over a socket: then each worker makes one request before the
    /// start line, not recorded, which opens its keep-alive connection (C connections opened
    /// at once overflow a listen queue, and a dropped SYN is retried after a second: set-up,
    /// not the model, would decide the window).
    pub fn is_http(&self) -> bool {
        matches!(self, Target::Http { .. } | Target::OwnHttp(_))
    }
}

/// One run of the load generator.
#[derive(Debug, Clone)]
pub struct Plan {
    pub concurrency: usize,
    pub requests: u64,
    pub target: Target,
}

/// What a run measured.
pub struct Outcome {
    /// The timed window: from the start line opening to the last answer received.
    pub wall: Duration,
    /// Before the window: from the first spawn until every worker was waiting at the start line.
    pub setup: Duration,
    /// CPU time this process used from the start line until the workers were joined, and the
    /// part of it the in-process registry service's threads used (`None` where `/proc` is not
    /// there).
    pub cpu: Option<CpuUse>,
    /// The rate with all C in flight: until the first worker got its share's last answer,
    /// every worker's answers, and the part of the wait it was in as a fraction of an answer
    /// (answers come in bursts when every wait is the same; a cut between two bursts would
    /// miss most of one), over that time; failures left out. The whole window's rate
    /// ([`Outcome::per_second`]) also counts the drain at the end, where the workers that
    /// finished their share wait for the slowest one: a measure of how evenly the model
    /// shares the machine out, not of how many it keeps in flight.
    pub steady_per_second: f64,
    /// Each worker's time from its first answer to its last, over the requests answered in
    /// between, all workers together (seconds per request). With nothing to wait for a worker
    /// is busy throughout, so this is the CPU time the lab spends per request — without the
    /// time a core sat idle because the runtime ran two workers on one thread.
    pub worker_time_per_request: f64,
    /// Every request's latency as its worker saw it, in microseconds.
    pub latencies: Histogram<u64>,
    /// Requests that got no usable answer (a refused connection, a 5xx): reported, never
    /// hidden.
    pub failures: u64,
}

impl Outcome {
    pub fn per_second(&self) -> f64 {
        self.latencies.len() as f64 / self.wall.as_secs_f64().max(1e-9)
    }
}

/// CPU time over a span of wall time.
#[derive(Debug, Clone, Copy)]
pub struct CpuUse {
    pub span: Duration,
    /// User + system time of the whole process.
    pub process: Duration,
    /// User + system time of the registry service's threads (named `registry-service`).
    pub server: Duration,
    /// The whole machine's busy share over the span, every process's (`/proc/stat`), in %.
    pub machine_busy: f64,
}

impl CpuUse {
    /// The load generator's share of the machine, in % of `cores` × the span: the process
    /// without the server's threads.
    pub fn client_percent(&self, cores: usize) -> f64 {
        percent(self.process.saturating_sub(self.server), self.span, cores)
    }

    /// The registry service's threads' share of the machine, in %.
    pub fn server_percent(&self, cores: usize) -> f64 {
        percent(self.server, self.span, cores)
    }
}

fn percent(cpu: Duration, span: Duration, cores: usize) -> f64 {
    cpu.as_secs_f64() / (span.as_secs_f64() * cores.max(1) as f64).max(1e-9) * 100.0
}

/// Runs `plan` in `variant`'s concurrency model.
pub fn run(variant: Variant, plan: &Plan) -> Result<Outcome, PipelineError> {
    match variant {
        Variant::Sync => sync::run(plan),
        Variant::Tokio => tokio_rt::run(plan),
        Variant::AsyncStd => async_std_rt::run(plan),
        Variant::Smol => smol_rt::run(plan),
    }
}

/// A slot's latency for a request that got no usable answer.
const FAILED: u64 = u64::MAX;

/// One request's record, written once, by the worker that made it.
#[derive(Default)]
struct Slot {
    /// The latency in µs (at least 1), [`FAILED`], or 0 while not answered.
    latency: AtomicU64,
    /// When the answer (or the failure) came, in ns after the start line opened (at least 1).
    at: AtomicU64,
}

/// The requests of one run, shared by its workers: a slot per request (allocated before the
/// clock starts, each worker's slots in one run) and the start line.
pub struct Requests {
    total: u64,
    slots: Vec<Slot>,
    /// When the start line opened: the window's start.
    started: OnceLock<Instant>,
    /// Workers waiting at the start line.
    ready: AtomicUsize,
    workers: usize,
    all_ready: (smol::channel::Sender<()>, smol::channel::Receiver<()>),
    /// Held for writing by the runner until every worker is ready; a worker passes the start
    /// line once it can take it for reading.
    line: RwLock<()>,
}

impl Requests {
    pub fn new(plan: &Plan) -> Self {
        Requests {
            total: plan.requests,
            slots: (0..plan.requests).map(|_| Slot::default()).collect(),
            started: OnceLock::new(),
            ready: AtomicUsize::new(0),
            workers: plan.concurrency,
            all_ready: smol::channel::bounded(1),
            line: RwLock::new(()),
        }
    }

    /// The start line, closed: hold the guard until every worker is ready (then
    /// [`Requests::open`]).
    pub fn close(&self) -> RwLockWriteGuard<'_, ()> {
        self.line.write_blocking()
    }

    fn arrived(&self) {
        if self.ready.fetch_add(1, Ordering::AcqRel) + 1 == self.workers {
            let _ = self.all_ready.0.try_send(());
        }
    }

    /// A thread worker: says it is ready and blocks until the start line opens.
    pub fn wait_at_line_blocking(&self) {
        self.arrived();
        drop(self.line.read_blocking());
    }

    /// A task worker: says it is ready and parks until the start line opens.
    pub async fn wait_at_line(&self) {
        self.arrived();
        drop(self.line.read().await);
    }

    /// The runner, blocking: waits until every worker is at the line, starts the clock, opens.
    pub fn open_blocking(&self, line: RwLockWriteGuard<'_, ()>) {
        if self.workers > 0 {
            let _ = self.all_ready.1.recv_blocking();
        }
        self.open(line);
    }

    /// The runner, in a task: waits until every worker is at the line, starts the clock, opens.
    pub async fn open_when_ready(&self, line: RwLockWriteGuard<'_, ()>) {
        if self.workers > 0 {
            let _ = self.all_ready.1.recv().await;
        }
        self.open(line);
    }

    fn open(&self, line: RwLockWriteGuard<'_, ()>) {
        let _ = self.started.set(Instant::now());
        drop(line);
    }

    /// Worker `worker`'s share of the request numbers: its run of `requests / C` (rounded up;
    /// the last runs may be shorter, or empty).
    pub fn share(&self, worker: usize) -> Range<u64> {
        let per_worker = self.total.div_ceil(self.workers.max(1) as u64);
        let start = (worker as u64 * per_worker).min(self.total);
        start..(start + per_worker).min(self.total)
    }

    fn since_start(&self, now: Instant) -> u64 {
        self.started
            .get()
            .map_or(0, |started| now.duration_since(*started).as_nanos() as u64)
    }

    /// Records request `n`, asked at `asked`: its latency if `answered`, else a failure.
    /// Returns the time it read: the worker's next request starts there (one clock read per
    /// request, not two).
    pub fn done(&self, n: u64, asked: Instant, answered: bool) -> Instant {
        let now = Instant::now();
        let latency = if answered {
            (now.duration_since(asked).as_micros() as u64).clamp(1, FAILED - 1)
        } else {
            FAILED
        };
        let slot = &self.slots[n as usize];
        slot.latency.store(latency, Ordering::Relaxed);
        slot.at
            .store(self.since_start(now).max(1), Ordering::Relaxed);
        now
    }

    /// When request `n`'s answer came (see [`Slot::at`]); read after the workers are joined.
    fn answered_at(&self, n: u64) -> u64 {
        self.slots[n as usize].at.load(Ordering::Relaxed)
    }

    /// After the workers are joined: [`Outcome::worker_time_per_request`].
    fn worker_time_per_request(&self) -> f64 {
        let at = |n| self.answered_at(n);
        let (mut span, mut requests) = (0u64, 0u64);
        for share in (0..self.workers).map(|w| self.share(w)) {
            if share.end - share.start >= 2 {
                span += at(share.end - 1).saturating_sub(at(share.start));
                requests += share.end - share.start - 1;
            }
        }
        span as f64 / 1e9 / requests.max(1) as f64
    }

    /// After the workers are joined: the last answer's time (the window's end), and the rate
    /// with every worker busy (see [`Outcome::steady_per_second`]).
    fn window(&self) -> (u64, f64) {
        let at = |n| self.answered_at(n);
        let last = (0..self.total).map(at).max().unwrap_or(0);
        let shares = || {
            (0..self.workers)
                .map(|w| self.share(w))
                .filter(|share| !share.is_empty())
        };
        // Until the first worker got its share's last answer, all C were in flight.
        let Some(until) = shares().map(|share| at(share.end - 1)).min() else {
            return (last, f64::NAN);
        };
        // Each worker's progress by then: its answers, and the part of the wait it was in.
        let mut progress = 0.0;
        for share in shares() {
            let mut previous = 0;
            for n in share {
                let answer = at(n);
                if answer <= until {
                    progress += 1.0;
                    previous = answer;
                } else {
                    progress += (until - previous) as f64 / (answer - previous) as f64;
                    break;
                }
            }
        }
        let answered = self
            .slots
            .iter()
            .filter(|slot| !matches!(slot.latency.load(Ordering::Relaxed), 0 | FAILED))
            .count();
        let answered_share = answered as f64 / self.total.max(1) as f64;
        let steady = progress * answered_share / (until.max(1) as f64 / 1e9);
        (last, steady)
    }
}

/// Times a run around its workers: the set-up before the start line, the CPU used from the
/// start line until the workers are joined.
pub struct Clock {
    spawned: Instant,
    cpu_at_start: Option<(u64, u64)>,
    machine_at_start: Option<procstats::MachineCpu>,
}

impl Clock {
    /// Starts timing the set-up (call before the first spawn).
    pub fn new() -> Clock {
        Clock {
            spawned: Instant::now(),
            cpu_at_start: None,
            machine_at_start: None,
        }
    }

    /// Call right after the start line opened.
    pub fn opened(&mut self) {
        self.cpu_at_start = cpu_ticks();
        self.machine_at_start = procstats::machine_cpu().ok();
    }

    /// The run's outcome, once every worker has been joined.
    pub fn finish(self, requests: &Requests) -> Outcome {
        let cpu_at_end = cpu_ticks();
        let machine_busy = self
            .machine_at_start
            .zip(procstats::machine_cpu().ok())
            .map_or(f64::NAN, |(a, b)| {
                let total = b.total.saturating_sub(a.total).max(1);
                100.0 - b.idle.saturating_sub(a.idle) as f64 / total as f64 * 100.0
            });
        let started = requests.started.get().copied().unwrap_or(self.spawned);
        let joined = started.elapsed();
        let cpu =
            self.cpu_at_start
                .zip(cpu_at_end)
                .map(|((process0, server0), (process1, server1))| CpuUse {
                    span: joined,
                    process: ticks(process1.saturating_sub(process0)),
                    server: ticks(server1.saturating_sub(server0)),
                    machine_busy,
                });
        let mut latencies = histogram();
        let mut failures = 0;
        for slot in &requests.slots {
            match slot.latency.load(Ordering::Relaxed) {
                FAILED => failures += 1,
                0 => {}
                micros => latencies.saturating_record(micros),
            }
        }
        let (last, steady_per_second) = requests.window();
        Outcome {
            steady_per_second,
            worker_time_per_request: requests.worker_time_per_request(),
            wall: Duration::from_nanos(last),
            setup: started.saturating_duration_since(self.spawned),
            cpu,
            latencies,
            failures,
        }
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

/// The name the registry service gives its threads, as `/proc` shows it (cut to 15 bytes),
/// when it runs in this process (the tests' service).
const SERVER_THREADS: &str = "registry-servic";

/// The pid of the registry service's own process while one runs (0: none), set by
/// [`RegistryProcess`](registry_process::RegistryProcess): its CPU time is the
/// server column's, and it is not in this process's.
pub(crate) static SERVER_PID: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// (this process, the registry service) CPU ticks so far.
fn cpu_ticks() -> Option<(u64, u64)> {
    let server = match SERVER_PID.load(std::sync::atomic::Ordering::SeqCst) {
        0 => procstats::threads_cpu_ticks(SERVER_THREADS).ok()?,
        pid => procstats::pid_cpu_ticks(pid).ok()?,
    };
    Some((procstats::process_cpu_ticks().ok()?, server))
}

fn ticks(n: u64) -> Duration {
    Duration::from_secs_f64(n as f64 / procstats::TICKS_PER_SECOND)
}

/// An empty histogram for latencies from 1 µs to 10 minutes, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

/// Records one latency (saturating at the histogram's top).
pub fn record(histogram: &mut Histogram<u64>, latency: Duration) {
    histogram.saturating_record((latency.as_micros() as u64).max(1));
}

/// The sensor request `n` asks about (every one the default fleet knows, in turn), as chapter
/// 9's client would ask for it.
pub fn sensor_url(url: &str, n: u64) -> String {
    let fleet = u64::from(pipeline::FleetRegistry::DEFAULT_SIZE);
    ch09_real_io::http::sensor_url(url, &pipeline::FleetRegistry::sensor_id((n % fleet) as u32))
}

/// The header value that makes the service's latency draw for request `n` reproducible.
pub fn request_id(n: u64) -> (&'static str, String) {
    (REQUEST_ID, format!("bench-{n}"))
}

/// Whether an HTTP status is an answer (known or unknown sensor) rather than a failure.
pub fn answered(status: reqwest::StatusCode) -> bool {
    status.is_success() || status == reqwest::StatusCode::NOT_FOUND
}

/// The reqwest error as a pipeline error.
pub fn client_error(e: reqwest::Error) -> PipelineError {
    PipelineError::Start {
        what: "the HTTP client",
        source: std::io::Error::other(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_records_every_request_once_outside_its_own_allocations() {
        for variant in Variant::ALL {
            for concurrency in [1, 7] {
                let plan = Plan {
                    concurrency,
                    requests: 100,
                    target: Target::Nothing,
                };
                let outcome = run(variant, &plan).unwrap();
                assert_eq!(outcome.latencies.len(), 100, "{variant}, C = {concurrency}");
                assert_eq!(outcome.failures, 0, "{variant}");
            }
        }
    }

    #[test]
    fn a_failed_request_is_counted_and_kept_out_of_the_latencies() {
        testkit::run_with_deadline("a failed request", testkit::TEST_DEADLINE, move || {
            let plan = Plan {
                concurrency: 2,
                requests: 3,
                target: Target::Nothing,
            };
            let requests = Requests::new(&plan);
            let line = requests.close();
            // No worker ran: opening must not wait for one that never comes.
            let empty = Requests::new(&Plan {
                concurrency: 0,
                ..plan.clone()
            });
            empty.open_blocking(empty.close());
            std::thread::scope(|s| {
                for _ in 0..2 {
                    s.spawn(|| requests.wait_at_line_blocking());
                }
                requests.open_blocking(line);
            });
            let asked = Instant::now();
            requests.done(0, asked, true);
            requests.done(1, asked, false);
            let outcome = Clock::new().finish(&requests);
            assert_eq!(outcome.latencies.len(), 1);
            assert_eq!(outcome.failures, 1, "request 2 never answered: neither");
        })
        .expect_finished("a failed request");
    }

    #[test]
    fn every_number_is_in_exactly_one_share() {
        for (workers, total) in [(3, 10), (4, 2), (1, 5), (5, 5), (4096, 81_920)] {
            let requests = Requests::new(&Plan {
                concurrency: workers,
                requests: total,
                target: Target::Nothing,
            });
            let shares: Vec<_> = (0..workers).map(|w| requests.share(w)).collect();
            let numbers: Vec<u64> = shares.iter().cloned().flatten().collect();
            assert_eq!(numbers, (0..total).collect::<Vec<_>>(), "{workers} workers");
            // As even as whole numbers allow: ⌈total / workers⌉ each, the last ones shorter.
            let per_worker = total.div_ceil(workers as u64);
            let full = shares
                .iter()
                .filter(|s| s.end - s.start == per_worker)
                .count();
            assert_eq!(full as u64, total / per_worker, "{shares:?}");
            assert!(shares.iter().all(|s| s.end - s.start <= per_worker));
        }
    }

    #[test]
    fn the_steady_rate_counts_the_wait_each_worker_was_in_when_the_first_finished() {
        let answer_at = |times_ms: &[u64]| {
            let requests = Requests::new(&Plan {
                concurrency: 2,
                requests: times_ms.len() as u64,
                target: Target::Nothing,
            });
            for (n, ms) in times_ms.iter().enumerate() {
                requests.slots[n].latency.store(1, Ordering::Relaxed);
                requests.slots[n]
                    .at
                    .store(ms * 1_000_000, Ordering::Relaxed);
            }
            (requests.window(), requests.worker_time_per_request())
        };
        // Answers in bursts, every 10 ms: the rate is C / W exactly, not cut at a burst.
        let ((last, steady), _) = answer_at(&[10, 20, 10, 20]);
        assert_eq!(last, 20_000_000);
        assert!((steady - 200.0).abs() < 1e-6, "{steady}");
        // Worker 1 is slower: when worker 0 is done (20 ms), worker 1 has one answer and half
        // of its second wait: 3.5 answers in 20 ms.
        let ((last, steady), per_request) = answer_at(&[10, 20, 10, 30]);
        assert_eq!(last, 30_000_000);
        assert!((steady - 175.0).abs() < 1e-6, "{steady}");
        // Each worker's own time between its answers: 10 ms and 20 ms, for one request each.
        assert!((per_request - 0.015).abs() < 1e-12, "{per_request}");
        // A failure is left out of the rate, in proportion.
        let requests = Requests::new(&Plan {
            concurrency: 1,
            requests: 2,
            target: Target::Nothing,
        });
        for (n, latency) in [(0, 1), (1, FAILED)] {
            requests.slots[n].latency.store(latency, Ordering::Relaxed);
            requests.slots[n]
                .at
                .store((n as u64 + 1) * 10_000_000, Ordering::Relaxed);
        }
        let (_, steady) = requests.window();
        assert!((steady - 50.0).abs() < 1e-6, "{steady}");
    }
}

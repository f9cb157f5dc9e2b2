//! The load generator behind the fan-out and latency measurements: `C` workers (threads or
//! tasks) take request numbers from one shared counter until `requests` have been made, each
//! waiting for its answer before asking again — so at most `C` are in flight, and as long as
//! the machine keeps up, exactly `C` are.
//!
//! Only the requests are inside the timed window. Everything the lab needs is ready before the
//! clock starts: the workers are spawned and each waits at a start line (their creation is
//! timed on its own, the *set-up*), and every request's latency goes into a slot of one slab
//! allocated beforehand, turned into an HDR histogram after the window. (A histogram per
//! worker, built inside the window, cost 172 KiB zeroed per worker: 672 MiB at C = 4096, most
//! of what the lab used to measure.) The window ends at the last answer, before the workers
//! are joined.
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
    /// No wait: take a number, read the clock twice, record. What is left is the lab's own
    /// cost per request, in the calibration row.
    Nothing,
    /// Wait `latency.sample(seed, n)` for request `n`, in-process.
    InProcess { latency: Latency, seed: u64 },
    /// `GET {url}/sensors/{id}` with `x-request-id: bench-{n}`; the service draws the latency.
    Http { url: String },
    /// The same request with a client on the variant's own reactor ([`own_io`]).
    OwnHttp(own_io::OwnHttp),
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
    /// The steady state: answers received before the last request number was handed out,
    /// over the time until then — the rate while all C were busy, without the drain at the end
    /// (where fewer than C are in flight, for as long as the slowest last request takes).
    pub steady_per_second: f64,
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

/// A slot's value for a request that got no usable answer.
const FAILED: u64 = u64::MAX;

/// The requests of one run, shared by its workers: the numbers still to hand out, a slot per
/// request for its latency (allocated before the clock starts), and the start line.
pub struct Requests {
    next: AtomicU64,
    total: u64,
    /// Request `n`'s latency in µs (at least 1), [`FAILED`], or 0 while not answered.
    slots: Vec<AtomicU64>,
    /// When the start line opened: the window's start.
    started: OnceLock<Instant>,
    /// The latest answer so far, in ns after `started`: the window's end.
    last: AtomicU64,
    /// When the last number was handed out, in ns after `started` (0 until then), and the
    /// answers received before it.
    exhausted: AtomicU64,
    answered_before: AtomicU64,
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
            next: AtomicU64::new(0),
            total: plan.requests,
            slots: (0..plan.requests).map(|_| AtomicU64::new(0)).collect(),
            started: OnceLock::new(),
            last: AtomicU64::new(0),
            exhausted: AtomicU64::new(0),
            answered_before: AtomicU64::new(0),
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

    /// The next request's number, or `None` when all have been handed out.
    pub fn next(&self) -> Option<u64> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        if n + 1 == self.total {
            // The last number: from here on, fewer than C will be in flight.
            let since = self.since_start(Instant::now());
            let _ = self.exhausted.compare_exchange(
                0,
                since.max(1),
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
        (n < self.total).then_some(n)
    }

    fn since_start(&self, now: Instant) -> u64 {
        self.started
            .get()
            .map_or(0, |started| now.duration_since(*started).as_nanos() as u64)
    }

    /// Records request `n`, asked at `asked`: its latency if `answered`, else a failure.
    pub fn done(&self, n: u64, asked: Instant, answered: bool) {
        let now = Instant::now();
        let value = if answered {
            (now.duration_since(asked).as_micros() as u64).clamp(1, FAILED - 1)
        } else {
            FAILED
        };
        self.slots[n as usize].store(value, Ordering::Relaxed);
        if answered && self.exhausted.load(Ordering::Relaxed) == 0 {
            self.answered_before.fetch_add(1, Ordering::Relaxed);
        }
        self.last
            .fetch_max(self.since_start(now), Ordering::Relaxed);
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
            match slot.load(Ordering::Relaxed) {
                FAILED => failures += 1,
                0 => {}
                micros => latencies.saturating_record(micros),
            }
        }
        let exhausted = requests.exhausted.load(Ordering::Relaxed);
        let steady_per_second = if exhausted > 0 {
            requests.answered_before.load(Ordering::Relaxed) as f64 / (exhausted as f64 / 1e9)
        } else {
            f64::NAN
        };
        Outcome {
            steady_per_second,
            wall: Duration::from_nanos(requests.last.load(Ordering::Relaxed)),
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
}

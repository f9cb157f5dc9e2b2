//! The load generator behind the fan-out and latency measurements: `C` workers (threads or
//! tasks) take request numbers from one shared counter until `requests` have been made, each
//! waiting for its answer before asking again — so at most `C` are in flight, and as long as
//! the machine keeps up, exactly `C` are. Every request's latency, as the worker saw it, goes
//! into an HDR histogram.
//!
//! A request is either *in-process* (sleep for the registry's latency: the model's cost alone)
//! or *HTTP* (`GET /sensors/{id}` to the local registry service, which waits the same seeded
//! latency before answering: the model plus a real client, sockets and a server). The four
//! files are siblings: diff them to see only the concurrency model change.

pub mod async_std_rt;
pub mod own_io;
pub mod registry_process;
pub mod smol_rt;
pub mod sync;
pub mod tokio_rt;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;
use pipeline::{PipelineError, Variant};
use registry_service::{Latency, REQUEST_ID};

/// What one request is.
#[derive(Debug, Clone)]
pub enum Target {
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
    /// First worker started to last answer received.
    pub wall: Duration,
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

/// Runs `plan` in `variant`'s concurrency model.
pub fn run(variant: Variant, plan: &Plan) -> Result<Outcome, PipelineError> {
    match variant {
        Variant::Sync => sync::run(plan),
        Variant::Tokio => tokio_rt::run(plan),
        Variant::AsyncStd => async_std_rt::run(plan),
        Variant::Smol => smol_rt::run(plan),
    }
}

/// The request numbers still to make, shared by the workers.
pub struct Requests {
    next: AtomicU64,
    total: u64,
}

impl Requests {
    pub fn new(total: u64) -> Self {
        Requests {
            next: AtomicU64::new(0),
            total,
        }
    }

    /// The next request's number, or `None` when all have been handed out.
    pub fn next(&self) -> Option<u64> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        (n < self.total).then_some(n)
    }
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

/// The run's outcome: the time since `started` and the workers' results added up.
pub fn finish(
    started: std::time::Instant,
    parts: impl IntoIterator<Item = (Histogram<u64>, u64)>,
) -> Outcome {
    let wall = started.elapsed();
    let mut latencies = histogram();
    let mut failures = 0;
    for (part, failed) in parts {
        latencies
            .add(part)
            .expect("histograms with the same bounds");
        failures += failed;
    }
    Outcome {
        wall,
        latencies,
        failures,
    }
}

/// The reqwest error as a pipeline error.
pub fn client_error(e: reqwest::Error) -> PipelineError {
    PipelineError::Start {
        what: "the HTTP client",
        source: std::io::Error::other(e),
    }
}

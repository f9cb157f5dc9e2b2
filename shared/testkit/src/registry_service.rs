//! The registry as a real HTTP service: what the enrich stage talks to when the I/O is real
//! (chapter 9 onwards).
//!
//! `GET /sensors/{id}` answers for the same fleet as [`pipeline::FleetRegistry`] (or any
//! [`Registry`] you give it):
//!
//! | answer | when |
//! |---|---|
//! | `200` `{"site": "...", "offset": 0.1}` | the sensor is known |
//! | `404` | unknown sensor |
//! | `503` | over capacity: more than [`RegistryOptions::capacity`] requests in progress |
//! | `500` | an injected error ([`ServiceFaults`]), or the registry behind it failed |
//! | no answer | an injected dropped connection: the socket is reset without a response |
//!
//! Every answer takes a latency drawn from a seeded [`Latency`] distribution, plus an injected
//! slow-down for some requests. Which request meets which fault is a pure function of the seed
//! and the request's `x-request-id` header ([`ServiceFaults::decide`]), so a client that names
//! its requests (say, by input line and attempt) meets the same faults in every run and in every
//! variant, whatever order the requests arrive in. Requests without the header are numbered in
//! arrival order instead.
//!
//! The service runs on its own tokio runtime in its own threads ([`RegistryService::start`]),
//! so sync tests, async tests on any runtime, demos and the tour can all use it. It stops when
//! the handle is dropped. [`serve`] runs it in the foreground (the workshop's `registry`
//! command).

use std::collections::BTreeSet;
use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::thread;
use std::time::Duration;

use axum::Router;
use axum::extract::connect_info::{ConnectInfo, Connected};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::{IncomingStream, Listener};
use pipeline::{FleetRegistry, LookupError, Registry};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use crate::gauge::Gauge;

/// The header whose value decides a request's faults and latency (see [`ServiceFaults::decide`]).
pub const REQUEST_ID: &str = "x-request-id";

/// How long the service takes to answer, drawn per request from a seeded distribution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Latency {
    /// Answer at once.
    None,
    /// Always the same.
    Fixed(Duration),
    /// Uniform between `min` and `max`.
    Uniform { min: Duration, max: Duration },
    /// Log-normal: half the requests take less than `median`, one in a hundred more than `p99`
    /// — the long tail of a real service. Capped at ten times `p99`.
    LongTail { median: Duration, p99: Duration },
}

impl Latency {
    /// The latency of the request with this `key` (see [`request_key`]): a pure function, so a
    /// seeded service is reproducible.
    pub fn sample(&self, seed: u64, key: u64) -> Duration {
        match *self {
            Latency::None => Duration::ZERO,
            Latency::Fixed(d) => d,
            Latency::Uniform { min, max } => {
                let (lo, hi) = (min.min(max), max.max(min));
                lo + (hi - lo).mul_f64(unit(seed, key, SALT_LATENCY))
            }
            Latency::LongTail { median, p99 } => {
                // ln(latency) ~ Normal(mu, sigma): e^mu is the median, e^(mu + 2.326 sigma) the p99.
                const Z99: f64 = 2.326_347_874;
                let median_s = median.as_secs_f64().max(1e-9);
                let sigma = (p99.as_secs_f64().max(median_s) / median_s).ln() / Z99;
                // Box–Muller: two uniform draws give one standard normal one.
                let u1 = unit(seed, key, SALT_LATENCY).max(f64::MIN_POSITIVE);
                let u2 = unit(seed, key, SALT_LATENCY_2);
                let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                let secs = (median_s * (sigma * z).exp()).min(p99.as_secs_f64() * 10.0);
                Duration::from_secs_f64(secs)
            }
        }
    }
}

/// What goes wrong, and for which requests. Rates are per mille of requests, each decided
/// independently per request from the seed and the request's key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceFaults {
    /// Every look-up of these sensors answers `500`.
    pub failing_sensors: BTreeSet<String>,
    /// This many requests in a thousand answer `500`.
    pub error_per_mille: u32,
    /// This many requests in a thousand have their connection dropped instead of an answer.
    pub drop_per_mille: u32,
    /// This many requests in a thousand take `slow_by` longer.
    pub slow_per_mille: u32,
    pub slow_by: Duration,
}

/// What happens to one request, as [`ServiceFaults::decide`] has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer normally.
    None,
    /// Answer `500`.
    Error,
    /// Reset the connection without answering.
    Drop,
}

impl ServiceFaults {
    /// No faults at all.
    pub fn none() -> Self {
        ServiceFaults::default()
    }

    /// The fault for the request with this key, and whether it is slowed down. A pure
    /// function: the same seed and key give the same answer in every run and every process.
    pub fn decide(&self, seed: u64, key: u64) -> (Fault, bool) {
        let hit = |per_mille: u32, salt| unit(seed, key, salt) * 1000.0 < f64::from(per_mille);
        let fault = if hit(self.drop_per_mille, SALT_DROP) {
            Fault::Drop
        } else if hit(self.error_per_mille, SALT_ERROR) {
            Fault::Error
        } else {
            Fault::None
        };
        (fault, hit(self.slow_per_mille, SALT_SLOW))
    }
}

/// The key of a request with this `x-request-id` value: FNV-1a of its bytes.
pub fn request_key(request_id: &str) -> u64 {
    request_id.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// How the service behaves. `Default`: the default fleet, no latency, room for 64 requests at
/// once, no faults, two threads.
#[derive(Clone)]
pub struct RegistryOptions {
    /// What the service knows: `pipeline::FleetRegistry::default()` unless you say otherwise.
    pub registry: Arc<dyn Registry>,
    /// Seeds the latency and fault draws.
    pub seed: u64,
    pub latency: Latency,
    /// At most this many requests in progress; the next one is answered `503` at once.
    pub capacity: usize,
    pub faults: ServiceFaults,
    /// Worker threads of the service's own tokio runtime.
    pub threads: usize,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            registry: Arc::new(FleetRegistry::default()),
            seed: 0,
            latency: Latency::None,
            capacity: 64,
            faults: ServiceFaults::none(),
            threads: 2,
        }
    }
}

impl fmt::Debug for RegistryOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryOptions")
            .field("seed", &self.seed)
            .field("latency", &self.latency)
            .field("capacity", &self.capacity)
            .field("faults", &self.faults)
            .field("threads", &self.threads)
            .finish_non_exhaustive()
    }
}

/// What the service did so far (counts of requests by outcome).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServiceStats {
    /// Every request that reached the handler.
    pub requests: u64,
    pub ok: u64,
    pub not_found: u64,
    /// Refused with `503`: over capacity.
    pub overloaded: u64,
    /// Answered `500` (injected, or the registry behind it failed).
    pub failed: u64,
    /// Connections reset without an answer (injected).
    pub dropped: u64,
    /// Requests that got the injected slow-down.
    pub slowed: u64,
    /// The most requests ever in progress at once.
    pub peak_in_flight: usize,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    ok: AtomicU64,
    not_found: AtomicU64,
    overloaded: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
    slowed: AtomicU64,
    /// Numbers requests that carry no `x-request-id`.
    unnamed: AtomicU64,
}

struct Shared {
    options: RegistryOptions,
    in_flight: Gauge,
    counters: Counters,
}

impl Shared {
    fn stats(&self) -> ServiceStats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::SeqCst);
        ServiceStats {
            requests: get(&c.requests),
            ok: get(&c.ok),
            not_found: get(&c.not_found),
            overloaded: get(&c.overloaded),
            failed: get(&c.failed),
            dropped: get(&c.dropped),
            slowed: get(&c.slowed),
            peak_in_flight: self.in_flight.peak(),
        }
    }
}

/// A running registry service on `127.0.0.1`. Dropping it stops the service and joins its
/// thread.
pub struct RegistryService {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl RegistryService {
    /// Starts the service on `127.0.0.1` and a free port, on a tokio runtime of its own in its
    /// own threads. Returns once it accepts connections.
    pub fn start(options: RegistryOptions) -> io::Result<RegistryService> {
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        Self::start_on(listener, options)
    }

    fn start_on(
        listener: std::net::TcpListener,
        options: RegistryOptions,
    ) -> io::Result<RegistryService> {
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(options.threads.max(1))
            .thread_name("registry-service")
            .enable_all()
            .build()?;
        let shared = Arc::new(Shared {
            options,
            in_flight: Gauge::new("registry requests in progress"),
            counters: Counters::default(),
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let state = Arc::clone(&shared);
        let thread = thread::Builder::new()
            .name("registry-service-main".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match TcpListener::from_std(listener) {
                        Ok(listener) => listener,
                        Err(e) => {
                            eprintln!("registry service: cannot listen: {e}");
                            return;
                        }
                    };
                    tokio::select! {
                        result = serve_on(listener, state) => {
                            if let Err(e) = result {
                                eprintln!("registry service stopped: {e}");
                            }
                        }
                        _ = stopped => {}
                    }
                });
                // Connections still open are cut; nothing may keep a test waiting.
                runtime.shutdown_timeout(Duration::from_secs(1));
            })?;
        Ok(RegistryService {
            addr,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What the service did so far.
    pub fn stats(&self) -> ServiceStats {
        self.shared.stats()
    }

    /// Requests in progress right now.
    pub fn in_flight(&self) -> usize {
        self.shared.in_flight.current()
    }
}

impl Drop for RegistryService {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl fmt::Debug for RegistryService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryService")
            .field("addr", &self.addr)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// Runs the service in the foreground on `127.0.0.1:port` (0: any free port) until the process
/// is stopped. Prints the URL it listens on, then serves; returns only on an error.
pub fn serve(port: u16, options: RegistryOptions) -> io::Result<()> {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port))?;
    let mut service = RegistryService::start_on(listener, options)?;
    println!(
        "registry service listening on {} (GET /sensors/{{id}}); stop it with Ctrl-C",
        service.url()
    );
    // The service thread only ends if serving failed (it printed why).
    if let Some(thread) = service.thread.take() {
        let _ = thread.join();
    }
    Err(io::Error::other("the registry service stopped"))
}

async fn serve_on(listener: TcpListener, shared: Arc<Shared>) -> io::Result<()> {
    let app = Router::new()
        .route("/sensors/{id}", get(sensor))
        .with_state(shared)
        .into_make_service_with_connect_info::<KillSwitch>();
    axum::serve(KillableListener(listener), app).await
}

// ANCHOR: handler
/// `GET /sensors/{id}`: admit (or refuse past capacity), wait out the latency, then answer —
/// or fail, or drop the connection, as the fault plan has it for this request.
async fn sensor(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(connection): ConnectInfo<KillSwitch>,
    Path(sensor_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let counters = &shared.counters;
    counters.requests.fetch_add(1, Ordering::SeqCst);
    let Some(_in_flight) = shared.in_flight.enter_within(shared.options.capacity) else {
        counters.overloaded.fetch_add(1, Ordering::SeqCst);
        return (StatusCode::SERVICE_UNAVAILABLE, "registry overloaded").into_response();
    };
    let options = &shared.options;
    let key = match headers.get(REQUEST_ID).and_then(|v| v.to_str().ok()) {
        Some(id) => request_key(id),
        None => request_key(&counters.unnamed.fetch_add(1, Ordering::SeqCst).to_string()),
    };
    let (fault, slow) = options.faults.decide(options.seed, key);
    let mut latency = options.latency.sample(options.seed, key);
    if slow {
        counters.slowed.fetch_add(1, Ordering::SeqCst);
        latency += options.faults.slow_by;
    }
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    match fault {
        Fault::Drop => {
            counters.dropped.fetch_add(1, Ordering::SeqCst);
            connection.kill();
            return StatusCode::OK.into_response(); // never written: the socket is reset first
        }
        Fault::Error => {
            counters.failed.fetch_add(1, Ordering::SeqCst);
            return (StatusCode::INTERNAL_SERVER_ERROR, "injected fault").into_response();
        }
        Fault::None => {}
    }
    if options.faults.failing_sensors.contains(&sensor_id) {
        counters.failed.fetch_add(1, Ordering::SeqCst);
        return (StatusCode::INTERNAL_SERVER_ERROR, "injected fault").into_response();
    }
    match options.registry.lookup(&sensor_id) {
        Ok(info) => {
            counters.ok.fetch_add(1, Ordering::SeqCst);
            let body = serde_json::json!({ "site": &*info.site, "offset": info.offset });
            axum::Json(body).into_response()
        }
        Err(LookupError::UnknownSensor) => {
            counters.not_found.fetch_add(1, Ordering::SeqCst);
            (StatusCode::NOT_FOUND, "unknown sensor").into_response()
        }
        Err(LookupError::Overloaded) => {
            counters.overloaded.fetch_add(1, Ordering::SeqCst);
            (StatusCode::SERVICE_UNAVAILABLE, "registry overloaded").into_response()
        }
        Err(LookupError::TimedOut) => {
            counters.failed.fetch_add(1, Ordering::SeqCst);
            (StatusCode::GATEWAY_TIMEOUT, "registry timed out").into_response()
        }
        Err(e @ (LookupError::Failed | LookupError::Panicked)) => {
            counters.failed.fetch_add(1, Ordering::SeqCst);
            (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response()
        }
    }
}
// ANCHOR_END: handler

/// Lets a handler cut its own connection: a dropped connection is a fault HTTP cannot express
/// as a response. Shared by the connection's socket ([`KillableStream`]) and its requests.
#[derive(Debug, Clone, Default)]
struct KillSwitch(Arc<AtomicBool>);

impl KillSwitch {
    fn kill(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    fn is_killed(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

impl Connected<IncomingStream<'_, KillableListener>> for KillSwitch {
    fn connect_info(stream: IncomingStream<'_, KillableListener>) -> Self {
        stream.remote_addr().1.clone()
    }
}

/// A TCP listener whose connections can be killed by their handler.
struct KillableListener(TcpListener);

impl Listener for KillableListener {
    type Io = KillableStream;
    type Addr = (SocketAddr, KillSwitch);

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let switch = KillSwitch::default();
                    let io = KillableStream {
                        inner: stream,
                        switch: switch.clone(),
                    };
                    return (io, (peer, switch));
                }
                // Out of file descriptors and the like: wait a little and go on accepting.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok((self.0.local_addr()?, KillSwitch::default()))
    }
}

/// A connection that fails every read and write once killed; the server then drops it, and
/// with zero linger the peer sees a reset, not an answer.
struct KillableStream {
    inner: TcpStream,
    switch: KillSwitch,
}

impl KillableStream {
    fn killed(&self) -> Option<io::Error> {
        self.switch.is_killed().then(|| {
            let _ = self.inner.set_zero_linger();
            io::Error::new(io::ErrorKind::ConnectionReset, "injected fault: dropped")
        })
    }
}

impl AsyncRead for KillableStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(e) = this.killed() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Some(e) = this.killed() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(e) = this.killed() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Some(e) = this.killed() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

const SALT_LATENCY: u64 = 1;
const SALT_LATENCY_2: u64 = 2;
const SALT_ERROR: u64 = 3;
const SALT_DROP: u64 = 4;
const SALT_SLOW: u64 = 5;

/// A uniform draw in [0, 1) from (seed, key, salt): splitmix64, a pure function.
fn unit(seed: u64, key: u64, salt: u64) -> f64 {
    let mut z = seed
        .wrapping_add(key.wrapping_mul(0x9e37_79b9_7f4a_7c15))
        .wrapping_add(salt.wrapping_mul(0xd1b5_4a32_d192_ed03));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Barrier;

    fn get(client: &reqwest::blocking::Client, url: &str) -> Result<(u16, String), String> {
        let response = client.get(url).send().map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        Ok((status, response.text().map_err(|e| e.to_string())?))
    }

    #[test]
    fn answers_for_the_fleet_with_200_and_404() {
        let service = RegistryService::start(RegistryOptions::default()).unwrap();
        let client = reqwest::blocking::Client::new();
        let (status, body) = get(&client, &format!("{}/sensors/s-0013", service.url())).unwrap();
        assert_eq!(status, 200);
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        let expected = FleetRegistry::default().lookup("s-0013").unwrap();
        assert_eq!(body["site"], &*expected.site);
        assert_eq!(body["offset"].as_f64(), Some(expected.offset));
        let (status, _) = get(&client, &format!("{}/sensors/s-9999", service.url())).unwrap();
        assert_eq!(status, 404);
        let stats = service.stats();
        assert_eq!((stats.requests, stats.ok, stats.not_found), (2, 1, 1));
    }

    #[test]
    fn past_its_capacity_it_answers_503() {
        // Capacity 2, and eight clients at once against a one-second latency: whoever comes
        // third while two are waiting is refused. The barrier makes them all start together.
        let service = RegistryService::start(RegistryOptions {
            capacity: 2,
            latency: Latency::Fixed(Duration::from_secs(1)),
            ..RegistryOptions::default()
        })
        .unwrap();
        let url = format!("{}/sensors/s-0001", service.url());
        let start = Arc::new(Barrier::new(8));
        let statuses: Vec<u16> = thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    let (url, start) = (url.clone(), Arc::clone(&start));
                    s.spawn(move || {
                        let client = reqwest::blocking::Client::new();
                        start.wait();
                        get(&client, &url).unwrap().0
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let ok = statuses.iter().filter(|s| **s == 200).count();
        let refused = statuses.iter().filter(|s| **s == 503).count();
        assert_eq!(ok + refused, 8, "{statuses:?}");
        assert!((1..=2).contains(&ok), "at most two fit: {statuses:?}");
        let stats = service.stats();
        assert_eq!(stats.overloaded, refused as u64);
        assert_eq!(stats.peak_in_flight, 2);
    }

    #[test]
    fn injected_errors_and_drops_follow_the_request_id() {
        let faults = ServiceFaults {
            failing_sensors: ["s-0002".to_owned()].into(),
            error_per_mille: 200,
            drop_per_mille: 200,
            ..ServiceFaults::none()
        };
        let service = RegistryService::start(RegistryOptions {
            seed: 7,
            faults: faults.clone(),
            ..RegistryOptions::default()
        })
        .unwrap();
        let client = reqwest::blocking::Client::new();
        let mut seen = [0; 3];
        for n in 0..60 {
            let id = format!("line-{n}");
            let result = client
                .get(format!("{}/sensors/s-0001", service.url()))
                .header(REQUEST_ID, &id)
                .send()
                .map(|r| r.status().as_u16());
            let (fault, _) = faults.decide(7, request_key(&id));
            match fault {
                Fault::None => assert_eq!(result.unwrap(), 200, "{id}"),
                Fault::Error => assert_eq!(result.unwrap(), 500, "{id}"),
                Fault::Drop => assert!(result.is_err(), "{id}: {result:?}"),
            }
            seen[fault as usize] += 1;
        }
        assert!(seen.iter().all(|n| *n > 0), "every kind occurs: {seen:?}");
        let stats = service.stats();
        assert_eq!(stats.dropped, seen[Fault::Drop as usize]);
        assert_eq!(stats.failed, seen[Fault::Error as usize]);
        let (status, _) = get(&client, &format!("{}/sensors/s-0002", service.url())).unwrap();
        assert_eq!(status, 500, "a failing sensor always fails");
    }

    #[test]
    fn a_slowed_request_outlasts_a_client_timeout_the_others_do_not() {
        // slow_by (5 s) is far beyond the client's timeout (1 s), which is far beyond the
        // normal latency (none): the outcome does not depend on this machine's speed.
        let faults = ServiceFaults {
            slow_per_mille: 500,
            slow_by: Duration::from_secs(5),
            ..ServiceFaults::none()
        };
        let service = RegistryService::start(RegistryOptions {
            seed: 3,
            faults: faults.clone(),
            ..RegistryOptions::default()
        })
        .unwrap();
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(1))
            .build()
            .unwrap();
        let (mut slowed, mut fast) = (0, 0);
        for n in 0..6 {
            let id = format!("r{n}");
            let result = client
                .get(format!("{}/sensors/s-0001", service.url()))
                .header(REQUEST_ID, &id)
                .send();
            if faults.decide(3, request_key(&id)).1 {
                slowed += 1;
                assert!(result.unwrap_err().is_timeout(), "{id} is slowed");
            } else {
                fast += 1;
                assert_eq!(result.unwrap().status().as_u16(), 200, "{id}");
            }
        }
        assert!(slowed > 0 && fast > 0, "{slowed} slowed, {fast} not");
    }

    #[test]
    fn latency_distributions_have_the_shape_they_promise() {
        let percentile = |latency: Latency, p: usize| {
            let mut samples: Vec<Duration> = (0..10_000).map(|k| latency.sample(42, k)).collect();
            samples.sort();
            samples[p * samples.len() / 100]
        };
        let ms = Duration::from_millis;
        let tail = Latency::LongTail {
            median: ms(2),
            p99: ms(40),
        };
        let (p50, p99) = (percentile(tail, 50), percentile(tail, 99));
        assert!(p50 > ms(1) && p50 < ms(3), "median {p50:?}");
        assert!(p99 > ms(25) && p99 < ms(60), "p99 {p99:?}");
        let uniform = Latency::Uniform {
            min: ms(1),
            max: ms(3),
        };
        let (lo, hi) = (percentile(uniform, 0), percentile(uniform, 99));
        assert!(lo >= ms(1) && hi < ms(3), "{lo:?}..{hi:?}");
        assert_eq!(tail.sample(42, 9), tail.sample(42, 9), "a pure function");
        assert_ne!(tail.sample(42, 9), tail.sample(43, 9), "the seed matters");
    }

    #[test]
    fn dropping_the_handle_stops_the_service() {
        let service = RegistryService::start(RegistryOptions::default()).unwrap();
        let addr = service.addr();
        drop(service);
        assert!(
            std::net::TcpStream::connect(addr).is_err(),
            "nobody listens"
        );
    }
}

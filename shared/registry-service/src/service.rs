//! The axum service: `GET /sensors/{id}` on a tokio runtime of its own, the handle that stops
//! it when dropped, and the counts of what it answered.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use axum::Router;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use instruments::Gauge;
use pipeline::{FleetRegistry, LookupError, Registry};
use tokio::net::TcpListener;

use crate::listener::{KillSwitch, KillableListener};
use crate::plan::{Fault, Latency, REQUEST_ID, ServiceFaults, Wait, request_key};

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
    /// How a request's latency is waited out: tokio's timer unless you say otherwise.
    pub wait: Wait,
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
            wait: Wait::Timer,
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

/// Runs the service as another process's server (the measurement lab's, so that the server
/// does not share the measured client's runtime or threads): prints its URL as the first line
/// of `out`, then serves until `until` ends — the parent closes the pipe, or dies, so a service
/// never outlives the process that started it.
pub fn serve_until_closed(
    options: RegistryOptions,
    out: &mut impl io::Write,
    until: &mut impl io::Read,
) -> io::Result<()> {
    let service = RegistryService::start(options)?;
    writeln!(out, "{}", service.url())?;
    out.flush()?;
    io::copy(until, &mut io::sink())?;
    drop(service);
    Ok(())
}

async fn serve_on(listener: TcpListener, shared: Arc<Shared>) -> io::Result<()> {
    let app = Router::new()
        .route("/sensors/{id}", get(sensor))
        .with_state(shared)
        .into_make_service_with_connect_info::<KillSwitch>();
    axum::serve(KillableListener(listener), app).await
}

/// Waits `latency` the way `wait` says.
async fn wait_out(wait: Wait, latency: Duration) {
    match wait {
        Wait::Timer => tokio::time::sleep(latency).await,
        Wait::Precise => {
            // tokio's timer wakes up to a millisecond late; stop it 2 ms short, sleep the rest.
            let end = std::time::Instant::now() + latency;
            if let Some(coarse) = latency.checked_sub(Duration::from_millis(2)) {
                tokio::time::sleep(coarse).await;
            }
            let rest = end.saturating_duration_since(std::time::Instant::now());
            let _ = tokio::task::spawn_blocking(move || thread::sleep(rest)).await;
        }
    }
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
        wait_out(options.wait, latency).await;
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
    fn both_ways_of_waiting_wait_out_the_latency_and_answer() {
        instruments::run_with_deadline(
            "both ways of waiting",
            instruments::TEST_DEADLINE,
            move || {
                // Logic, not timing: each way waits at least the latency (never less), and answers.
                for wait in [Wait::Timer, Wait::Precise] {
                    for latency in [Duration::from_millis(1), Duration::from_millis(3)] {
                        let started = std::time::Instant::now();
                        let runtime = tokio::runtime::Runtime::new().unwrap();
                        runtime.block_on(wait_out(wait, latency));
                        assert!(started.elapsed() >= latency, "{wait:?} {latency:?}");
                    }
                    let service = RegistryService::start(RegistryOptions {
                        latency: Latency::Fixed(Duration::from_millis(3)),
                        wait,
                        ..RegistryOptions::default()
                    })
                    .unwrap();
                    let client = reqwest::blocking::Client::new();
                    let url = format!("{}/sensors/s-0013", service.url());
                    assert_eq!(get(&client, &url).unwrap().0, 200, "{wait:?}");
                }
            },
        )
        .expect_finished("both ways of waiting");
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
        let statuses: Vec<u16> = instruments::run_with_deadline(
            "eight clients",
            instruments::TEST_DEADLINE,
            move || {
                thread::scope(|s| {
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
                })
            },
        )
        .expect_finished("eight clients against capacity 2");
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

//! The enrich stage's side of the HTTP registry ([`registry_service::RegistryService`]): one
//! look-up is `GET {registry}/sensors/{id}`, and the answer's status says what it means for the
//! reading.
//!
//! The look-up is written once for `reqwest::blocking` ([`lookup_blocking`], the sync variant)
//! and once for async `reqwest` ([`lookup`], the other three). The two bodies are the same
//! code, with and without `.await`: what differs between the variants is *where* `lookup`
//! may run. `reqwest` is built on tokio (hyper's connections are tokio tasks, its timeouts
//! tokio timers), so it runs on tokio, or inside `async_compat::Compat` on smol and async-std.

use std::sync::Arc;
use std::time::Duration;

use pipeline::{LookupError, Reading, SensorInfo};
use reqwest::StatusCode;
use serde::Deserialize;

pub use registry_service::REQUEST_ID;

/// Attempts per look-up. Only a request that got no answer (a dropped connection, a reset) is
/// tried again: a `GET` is safe to repeat. An answer — even `500` or `503` — is final.
pub const MAX_ATTEMPTS: u32 = 3;
/// How long one attempt may take before it counts as "no answer".
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);

/// The body of a `200`.
#[derive(Debug, Deserialize)]
pub struct SensorBody {
    pub site: String,
    pub offset: f64,
}

impl From<SensorBody> for SensorInfo {
    fn from(body: SensorBody) -> Self {
        SensorInfo {
            site: Arc::from(body.site),
            offset: body.offset,
        }
    }
}

/// `{registry}/sensors/{id}`. Sensor ids are ASCII letters, digits, `-` and `_` (the parse
/// stage rejects anything else), so they need no escaping in a URL path.
pub fn sensor_url(registry: &str, sensor_id: &str) -> String {
    format!("{}/sensors/{sensor_id}", registry.trim_end_matches('/'))
}

/// Names an attempt by its input line: the service decides faults per request id, so the
/// same reading meets the same faults in every variant and every run.
pub fn request_id(line: u64, attempt: u32) -> String {
    format!("line-{line}-attempt-{attempt}")
}

/// What a status other than `200` means for the reading.
pub fn answer(status: StatusCode) -> LookupError {
    match status {
        StatusCode::NOT_FOUND => LookupError::UnknownSensor,
        StatusCode::SERVICE_UNAVAILABLE => LookupError::Overloaded,
        StatusCode::GATEWAY_TIMEOUT => LookupError::TimedOut,
        _ => LookupError::Failed,
    }
}

/// What a request that got no (complete) answer means, if no attempt is left.
pub fn no_answer(error: &reqwest::Error) -> LookupError {
    if error.is_timeout() {
        LookupError::TimedOut
    } else {
        LookupError::Failed
    }
}

// ANCHOR: lookup_blocking
/// One look-up with `reqwest::blocking`: the calling thread waits for the answer.
pub fn lookup_blocking(
    client: &reqwest::blocking::Client,
    registry: &str,
    reading: &Reading,
) -> Result<SensorInfo, LookupError> {
    let url = sensor_url(registry, &reading.sensor_id);
    let mut failure = LookupError::Failed;
    for attempt in 1..=MAX_ATTEMPTS {
        let sent = client
            .get(&url)
            .header(REQUEST_ID, request_id(reading.line, attempt))
            .send();
        match sent {
            Ok(response) if response.status() == StatusCode::OK => {
                match response.json::<SensorBody>() {
                    Ok(body) => return Ok(body.into()),
                    Err(e) if e.is_decode() => return Err(LookupError::Failed),
                    Err(e) => failure = no_answer(&e), // cut off mid-body: try again
                }
            }
            Ok(response) => return Err(answer(response.status())),
            Err(e) => failure = no_answer(&e),
        }
    }
    Err(failure)
}
// ANCHOR_END: lookup_blocking

// ANCHOR: lookup
/// One look-up with async `reqwest`: the task waits, its thread does not. Needs a tokio
/// context while it is polled (tokio itself, or `async_compat::Compat` around it).
pub async fn lookup(
    client: &reqwest::Client,
    registry: &str,
    reading: &Reading,
) -> Result<SensorInfo, LookupError> {
    let url = sensor_url(registry, &reading.sensor_id);
    let mut failure = LookupError::Failed;
    for attempt in 1..=MAX_ATTEMPTS {
        let sent = client
            .get(&url)
            .header(REQUEST_ID, request_id(reading.line, attempt))
            .send()
            .await;
        match sent {
            Ok(response) if response.status() == StatusCode::OK => {
                match response.json::<SensorBody>().await {
                    Ok(body) => return Ok(body.into()),
                    Err(e) if e.is_decode() => return Err(LookupError::Failed),
                    Err(e) => failure = no_answer(&e), // cut off mid-body: try again
                }
            }
            Ok(response) => return Err(answer(response.status())),
            Err(e) => failure = no_answer(&e),
        }
    }
    Err(failure)
}
// ANCHOR_END: lookup

/// The sync variant's client. Building it starts a thread with a tokio runtime inside
/// ("reqwest-internal-sync-runtime"): every blocking call hands its request to that thread
/// and parks until the answer comes back.
pub fn blocking_client() -> Result<reqwest::blocking::Client, pipeline::PipelineError> {
    reqwest::blocking::Client::builder()
        .timeout(LOOKUP_TIMEOUT)
        .build()
        .map_err(start_error)
}

/// The async variants' client. Building it needs no runtime; sending does.
pub fn client() -> Result<reqwest::Client, pipeline::PipelineError> {
    reqwest::Client::builder()
        .timeout(LOOKUP_TIMEOUT)
        .build()
        .map_err(start_error)
}

fn start_error(e: reqwest::Error) -> pipeline::PipelineError {
    pipeline::PipelineError::Start {
        what: "the HTTP client",
        source: std::io::Error::other(e),
    }
}

//! The load generator, **sync**: `C` OS threads, each blocked while its request waits
//! (`thread::sleep`, or `reqwest::blocking`, which hands the request to its own runtime thread
//! and parks the caller until the answer is back).

use std::ops::Range;
use std::thread;
use std::time::Instant;

use pipeline::PipelineError;

use super::{Clock, Outcome, Plan, Requests, Target, answered, client_error};

pub fn run(plan: &Plan) -> Result<Outcome, PipelineError> {
    let requests = Requests::new(plan);
    let client = match plan.target {
        Target::Http { .. } => Some(
            reqwest::blocking::Client::builder()
                .build()
                .map_err(client_error)?,
        ),
        Target::InProcess { .. } | Target::Nothing | Target::OwnHttp(_) => None,
    };
    let mut clock = Clock::new();
    let line = requests.close();
    thread::scope(|s| {
        let workers: Vec<_> = (0..plan.concurrency)
            .map(|w| {
                let (requests, client, share) = (&requests, client.as_ref(), requests.share(w));
                s.spawn(move || {
                    // Over HTTP, this worker's connection is opened before the clock starts.
                    if plan.target.is_http() && !share.is_empty() {
                        request(plan, share.start, client);
                    }
                    requests.wait_at_line_blocking();
                    worker(plan, requests, share, client);
                })
            })
            .collect();
        requests.open_blocking(line);
        clock.opened();
        for w in workers {
            w.join().expect("a load worker panicked");
        }
    });
    Ok(clock.finish(&requests))
}

// ANCHOR: worker
fn worker(
    plan: &Plan,
    requests: &Requests,
    share: Range<u64>,
    client: Option<&reqwest::blocking::Client>,
) {
    // One clock read per request: an answer's time is the next request's start.
    let mut asked = Instant::now();
    for n in share {
        let ok = request(plan, n, client);
        asked = requests.done(n, asked, ok);
    }
}

/// One request, `n`: whether it was answered.
fn request(plan: &Plan, n: u64, client: Option<&reqwest::blocking::Client>) -> bool {
    match (&plan.target, client) {
        (Target::Nothing, _) => true,
        (Target::InProcess { latency, seed }, _) => {
            thread::sleep(latency.sample(*seed, n));
            true
        }
        (Target::Http { url }, Some(client)) => {
            let (header, id) = super::request_id(n);
            client
                .get(super::sensor_url(url, n))
                .header(header, id)
                .send()
                .is_ok_and(|answer| answered(answer.status()))
        }
        (Target::Http { .. }, None) => false,
        (Target::OwnHttp(own), _) => own.std(n),
    }
}
// ANCHOR_END: worker

//! The load generator, **sync**: `C` OS threads, each blocked while its request waits
//! (`thread::sleep`, or `reqwest::blocking`, which hands the request to its own runtime thread
//! and parks the caller until the answer is back).

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
            .map(|_| {
                s.spawn(|| {
                    requests.wait_at_line_blocking();
                    worker(plan, &requests, client.as_ref());
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
fn worker(plan: &Plan, requests: &Requests, client: Option<&reqwest::blocking::Client>) {
    while let Some(n) = requests.next() {
        let asked = Instant::now();
        let ok = match (&plan.target, client) {
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
        };
        requests.done(n, asked, ok);
    }
}
// ANCHOR_END: worker

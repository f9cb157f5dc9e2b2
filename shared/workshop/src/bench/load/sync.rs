//! The load generator, **sync**: `C` OS threads, each blocked while its request waits
//! (`thread::sleep`, or `reqwest::blocking`, which hands the request to its own runtime thread
//! and parks the caller until the answer is back).

use std::thread;
use std::time::Instant;

use hdrhistogram::Histogram;
use pipeline::PipelineError;

use super::{Outcome, Plan, Requests, Target, answered, client_error, finish, histogram, record};

pub fn run(plan: &Plan) -> Result<Outcome, PipelineError> {
    let requests = Requests::new(plan.requests);
    let client = match plan.target {
        Target::Http { .. } => Some(
            reqwest::blocking::Client::builder()
                .build()
                .map_err(client_error)?,
        ),
        Target::InProcess { .. } | Target::OwnHttp(_) => None,
    };
    let started = Instant::now();
    let parts = thread::scope(|s| {
        let workers: Vec<_> = (0..plan.concurrency)
            .map(|_| s.spawn(|| worker(plan, &requests, client.as_ref())))
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("a load worker panicked"))
            .collect::<Vec<_>>()
    });
    Ok(finish(started, parts))
}

// ANCHOR: worker
fn worker(
    plan: &Plan,
    requests: &Requests,
    client: Option<&reqwest::blocking::Client>,
) -> (Histogram<u64>, u64) {
    let (mut latencies, mut failures) = (histogram(), 0);
    while let Some(n) = requests.next() {
        let asked = Instant::now();
        let ok = match (&plan.target, client) {
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
        if ok {
            record(&mut latencies, asked.elapsed());
        } else {
            failures += 1;
        }
    }
    (latencies, failures)
}
// ANCHOR_END: worker

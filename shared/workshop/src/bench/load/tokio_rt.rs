//! The load generator, **tokio**: `C` tasks on a two-thread runtime, each parked while its
//! request waits (`tokio::time::sleep`, or `reqwest`, which is built on tokio).

use std::sync::Arc;
use std::time::Instant;

use hdrhistogram::Histogram;
use pipeline::{Config, PipelineError};

use super::{
    Outcome, Plan, Requests, Target, answered, client_error, finish, histogram, own_io, record,
};

pub fn run(plan: &Plan) -> Result<Outcome, PipelineError> {
    let requests = Arc::new(Requests::new(plan.requests));
    let client = reqwest::Client::builder().build().map_err(client_error)?;
    let runtime = runtimes::tokio_runtime(&Config::default())?;
    let started = Instant::now();
    let parts = runtime.block_on(async {
        let workers: Vec<_> = (0..plan.concurrency)
            .map(|_| {
                let (plan, requests, client) =
                    (plan.clone(), Arc::clone(&requests), client.clone());
                tokio::spawn(async move { worker(&plan, &requests, &client).await })
            })
            .collect();
        let mut parts = Vec::with_capacity(workers.len());
        for w in workers {
            parts.push(w.await.expect("a load worker panicked"));
        }
        parts
    });
    Ok(finish(started, parts))
}

// ANCHOR: worker
async fn worker(
    plan: &Plan,
    requests: &Requests,
    client: &reqwest::Client,
) -> (Histogram<u64>, u64) {
    let (mut latencies, mut failures) = (histogram(), 0);
    while let Some(n) = requests.next() {
        let asked = Instant::now();
        let ok = match &plan.target {
            Target::InProcess { latency, seed } => {
                tokio::time::sleep(latency.sample(*seed, n)).await;
                true
            }
            // tokio's own reactor is reqwest's: the same request as the reqwest rows.
            Target::Http { url } | Target::OwnHttp(own_io::OwnHttp { url, .. }) => {
                let (header, id) = super::request_id(n);
                client
                    .get(super::sensor_url(url, n))
                    .header(header, id)
                    .send()
                    .await
                    .is_ok_and(|answer| answered(answer.status()))
            }
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

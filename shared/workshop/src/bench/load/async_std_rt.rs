//! The load generator, **async-std**: `C` tasks on the global executor, each parked while its
//! request waits (`async_std::task::sleep`, or `reqwest` inside `async_compat::Compat`, which
//! lends it a tokio runtime).

use std::sync::Arc;
use std::time::Instant;

use async_compat::Compat;
use hdrhistogram::Histogram;
use pipeline::PipelineError;

use super::{Outcome, Plan, Requests, Target, answered, client_error, finish, histogram, record};

pub fn run(plan: &Plan) -> Result<Outcome, PipelineError> {
    let requests = Arc::new(Requests::new(plan.requests));
    let client = reqwest::Client::builder().build().map_err(client_error)?;
    let started = Instant::now();
    let parts = async_std::task::block_on(async {
        let workers: Vec<_> = (0..plan.concurrency)
            .map(|_| {
                let (plan, requests, client) =
                    (plan.clone(), Arc::clone(&requests), client.clone());
                async_std::task::spawn(async move { worker(&plan, &requests, &client).await })
            })
            .collect();
        let mut parts = Vec::with_capacity(workers.len());
        for w in workers {
            parts.push(w.await);
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
                async_std::task::sleep(latency.sample(*seed, n)).await;
                true
            }
            Target::OwnHttp(own) => own.async_std(n).await,
            Target::Http { url } => {
                let (header, id) = super::request_id(n);
                Compat::new(
                    client
                        .get(super::sensor_url(url, n))
                        .header(header, id)
                        .send(),
                )
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

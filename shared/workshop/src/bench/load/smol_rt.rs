//! The load generator, **smol**: `C` tasks on an executor two threads drive, each parked while
//! its request waits (`smol::Timer`, or `reqwest` inside `async_compat::Compat`, which lends it
//! a tokio runtime).

use std::sync::Arc;
use std::time::Instant;

use async_compat::Compat;
use hdrhistogram::Histogram;
use pipeline::{Config, PipelineError};

use super::{Outcome, Plan, Requests, Target, answered, client_error, finish, histogram, record};

pub fn run(plan: &Plan) -> Result<Outcome, PipelineError> {
    let requests = Arc::new(Requests::new(plan.requests));
    let client = reqwest::Client::builder().build().map_err(client_error)?;
    let threads = Config::default().worker_threads;
    let started = Instant::now();
    let parts = runtimes::with_smol_executor(threads, "bench-load", |executor| {
        let workers: Vec<_> = (0..plan.concurrency)
            .map(|_| {
                let (plan, requests, client) =
                    (plan.clone(), Arc::clone(&requests), client.clone());
                executor.spawn(async move { worker(&plan, &requests, &client).await })
            })
            .collect();
        Ok(smol::block_on(async {
            let mut parts = Vec::with_capacity(workers.len());
            for w in workers {
                parts.push(w.await);
            }
            parts
        }))
    })?;
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
                smol::Timer::after(latency.sample(*seed, n)).await;
                true
            }
            Target::OwnHttp(own) => own.smol(n).await,
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

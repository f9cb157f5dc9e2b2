//! The load generator, **tokio**: `C` tasks on a two-thread runtime, each parked while its
//! request waits (`tokio::time::sleep`, or `reqwest`, which is built on tokio).

use std::sync::Arc;
use std::time::Instant;

use pipeline::{Config, PipelineError};

use super::{Clock, Outcome, Plan, Requests, Target, answered, client_error, own_io};

pub fn run(plan: &Plan) -> Result<Outcome, PipelineError> {
    let requests = Arc::new(Requests::new(plan));
    let client = reqwest::Client::builder().build().map_err(client_error)?;
    let runtime = runtimes::tokio_runtime(&Config::default())?;
    let mut clock = Clock::new();
    let line = requests.close();
    runtime.block_on(async {
        let workers: Vec<_> = (0..plan.concurrency)
            .map(|_| {
                let (plan, requests, client) =
                    (plan.clone(), Arc::clone(&requests), client.clone());
                tokio::spawn(async move {
                    requests.wait_at_line().await;
                    worker(&plan, &requests, &client).await;
                })
            })
            .collect();
        requests.open_when_ready(line).await;
        clock.opened();
        for w in workers {
            w.await.expect("a load worker panicked");
        }
    });
    Ok(clock.finish(&requests))
}

// ANCHOR: worker
async fn worker(plan: &Plan, requests: &Requests, client: &reqwest::Client) {
    while let Some(n) = requests.next() {
        let asked = Instant::now();
        let ok = match &plan.target {
            Target::Nothing => true,
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
        requests.done(n, asked, ok);
    }
}
// ANCHOR_END: worker

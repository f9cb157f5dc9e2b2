//! The load generator, **tokio**: `C` tasks on a two-thread runtime, each parked while its
//! request waits (`tokio::time::sleep`, or `reqwest`, which is built on tokio).

use std::ops::Range;
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
            .map(|w| {
                let share = requests.share(w);
                let (plan, requests, client) =
                    (plan.clone(), Arc::clone(&requests), client.clone());
                tokio::spawn(async move {
                    // Over HTTP, this worker's connection is opened before the clock starts.
                    if plan.target.is_http() && !share.is_empty() {
                        request(&plan, share.start, &client).await;
                    }
                    requests.wait_at_line().await;
                    worker(&plan, &requests, share, &client).await;
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
async fn worker(plan: &Plan, requests: &Requests, share: Range<u64>, client: &reqwest::Client) {
    // One clock read per request: an answer's time is the next request's start.
    let mut asked = Instant::now();
    for n in share {
        let ok = request(plan, n, client).await;
        asked = requests.done(n, asked, ok);
    }
}

/// One request, `n`: whether it was answered.
async fn request(plan: &Plan, n: u64, client: &reqwest::Client) -> bool {
    match &plan.target {
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
    }
}
// ANCHOR_END: worker

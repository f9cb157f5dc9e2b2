//! The load generator, **async-std**: `C` tasks on the global executor, each parked while its
//! request waits (`async_std::task::sleep`, or `reqwest` inside `async_compat::Compat`, which
//! lends it a tokio runtime).

use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

use async_compat::Compat;
use pipeline::PipelineError;

use super::{Clock, Outcome, Plan, Requests, Target, answered, client_error};

pub fn run(plan: &Plan) -> Result<Outcome, PipelineError> {
    let requests = Arc::new(Requests::new(plan));
    let client = reqwest::Client::builder().build().map_err(client_error)?;
    let mut clock = Clock::new();
    let line = requests.close();
    async_std::task::block_on(async {
        let workers: Vec<_> = (0..plan.concurrency)
            .map(|w| {
                let share = requests.share(w);
                let (plan, requests, client) =
                    (plan.clone(), Arc::clone(&requests), client.clone());
                async_std::task::spawn(async move {
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
            w.await;
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
    }
}
// ANCHOR_END: worker

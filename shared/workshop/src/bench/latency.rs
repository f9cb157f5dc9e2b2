//! Group 3, **per-request latency**: a registry whose latency has a long tail (log-normal,
//! median 10 ms, p99 50 ms, the same seeded draw for every variant), C requests in flight, and
//! every request's latency as its worker saw it in an HDR histogram. The registry's own
//! distribution is the first row: anything a variant adds on top is queueing in the model —
//! a ready task waiting for a worker thread, a thread waiting for a core.
//!
//! Over HTTP the registry is a process of its own ([`RegistryProcess`]), and each variant is
//! measured twice: with reqwest, what users write (every reqwest row waits on tokio's reactor),
//! and with a client on its own reactor ([`own_io`](super::load::own_io)). Every row names the
//! client and the reactor it used.

use std::time::Duration;

use hdrhistogram::Histogram;
use pipeline::Variant;
use registry_service::{Latency, Wait, request_key};

use super::doc::{Doc, Table};
use super::load::own_io::{OwnHttp, reactor_label};
use super::load::registry_process::RegistryProcess;
use super::load::{self, Plan, Target, histogram, record};
use super::plot::{Chart, Corner, Series};
use super::stats;
use super::{Ctx, GroupOutput, Step};

pub const REGISTRY: Latency = Latency::LongTail {
    median: Duration::from_millis(10),
    p99: Duration::from_millis(50),
};
const SEED: u64 = 3;
/// The setup whose plot the book shows and whose p99 the summary quotes.
const HTTP_SETUP: &str = "HTTP, reqwest, C = 64";
const QUANTILES: [f64; 7] = [0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999];

struct Setup {
    name: String,
    concurrency: usize,
    transport: Transport,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Transport {
    InProcess,
    /// reqwest: tokio's reactor for every variant.
    Reqwest,
    /// A client on each variant's own reactor.
    OwnIo,
}

/// A row's name: the variant, and over HTTP the client and reactor it used.
fn who(variant: Variant, transport: Transport) -> String {
    match transport {
        Transport::InProcess => variant.to_string(),
        Transport::Reqwest => format!("{variant}: {}", reactor_label(variant, false)),
        Transport::OwnIo => format!("{variant}: {}", reactor_label(variant, true)),
    }
}

/// The wait the timer table takes apart.
const WAIT: Duration = Duration::from_millis(5);

/// One variant's wait of [`WAIT`] at C = 1, in seconds: slept on its runtime's timer, and
/// spent on a socket.
struct Waits {
    variant: Variant,
    sleep: f64,
    socket: f64,
}

/// Measures [`Waits`] per variant: the mean latency of each run, median of the runs.
fn waits(ctx: &Ctx, step: &mut Step) -> anyhow::Result<Vec<Waits>> {
    let requests = if ctx.quick { 20 } else { 100 };
    let service = RegistryProcess::start(Latency::Fixed(WAIT), SEED, 16, Wait::Precise)?;
    let sleep = Plan {
        concurrency: 1,
        requests,
        target: Target::InProcess {
            latency: Latency::Fixed(WAIT),
            seed: SEED,
        },
    };
    let socket = Plan {
        concurrency: 1,
        requests,
        target: Target::OwnHttp(OwnHttp::new(&service.url())),
    };
    // Per variant, the runs' mean sleep and mean socket wait; the variants take turns in a
    // seeded shuffled order within each repeat.
    let mut means: Vec<[Vec<f64>; 2]> = vec![[Vec::new(), Vec::new()]; Variant::ALL.len()];
    for (_, i) in stats::schedule(Variant::ALL.len(), step.repeats(), stats::SEED) {
        let variant = Variant::ALL[i];
        for (k, (plan, what)) in [(&sleep, "a sleep"), (&socket, "a socket wait")]
            .into_iter()
            .enumerate()
        {
            step.next(&format!("{what} of {} ms, {variant}", WAIT.as_millis()));
            let outcome = load::run(variant, plan)?;
            if outcome.failures > 0 {
                anyhow::bail!("{variant}: {} of the {what}s failed", outcome.failures);
            }
            means[i][k].push(outcome.latencies.mean() / 1e6);
        }
    }
    let waits = Variant::ALL
        .into_iter()
        .zip(means)
        .map(|(variant, [sleep, socket])| Waits {
            variant,
            sleep: super::doc::median(sleep),
            socket: super::doc::median(socket),
        })
        .collect();
    Ok(waits)
}

/// The timer table: the two waits, and what each adds to W.
fn waits_table(waits: &[Waits]) -> Table {
    let ms = |seconds: f64| format!("{:.2} ms", seconds * 1e3);
    let plus = |seconds: f64| format!("{:+.2} ms", seconds * 1e3);
    let mut table = Table::new([
        "variant",
        "sleep on its timer",
        "timer rounding: sleep − W",
        "wait on a socket",
        "socket, client, server: socket − W",
    ]);
    let w_s = WAIT.as_secs_f64();
    for w in waits {
        table.row([
            who(w.variant, Transport::OwnIo),
            ms(w.sleep),
            plus(w.sleep - w_s),
            ms(w.socket),
            plus(w.socket - w_s),
        ]);
    }
    table
}

pub fn run(ctx: &mut Ctx) -> anyhow::Result<GroupOutput> {
    let rounds = if ctx.quick { 10 } else { 50 };
    let mut setups = vec![Setup {
        name: "in-process, C = 64".into(),
        concurrency: 64,
        transport: Transport::InProcess,
    }];
    if !ctx.quick {
        setups.push(Setup {
            name: "in-process, C = 1024".into(),
            concurrency: 1024,
            transport: Transport::InProcess,
        });
    }
    setups.push(Setup {
        name: HTTP_SETUP.into(),
        concurrency: 64,
        transport: Transport::Reqwest,
    });
    setups.push(Setup {
        name: "HTTP, own reactor, C = 64".into(),
        concurrency: 64,
        transport: Transport::OwnIo,
    });
    let mut step = Step::new(ctx, (setups.len() + 2) * 4 * ctx.repeats);
    let waits = waits(ctx, &mut step)?;
    // A precise server wait: what an HTTP row adds to the registry's own latency is then the
    // client, its reactor, the sockets and the server, not the server's timer rounding.
    let service = RegistryProcess::start(REGISTRY, SEED, 4096, Wait::Precise)?;
    // Per setup: its name and, per row (the registry, then each variant), the histogram and
    // the failed requests.
    type Rows = Vec<(String, Histogram<u64>, u64)>;
    let mut measured: Vec<(String, Rows)> = Vec::new();
    for setup in &setups {
        let requests = (setup.concurrency * rounds) as u64;
        let plan = Plan {
            concurrency: setup.concurrency,
            requests,
            target: match setup.transport {
                Transport::InProcess => Target::InProcess {
                    latency: REGISTRY,
                    seed: SEED,
                },
                Transport::Reqwest => Target::Http { url: service.url() },
                Transport::OwnIo => Target::OwnHttp(OwnHttp::new(&service.url())),
            },
        };
        let http = setup.transport != Transport::InProcess;
        // The registry's own latencies for exactly these requests: what no model can beat.
        let mut nominal = histogram();
        for n in 0..requests {
            let key = if http {
                request_key(&load::request_id(n).1)
            } else {
                n
            };
            for _ in 0..ctx.repeats {
                record(&mut nominal, REGISTRY.sample(SEED, key));
            }
        }
        let mut rows = vec![("the registry itself".to_string(), nominal, 0)];
        for variant in Variant::ALL {
            rows.push((who(variant, setup.transport), histogram(), 0));
        }
        // The variants take turns in a seeded shuffled order within each repeat.
        for (_, i) in stats::schedule(Variant::ALL.len(), step.repeats(), stats::SEED) {
            let variant = Variant::ALL[i];
            step.next(&format!("{}, {variant}", setup.name));
            let outcome = load::run(variant, &plan)?;
            let (_, all, failures) = &mut rows[i + 1];
            all.add(outcome.latencies)?;
            *failures += outcome.failures;
        }
        measured.push((setup.name.clone(), rows));
    }
    step.finish();
    drop(service);

    let ms = |h: &Histogram<u64>, q: f64| format!("{:.1}", h.value_at_quantile(q) as f64 / 1e3);
    let mut table = Table::new([
        "setup", "who", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms", "requests", "failed",
    ]);
    for (setup, rows) in &measured {
        for (who, h, failures) in rows {
            table.row([
                setup.clone(),
                who.clone(),
                ms(h, 0.5),
                ms(h, 0.9),
                ms(h, 0.99),
                ms(h, 0.999),
                format!("{:.1}", h.max() as f64 / 1e3),
                h.len().to_string(),
                failures.to_string(),
            ]);
        }
    }
    let mut doc = Doc::new(
        &ctx.provenance,
        "Per-request latency against a long-tailed registry (median 10 ms, p99 50 ms)",
        &format!(
            "{rounds} × C requests per run; {} per row, all their latencies in one HDR \
             histogram (3 significant digits). Over HTTP the registry is a process of its own \
             that waits out each latency with a precise sleep; each row names its client and \
             the reactor that waited for its sockets.",
            if ctx.repeats == 1 {
                "one run".to_string()
            } else {
                format!("{} runs", ctx.repeats)
            }
        ),
    );
    doc.table(&table);
    doc.text(&format!(
        "Timer rounding, as its own effect: one wait of W = {} ms at C = 1, slept on the \
         variant's own timer (in-process) and waited on a socket, the server delaying its \
         answer with a precise sleep (the own-reactor clients above; the registry in its own \
         process). Mean of each run, median of the runs. The socket wait uses no timer of the \
         client's runtime: what a sleep adds to W is its timer's rounding (and one wake-up), \
         what a socket wait adds is the I/O path's cost.",
        WAIT.as_millis()
    ));
    doc.table(&waits_table(&waits));
    let mut out = GroupOutput::new("latency", doc);
    for (name, rows) in &measured {
        let file = match name.as_str() {
            HTTP_SETUP => "latency-http",
            "in-process, C = 64" => "latency-in-process",
            _ => continue,
        };
        let title = format!("Latency by percentile, {name}");
        let label = |x: f64| {
            let q = 1.0 - 1.0 / x;
            let pct = q * 100.0;
            if (pct - pct.round()).abs() < 1e-6 {
                format!("p{pct:.0}")
            } else {
                format!("p{pct:.1}")
            }
        };
        let chart = Chart {
            title: &title,
            x_label: "percentile (log of 1 / (1 − q))",
            y_label: "ms",
            x_log: true,
            y_log: false,
            series: rows
                .iter()
                .map(|(who, h, _)| Series {
                    name: who.clone(),
                    points: QUANTILES
                        .iter()
                        .map(|&q| (1.0 / (1.0 - q), h.value_at_quantile(q) as f64 / 1e3))
                        .collect(),
                })
                .collect(),
            x_format: Some(&label),
            legend: Corner::UpperLeft,
        };
        out.plot(file, &chart, &ctx.provenance)?;
    }
    // The caveat every scheduling figure needs, as a figure of its own.
    out.summary(
        &format!(
            "timer rounding: a {} ms sleep minus W (a socket wait: see latency.md)",
            WAIT.as_millis()
        ),
        waits
            .iter()
            .map(|w| format!("{:+.2} ms", (w.sleep - WAIT.as_secs_f64()) * 1e3)),
    );
    for (name, rows) in measured.iter().filter(|(n, _)| n.starts_with("HTTP")) {
        out.summary(
            &format!(
                "p99 latency, {name} (registry alone: {} ms)",
                ms(&rows[0].1, 0.99)
            ),
            rows[1..]
                .iter()
                .map(|(_, h, _)| format!("{} ms", ms(h, 0.99))),
        );
    }
    Ok(out)
}

//! Group 2, **fan-out vs Little's law**: `C` requests in flight against a registry that takes
//! a fixed latency `W`, for two latencies, in-process and over HTTP. Little's law caps the rate
//! at `C / W`; a model that keeps all `C` busy reaches it, until the machine cannot keep up.
//! The `C = 1` rows show each model's own overhead per wait (for tokio, its timer's
//! millisecond rounding).

use std::time::Duration;

use pipeline::Variant;
use registry_service::{Latency, Wait};

use super::doc::{Doc, Table, millis, rate, runs};
use super::load::own_io::{self, OwnHttp};
use super::load::registry_process::RegistryProcess;
use super::load::{self, Plan, Target};
use super::plot::{Chart, Corner, Series};
use super::{Ctx, GroupOutput, Step};

pub const LATENCIES: [Duration; 2] = [Duration::from_millis(5), Duration::from_millis(50)];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Transport {
    InProcess,
    Http,
    /// HTTP with a client on each variant's own reactor (`load::own_io`).
    OwnHttp,
}

impl Transport {
    fn name(self) -> &'static str {
        match self {
            Transport::InProcess => "in-process",
            Transport::Http => "HTTP, reqwest",
            Transport::OwnHttp => "HTTP, own reactor",
        }
    }
}

struct Point {
    transport: Transport,
    latency: Duration,
    concurrency: usize,
    /// Per variant: achieved requests/s (median), observed mean latency (median), failures.
    results: Vec<(Variant, f64, f64, u64)>,
}

impl Point {
    fn limit(&self) -> f64 {
        self.concurrency as f64 / self.latency.as_secs_f64()
    }
}

pub fn run(ctx: &mut Ctx) -> anyhow::Result<GroupOutput> {
    let concurrencies: &[usize] = if ctx.quick {
        &[1, 16, 256]
    } else {
        &[1, 16, 256, 4096]
    };
    let rounds = |t: Transport| match (t, ctx.quick) {
        (_, true) => 5,
        (Transport::InProcess, false) => 20,
        (Transport::Http | Transport::OwnHttp, false) => 10,
    };
    let transports = [Transport::InProcess, Transport::Http, Transport::OwnHttp];
    let mut step = Step::new(
        ctx,
        transports.len() * LATENCIES.len() * concurrencies.len() * 4 * ctx.repeats,
    );
    let mut points = Vec::new();
    for transport in transports {
        for latency in LATENCIES {
            // One service per latency, with room for every request the largest C can have.
            // In a process of its own, so that it shares no runtime with the client.
            let service = match transport {
                Transport::Http | Transport::OwnHttp => Some(RegistryProcess::start(
                    Latency::Fixed(latency),
                    0,
                    2 * concurrencies.iter().max().copied().unwrap_or(1),
                    Wait::Timer,
                )?),
                Transport::InProcess => None,
            };
            for &concurrency in concurrencies {
                let plan = Plan {
                    concurrency,
                    requests: (concurrency * rounds(transport)) as u64,
                    target: match &service {
                        Some(s) if transport == Transport::OwnHttp => {
                            Target::OwnHttp(OwnHttp::new(&s.url()))
                        }
                        Some(service) => Target::Http { url: service.url() },
                        None => Target::InProcess {
                            latency: Latency::Fixed(latency),
                            seed: 0,
                        },
                    },
                };
                let mut results = Vec::new();
                for variant in Variant::ALL {
                    let (mut rates, mut means, mut failures) = (Vec::new(), Vec::new(), 0);
                    for _ in 0..step.repeats() {
                        step.next(&format!(
                            "{} {} ms, C = {concurrency}, {variant}",
                            transport.name(),
                            latency.as_millis()
                        ));
                        let outcome = load::run(variant, &plan)?;
                        rates.push(outcome.per_second());
                        means.push(outcome.latencies.mean() / 1e6);
                        failures += outcome.failures;
                    }
                    results.push((
                        variant,
                        super::doc::median(rates),
                        super::doc::median(means),
                        failures,
                    ));
                }
                points.push(Point {
                    transport,
                    latency,
                    concurrency,
                    results,
                });
            }
        }
    }
    step.finish();

    let mut table = Table::new([
        "transport",
        "latency",
        "C",
        "limit C/W",
        "sync",
        "tokio",
        "async-std",
        "smol",
    ]);
    for p in &points {
        let mut cells = vec![
            p.transport.name().to_string(),
            format!("{} ms", p.latency.as_millis()),
            p.concurrency.to_string(),
            format!("{}/s", rate(p.limit())),
        ];
        cells.extend(p.results.iter().map(|&(_, achieved, _, failures)| {
            let failed = if failures > 0 {
                format!(", {failures} failed")
            } else {
                String::new()
            };
            format!(
                "{}/s ({:.0}%{failed})",
                rate(achieved),
                achieved / p.limit() * 100.0
            )
        }));
        table.row(cells);
    }
    let mut waits = Table::new([
        "transport",
        "latency W",
        "sync",
        "tokio",
        "async-std",
        "smol",
    ]);
    for p in points.iter().filter(|p| p.concurrency == 1) {
        let mut cells = vec![
            p.transport.name().to_string(),
            format!("{} ms", p.latency.as_millis()),
        ];
        cells.extend(p.results.iter().map(|&(_, _, mean, _)| millis(mean)));
        waits.row(cells);
    }
    // The same rows against each variant's own observed wait at C = 1: what is left once the
    // model's fixed cost per wait is accounted for is the cost of keeping C waits in flight.
    let mut adjusted = Table::new([
        "transport",
        "latency",
        "C",
        "sync",
        "tokio",
        "async-std",
        "smol",
    ]);
    for p in &points {
        let Some(single) = points
            .iter()
            .find(|q| q.transport == p.transport && q.latency == p.latency && q.concurrency == 1)
        else {
            continue;
        };
        let mut cells = vec![
            p.transport.name().to_string(),
            format!("{} ms", p.latency.as_millis()),
            p.concurrency.to_string(),
        ];
        cells.extend(p.results.iter().zip(&single.results).map(
            |(&(_, achieved, _, _), &(_, _, observed_wait, _))| {
                let limit = p.concurrency as f64 / observed_wait.max(1e-9);
                format!("{:.0}%", achieved / limit * 100.0)
            },
        ));
        adjusted.row(cells);
    }
    let mut doc = Doc::new(
        &ctx.provenance,
        "Requests per second with C in flight, against Little's limit C / W",
        &format!(
            "Each run makes {} × C requests (in-process) or {} × C (HTTP); {} per cell; in \
             brackets, the share of the limit.",
            rounds(Transport::InProcess),
            rounds(Transport::Http),
            runs(ctx.repeats).to_lowercase()
        ),
    );
    doc.table(&table);
    doc.text(&format!(
        "The registry runs in a process of its own. HTTP, reqwest: every variant's client \
         waits on tokio's reactor. HTTP, own reactor: {}; {}; {}; {}.",
        own_io::reactor_label(Variant::Sync, true),
        own_io::reactor_label(Variant::Tokio, true),
        own_io::reactor_label(Variant::AsyncStd, true),
        own_io::reactor_label(Variant::Smol, true)
    ));
    doc.text(
        "What one wait really took, as the worker saw it, at C = 1 (median of the runs' mean \
         latencies). Anything above W is the model's own cost per wait: a timer's rounding, a \
         wake-up, for HTTP a client, a socket and a server.",
    );
    doc.table(&waits);
    doc.text(
        "The first table's rows again, as a share of C / (the wait each variant really had at \
         C = 1): how close each model comes to keeping C waits in flight, once its own cost \
         per wait is accounted for.",
    );
    doc.table(&adjusted);
    let mut out = GroupOutput::new("fan-out", doc);
    for transport in transports {
        let latency = LATENCIES[0];
        let title = format!(
            "Share of Little's limit by C, {} registry, W = {} ms",
            transport.name(),
            latency.as_millis()
        );
        let chart = Chart {
            title: &title,
            x_label: "C, requests in flight (log)",
            y_label: "% of C / W",
            x_log: true,
            y_log: false,
            series: Variant::ALL
                .iter()
                .enumerate()
                .map(|(i, variant)| Series {
                    name: variant.to_string(),
                    points: points
                        .iter()
                        .filter(|p| p.transport == transport && p.latency == latency)
                        .map(|p| (p.concurrency as f64, p.results[i].1 / p.limit() * 100.0))
                        .collect(),
                })
                .collect(),
            x_format: None,
            legend: Corner::LowerLeft,
        };
        let name = match transport {
            Transport::InProcess => "fan-out-in-process",
            Transport::Http => "fan-out-http",
            Transport::OwnHttp => continue,
        };
        out.plot(name, &chart, &ctx.provenance)?;
    }
    let biggest = concurrencies[concurrencies.len() - 1];
    for (transport, latency) in [
        (Transport::InProcess, LATENCIES[1]),
        (Transport::Http, LATENCIES[1]),
    ] {
        if let Some(p) = points
            .iter()
            .find(|p| p.transport == transport && p.latency == latency && p.concurrency == biggest)
        {
            out.summary(
                &format!(
                    "% of Little's limit, C = {biggest}, {} {} ms",
                    transport.name(),
                    latency.as_millis()
                ),
                p.results
                    .iter()
                    .map(|&(_, achieved, _, _)| format!("{:.0}%", achieved / p.limit() * 100.0)),
            );
        }
    }
    Ok(out)
}

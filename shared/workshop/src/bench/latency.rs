//! Group 3, **per-request latency**: a registry whose latency has a long tail (log-normal,
//! median 10 ms, p99 50 ms, the same seeded draw for every variant), C requests in flight, and
//! every request's latency as its worker saw it in an HDR histogram. The registry's own
//! distribution is the first row: anything a variant adds on top is queueing in the model —
//! a ready task waiting for a worker thread, a thread waiting for a core.

use std::time::Duration;

use hdrhistogram::Histogram;
use pipeline::Variant;
use registry_service::{Latency, RegistryOptions, RegistryService, request_key};

use super::doc::{Doc, Table};
use super::load::{self, Plan, Target, histogram, record};
use super::plot::{Chart, Corner, Series};
use super::{Ctx, GroupOutput, Step};

pub const REGISTRY: Latency = Latency::LongTail {
    median: Duration::from_millis(10),
    p99: Duration::from_millis(50),
};
const SEED: u64 = 3;
const QUANTILES: [f64; 7] = [0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999];

struct Setup {
    name: String,
    concurrency: usize,
    http: bool,
}

pub fn run(ctx: &mut Ctx) -> anyhow::Result<GroupOutput> {
    let rounds = if ctx.quick { 10 } else { 50 };
    let mut setups = vec![Setup {
        name: "in-process, C = 64".into(),
        concurrency: 64,
        http: false,
    }];
    if !ctx.quick {
        setups.push(Setup {
            name: "in-process, C = 1024".into(),
            concurrency: 1024,
            http: false,
        });
    }
    setups.push(Setup {
        name: "HTTP, C = 64".into(),
        concurrency: 64,
        http: true,
    });
    let mut step = Step::new(ctx, setups.len() * 4 * ctx.repeats);
    let service = RegistryService::start(RegistryOptions {
        latency: REGISTRY,
        seed: SEED,
        capacity: 4096,
        ..RegistryOptions::default()
    })?;
    // Per setup: its name and, per row (the registry, then each variant), the histogram and
    // the failed requests.
    type Rows = Vec<(String, Histogram<u64>, u64)>;
    let mut measured: Vec<(String, Rows)> = Vec::new();
    for setup in &setups {
        let requests = (setup.concurrency * rounds) as u64;
        let plan = Plan {
            concurrency: setup.concurrency,
            requests,
            target: if setup.http {
                Target::Http { url: service.url() }
            } else {
                Target::InProcess {
                    latency: REGISTRY,
                    seed: SEED,
                }
            },
        };
        // The registry's own latencies for exactly these requests: what no model can beat.
        let mut nominal = histogram();
        for n in 0..requests {
            let key = if setup.http {
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
            let (mut all, mut failures) = (histogram(), 0);
            for _ in 0..step.repeats() {
                step.next(&format!("{}, {variant}", setup.name));
                let outcome = load::run(variant, &plan)?;
                all.add(outcome.latencies)?;
                failures += outcome.failures;
            }
            rows.push((variant.to_string(), all, failures));
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
             histogram (3 significant digits).",
            if ctx.repeats == 1 {
                "one run".to_string()
            } else {
                format!("{} runs", ctx.repeats)
            }
        ),
    );
    doc.table(&table);
    let mut out = GroupOutput::new("latency", doc);
    for (name, rows) in &measured {
        let file = match name.as_str() {
            "HTTP, C = 64" => "latency-http",
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
    if let Some((name, rows)) = measured.iter().find(|(n, _)| n == "HTTP, C = 64") {
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

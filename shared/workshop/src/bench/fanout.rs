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
use super::stats::{self, Sample};
use super::{Ctx, GroupOutput, Step};

pub const LATENCIES: [Duration; 2] = [Duration::from_millis(5), Duration::from_millis(50)];

/// A CPU figure needs a window of at least this long: `/proc` counts CPU time in 10 ms ticks.
const CPU_WINDOW: Duration = Duration::from_millis(200);

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

/// What one variant did at one point, over the repeats.
#[derive(Default)]
struct Cell {
    /// Achieved requests/s with all C in flight (`Outcome::steady_per_second`).
    rates: Sample,
    /// Requests/s over the whole window, the drain included.
    whole: Sample,
    /// The whole machine's busy share in the window, %.
    machine_busy: Sample,
    /// The mean latency the workers saw, in seconds.
    means: Sample,
    /// Spawning the C workers until all were at the start line, in seconds.
    setups: Sample,
    /// The load generator's and the registry service's CPU, in % of the machine (only for a
    /// window long enough to count).
    client_cpu: Sample,
    server_cpu: Sample,
    /// The lab's own cost in the window, in % of it (the largest over the repeats).
    overhead: f64,
    failures: u64,
}

struct Point {
    transport: Transport,
    latency: Duration,
    concurrency: usize,
    /// Per variant, in `Variant::ALL`'s order.
    cells: Vec<Cell>,
}

impl Point {
    fn limit(&self) -> f64 {
        self.concurrency as f64 / self.latency.as_secs_f64()
    }

    /// Each variant's median share of Little's limit, in %.
    fn shares(&self) -> impl Iterator<Item = f64> + '_ {
        self.cells
            .iter()
            .map(|c| c.rates.median() / self.limit() * 100.0)
    }
}

/// Runs `plan` `repeats` times in every variant, the variants taking turns within each repeat
/// in a seeded shuffled order, so that a slow moment of the machine is shared out.
fn measure(
    ctx: &Ctx,
    step: &mut Step,
    plan: &Plan,
    repeats: usize,
    seed: u64,
    calibration: &Calibration,
) -> anyhow::Result<Vec<Cell>> {
    let variants = Variant::ALL.len();
    let mut cells: Vec<Cell> = (0..variants).map(|_| Cell::default()).collect();
    for (_, i) in stats::schedule(variants, repeats, seed) {
        let variant = Variant::ALL[i];
        let what = match &plan.target {
            Target::Http { .. } => "HTTP, reqwest",
            Target::OwnHttp(_) => "HTTP, own reactor",
            _ => "in-process",
        };
        step.next(&format!("{what}, C = {}, {variant}", plan.concurrency));
        let outcome = load::run(variant, plan)?;
        let cell = &mut cells[i];
        cell.rates.push(outcome.steady_per_second);
        cell.whole.push(outcome.per_second());
        cell.means.push(outcome.latencies.mean() / 1e6);
        cell.setups.push(outcome.setup.as_secs_f64());
        if let Some(cpu) = outcome.cpu.filter(|c| c.span >= CPU_WINDOW) {
            cell.client_cpu
                .push(cpu.client_percent(ctx.provenance.cores));
            cell.server_cpu
                .push(cpu.server_percent(ctx.provenance.cores));
            cell.machine_busy.push(cpu.machine_busy);
        }
        // The lab's CPU time in this window (requests × its cost per request), as a share of
        // the CPU time the window had.
        let lab = plan.requests as f64 * calibration.cost(i);
        let capacity = outcome.wall.as_secs_f64() * ctx.provenance.cores as f64;
        cell.overhead = cell.overhead.max(lab / capacity.max(1e-9) * 100.0);
        cell.failures += outcome.failures;
    }
    Ok(cells)
}

/// The calibration: each variant's load generator with nothing to wait for. Its time per
/// request is what the lab itself costs per request (one clock read, two stores): the
/// ceiling no row can pass, and the lab's share of each window.
///
/// Measured twice. One worker alone is the cost at its least disturbed. One worker per core
/// shows that the workers share nothing in the window (a shared counter of numbers cost 140
/// ns per request here, its cache line moving between the cores). Both are each worker's
/// busy time per request (from its first answer to its last: with nothing to wait for it
/// never idles), so a runtime that runs both workers on one thread, one after the other,
/// leaves the figure as it is. The lab's share of a window is worked out from the larger of
/// the two.
struct Calibration {
    alone: Vec<Sample>,
    shared: Vec<Sample>,
}

impl Calibration {
    /// Variant `i`'s cost per request in CPU seconds, the larger of the two, each at its
    /// least disturbed run (interference only ever adds).
    fn cost(&self, i: usize) -> f64 {
        self.alone[i].min().max(self.shared[i].min())
    }
}

fn calibrate(ctx: &Ctx, step: &mut Step, repeats: usize) -> anyhow::Result<Calibration> {
    // Long enough (~0.1 s) that one late wake-up of a worker does not dominate it.
    let requests = if ctx.quick { 1_000_000 } else { 2_000_000 };
    let cores = ctx.provenance.cores.max(1);
    let mut calibration = Calibration {
        alone: vec![Sample::new(); Variant::ALL.len()],
        shared: vec![Sample::new(); Variant::ALL.len()],
    };
    for (_, i) in stats::schedule(Variant::ALL.len(), repeats, stats::SEED) {
        step.next(&format!("calibration, {}", Variant::ALL[i]));
        for (workers, sample) in [
            (1, &mut calibration.alone[i]),
            (cores, &mut calibration.shared[i]),
        ] {
            let plan = Plan {
                concurrency: workers,
                requests,
                target: Target::Nothing,
            };
            let outcome = load::run(Variant::ALL[i], &plan)?;
            sample.push(outcome.worker_time_per_request);
        }
    }
    Ok(calibration)
}

pub fn run(ctx: &mut Ctx) -> anyhow::Result<GroupOutput> {
    let concurrencies = |t: Transport| -> &'static [usize] {
        match (t, ctx.quick) {
            // The article's thresholds are 100 and 1,000; the goal is stated at C = 4096,
            // W = 50 ms in-process: even a quick run measures those.
            (Transport::InProcess, false) => &[1, 16, 100, 256, 1000, 4096],
            (Transport::InProcess, true) => &[1, 100, 1000, 4096],
            (Transport::Http | Transport::OwnHttp, false) => &[1, 16, 256, 4096],
            (Transport::Http | Transport::OwnHttp, true) => &[1, 16, 256],
        }
    };
    // Requests per worker. At W = 50 ms a round takes ten times as long: fewer of them (the
    // steady rate counts a worker's partial wait, so a short run is not cut at a burst).
    let rounds = |t: Transport, w: Duration| match (t, ctx.quick, w >= LATENCIES[1]) {
        (_, true, _) => 5,
        (Transport::InProcess, false, false) => 20,
        (Transport::InProcess, false, true) => 10,
        (Transport::Http | Transport::OwnHttp, false, false) => 8,
        (Transport::Http | Transport::OwnHttp, false, true) => 6,
    };
    // In-process runs are cheap: more of them.
    let repeats = |t: Transport| match (t, ctx.quick) {
        (Transport::InProcess, true) => 3,
        (Transport::Http | Transport::OwnHttp, true) => 2,
        (Transport::InProcess, false) => 5,
        (Transport::Http | Transport::OwnHttp, false) => 3,
    };
    let transports = [Transport::InProcess, Transport::Http, Transport::OwnHttp];
    let variants = Variant::ALL.len();
    let calibration_repeats = 3;
    let mut step = Step::new(
        ctx,
        variants * calibration_repeats
            + transports
                .iter()
                .map(|&t| LATENCIES.len() * concurrencies(t).len() * variants * repeats(t))
                .sum::<usize>()
            + variants * repeats(Transport::InProcess),
    );
    let calibration = calibrate(ctx, &mut step, calibration_repeats)?;
    let mut points = Vec::new();
    for transport in transports {
        for latency in LATENCIES {
            // One service per latency, with room for every request the largest C can have.
            // In a process of its own, so that it shares no runtime with the client.
            let service = match transport {
                Transport::Http | Transport::OwnHttp => Some(RegistryProcess::start(
                    Latency::Fixed(latency),
                    0,
                    2 * concurrencies(transport).iter().max().copied().unwrap_or(1),
                    Wait::Timer,
                )?),
                Transport::InProcess => None,
            };
            for &concurrency in concurrencies(transport) {
                let plan = Plan {
                    concurrency,
                    requests: (concurrency * rounds(transport, latency)) as u64,
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
                let seed = stats::SEED ^ (concurrency as u64) << 8 ^ latency.as_millis() as u64;
                let cells = measure(
                    ctx,
                    &mut step,
                    &plan,
                    repeats(transport),
                    seed,
                    &calibration,
                )?;
                points.push(Point {
                    transport,
                    latency,
                    concurrency,
                    cells,
                });
            }
        }
    }
    // Latency variability: the same C and the same mean wait, drawn uniformly from 10-90 ms
    // instead of a fixed 50 ms.
    let variable = Latency::Uniform {
        min: Duration::from_millis(10),
        max: Duration::from_millis(90),
    };
    let variability_c = 1000;
    let variable_cells = measure(
        ctx,
        &mut step,
        &Plan {
            concurrency: variability_c,
            requests: (variability_c * rounds(Transport::InProcess, LATENCIES[1])) as u64,
            target: Target::InProcess {
                latency: variable,
                seed: 7,
            },
        },
        repeats(Transport::InProcess),
        stats::SEED ^ 0x7a71,
        &calibration,
    )?;
    step.finish();

    let header = ["sync", "tokio", "async-std", "smol"];
    let mut table = Table::new(
        ["transport", "latency", "C", "limit C/W"]
            .into_iter()
            .chain(header),
    );
    for p in &points {
        let mut cells = vec![
            p.transport.name().to_string(),
            format!("{} ms", p.latency.as_millis()),
            p.concurrency.to_string(),
            format!("{}/s", rate(p.limit())),
        ];
        cells.extend(p.cells.iter().map(|c| {
            let failed = if c.failures > 0 {
                format!(", {} failed", c.failures)
            } else {
                String::new()
            };
            let achieved = c.rates.median();
            format!(
                "{} ({:.0}%{failed})",
                c.rates.cell(&format!("{}/s", rate(achieved))),
                achieved / p.limit() * 100.0
            )
        }));
        table.row(cells);
    }
    let mut calibration_table = Table::new(["calibration: no wait"].into_iter().chain(header));
    for (what, samples) in [
        ("one worker: the lab's cost per request", &calibration.alone),
        (
            "one worker per core: each worker's time per request",
            &calibration.shared,
        ),
    ] {
        calibration_table.row(
            [what.to_string()].into_iter().chain(
                samples
                    .iter()
                    .map(|s| s.cell(&format!("{:.0} ns", s.median() * 1e9))),
            ),
        );
    }
    calibration_table.row(
        ["one worker's ceiling (requests/s)".to_string()]
            .into_iter()
            .chain(
                calibration
                    .alone
                    .iter()
                    .map(|s| format!("{}/s", rate(1.0 / s.median()))),
            ),
    );
    let mut waits = Table::new(["transport", "latency W"].into_iter().chain(header));
    for p in points.iter().filter(|p| p.concurrency == 1) {
        let mut cells = vec![
            p.transport.name().to_string(),
            format!("{} ms", p.latency.as_millis()),
        ];
        cells.extend(
            p.cells
                .iter()
                .map(|c| c.means.cell(&millis(c.means.median()))),
        );
        waits.row(cells);
    }
    // The same rows against each variant's own observed wait at C = 1: what is left once the
    // model's fixed cost per wait is accounted for is the cost of keeping C waits in flight.
    let mut adjusted = Table::new(["transport", "latency", "C"].into_iter().chain(header));
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
        cells.extend(p.cells.iter().zip(&single.cells).map(|(c, one)| {
            let limit = p.concurrency as f64 / one.means.median().max(1e-9);
            format!("{:.0}%", c.rates.median() / limit * 100.0)
        }));
        adjusted.row(cells);
    }
    // Beside the steady state: what it cost to get the C workers started, and how busy the
    // machine was while they ran.
    let mut setup = Table::new(["C"].into_iter().chain(header));
    for &concurrency in concurrencies(Transport::InProcess) {
        let cells: Vec<Sample> = (0..variants)
            .map(|i| {
                points
                    .iter()
                    .filter(|p| {
                        p.transport == Transport::InProcess
                            && p.latency == LATENCIES[1]
                            && p.concurrency == concurrency
                    })
                    .flat_map(|p| p.cells[i].setups.values().iter().copied())
                    .collect()
            })
            .collect();
        table_row_of(&mut setup, concurrency.to_string(), &cells, |s| {
            s.cell(&millis(s.median()))
        });
    }
    // The whole window's rate beside the steady one: how long the drain at the end was.
    let mut whole = Table::new(["transport", "latency", "C"].into_iter().chain(header));
    for p in points
        .iter()
        .filter(|p| p.transport == Transport::InProcess && p.concurrency >= 256)
    {
        let mut cells = vec![
            p.transport.name().to_string(),
            format!("{} ms", p.latency.as_millis()),
            p.concurrency.to_string(),
        ];
        cells.extend(p.cells.iter().map(|c| {
            c.whole
                .cell(&format!("{:.0}%", c.whole.median() / p.limit() * 100.0))
        }));
        whole.row(cells);
    }
    let mut cpu = Table::new(["transport", "latency", "C"].into_iter().chain(header));
    for p in points.iter().filter(|p| p.concurrency >= 256) {
        let mut cells = vec![
            p.transport.name().to_string(),
            format!("{} ms", p.latency.as_millis()),
            p.concurrency.to_string(),
        ];
        cells.extend(p.cells.iter().map(|c| {
            if c.client_cpu.values().is_empty() {
                return "—".to_string();
            }
            let client = c.client_cpu.cell(&format!("{:.0}%", c.client_cpu.median()));
            let machine = format!("machine {:.0}%", c.machine_busy.median());
            match p.transport {
                Transport::InProcess => format!("{client} ({machine})"),
                Transport::Http | Transport::OwnHttp => format!(
                    "client {client}, server {} ({machine})",
                    c.server_cpu.cell(&format!("{:.0}%", c.server_cpu.median()))
                ),
            }
        }));
        cpu.row(cells);
    }
    let mut out_variability = None;
    let worst_overhead = |t: Transport| {
        points
            .iter()
            .filter(|p| p.transport == t)
            .flat_map(|p| p.cells.iter().map(|c| c.overhead))
            .fold(0.0, f64::max)
    };
    let mut doc = Doc::new(
        &ctx.provenance,
        "Requests per second with C in flight, against Little's limit C / W",
        &format!(
            "Each run makes {} × C requests at 5 ms and {} × C at 50 ms in-process, {} × C and \
             {} × C over HTTP; {} (in-process) and {} (HTTP) per cell, the variants taking \
             turns in a seeded shuffled order within each repeat; in brackets, the share of \
             the limit.",
            rounds(Transport::InProcess, LATENCIES[0]),
            rounds(Transport::InProcess, LATENCIES[1]),
            rounds(Transport::Http, LATENCIES[0]),
            rounds(Transport::Http, LATENCIES[1]),
            runs(repeats(Transport::InProcess)).to_lowercase(),
            runs(repeats(Transport::Http)).to_lowercase()
        ),
    );
    doc.note(&format!(
        "The lab's own cost (calibration table): at most {:.2}% of a timed window in-process, \
         {:.2}% over HTTP. Only the requests are timed: workers are spawned and waiting, \
         over HTTP each with its connection open, and every buffer allocated, before the \
         clock starts.",
        worst_overhead(Transport::InProcess),
        worst_overhead(Transport::Http)
    ));
    doc.table(&table);
    doc.text(&stats::legend());
    doc.text(
        "Calibration: each variant's load generator with nothing to wait for. Its time per \
         request is the lab's own (read the clock once, store the latency and the answer's \
         time in the request's slot), alone, and with one worker per core (each worker's \
         time from its first answer to its last, per request: nothing in the window is \
         shared, so this stays the same; a shared counter of request numbers cost 140 ns \
         here). Requests × the larger of the two (each at its fastest run: a busy machine \
         only ever adds), over a row's timed window × the cores, is the lab's share of that \
         window.",
    );
    doc.table(&calibration_table);
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
         latencies). Anything above W is the model's own cost per wait: a timer's rounding \
         (tokio's timer rounds a sleep up to the next millisecond), a wake-up, for HTTP a \
         client, a socket and a server.",
    );
    doc.table(&waits);
    doc.text(
        "The first table's rows again, as a share of C / (the wait each variant really had at \
         C = 1): how close each model comes to keeping C waits in flight, once its own cost \
         per wait is accounted for.",
    );
    doc.table(&adjusted);
    doc.text(
        "Set-up, outside the timed window: from the first spawn until all C workers waited at \
         the start line (threads for sync, tasks for the others), in-process at 50 ms.",
    );
    doc.table(&setup);
    doc.text(
        "The first table's rate is the one with all C in flight: until the first worker \
         finished its share of the requests (handed out before the clock starts, so that \
         nothing in the window is shared), every worker's answers, counting the wait it was in \
         by the part that had passed. Over the whole window — every answer over the time to \
         the last one — the rate also counts the drain at the end, where workers that \
         finished their share wait for the slowest: a measure of how evenly a model shares \
         the machine out. In-process, as a share of the limit:",
    );
    doc.table(&whole);
    doc.text(&format!(
        "CPU use in the timed window (user + system time over wall time × {} cores, from \
         `/proc`'s 10 ms ticks; — where the window was under {} ms). Over HTTP the registry \
         service runs in a process of its own: its CPU time is the server's figure. In \
         brackets, how busy the whole machine was (every process, `/proc/stat`): a model is \
         machine-bound only where that nears 100%.",
        ctx.provenance.cores,
        CPU_WINDOW.as_millis()
    ));
    doc.table(&cpu);
    let fixed = points.iter().find(|p| {
        p.transport == Transport::InProcess
            && p.latency == LATENCIES[1]
            && p.concurrency == variability_c
    });
    if let Some(fixed) = fixed {
        let limit = variability_c as f64 / LATENCIES[1].as_secs_f64();
        let mut table = Table::new(
            ["in-process, C = 1000, mean wait 50 ms"]
                .into_iter()
                .chain(header),
        );
        table_row_of(
            &mut table,
            "fixed 50 ms".into(),
            &fixed
                .cells
                .iter()
                .map(|c| c.rates.clone())
                .collect::<Vec<_>>(),
            |s| s.cell(&format!("{:.0}%", s.median() / limit * 100.0)),
        );
        table_row_of(
            &mut table,
            "uniform 10-90 ms".into(),
            &variable_cells
                .iter()
                .map(|c| c.rates.clone())
                .collect::<Vec<_>>(),
            |s| s.cell(&format!("{:.0}%", s.median() / limit * 100.0)),
        );
        doc.text(
            "Latency variability: the share of Little's limit with every wait 50 ms, and with \
             waits drawn uniformly from 10-90 ms (the same mean), with all C in flight (as in \
             the first table: the drain at the end, which variable waits lengthen by \
             themselves, is left out). What a model loses \
             between the two rows is what variability costs it. The ± is the runs' spread of \
             the rate.",
        );
        doc.table(&table);
        out_variability = Some(super::claims::Variability {
            concurrency: variability_c,
            what: "in-process, fixed 50 ms vs uniform 10-90 ms".into(),
            fixed: fixed
                .cells
                .iter()
                .map(|c| c.rates.median() / limit * 100.0)
                .collect(),
            variable: variable_cells
                .iter()
                .map(|c| c.rates.median() / limit * 100.0)
                .collect(),
            spread: fixed
                .cells
                .iter()
                .zip(&variable_cells)
                .map(|(a, b)| {
                    a.rates.spread_percent().unwrap_or(0.0)
                        + b.rates.spread_percent().unwrap_or(0.0)
                })
                .collect(),
        });
    }
    let mut out = GroupOutput::new("fan-out", doc);
    out.facts.variability = out_variability;
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
                        .map(|p| {
                            (
                                p.concurrency as f64,
                                p.cells[i].rates.median() / p.limit() * 100.0,
                            )
                        })
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
    for (transport, latency) in [
        (Transport::InProcess, LATENCIES[1]),
        (Transport::Http, LATENCIES[1]),
    ] {
        let biggest = concurrencies(transport).last().copied().unwrap_or(1);
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
                p.shares().map(|share| format!("{share:.0}%")),
            );
        }
    }
    // The timer's rounding, beside the scheduling figures it is mixed into.
    if let Some(p) = points.iter().find(|p| {
        p.transport == Transport::InProcess && p.latency == LATENCIES[0] && p.concurrency == 1
    }) {
        out.summary(
            &format!(
                "one {} ms sleep as observed (timer granularity; see the note below)",
                LATENCIES[0].as_millis()
            ),
            p.cells
                .iter()
                .map(|c| c.means.cell(&millis(c.means.median()))),
        );
    }
    out.summary(
        "the lab's own cost, % of the timed window (at most)",
        (0..variants).map(|i| {
            let worst = points
                .iter()
                .map(|p| p.cells[i].overhead)
                .fold(0.0, f64::max);
            format!("{worst:.2}%")
        }),
    );
    out.facts.lab_cost = Some(
        worst_overhead(Transport::InProcess)
            .max(worst_overhead(Transport::Http))
            .max(worst_overhead(Transport::OwnHttp)),
    );
    out.facts.fan_out = points
        .iter()
        .map(|p| super::claims::FanOut {
            in_process: p.transport == Transport::InProcess,
            latency: p.latency,
            concurrency: p.concurrency,
            share: p.shares().collect(),
            noisy: p.cells.iter().map(|c| c.rates.noisy()).collect(),
            client_cpu: p.cells.iter().map(|c| c.client_cpu.median()).collect(),
        })
        .collect();
    Ok(out)
}

/// Adds a row: `first`, then one cell per variant.
fn table_row_of(
    table: &mut Table,
    first: String,
    cells: &[Sample],
    cell: impl Fn(&Sample) -> String,
) {
    table.row(std::iter::once(first).chain(cells.iter().map(cell)));
}

//! The chapters the workshop knows, each with its table of variants.

use instruments::Demo;
use pipeline::{Config, Input, PipelineError, Report, RunFn, Variant};

pub struct Chapter {
    pub number: u32,
    pub title: &'static str,
    pub crate_dir: &'static str,
    pub variants: [(Variant, RunFn); 4],
    /// The chapter's own input, where the tour's dataset would be too slow for it (a chapter
    /// whose registry takes milliseconds per look-up); `None`: the tour's dataset.
    pub input: Option<fn() -> Input>,
    /// What a correct run computes, where that is not the plain sequential reference (chapter
    /// 7's registry hangs on purpose, so its correct report has timed-out readings); `None`:
    /// `pipeline::run_sequential`.
    pub reference: Option<ReferenceFn>,
}

/// A chapter's reference run.
pub type ReferenceFn = fn(&Input, &Config) -> Result<Report, PipelineError>;

/// Every chapter that exists so far, in order. A new chapter crate adds an entry here.
pub const CHAPTERS: &[Chapter] = &[
    Chapter {
        number: 1,
        title: "baseline: one pipeline, four ways",
        crate_dir: "chapters/01-baseline",
        variants: ch01_baseline::VARIANTS,
        input: None,
        reference: None,
    },
    Chapter {
        number: 2,
        title: "waiting well: C look-ups in flight against a slow registry",
        crate_dir: "chapters/02-waiting-well",
        variants: ch02_waiting_well::VARIANTS,
        input: Some(ch02_waiting_well::chapter_input),
        reference: None,
    },
    Chapter {
        number: 3,
        title: "backpressure: a fast source, a slow sink, bounded channels",
        crate_dir: "chapters/03-backpressure",
        variants: ch03_backpressure::VARIANTS,
        input: Some(ch03_backpressure::chapter_input),
        reference: None,
    },
    Chapter {
        number: 4,
        title: "mutex deadlocks, fixed (scoped guard)",
        crate_dir: "chapters/04-mutex-deadlocks",
        variants: ch04_mutex_deadlocks::VARIANTS,
        input: None,
        reference: None,
    },
    Chapter {
        number: 5,
        title: "unbounded spawning, fixed (a limit per variant)",
        crate_dir: "chapters/05-unbounded-spawning",
        variants: ch05_unbounded_spawning::VARIANTS,
        input: Some(ch05_unbounded_spawning::chapter_input),
        reference: None,
    },
    Chapter {
        number: 6,
        title: "error swallowing, fixed (every handle joined, failures dead-lettered)",
        crate_dir: "chapters/06-error-swallowing",
        variants: ch06_error_swallowing::VARIANTS,
        input: None,
        reference: None,
    },
    Chapter {
        number: 7,
        title: "cancellation: look-ups with timeouts, a shutdown that loses nothing",
        crate_dir: "chapters/07-cancellation",
        variants: ch07_cancellation::VARIANTS,
        input: Some(ch07_cancellation::chapter_input),
        reference: Some(ch07_cancellation::reference),
    },
    Chapter {
        number: 8,
        title: "CPU-bound aggregation, offloaded (rayon, spawn_blocking, unblock)",
        crate_dir: "chapters/08-blocking-and-cpu",
        variants: ch08_blocking_and_cpu::VARIANTS,
        input: Some(ch08_blocking_and_cpu::chapter_input),
        reference: None,
    },
    Chapter {
        number: 9,
        title: "real I/O: enrich over HTTP from a local registry service",
        crate_dir: "chapters/09-real-io",
        variants: ch09_real_io::VARIANTS,
        input: Some(ch09_real_io::chapter_input),
        reference: None,
    },
    Chapter {
        number: 10,
        title: "many connections: 100 sensors over loopback TCP, a thread or a task each",
        crate_dir: "chapters/10-many-connections",
        variants: ch10_many_connections::VARIANTS,
        input: None,
        reference: None,
    },
    Chapter {
        number: 11,
        title: "testing and observability: traced look-ups with timeouts and retries",
        crate_dir: "chapters/11-testing-observability",
        variants: ch11_testing_observability::VARIANTS,
        input: Some(ch11_testing_observability::chapter_input),
        reference: Some(ch11_testing_observability::reference),
    },
    Chapter {
        number: 12,
        title: "costs: the standalone programs' pipelines (the ones the lab builds clean)",
        crate_dir: "chapters/12-costs",
        variants: ch12_costs::VARIANTS,
        input: Some(ch12_costs::chapter_input),
        reference: None,
    },
];

/// Every chapter's live demos, in chapter order.
pub const DEMOS: &[&[Demo]] = &[
    &ch03_backpressure::DEMOS,
    &ch04_mutex_deadlocks::DEMOS,
    &ch05_unbounded_spawning::DEMOS,
    &ch06_error_swallowing::DEMOS,
    &ch07_cancellation::DEMOS,
];

/// A measurement shown live, for a session: not a pitfall with a verdict, but a table of what
/// this machine does (throughput against Little's law, a heartbeat's lateness, the cost of
/// many connections). Each prints its own table.
pub struct Experiment {
    pub chapter: u32,
    pub name: &'static str,
    pub title: &'static str,
    pub run: fn(&mut dyn std::io::Write) -> anyhow::Result<()>,
}

/// Chapter 2's line under its tour table: each variant's look-ups per second next to the limit
/// Little's law sets for the concurrency it ran with.
pub fn littles_law_note(input: &Input, walls: &[(Variant, std::time::Duration)]) -> String {
    let latencies = ch02_waiting_well::registry::Latencies::of(input);
    let concurrency = Config::default().concurrency;
    let limit = ch02_waiting_well::littles_law_limit(concurrency, latencies.mean());
    let achieved: Vec<String> = walls
        .iter()
        .map(|(variant, wall)| {
            let rate = latencies.lookups as f64 / wall.as_secs_f64().max(1e-9);
            format!("{variant} {rate:.0} ({:.0}%)", 100.0 * rate / limit)
        })
        .collect();
    format!(
        "Little's law: C = {concurrency} look-ups in flight, mean latency {:.1} ms → at most \
         {limit:.0} look-ups/s; achieved: {}",
        latencies.mean().as_secs_f64() * 1e3,
        achieved.join(", ")
    )
}

/// Every chapter's experiments, in chapter order.
pub const EXPERIMENTS: &[Experiment] = &[
    Experiment {
        chapter: 2,
        name: "littles-law",
        title: "throughput against Little's law as the concurrency C grows",
        run: |out| {
            let rows =
                ch02_waiting_well::experiment(out, &ch02_waiting_well::SESSION_CONCURRENCIES)?;
            if let Some(row) = rows.iter().find(|row| !row.differing().is_empty()) {
                anyhow::bail!(
                    "at C = {}, these variants' reports differ from the reference: {:?}",
                    row.concurrency,
                    row.differing()
                );
            }
            Ok(())
        },
    },
    Experiment {
        chapter: 8,
        name: "blocking-heartbeat",
        title: "CPU work inline in async tasks vs offloaded: how late a heartbeat gets",
        run: |out| {
            let rows = ch08_blocking_and_cpu::experiment(out)?;
            if let Some(row) = rows.iter().find(|row| !row.same_result()) {
                anyhow::bail!("a run's result differs from the reference: {row}");
            }
            Ok(())
        },
    },
    Experiment {
        chapter: 10,
        name: "many-connections",
        title: "100, 1,000 and 10,000 sensor connections: threads, memory, throughput",
        run: |out| {
            ch10_many_connections::experiment(
                out,
                &ch10_many_connections::experiment::CONNECTIONS,
            )?;
            Ok(())
        },
    },
    Experiment {
        chapter: 13,
        name: "scaling-out",
        title: "four worker processes share a PostgreSQL queue; one is killed mid-batch",
        run: |out| {
            use testkit::postgres::Unavailable;
            let db = testkit::postgres::try_test_database("workshop_scaling_out").map_err(|e| {
                let why = match e {
                    Unavailable::Missing(why) | Unavailable::Broken(why) => why,
                };
                anyhow::anyhow!(
                    "this experiment needs PostgreSQL: set DATABASE_URL, or install it \
                     (initdb under /usr/lib/postgresql/<version>/bin): {why}"
                )
            })?;
            let outcome = ch13_scaling_out::experiment(out, db.conninfo())?;
            if !outcome.matches_reference() {
                anyhow::bail!("the report built from the tables differs from the reference");
            }
            Ok(())
        },
    },
];

/// The experiment called `name`, if there is one.
pub fn find_experiment(name: &str) -> Option<&'static Experiment> {
    EXPERIMENTS.iter().find(|e| e.name == name)
}

/// The demo called `name`, or an error listing them all.
pub fn find_demo(name: &str) -> anyhow::Result<&'static Demo> {
    all_demos().find(|demo| demo.name == name).ok_or_else(|| {
        let names: Vec<&str> = all_demos()
            .map(|d| d.name)
            .chain(EXPERIMENTS.iter().map(|e| e.name))
            .collect();
        anyhow::anyhow!("there is no demo `{name}`; available: {}", names.join(", "))
    })
}

pub fn all_demos() -> impl Iterator<Item = &'static Demo> {
    DEMOS.iter().flat_map(|demos| demos.iter())
}

/// The chapter with this number, or an error listing the ones that exist.
pub fn find(number: u32) -> anyhow::Result<&'static Chapter> {
    CHAPTERS.iter().find(|c| c.number == number).ok_or_else(|| {
        let known: Vec<String> = CHAPTERS
            .iter()
            .map(|c| format!("{} ({})", c.number, c.title))
            .collect();
        anyhow::anyhow!(
            "there is no chapter {number} yet; available: {}",
            known.join(", ")
        )
    })
}

impl Chapter {
    /// The report every variant must give on `input`.
    pub fn reference(&self, input: &Input, cfg: &Config) -> Result<Report, PipelineError> {
        self.reference.unwrap_or(pipeline::run_sequential)(input, cfg)
    }

    pub fn run_fn(&self, variant: Variant) -> RunFn {
        self.variants
            .iter()
            .find(|(v, _)| *v == variant)
            .map(|(_, run)| *run)
            .expect("every chapter lists all four variants")
    }
}

//! Chapter 1's mental model, recorded: the sync pipeline's five stage threads, each blocked
//! (sleeping in the kernel) while it waits for its channel, against the tokio pipeline's five
//! stage tasks taking turns on two worker threads.
//!
//! Both run the chapter's own `run`, with batches of 64 through channels of 2; the sync run's
//! registry sleeps on each look-up, like a remote one, so that it lasts long enough to watch. Each stage's work on a batch announces
//! itself through `pipeline::trace` (parse, enrich, aggregate, the sink's write, the source's
//! progress), which the recording hooks into: that says which OS thread did which stage's work,
//! and when. For sync, a sampler also reads every thread's scheduler state from `/proc` every
//! millisecond (the stage threads are named `ch01-<stage>`): the kernel's word that a thread
//! that is not working is blocked.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{bail, ensure};
use instruments::timeline::{self, Event, What};
use pipeline::{
    Config, DatasetSpec, FleetRegistry, Input, LookupError, Registry, Report, SensorInfo,
};

use super::draw::{self, Bar, Lane, Timeline, ms};
use crate::bench::doc::Provenance;

/// The stages, in pipeline order, as the chapter names them.
const STAGES: [&str; 5] = ["source", "parse", "enrich", "aggregate", "sink"];

/// A registry whose every look-up takes a little while (a sleep), like a remote one.
struct SlowRegistry(FleetRegistry);

impl Registry for SlowRegistry {
    fn lookup(&self, sensor_id: &str) -> Result<SensorInfo, LookupError> {
        std::thread::sleep(Duration::from_micros(100));
        self.0.lookup(sensor_id)
    }
}

fn input() -> Input {
    Input::generated(&DatasetSpec {
        lines: 3_000,
        ..DatasetSpec::default()
    })
}

fn config() -> Config {
    Config {
        batch_size: 64,
        channel_capacity: 2,
        worker_threads: 2,
        registry: Arc::new(SlowRegistry(FleetRegistry::default())),
        ..Config::default()
    }
}

/// The sync run, with every `ch01-*` thread's state sampled every millisecond.
pub fn record_sync() -> anyhow::Result<Vec<Event>> {
    let (input, cfg) = (input(), config());
    let (report, events) = timeline::record(|| {
        let done = AtomicBool::new(false);
        std::thread::scope(|s| {
            let sampler = s.spawn(|| sample_stage_threads(&done));
            let report = ch01_baseline::variants::sync::run(&input, &cfg);
            done.store(true, Ordering::SeqCst);
            sampler.join().expect("the sampler does not panic")?;
            anyhow::Ok(report?)
        })
    });
    report.map(|_: Report| events)
}

/// Until `done`, records each stage thread's scheduler state (thread `name#tid`).
fn sample_stage_threads(done: &AtomicBool) -> anyhow::Result<()> {
    while !done.load(Ordering::SeqCst) {
        for t in procstats::thread_states()? {
            if t.name.starts_with("ch01-") {
                timeline::thread_state(format!("{}#{}", t.name, t.tid), t.state);
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

/// The tokio run on two workers, every stage's work recorded. With the chapter's own registry,
/// not the slow one: a sleep inside a task would hold its worker thread (chapter 8's pitfall),
/// and the picture would show that instead of the stages taking turns. More lines instead, so
/// that there are many batches to take turns with.
pub fn record_tokio() -> anyhow::Result<Vec<Event>> {
    let input = Input::generated(&DatasetSpec {
        lines: 8_000,
        ..DatasetSpec::default()
    });
    let cfg = Config {
        registry: Arc::new(FleetRegistry::default()),
        ..config()
    };
    let (report, events) =
        timeline::record(|| ch01_baseline::variants::tokio_rt::run(&input, &cfg));
    report?;
    Ok(events)
}

/// Sync: one thread per stage (no more, no fewer), each stage's work done on its own thread
/// only, and each thread seen blocked (`S`) at least once.
pub fn check_sync(events: &[Event]) -> anyhow::Result<()> {
    for e in events.iter().filter(|e| e.what == What::Begin("work")) {
        ensure!(
            e.thread.starts_with(&format!("ch01-{}#", e.actor)),
            "{}'s work ran on {}",
            e.actor,
            e.thread
        );
    }
    let mut threads: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut blocked: BTreeSet<&str> = BTreeSet::new();
    for e in events {
        if let What::State(state) = e.what {
            let name = e.thread.split('#').next().unwrap_or_default();
            let stage = name.trim_start_matches("ch01-");
            threads.entry(stage).or_default().insert(&e.thread);
            if state == 'S' {
                blocked.insert(stage);
            }
        }
    }
    let stages: Vec<&str> = threads.keys().copied().collect();
    let mut expected = STAGES.to_vec();
    expected.sort_unstable();
    ensure!(
        stages == expected,
        "sampled stage threads {stages:?}, expected {expected:?}"
    );
    for (stage, ids) in &threads {
        ensure!(ids.len() == 1, "stage {stage} ran on {} threads", ids.len());
        ensure!(
            blocked.contains(stage),
            "stage {stage}'s thread never blocked"
        );
    }
    Ok(())
}

/// Tokio: every stage worked, all of it on at most two threads, and interleaved: one worker
/// did work of different stages, and some stage's work is split by another stage's.
pub fn check_tokio(events: &[Event]) -> anyhow::Result<()> {
    let polls: Vec<(&str, &str)> = events
        .iter()
        .filter(|e| e.what == What::Begin("work"))
        .map(|e| (e.actor.as_str(), e.thread.as_str()))
        .collect();
    let stages: BTreeSet<&str> = polls.iter().map(|(s, _)| *s).collect();
    ensure!(
        stages == STAGES.into_iter().collect(),
        "stages that worked: {stages:?}, expected {STAGES:?}"
    );
    let threads: BTreeSet<&str> = polls.iter().map(|(_, t)| *t).collect();
    ensure!(
        (1..=2).contains(&threads.len()),
        "the work ran on {threads:?}"
    );
    let shared = threads.iter().any(|t| {
        polls
            .iter()
            .filter(|(_, pt)| pt == t)
            .map(|(s, _)| *s)
            .collect::<BTreeSet<_>>()
            .len()
            > 1
    });
    ensure!(shared, "no worker ran more than one stage");
    let interleaved = STAGES.iter().any(|stage| {
        let at: Vec<usize> = polls
            .iter()
            .enumerate()
            .filter(|(_, (s, _))| s == stage)
            .map(|(i, _)| i)
            .collect();
        at.windows(2).any(|w| w[1] > w[0] + 1)
    });
    if !interleaved {
        bail!("every stage's work ran back to back: nothing interleaved");
    }
    Ok(())
}

pub fn sync_svg(provenance: &Provenance) -> anyhow::Result<String> {
    let events = record_sync()?;
    check_sync(&events)?;
    let mut by_thread: BTreeMap<usize, (String, Vec<&Event>)> = BTreeMap::new();
    for e in events.iter().filter(|e| matches!(e.what, What::State(_))) {
        let stage = e.thread.split('#').next().unwrap_or_default();
        let order = STAGES
            .iter()
            .position(|s| stage == format!("ch01-{s}"))
            .unwrap_or(STAGES.len());
        by_thread
            .entry(order)
            .or_insert_with(|| (format!("thread {}", e.thread), Vec::new()))
            .1
            .push(e);
    }
    let lanes = by_thread
        .into_values()
        .map(|(name, samples)| Lane {
            name,
            bars: samples
                .windows(2)
                .map(|w| Bar {
                    from: ms(w[0].at),
                    to: ms(w[1].at),
                    style: usize::from(w[0].what != What::State('R')),
                })
                .collect(),
            marks: Vec::new(),
        })
        .collect();
    draw::svg(
        &Timeline {
            title: "Chapter 1, sync: one OS thread per stage, each blocked while it waits",
            lanes,
            legend: &["running (R)", "blocked in the kernel (S)"],
        },
        provenance,
    )
}

pub fn tokio_svg(provenance: &Provenance) -> anyhow::Result<String> {
    let events = record_tokio()?;
    check_tokio(&events)?;
    let end = events.last().map_or(Duration::ZERO, |e| e.at);
    let mut lanes: BTreeMap<String, Lane> = BTreeMap::new();
    // Grey means waiting in the other diagrams: parse gets purple (the legend is in style order).
    for (stage, style) in STAGES.iter().zip([0, 5, 2, 3, 4]) {
        for poll in timeline::spans(&events, stage, "work", end) {
            lanes
                .entry(poll.thread.clone())
                .or_insert_with(|| Lane {
                    name: format!("worker {}", poll.thread),
                    bars: Vec::new(),
                    marks: Vec::new(),
                })
                .bars
                .push(Bar {
                    from: ms(poll.begin),
                    to: ms(poll.end),
                    style,
                });
        }
    }
    draw::svg(
        &Timeline {
            title: "Chapter 1, tokio: five stage tasks' work on two worker threads",
            lanes: lanes.into_values().collect(),
            legend: &["source", "", "enrich", "aggregate", "sink", "parse"],
        },
        provenance,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg_attr(
        not(target_os = "linux"),
        ignore = "thread states come from Linux's /proc: not measured on this OS"
    )]
    #[test]
    fn sync_has_one_thread_per_stage_each_blocked_while_it_waits() {
        check_sync(&record_sync().unwrap()).unwrap();
    }

    #[test]
    fn tokio_interleaves_the_stages_on_at_most_two_workers() {
        check_tokio(&record_tokio().unwrap()).unwrap();
    }

    #[test]
    fn back_to_back_work_is_not_called_interleaved() {
        let poll = |stage: &str| Event {
            at: Duration::ZERO,
            thread: "w#1".into(),
            actor: stage.into(),
            what: What::Begin("work"),
        };
        let events: Vec<Event> = STAGES.iter().map(|s| poll(s)).collect();
        assert!(check_tokio(&events).is_err());
    }
}

//! Chapter 7's graceful shutdown, recorded: the tokio pipeline run the draining way
//! (`OnStop::Drain`) with the demo's settings and stop point, until it writes its checkpoint.
//! The stop is recorded by a listener on the chapter's `Shutdown` (`on_trigger`), each look-up
//! by the registry the run is given (`Config::registry`), and the end of the drain (every stage
//! joined) and the checkpoint by the chapter's two timeline hooks in `checkpoint.rs`.

use std::sync::Arc;

use anyhow::{bail, ensure};
use ch07_cancellation::{
    Controls, HangPlan, OnStop, RunEnd, Shutdown, StopPoint, chapter_input, demo_config,
    demo_stop_line, variants::tokio_rt,
};
use instruments::timeline::{self, Event, What};
use pipeline::{Config, FleetRegistry, LookupError, Registry, SensorInfo};

use super::draw::{self, Bar, Lane, Mark, Timeline, ms};
use crate::bench::doc::Provenance;

/// A registry that notes each look-up on the timeline.
struct Noted(FleetRegistry);

impl Registry for Noted {
    fn lookup(&self, sensor_id: &str) -> Result<SensorInfo, LookupError> {
        timeline::point("enrich", "look-up");
        self.0.lookup(sensor_id)
    }
}

/// The run, from its start to its checkpoint.
pub fn record() -> anyhow::Result<Vec<Event>> {
    let input = chapter_input();
    let Some(line) = demo_stop_line(&input) else {
        bail!("the chapter's input has no stop line");
    };
    let cfg = demo_config(&Config {
        registry: Arc::new(Noted(FleetRegistry::default())),
        ..Config::default()
    });
    let shutdown = Shutdown::at(StopPoint { line, hold: false });
    shutdown.on_trigger(|| timeline::point("shutdown", "stop"));
    let controls = Controls::new(shutdown).with_plan(HangPlan::NONE);
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("checkpoint.json");
    let (end, events) =
        timeline::record(|| tokio_rt::run_with(OnStop::Drain, &input, &cfg, &controls, &path));
    match end? {
        RunEnd::Stopped { .. } => Ok(events),
        RunEnd::Finished(_) => bail!("the run was not stopped"),
    }
}

fn first(events: &[Event], actor: &str, label: &str) -> anyhow::Result<usize> {
    let at: Vec<usize> = events
        .iter()
        .enumerate()
        .filter(|(_, e)| e.actor == actor && matches!(e.what, What::Point(l) if l == label))
        .map(|(i, _)| i)
        .collect();
    match at[..] {
        [i] => Ok(i),
        _ => bail!(
            "{actor} {label}: recorded {} times, expected once",
            at.len()
        ),
    }
}

/// In this order: look-ups, the stop, the drain (look-ups of what was handed on already), every
/// stage joined, the checkpoint written; nothing after the checkpoint, and no look-up after the
/// stages were joined.
pub fn check(events: &[Event]) -> anyhow::Result<()> {
    let stop = first(events, "shutdown", "stop")?;
    let joined = first(events, "pipeline", "stages joined")?;
    let written = first(events, "checkpoint", "written")?;
    ensure!(
        stop < joined && joined < written,
        "out of order: stop #{stop}, stages joined #{joined}, checkpoint #{written}"
    );
    ensure!(
        written == events.len() - 1,
        "{} events after the checkpoint",
        events.len() - 1 - written
    );
    let lookups = |range: std::ops::Range<usize>| {
        events[range]
            .iter()
            .filter(|e| e.what == What::Point("look-up"))
            .count()
    };
    ensure!(lookups(0..stop) > 0, "no look-up before the stop");
    ensure!(
        lookups(joined..events.len()) == 0,
        "a look-up after every stage was joined"
    );
    Ok(())
}

pub fn svg(provenance: &Provenance) -> anyhow::Result<String> {
    let events = record()?;
    check(&events)?;
    let point = |actor: &str| events.iter().find(|e| e.actor == actor).map(|e| ms(e.at));
    let stop = point("shutdown").unwrap_or(0.0);
    let mark = |at: Option<f64>, label: &str| Mark {
        at: at.unwrap_or(0.0),
        label: label.into(),
        tick: false,
    };
    let lookups = |after_stop: bool| -> Vec<Bar> {
        let at = events
            .iter()
            .filter(|e| e.what == What::Point("look-up") && (ms(e.at) > stop) == after_stop)
            .map(|e| ms(e.at));
        draw::bars_of(at, 0.05, if after_stop { 3 } else { 2 })
    };
    let lane = |name: &str, marks| Lane {
        name: name.into(),
        bars: Vec::new(),
        marks,
    };
    let busy = |name: &str, bars| Lane {
        name: name.into(),
        bars,
        marks: Vec::new(),
    };
    draw::svg(
        &Timeline {
            title: "Chapter 7: stop, drain, checkpoint (tokio, OnStop::Drain)",
            lanes: vec![
                busy("look-ups before the stop", lookups(false)),
                lane("shutdown", vec![mark(Some(stop), " stop")]),
                busy("look-ups draining", lookups(true)),
                lane(
                    "every stage joined",
                    vec![mark(point("pipeline"), " drained ")],
                ),
                lane("checkpoint", vec![mark(point("checkpoint"), " written ")]),
            ],
            legend: &[],
        },
        provenance,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_then_drain_then_checkpoint_and_nothing_after() {
        check(&record().unwrap()).unwrap();
    }
}

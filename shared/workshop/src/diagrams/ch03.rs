//! Chapter 3's queue, recorded: the depth of the queue between the fast source and the slow sink
//! over time, behind an unbounded channel and behind a bounded one. It is the chapter's own
//! demo (`demo unbounded-queue`, tokio), broken and fixed; the depth is the chapter's
//! `batches queued` gauge, which reports every change to the timeline. Drawn with the lab's
//! line charts (`bench/plot.rs`).

use std::time::Duration;

use anyhow::{bail, ensure};
use ch03_backpressure::{DEMOS, QUEUE_LENGTH, WATCH};
use instruments::timeline::{self, Event, What};
use instruments::{DemoFn, Verdict, run_demo};
use pipeline::{Config, Variant};

use super::draw::ms;
use crate::bench::doc::Provenance;
use crate::bench::plot::{self, Chart, Corner, Series};

/// One run's queue depths: (time, depth), in time order.
pub struct Depths {
    pub capacity: usize,
    pub unbounded: Vec<(Duration, usize)>,
    pub bounded: Vec<(Duration, usize)>,
}

fn config() -> Config {
    Config::default()
}

/// Runs the demo's broken (unbounded) and fixed (bounded) tokio pipelines, recording each.
pub fn record() -> anyhow::Result<Depths> {
    let demo = &DEMOS[0];
    let case = demo.case(Variant::Tokio);
    let (Some(broken), Some(fixed)) = (case.broken, case.fixed) else {
        bail!("chapter 3's demo has no tokio case");
    };
    let input = (demo.input)();
    let one = |run: DemoFn| -> anyhow::Result<Vec<(Duration, usize)>> {
        let ((verdict, _signals), events) =
            timeline::record(|| run_demo(run, &WATCH, &input, &config(), Duration::from_secs(10)));
        match verdict {
            Verdict::Finished(_) => Ok(depths(&events)),
            other => bail!("the demo did not finish: {other}"),
        }
    };
    Ok(Depths {
        capacity: config().channel_capacity,
        unbounded: one(broken)?,
        bounded: one(fixed)?,
    })
}

fn depths(events: &[Event]) -> Vec<(Duration, usize)> {
    events
        .iter()
        .filter(|e| e.actor == QUEUE_LENGTH)
        .filter_map(|e| match e.what {
            What::Level(n) => Some((e.at, n)),
            _ => None,
        })
        .collect()
}

/// Bounded: the depth never exceeds the capacity (and reaches it: the source really is
/// faster). Unbounded: the depth grows past the capacity.
pub fn check(d: &Depths) -> anyhow::Result<()> {
    let peak = |levels: &[(Duration, usize)]| levels.iter().map(|(_, n)| *n).max().unwrap_or(0);
    let (bounded, unbounded) = (peak(&d.bounded), peak(&d.unbounded));
    ensure!(
        bounded <= d.capacity,
        "the bounded queue held {bounded} batches, past its capacity {}",
        d.capacity
    );
    ensure!(
        bounded == d.capacity,
        "the bounded queue never filled ({bounded} of {})",
        d.capacity
    );
    ensure!(
        unbounded > d.capacity,
        "the unbounded queue never grew past {} (peak {unbounded})",
        d.capacity
    );
    Ok(())
}

/// At most `n` points of a step line, keeping each bucket's highest depth (so the peak shows).
fn thin(levels: &[(Duration, usize)], n: usize) -> Vec<(f64, f64)> {
    let per = levels.len().div_ceil(n).max(1);
    levels
        .chunks(per)
        .filter_map(|chunk| {
            let (at, depth) = chunk.iter().max_by_key(|(_, d)| *d)?;
            Some((ms(*at), *depth as f64))
        })
        .collect()
}

pub fn svg(provenance: &Provenance) -> anyhow::Result<String> {
    let depths = record()?;
    check(&depths)?;
    plot::svg(
        &Chart {
            title: "Chapter 3: batches queued for the slow sink, unbounded vs bounded (tokio)",
            x_label: "milliseconds since the run started",
            y_label: "batches queued",
            x_log: false,
            y_log: false,
            series: vec![
                Series {
                    name: "unbounded channel".into(),
                    points: thin(&depths.unbounded, 120),
                },
                Series {
                    name: format!("bounded channel (capacity {})", depths.capacity),
                    points: thin(&depths.bounded, 120),
                },
            ],
            x_format: None,
            legend: Corner::UpperLeft,
        },
        provenance,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_stays_within_its_capacity_and_unbounded_grows_past_it() {
        check(&record().unwrap()).unwrap();
    }

    #[test]
    fn a_bounded_queue_past_its_capacity_is_caught() {
        let at = |n| (Duration::ZERO, n);
        let depths = Depths {
            capacity: 2,
            unbounded: vec![at(1), at(9)],
            bounded: vec![at(2), at(3)],
        };
        assert!(check(&depths).is_err());
    }
}

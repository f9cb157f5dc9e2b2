//! Chapter 8's heartbeat, recorded: the chapter's `ticks_while_blocked` experiment (tokio,
//! current-thread runtime), with the blocking section inline and then offloaded to the blocking
//! pool. The chapter's `Heartbeat::tick` records each tick's lateness (from when it was due to
//! when it ran) and `blocking_section` records itself; this draws both, one run above the other.

use std::time::Duration;

use anyhow::ensure;
use ch08_blocking_and_cpu::{Mode, variants::tokio_rt::ticks_while_blocked};
use instruments::timeline::{self, Event, SpanOf};

use super::draw::{self, Bar, Lane, Timeline, ms};
use crate::bench::doc::Provenance;

/// How long the section blocks: several heartbeat periods.
const BLOCKED_FOR: Duration = Duration::from_millis(40);

/// One run's blocking section and heartbeat lateness spans.
pub struct Run {
    pub section: SpanOf,
    pub late: Vec<SpanOf>,
}

pub fn record(mode: Mode) -> anyhow::Result<Run> {
    let (blocked, events) = timeline::record(|| ticks_while_blocked(mode, BLOCKED_FOR));
    blocked?;
    spans(&events)
}

fn spans(events: &[Event]) -> anyhow::Result<Run> {
    let end = events.last().map_or(Duration::ZERO, |e| e.at);
    let sections = timeline::spans(events, "blocking section", "blocked", end);
    ensure!(sections.len() == 1, "{} blocking sections", sections.len());
    Ok(Run {
        section: sections[0].clone(),
        late: timeline::spans(events, "heartbeat", "late", end),
    })
}

/// Ticks that ran while the section was blocked.
fn ticks_during(run: &Run) -> usize {
    run.late
        .iter()
        .filter(|l| l.end > run.section.begin && l.end < run.section.end)
        .count()
}

/// Inline: no tick while the section runs, and the tick that fell due meanwhile ran only after
/// it (its lateness spans the section's end). Offloaded: ticks while the section runs, and no
/// tick's lateness spans the whole section.
pub fn check(inline: &Run, offloaded: &Run) -> anyhow::Result<()> {
    ensure!(
        ticks_during(inline) == 0,
        "inline: {} ticks during the section",
        ticks_during(inline)
    );
    let s = &inline.section;
    ensure!(
        inline
            .late
            .iter()
            .any(|l| l.begin < s.end && l.end >= s.end),
        "inline: no tick fell due during the section and ran after it"
    );
    ensure!(
        ticks_during(offloaded) > 0,
        "offloaded: no tick during the section"
    );
    let s = &offloaded.section;
    ensure!(
        !offloaded
            .late
            .iter()
            .any(|l| l.begin <= s.begin && l.end >= s.end),
        "offloaded: a tick was late for the whole section"
    );
    Ok(())
}

pub fn svg(provenance: &Provenance) -> anyhow::Result<String> {
    let (inline, offloaded) = (record(Mode::Inline)?, record(Mode::Offload)?);
    check(&inline, &offloaded)?;
    let lanes = |what: &str, run: &Run| {
        [
            Lane {
                name: format!("{what}: blocking section"),
                bars: vec![Bar {
                    from: ms(run.section.begin),
                    to: ms(run.section.end),
                    style: 3,
                }],
                marks: Vec::new(),
            },
            Lane {
                name: format!("{what}: heartbeat late"),
                bars: run
                    .late
                    .iter()
                    .map(|l| Bar {
                        from: ms(l.begin),
                        to: ms(l.end),
                        style: 4,
                    })
                    .collect(),
                marks: Vec::new(),
            },
        ]
    };
    draw::svg(
        &Timeline {
            title: "Chapter 8: heartbeat lateness, blocking section inline vs spawn_blocking",
            lanes: lanes("inline", &inline)
                .into_iter()
                .chain(lanes("spawn_blocking", &offloaded))
                .collect(),
            legend: &["", "", "", "blocking section", "a tick, from due to run"],
        },
        provenance,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_lateness_spans_the_section_and_offloaded_ticks_through_it() {
        check(
            &record(Mode::Inline).unwrap(),
            &record(Mode::Offload).unwrap(),
        )
        .unwrap();
    }
}

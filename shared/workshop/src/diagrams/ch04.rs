//! Chapter 4's lock-order deadlock, recorded step by step: the chapter's own broken demo (`demo
//! lock-order`, sync) under the demo watchdog. Its locks are taken through lock probes, which
//! report every wait and every acquisition to the timeline with the thread; the watchdog's
//! verdict closes the recording. The probes cannot see a release (the guard is the lock's own),
//! and in this run nothing is released: that is the deadlock.

use std::time::Duration;

use anyhow::{bail, ensure};
use ch04_mutex_deadlocks::{LOCKS, WATCH, demo_input, variants::sync::broken_lock_order};
use instruments::run_demo;
use instruments::timeline::{self, Event, What};
use pipeline::Config;

use super::draw::{self, Bar, Lane, Mark, Timeline, ms};
use crate::bench::doc::Provenance;

/// What the watchdog's verdict is recorded as.
const WATCHDOG: &str = "watchdog";

/// Runs the broken lock-order demo until the watchdog gives up on it.
pub fn record() -> anyhow::Result<Vec<Event>> {
    let input = demo_input();
    let (verdict, events) = timeline::record(|| {
        let (verdict, _) = run_demo(
            broken_lock_order,
            &WATCH,
            &input,
            &Config::default(),
            Duration::from_millis(300),
        );
        timeline::point(WATCHDOG, "no progress: gave up");
        verdict
    });
    if !verdict.is_stalled() {
        bail!("the broken lock order did not deadlock: {verdict}");
    }
    Ok(events)
}

/// Per thread: the locks it acquired and the one it began waiting for last and never got.
struct Held<'a> {
    thread: &'a str,
    holds: Vec<&'a str>,
    waits_for: Option<&'a str>,
}

fn threads(events: &[Event]) -> Vec<Held<'_>> {
    let mut held: Vec<Held> = Vec::new();
    for e in events.iter().filter(|e| LOCKS.contains(&e.actor.as_str())) {
        let i = match held.iter().position(|h| h.thread == e.thread) {
            Some(i) => i,
            None => {
                held.push(Held {
                    thread: &e.thread,
                    holds: Vec::new(),
                    waits_for: None,
                });
                held.len() - 1
            }
        };
        match e.what {
            What::Begin("wait") => held[i].waits_for = Some(&e.actor),
            What::Point("acquired") => {
                held[i].waits_for = None;
                held[i].holds.push(&e.actor);
            }
            _ => {}
        }
    }
    held
}

/// The cycle: two threads, A holds X and waits for Y, B holds Y and waits for X, every one of
/// those steps recorded before the watchdog gave up.
pub fn check(events: &[Event]) -> anyhow::Result<()> {
    let Some(deadline) = events.iter().find(|e| e.actor == WATCHDOG).map(|e| e.at) else {
        bail!("no watchdog verdict recorded");
    };
    ensure!(
        events
            .iter()
            .filter(|e| LOCKS.contains(&e.actor.as_str()))
            .all(|e| e.at <= deadline),
        "a lock event came after the watchdog gave up"
    );
    let held = threads(events);
    ensure!(held.len() == 2, "{} threads used the locks", held.len());
    let (a, b) = (&held[0], &held[1]);
    for (me, other) in [(a, b), (b, a)] {
        let Some(wanted) = me.waits_for else {
            bail!("thread {} is not left waiting", me.thread);
        };
        ensure!(
            other.holds.contains(&wanted) && !me.holds.contains(&wanted),
            "thread {} waits for {wanted}, which the other thread does not hold",
            me.thread
        );
    }
    ensure!(
        a.waits_for != b.waits_for,
        "both threads wait for the same lock: not a cycle"
    );
    Ok(())
}

pub fn svg(provenance: &Provenance) -> anyhow::Result<String> {
    let events = record()?;
    check(&events)?;
    let deadline = events
        .iter()
        .find(|e| e.actor == WATCHDOG)
        .map_or(0.0, |e| ms(e.at));
    let mut lanes = Vec::new();
    for (n, h) in threads(&events).iter().enumerate() {
        let mine = || events.iter().filter(|e| e.thread == h.thread);
        let mut holds = Lane {
            name: format!("thread {} holds", n + 1),
            bars: Vec::new(),
            marks: Vec::new(),
        };
        let mut waits = Lane {
            name: format!("thread {} waits for", n + 1),
            bars: Vec::new(),
            marks: Vec::new(),
        };
        for e in mine() {
            let style = LOCKS.iter().position(|l| *l == e.actor).unwrap_or(0) + 2;
            match e.what {
                What::Point("acquired") => {
                    holds.bars.push(Bar {
                        from: ms(e.at),
                        to: deadline,
                        style,
                    });
                    holds.marks.push(Mark {
                        at: ms(e.at),
                        label: format!(" {}", e.actor),
                        tick: true,
                    });
                }
                What::Begin("wait") => {
                    let got = mine()
                        .find(|a| a.at >= e.at && a.actor == e.actor && a.what == What::End("wait"))
                        .map_or(deadline, |a| ms(a.at));
                    waits.bars.push(Bar {
                        from: ms(e.at),
                        to: got,
                        style,
                    });
                    // Only the wait that never ends is named: a brief one would overprint it.
                    if got >= deadline {
                        waits.marks.push(Mark {
                            at: ms(e.at),
                            label: format!(" {}", e.actor),
                            tick: true,
                        });
                    }
                }
                _ => {}
            }
        }
        lanes.push(holds);
        lanes.push(waits);
    }
    lanes.push(Lane {
        name: "demo watchdog".into(),
        bars: Vec::new(),
        marks: vec![Mark {
            at: deadline,
            label: "gave up ".into(),
            tick: false,
        }],
    });
    draw::svg(
        &Timeline {
            title: "Chapter 4: lock-order deadlock, who holds and who waits (sync)",
            lanes,
            legend: &["", "", "cache lock", "stats lock"],
        },
        provenance,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_thread_holds_the_lock_the_other_waits_for_until_the_watchdog_gives_up() {
        check(&record().unwrap()).unwrap();
    }
}

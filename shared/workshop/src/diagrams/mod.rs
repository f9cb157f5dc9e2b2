//! `diagrams`: the book's run-time diagrams, drawn from real runs. Each one runs a chapter's own
//! code with the [`instruments::timeline`] recorder on (the chapters' hooks, the gauges and the
//! lock probes report to it), checks that the recording has the shape the chapter's text
//! claims, and only then draws it as an SVG timeline into `book/src/generated/diagrams/`.
//! A recording with the wrong shape is an error, not a misleading picture.
//!
//! The tests check the same shapes from the recorded events (orders and counts, never
//! durations, never the picture's bytes) and that each SVG parses back.

mod ch01;
mod ch03;
mod ch04;
mod ch07;
mod ch08;
mod draw;

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::bench::doc::{Provenance, check_svg};
use crate::stdout::outln;

/// The command that regenerates the diagrams, as their captions say.
pub const COMMAND: &str = "cargo run --release -- diagrams";

/// The command this build was run as, for the provenance line: a debug build says so.
fn command() -> String {
    if cfg!(debug_assertions) {
        "cargo run -- diagrams (debug build)".into()
    } else {
        COMMAND.into()
    }
}

/// One diagram: its file name and how to record, check and draw it.
struct Diagram {
    file: &'static str,
    what: &'static str,
    draw: fn(&Provenance) -> anyhow::Result<String>,
}

const DIAGRAMS: &[Diagram] = &[
    Diagram {
        file: "ch01-sync-threads.svg",
        what: "chapter 1, sync: one OS thread per stage, blocked while it waits",
        draw: ch01::sync_svg,
    },
    Diagram {
        file: "ch01-tokio-tasks.svg",
        what: "chapter 1, tokio: five stage tasks interleaved on two worker threads",
        draw: ch01::tokio_svg,
    },
    Diagram {
        file: "ch03-queue-depth.svg",
        what: "chapter 3: queue depth over time, unbounded vs bounded",
        draw: ch03::svg,
    },
    Diagram {
        file: "ch04-lock-order-deadlock.svg",
        what: "chapter 4: the lock-order deadlock, step by step",
        draw: ch04::svg,
    },
    Diagram {
        file: "ch07-stop-drain-checkpoint.svg",
        what: "chapter 7: stop, drain, checkpoint",
        draw: ch07::svg,
    },
    Diagram {
        file: "ch08-heartbeat-lateness.svg",
        what: "chapter 8: heartbeat lateness, blocking section inline vs offloaded",
        draw: ch08::svg,
    },
];

/// The default output directory: the book's `src/generated/diagrams/`.
pub fn book_diagrams_dir() -> PathBuf {
    crate::bench::book_generated_dir().join("diagrams")
}

/// Records, checks and draws every diagram into `out` (default: the book's).
pub fn diagrams(out: Option<PathBuf>) -> anyhow::Result<()> {
    let dir = out.unwrap_or_else(book_diagrams_dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let provenance = Provenance::here(command());
    for diagram in DIAGRAMS {
        let path = write(diagram, &dir, &provenance)?;
        outln!("{}: {}", path.display(), diagram.what)?;
    }
    Ok(())
}

fn write(diagram: &Diagram, dir: &Path, provenance: &Provenance) -> anyhow::Result<PathBuf> {
    let svg = (diagram.draw)(provenance).with_context(|| diagram.what)?;
    let path = dir.join(diagram.file);
    std::fs::write(&path, svg).with_context(|| format!("writing {}", path.display()))?;
    check_svg(&path)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Recording every diagram, checking its shape and parsing the SVG back is
    // `tests/cli.rs`'s `the_diagrams_are_recorded_checked_and_drawn`, in a process of its own:
    // the recorder hears every pipeline and gauge in its process, so beside this binary's other
    // tests it would record their runs too.

    #[test]
    fn the_book_shows_every_diagram() {
        let book = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../book/src");
        for diagram in DIAGRAMS {
            let chapter = &diagram.file[..4];
            let page = std::fs::read_dir(&book)
                .unwrap()
                .filter_map(Result::ok)
                .find(|e| e.file_name().to_string_lossy().starts_with(chapter))
                .unwrap_or_else(|| panic!("no page for {chapter}"));
            let text = std::fs::read_to_string(page.path()).unwrap();
            assert!(
                text.contains(&format!("generated/diagrams/{}", diagram.file)),
                "{} does not show {}",
                page.path().display(),
                diagram.file
            );
            assert!(book_diagrams_dir().join(diagram.file).exists());
        }
    }
}

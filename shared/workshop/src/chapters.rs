//! The chapters the workshop knows: one line per chapter crate, each describing itself
//! ([`course::Chapter`]: its variants, reference, tour input, demos, experiments, run flags
//! and child processes). Nothing else in the workshop names a chapter: adding one is a new
//! crate under `chapters/` plus one line here (and its dependency in `Cargo.toml`).

use course::{Chapter, Child, Experiment};
use instruments::Demo;

/// Every chapter, in order.
pub const CHAPTERS: &[&Chapter] = &[
    &ch01_baseline::CHAPTER,
    &ch02_waiting_well::CHAPTER,
    &ch03_backpressure::CHAPTER,
    &ch04_mutex_deadlocks::CHAPTER,
    &ch05_unbounded_spawning::CHAPTER,
    &ch06_error_swallowing::CHAPTER,
    &ch07_cancellation::CHAPTER,
    &ch08_blocking_and_cpu::CHAPTER,
    &ch09_real_io::CHAPTER,
    &ch10_many_connections::CHAPTER,
    &ch11_testing_observability::CHAPTER,
    &ch12_costs::CHAPTER,
    &ch13_scaling_out::CHAPTER,
];

/// The chapter with this number, or an error listing the ones that exist.
pub fn find(number: u32) -> anyhow::Result<&'static Chapter> {
    course::find(CHAPTERS, number).map_err(anyhow::Error::msg)
}

/// Every chapter's live demos, in chapter order.
pub fn all_demos() -> impl Iterator<Item = &'static Demo> {
    CHAPTERS.iter().flat_map(|c| c.demos.iter())
}

/// Every chapter's experiments, with their chapter, in chapter order.
pub fn all_experiments() -> impl Iterator<Item = (&'static Chapter, &'static Experiment)> {
    CHAPTERS
        .iter()
        .flat_map(|c| c.experiments.iter().map(move |e| (*c, e)))
}

/// Every child process a chapter registered (the binary dispatches them before anything else).
pub fn all_children() -> impl Iterator<Item = &'static Child> {
    CHAPTERS.iter().flat_map(|c| c.children.iter())
}

/// The experiment called `name`, if there is one.
pub fn find_experiment(name: &str) -> Option<(&'static Chapter, &'static Experiment)> {
    course::find_experiment(CHAPTERS, name)
}

/// The demo called `name`, or an error listing them all.
pub fn find_demo(name: &str) -> anyhow::Result<&'static Demo> {
    course::find_demo(CHAPTERS, name)
        .map(|(_, demo)| demo)
        .ok_or_else(|| {
            let names: Vec<&str> = all_demos()
                .map(|d| d.name)
                .chain(all_experiments().map(|(_, e)| e.name))
                .collect();
            anyhow::anyhow!("there is no demo `{name}`; available: {}", names.join(", "))
        })
}

#[cfg(test)]
mod tests {
    use pipeline::Variant;

    use super::*;

    #[test]
    fn numbers_slugs_and_names_are_unique_and_in_order() {
        let numbers: Vec<u32> = CHAPTERS.iter().map(|c| c.number).collect();
        assert!(numbers.windows(2).all(|w| w[0] < w[1]), "{numbers:?}");
        for chapter in CHAPTERS {
            assert!(
                chapter.slug.starts_with(&format!("{:02}-", chapter.number)),
                "chapter {}'s slug {} does not start with its number",
                chapter.number,
                chapter.slug
            );
            let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../");
            assert!(
                std::path::Path::new(dir).join(chapter.crate_dir()).is_dir(),
                "chapter {}: no folder {}",
                chapter.number,
                chapter.crate_dir()
            );
        }
        let mut names: Vec<&str> = all_demos()
            .map(|d| d.name)
            .chain(all_experiments().map(|(_, e)| e.name))
            .chain(all_children().map(|c| c.name))
            .collect();
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(
            names.len(),
            count,
            "a demo, experiment or child name is used twice"
        );
    }

    #[test]
    fn every_chapter_lists_the_four_variants_in_the_canonical_order() {
        for chapter in CHAPTERS {
            let listed: Vec<Variant> = chapter.variants.iter().map(|(v, _)| *v).collect();
            assert_eq!(listed, Variant::ALL, "chapter {}", chapter.number);
        }
    }

    #[test]
    fn every_demo_says_which_chapter_lists_it() {
        for chapter in CHAPTERS {
            for demo in chapter.demos {
                assert_eq!(demo.chapter, chapter.number, "demo {}", demo.name);
            }
        }
    }
}

//! The chapters the workshop knows, each with its table of variants.

use pipeline::{RunFn, Variant};

pub struct Chapter {
    pub number: u32,
    pub title: &'static str,
    pub crate_dir: &'static str,
    pub variants: [(Variant, RunFn); 4],
}

/// Every chapter that exists so far, in order. A new chapter crate adds one line here.
pub const CHAPTERS: &[Chapter] = &[Chapter {
    number: 1,
    title: "baseline: one pipeline, four ways",
    crate_dir: "chapters/01-baseline",
    variants: ch01_baseline::VARIANTS,
}];

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
    pub fn run_fn(&self, variant: Variant) -> RunFn {
        self.variants
            .iter()
            .find(|(v, _)| *v == variant)
            .map(|(_, run)| *run)
            .expect("every chapter lists all four variants")
    }
}

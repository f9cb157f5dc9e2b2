//! The descriptor a chapter exports, and the look-ups the workshop does on the list of them.

use std::time::Duration;

use instruments::Demo;
use pipeline::{Config, Input, PipelineError, Report, RunFn, Variant};

use crate::child::Child;
use crate::experiment::Experiment;
use crate::run::{CustomRun, RunFlag};

/// A chapter's reference run: what every variant's report must equal.
pub type ReferenceFn = fn(&Input, &Config) -> Result<Report, PipelineError>;

/// A line the workshop prints under a chapter's tour table, and after `run`, from each
/// variant's wall time (chapter 2's throughput against Little's law).
pub type Note = fn(&Input, &Config, &[(Variant, Duration)]) -> String;

/// Everything the workshop needs to know about a chapter. Fields a chapter does not use are
/// `None` or empty; [`Chapter::BASE`] has them all that way, so a descriptor names only what it
/// has: `Chapter { number: 1, slug: "01-baseline", title: "…", variants: VARIANTS, ..Chapter::BASE }`.
pub struct Chapter {
    pub number: u32,
    /// The crate's folder under `chapters/`, e.g. `"04-mutex-deadlocks"`.
    pub slug: &'static str,
    /// One line: the chapter's idea, as the tour prints it.
    pub title: &'static str,
    /// The runs the tour and the tests compare (for a pitfall chapter: the fixed pipelines).
    pub variants: [(Variant, RunFn); 4],
    /// Whether the tour runs this chapter (`false`: it needs a service the tour does not start).
    pub in_tour: bool,
    /// The chapter's own input, where the tour's dataset would be too slow for it (a chapter
    /// whose registry takes milliseconds per look-up); `None`: the tour's dataset.
    pub input: Option<fn() -> Input>,
    /// What a correct run computes, where that is not the plain sequential reference (chapter
    /// 7's registry hangs on purpose, so its correct report has timed-out readings); `None`:
    /// `pipeline::run_sequential`.
    pub reference: Option<ReferenceFn>,
    /// The live pitfall demos (`workshop demo NAME`).
    pub demos: &'static [Demo],
    /// The live measurements (`workshop demo NAME` too: each prints its table).
    pub experiments: &'static [Experiment],
    /// The processes this chapter re-launches the current executable as.
    pub children: &'static [Child],
    /// The flags of `workshop run` that only this chapter understands.
    pub flags: &'static [RunFlag],
    /// How `workshop run` runs this chapter, when it is more than calling a variant (flags of
    /// its own, a report that is not the end of the story); `None`: the variant's `run`.
    pub custom_run: Option<CustomRun>,
    /// A line under the tour table and after `run`.
    pub note: Option<Note>,
}

impl Chapter {
    /// A descriptor with nothing but placeholders: start from it with `..Chapter::BASE`.
    pub const BASE: Chapter = Chapter {
        number: 0,
        slug: "",
        title: "",
        variants: [
            (Variant::Sync, unnamed),
            (Variant::Tokio, unnamed),
            (Variant::AsyncStd, unnamed),
            (Variant::Smol, unnamed),
        ],
        in_tour: true,
        input: None,
        reference: None,
        demos: &[],
        experiments: &[],
        children: &[],
        flags: &[],
        custom_run: None,
        note: None,
    };

    /// The crate's folder, relative to the workspace root.
    pub fn crate_dir(&self) -> String {
        format!("chapters/{}", self.slug)
    }

    /// The report every variant must give on `input`.
    pub fn reference(&self, input: &Input, cfg: &Config) -> Result<Report, PipelineError> {
        self.reference.unwrap_or(pipeline::run_sequential)(input, cfg)
    }

    /// The variant's run.
    pub fn run_fn(&self, variant: Variant) -> RunFn {
        self.variants
            .iter()
            .find(|(v, _)| *v == variant)
            .map_or(unnamed, |(_, run)| *run)
    }

    /// `chapter N (title)`.
    pub fn label(&self) -> String {
        format!("{} ({})", self.number, self.title)
    }
}

/// [`Chapter::BASE`]'s placeholder run: a descriptor that forgot its variants fails loudly.
fn unnamed(_: &Input, _: &Config) -> Result<Report, PipelineError> {
    Err(PipelineError::Config(
        "this chapter's descriptor lists no run for this variant".into(),
    ))
}

/// The chapter with this number, or a message listing the ones that exist.
pub fn find(chapters: &[&'static Chapter], number: u32) -> Result<&'static Chapter, String> {
    chapters
        .iter()
        .copied()
        .find(|c| c.number == number)
        .ok_or_else(|| {
            let known: Vec<String> = chapters.iter().map(|c| c.label()).collect();
            format!(
                "there is no chapter {number} yet; available: {}",
                known.join(", ")
            )
        })
}

/// The demo called `name`, with its chapter.
pub fn find_demo(
    chapters: &[&'static Chapter],
    name: &str,
) -> Option<(&'static Chapter, &'static Demo)> {
    chapters
        .iter()
        .flat_map(|c| c.demos.iter().map(move |d| (*c, d)))
        .find(|(_, d)| d.name == name)
}

/// The experiment called `name`, with its chapter.
pub fn find_experiment(
    chapters: &[&'static Chapter],
    name: &str,
) -> Option<(&'static Chapter, &'static Experiment)> {
    chapters
        .iter()
        .flat_map(|c| c.experiments.iter().map(move |e| (*c, e)))
        .find(|(_, e)| e.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: Chapter = Chapter {
        number: 1,
        slug: "01-one",
        title: "one",
        ..Chapter::BASE
    };
    const TWO: Chapter = Chapter {
        number: 2,
        slug: "02-two",
        title: "two",
        ..Chapter::BASE
    };
    const LIST: &[&Chapter] = &[&ONE, &TWO];

    #[test]
    fn find_names_the_chapters_that_exist_when_the_number_is_unknown() {
        assert_eq!(find(LIST, 2).map(|c| c.slug), Ok("02-two"));
        let missing = find(LIST, 3).map(|c| c.slug).unwrap_err();
        assert_eq!(
            missing,
            "there is no chapter 3 yet; available: 1 (one), 2 (two)"
        );
    }

    #[test]
    fn a_descriptor_without_variants_fails_instead_of_running_something_else() {
        let input = Input::from_text("t", "");
        let err = ONE.run_fn(Variant::Tokio)(&input, &Config::default()).unwrap_err();
        assert!(err.to_string().contains("lists no run"), "{err}");
        assert_eq!(ONE.crate_dir(), "chapters/01-one");
    }
}

//! How a chapter describes itself to the workshop.
//!
//! Each chapter crate exports one [`Chapter`] (`pub const CHAPTER: course::Chapter`): its
//! variants, what a correct run computes, the input the tour gives it, its live demos and
//! experiments, the flags `workshop run` accepts for it, and the child processes it re-launches
//! itself as. The workshop binary only iterates over a list of these descriptors; it never
//! branches on a chapter's number. Adding a chapter is a new crate plus one line in that list.
//!
//! Why a crate of its own: the descriptor is the one thing every chapter and the workshop must
//! agree on, and nothing else. It holds no pipeline logic (that is `pipeline`), no runtime
//! (that is `runtimes`) and no command-line parsing (that is the workshop's).
//!
//! - [`chapter`]: the descriptor and the list's look-ups;
//! - [`experiment`]: a measurement a session runs live (a table, not a verdict);
//! - [`run`]: how a chapter that takes flags of its own (`--faults`, `--resume`, …) runs;
//! - [`child`]: child processes by registration: a chapter names its entry point, the binary
//!   dispatches it, and no library spells a subcommand.
#![forbid(unsafe_code)]

pub mod chapter;
pub mod child;
pub mod experiment;
pub mod run;
pub mod text;

pub use chapter::{Chapter, Note, ReferenceFn, find, find_demo, find_experiment};
pub use child::{Child, ChildArgs};
pub use experiment::{Experiment, ExperimentIo};
pub use run::{CustomRun, Exit, Ran, RunFlag, RunRequest};

/// What a chapter's hooks return when they fail: any error, with its chain.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

//! What can stop a pipeline run. Bad *records* are not errors: they are rejections, counted in
//! the report. A [`PipelineError`] means the run itself could not finish.

use std::any::Any;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("cannot read input {}", path.display())]
    ReadInput {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write output {}", path.display())]
    WriteOutput {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A runtime or a thread could not be started (`what`: "the tokio runtime", "a stage thread").
    #[error("cannot start {what}")]
    Start {
        what: &'static str,
        source: std::io::Error,
    },
    #[error("stage `{stage}` panicked: {message}")]
    StagePanicked {
        stage: &'static str,
        message: String,
    },
    /// A stage's task was cancelled before it finished (tokio reports this on join).
    #[error("stage `{stage}` was cancelled before it finished")]
    StageCancelled { stage: &'static str },
    /// A stage could not hand its output on because the next stage had already stopped. This is
    /// a symptom; [`crate::cause_of`] picks the downstream cause instead whenever there is one.
    #[error("stage `{stage}` stopped early: the next stage is gone")]
    ChannelClosed { stage: &'static str },
    /// A stage gave up waiting (an in-runtime timeout fired).
    #[error("stage `{stage}` timed out after {after:?}")]
    TimedOut {
        stage: &'static str,
        after: std::time::Duration,
    },
    #[error("invalid configuration: {0}")]
    Config(String),
}

impl PipelineError {
    /// The error a stage reports when its downstream channel is closed.
    pub fn closed(stage: &'static str) -> Self {
        PipelineError::ChannelClosed { stage }
    }
}

/// An error and all its causes on one line: `cannot write output x.jsonl: No such file or
/// directory (os error 2)`. (Messages do not repeat their cause; `source()` carries it.)
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        text.push_str(": ");
        text.push_str(&e.to_string());
        cause = e.source();
    }
    text
}

/// The message inside a panic payload (`&str` or `String`), or a placeholder.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a panic payload that is not a string)".to_owned()
    }
}

//! One shape for everything that goes wrong at the database.
//!
//! Both are [`PipelineError::WriteOutput`] with the database as the path: the pipeline's
//! output *is* the database, and its error messages already say `cannot write output <path>:
//! <cause>`. The cause says *what* (which step, which lines, which window or batch) and then
//! why.

use std::fmt;
use std::io;
use std::path::PathBuf;

use pipeline::PipelineError;

/// A database error (from `postgres` or `tokio-postgres`) while doing `what` at `place`, with
/// the server's own message and every cause under it.
pub fn db_error(
    place: &str,
    what: impl fmt::Display,
    error: &dyn std::error::Error,
) -> PipelineError {
    PipelineError::WriteOutput {
        path: PathBuf::from(place),
        source: io::Error::other(format!("{what}: {}", pipeline::error_chain(error))),
    }
}

/// A refusal that is ours, not the server's: the tables hold something this run must not go
/// on from (another input's checkpoint, a queue not drained, a batch someone else did).
pub fn state_error(place: &str, what: impl fmt::Display) -> PipelineError {
    PipelineError::WriteOutput {
        path: PathBuf::from(place),
        source: io::Error::other(what.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn where_comes_first_then_what_then_why() {
        let cause = io::Error::other("connection refused");
        let err = db_error("postgresql://ana@db:5432/x", "cannot connect", &cause);
        assert_eq!(
            pipeline::error_chain(&err),
            "cannot write output postgresql://ana@db:5432/x: cannot connect: connection refused"
        );
        let err = state_error("postgresql://ana@db:5432/x", "the queue is not drained");
        assert_eq!(
            pipeline::error_chain(&err),
            "cannot write output postgresql://ana@db:5432/x: the queue is not drained"
        );
    }
}

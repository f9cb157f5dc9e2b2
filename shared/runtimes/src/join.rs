//! What a joined task's result means. std threads, async-std and smol hand back a panic as the
//! payload `catch_unwind` gives ([`pipeline::joined`] turns it into an error); tokio hands back
//! a [`JoinError`], which also says when the task was cancelled instead.

use pipeline::{PipelineError, panic_message};
use tokio::task::JoinError;

// ANCHOR: tokio_joined
/// A tokio task's output, or why there is none. Awaiting a `JoinHandle` (or a `JoinSet`'s
/// `join_next`) gives a `JoinError` when the task panicked — tokio caught the panic — or was
/// cancelled (aborted, or its runtime shut down first). Both become errors naming the stage.
///
/// The task's output is returned as it is, unlike [`pipeline::joined`]'s: for a stage that
/// returns its own `Result`, `tokio_joined(stage, handle.await)?` is that result; a task that
/// returns a plain value (a `JoinSet`'s worker) needs no wrapping.
pub fn tokio_joined<T>(
    stage: &'static str,
    result: Result<T, JoinError>,
) -> Result<T, PipelineError> {
    result.map_err(|e| match e.try_into_panic() {
        Ok(payload) => PipelineError::StagePanicked {
            stage,
            message: panic_message(&*payload),
        },
        Err(_) => PipelineError::StageCancelled { stage },
    })
}
// ANCHOR_END: tokio_joined

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use instruments::{TEST_DEADLINE, run_with_deadline};

    use super::*;

    fn joined<T: Send + 'static>(
        task: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, PipelineError> {
        run_with_deadline("joined", TEST_DEADLINE, move || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async { tokio_joined("enrich", tokio::spawn(task).await) })
        })
        .expect_finished("a tokio task, joined")
    }

    #[test]
    fn an_output_passes_through_untouched() {
        assert_eq!(joined(async { 42 }).unwrap(), 42);
        let own_error = joined(async { Err::<(), _>(PipelineError::closed("enrich")) }).unwrap();
        assert!(matches!(
            own_error,
            Err(PipelineError::ChannelClosed { .. })
        ));
    }

    #[test]
    fn a_panic_becomes_an_error_with_its_message() {
        let err = joined(async { panic!("no calibration for {}", "s-0042") }).unwrap_err();
        assert_eq!(
            err.to_string(),
            "stage `enrich` panicked: no calibration for s-0042"
        );
        let err = joined(async { std::panic::panic_any(7_u32) }).unwrap_err();
        assert_eq!(
            err.to_string(),
            "stage `enrich` panicked: (a panic payload that is not a string)"
        );
    }

    #[test]
    fn a_cancelled_task_is_not_a_panic() {
        // Were the abort lost, this would wait an hour: under a deadline, that fails instead.
        let err = run_with_deadline("aborted", TEST_DEADLINE, || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async {
                let task = tokio::spawn(tokio::time::sleep(Duration::from_secs(3600)));
                task.abort();
                tokio_joined("sink", task.await).unwrap_err()
            })
        })
        .expect_finished("an aborted tokio task, joined");
        assert_eq!(
            err.to_string(),
            "stage `sink` was cancelled before it finished"
        );
    }
}

//! What a worker's one transaction is about: the batch it claimed, and what came of it.
//!
//! A leaf: the queue's transactions and the worker's bookkeeping both speak of these. With them
//! here, the worker needs nothing of the queue; the queue's transaction uses the worker, and
//! not the other way round.

/// A batch a worker has claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    pub id: i64,
    pub first_line: i64,
    pub lines: Vec<String>,
}

impl Claimed {
    pub fn last_line(&self) -> i64 {
        self.first_line + self.lines.len() as i64 - 1
    }
}

/// What one transaction did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Claimed, processed and committed this batch.
    Committed { batch: i64, lines: u64 },
    /// Nothing to claim, but batches are pending: other workers hold them. One may die and
    /// release its batch, so look again in a moment.
    Wait,
    /// Nothing pending: the queue is drained.
    Drained,
}

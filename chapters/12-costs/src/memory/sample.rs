//! One child's raw numbers, as it prints them.

use pipeline::Variant;
use serde::{Deserialize, Serialize};

use super::ProcSnapshot;
#[cfg(doc)]
use super::idle_main;
use crate::serde_variant;

/// One child's raw numbers: what [`idle_main`] prints, as one line of JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdleSample {
    #[serde(with = "serde_variant")]
    pub variant: Variant,
    /// Units spawned.
    pub count: usize,
    /// Before spawning (the runtime, if any, already started and warmed up).
    pub before: ProcSnapshot,
    /// While every unit has started and waits.
    pub during: ProcSnapshot,
    /// Time spent in the spawn calls, all units.
    pub spawn_ns: u64,
    /// Time from the first spawn until every unit had started running (and was about to
    /// wait): for threads the OS's work, for tasks the workers polling each one once.
    pub ready_ns: u64,
    /// What one unit hands to `spawn`: the closure (threads) or the future (tasks), from
    /// `size_of_val`. For a task this *is* the state it keeps while it waits; for a thread
    /// the closure is moved onto a stack of its own.
    pub unit_bytes: usize,
    /// The stack each thread reserves (sync only): `RUST_MIN_STACK`, else std's 2 MiB.
    pub thread_stack_bytes: Option<u64>,
    /// Units that, once released, returned the state they had kept intact. Must be `count`.
    pub released: usize,
}

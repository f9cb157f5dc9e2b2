//! The enrich stage's work on one batch, the way the broken pipelines do it and the way the
//! fixed ones do. The difference is not about concurrency, so it is written once, here; the
//! variants differ in how they spawn and join the tasks that call it.

use std::panic::{AssertUnwindSafe, catch_unwind};

use instruments::FaultPlan;
use pipeline::{Enriched, LookupError, Parsed, Registry, SensorInfo, enrich_with};

// ANCHOR: swallowing
/// BROKEN ON PURPOSE: a failed look-up is skipped — "we'll log it later" — so the reading is
/// neither accepted nor rejected: it vanishes. A panicking look-up takes the whole task with it.
pub fn enrich_swallowing(
    batch: Vec<Parsed>,
    registry: &dyn Registry,
    plan: &FaultPlan,
) -> Vec<Enriched> {
    let mut enriched = Vec::with_capacity(batch.len());
    for parsed in batch {
        match parsed {
            Err(rejection) => enriched.push(Err(rejection)),
            Ok(reading) => {
                if let Ok(info) = plan.lookup(registry, &reading) {
                    enriched.push(enrich_with(reading, Ok(info)));
                }
            }
        }
    }
    enriched
}
// ANCHOR_END: swallowing

// ANCHOR: guarded
/// FIXED: every reading comes out, accepted or rejected with its reason. A failed look-up is a
/// typed rejection ("registry error"); a panicking one is caught *at the reading*, so one bad
/// record costs one record — dead-lettered as "look-up panicked" — not the whole batch.
pub fn enrich_guarded(
    batch: Vec<Parsed>,
    registry: &dyn Registry,
    plan: &FaultPlan,
) -> Vec<Enriched> {
    batch
        .into_iter()
        .map(|parsed| {
            let reading = parsed?;
            let found = guarded_lookup(registry, plan, &reading);
            enrich_with(reading, found)
        })
        .collect()
}

/// A look-up whose panic becomes [`LookupError::Panicked`]. `AssertUnwindSafe` is sound here:
/// the closure only reads the registry and the plan, and nothing it could leave half-updated
/// is used after a panic.
fn guarded_lookup(
    registry: &dyn Registry,
    plan: &FaultPlan,
    reading: &pipeline::Reading,
) -> Result<SensorInfo, LookupError> {
    catch_unwind(AssertUnwindSafe(|| plan.lookup(registry, reading)))
        .unwrap_or(Err(LookupError::Panicked))
}
// ANCHOR_END: guarded

/// The readings of one worker's share, in batches of `batch_size`.
pub fn batches(part: Vec<Parsed>, batch_size: usize) -> Vec<Vec<Parsed>> {
    let mut batches = Vec::new();
    let mut records = part.into_iter().peekable();
    while records.peek().is_some() {
        batches.push(records.by_ref().take(batch_size.max(1)).collect());
    }
    batches
}

//! The sensor-readings domain: everything in the pipeline that is *not* about concurrency.
//!
//! Every chapter builds the same pipeline,
//!
//! ```text
//! source → parse + validate → enrich (registry) → aggregate (per sensor per minute) → sink
//! ```
//!
//! four times: with std threads, tokio, async-std and smol. The stages' *logic* lives here, once,
//! as plain synchronous functions on batches ([`parse_batch`], [`enrich_batch`],
//! [`Aggregator`], [`Sink`]); a chapter's variant only decides *how the stages run and talk*
//! (threads or tasks, which channels, how they are joined). That split is what lets a reader diff
//! two variants and see nothing but the concurrency model change, and it is why the four variants
//! can be held to a byte-identical [`Report`].
//!
//! The crate is pure and sync: no runtime, no I/O except the file sink and [`Input::from_file`].
#![forbid(unsafe_code)]

pub mod config;
pub mod dataset;
pub mod enrich;
pub mod error;
pub mod input;
pub mod reading;
pub mod registry;
pub mod report;
pub mod seeded;
pub mod sink;
pub mod stages;
pub mod trace;
pub mod variant;
pub mod window;

pub use config::{Config, Progress};
pub use dataset::{Dataset, DatasetSpec};
pub use enrich::{Enriched, EnrichedReading, enrich, enrich_batch, enrich_with};
pub use error::{PipelineError, error_chain, panic_message};
pub use input::{Input, LineBatch, RawLine};
pub use reading::{Field, Parsed, Reading, RejectReason, Rejection, parse_batch, parse_line};
pub use registry::{FleetRegistry, LookupError, Registry, SensorInfo};
pub use report::Report;
pub use sink::{JsonLinesSink, ReportOnlySink, Sink, SinkTarget};
pub use stages::{StageResults, Work, cause_of, finish, joined, run_sequential};
pub use variant::{RunFn, Variant};
pub use window::{Aggregator, Tally, WindowSummary};

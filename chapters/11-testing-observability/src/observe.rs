//! Seeing what a run did: the spans and events every variant emits, captured for tests; a
//! human-readable log for a terminal; tokio-console behind the `console` feature.
//!
//! Every variant emits the same trace:
//!
//! ```text
//! pipeline {variant}
//! └─ stage {stage}                      source, enrich, aggregate
//!    └─ batch {first_line, lines}       in the enrich stage, one per batch
//!       ├─ lookup {sensor, line}        one per reading that parsed
//!       │  └─ events: attempt, answered, timed out, retrying, gave up   {attempt}
//!       └─ event: rejected {line, reason}                               one per rejection
//! ```
//!
//! [`Capture`] records that tree as plain data, so that a test can compare four variants'
//! traces, and count what is in them.

use std::cell::RefCell;
use std::fmt;
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// A span or an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Span,
    Event,
}

/// One captured span or event, as plain data.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Record {
    pub kind: Kind,
    /// The span's name, or the event's message.
    pub name: String,
    /// The name of the span it was opened or emitted in (`None` for the root).
    pub parent: Option<String>,
    /// Its fields, sorted by name, values as text.
    pub fields: Vec<(String, String)>,
    /// When, on the capture's time source (if it has one).
    pub at: Option<Duration>,
}

impl Record {
    /// The value of field `name`.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(field, _)| field == name)
            .map(|(_, value)| value.as_str())
    }
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            Kind::Span => "span",
            Kind::Event => "event",
        };
        write!(
            f,
            "{kind} {:?} in {}",
            self.name,
            self.parent.as_deref().unwrap_or("-")
        )?;
        for (name, value) in &self.fields {
            write!(f, " {name}={value}")?;
        }
        if let Some(at) = self.at {
            write!(f, " at {at:?}")?;
        }
        Ok(())
    }
}

type TimeSource = Box<dyn Fn() -> Duration + Send + Sync>;

// ANCHOR: capture
/// Records every span and event under a root span, from whichever thread or task they come.
///
/// The capture is chosen by the root: a span named `root` that has no parent and is opened on
/// a thread where [`Capture::start`] is in force belongs to this capture, and so does everything
/// opened or emitted inside it, on any thread — *if* the code carried the span over to that
/// thread or task. A span opened with no current span is a root of its own (an orphan) and is
/// not captured: exactly what a test of context propagation needs to see.
///
/// One global subscriber serves every capture in the process, so tests that run side by side
/// each see only their own run.
#[derive(Clone)]
pub struct Capture {
    inner: Arc<Inner>,
}

struct Inner {
    root: &'static str,
    time: Option<TimeSource>,
    records: Mutex<Vec<Record>>,
}

thread_local! {
    /// The capture that root spans opened on this thread go to.
    static RECORDING: RefCell<Option<Capture>> = const { RefCell::new(None) };
}

impl Capture {
    /// A capture of the trees under spans named `root`.
    pub fn new(root: &'static str) -> Capture {
        Capture::with_time(root, None)
    }

    /// The same, stamping every span and event with `now()`: a paused tokio clock's elapsed
    /// time, a manual clock's time.
    pub fn timed(
        root: &'static str,
        now: impl Fn() -> Duration + Send + Sync + 'static,
    ) -> Capture {
        Capture::with_time(root, Some(Box::new(now)))
    }

    fn with_time(root: &'static str, time: Option<TimeSource>) -> Capture {
        install();
        Capture {
            inner: Arc::new(Inner {
                root,
                time,
                records: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Until the guard is dropped, root spans named `root` opened on *this thread* go to
    /// this capture.
    pub fn start(&self) -> Recording {
        RECORDING.with(|current| *current.borrow_mut() = Some(self.clone()));
        Recording(())
    }

    /// Runs `work` with this capture started on this thread.
    pub fn record<T>(&self, work: impl FnOnce() -> T) -> T {
        let _recording = self.start();
        work()
    }

    /// Everything captured so far, in the order it happened.
    pub fn records(&self) -> Vec<Record> {
        self.inner.records.lock().expect("never poisoned").clone()
    }

    fn push(&self, mut record: Record) {
        record.at = self.inner.time.as_ref().map(|now| now());
        self.inner
            .records
            .lock()
            .expect("never poisoned")
            .push(record);
    }
}
// ANCHOR_END: capture

/// Stops a [`Capture`] on this thread when dropped.
pub struct Recording(());

impl Drop for Recording {
    fn drop(&mut self) {
        RECORDING.with(|current| current.borrow_mut().take());
    }
}

/// Installs the process-wide subscriber that feeds every [`Capture`], once.
///
/// # Panics
/// If some other global subscriber was installed first.
fn install() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(CaptureLayer))
            .expect("no other global tracing subscriber may be installed alongside a Capture");
    });
}

/// Stored in a captured span's extensions: whose capture it belongs to.
struct Captured(Capture);

// ANCHOR: layer
/// The layer behind [`Capture`]: a span inherits its parent's capture; a root span named after
/// a capture started on this thread starts one; events go to their span's capture.
struct CaptureLayer;

impl<S> Layer<S> for CaptureLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let parent = span.parent();
        let capture = match &parent {
            Some(parent) => parent.extensions().get::<Captured>().map(|c| c.0.clone()),
            None => RECORDING
                .with(|current| current.borrow().clone())
                .filter(|capture| capture.inner.root == span.name()),
        };
        let Some(capture) = capture else { return };
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        capture.push(Record {
            kind: Kind::Span,
            name: span.name().to_owned(),
            parent: parent.map(|p| p.name().to_owned()),
            fields: fields.sorted(),
            at: None,
        });
        span.extensions_mut().insert(Captured(capture));
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.event_span(event) else {
            return;
        };
        let Some(capture) = span.extensions().get::<Captured>().map(|c| c.0.clone()) else {
            return;
        };
        let mut fields = Fields::default();
        event.record(&mut fields);
        let message = fields.take("message").unwrap_or_default();
        capture.push(Record {
            kind: Kind::Event,
            name: message,
            parent: Some(span.name().to_owned()),
            fields: fields.sorted(),
            at: None,
        });
    }
}
// ANCHOR_END: layer

/// A field visitor that keeps every value as text.
#[derive(Default)]
struct Fields(Vec<(String, String)>);

impl Fields {
    fn take(&mut self, name: &str) -> Option<String> {
        let at = self.0.iter().position(|(field, _)| field == name)?;
        Some(self.0.remove(at).1)
    }

    fn sorted(mut self) -> Vec<(String, String)> {
        self.0.sort();
        self.0
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name().to_owned(), value.to_owned()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }
}

// ANCHOR: fmt
/// A human-readable log on stderr of everything at `level` and above (`INFO`: stages, batches,
/// rejections, timeouts; `DEBUG` adds every look-up and attempt). Each line shows the spans it
/// happened in, e.g. `pipeline{variant="tokio"}:stage{stage="enrich"}:batch{first_line=1
/// lines=512}: ch11_testing_observability: rejected line=43 reason="empty line"`. Colours only
/// on a terminal. Returns `false` if a global subscriber was already installed.
pub fn init_log(level: tracing::Level) -> bool {
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init()
        .is_ok()
}
// ANCHOR_END: fmt

// ANCHOR: console
/// tokio-console: serves the runtime's task data on `127.0.0.1:6669` for the `tokio-console`
/// client, and logs like [`init_log`] at `INFO`. It only sees tasks when the program was built
/// with `RUSTFLAGS="--cfg tokio_unstable"` (tokio's task instrumentation is unstable API), and
/// only tokio's tasks: async-std's and smol's executors have no such hooks.
#[cfg(feature = "console")]
pub fn init_console() {
    use tracing_subscriber::util::SubscriberInitExt;
    tracing_subscriber::registry()
        .with(console_subscriber::spawn())
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(tracing_subscriber::filter::LevelFilter::INFO),
        )
        .init();
}
// ANCHOR_END: console

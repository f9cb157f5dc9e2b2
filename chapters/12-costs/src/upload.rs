//! Exercise 12's harness: a gateway's upload task, and the probes that see what it keeps while
//! it waits.
//!
//! A gateway sends a frame of raw lines for one sensor. The upload task reads the frame, fetches
//! the sensor's calibration from a slow service (thousands of uploads wait on it at once) and
//! returns the frame's calibrated summary. What the task keeps across that `.await` is what each
//! waiting upload costs: it is part of the task's future, the "state handed to spawn" of the
//! memory table. A frame is a fixed read buffer of [`FRAME_BYTES`] held inline, so a task that
//! keeps it while it waits weighs 16 KiB instead of a few hundred bytes.
//!
//! Everything a learner could use to fake the result is out of reach: a [`Frame`] comes only
//! from a [`Link`], a [`Summary`] only from [`FrameTally::calibrated`], and a [`Fetch`] resolves
//! only when the harness opens its [`Gate`]. The probes ([`UploadProbe`]) record whether the
//! frame was still alive when the task started to wait, and whether it was ever dropped.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use pipeline::{FleetRegistry, Registry, SensorInfo, parse_line};

/// A frame's read buffer: the lines as they came off the wire, held inline.
pub const FRAME_BYTES: usize = 16 * 1024;

/// What one upload's probe saw.
#[derive(Debug, Default)]
pub struct UploadProbe {
    frames_alive: AtomicUsize,
    frames_read: AtomicUsize,
    fetches: AtomicUsize,
    /// Whether the frame was alive the first time the task waited for its calibration.
    frame_alive_while_waiting: AtomicBool,
    waited: AtomicBool,
}

impl UploadProbe {
    /// Frames read and not dropped yet (a frame that was `mem::forget`-ten stays alive).
    pub fn frames_alive(&self) -> usize {
        self.frames_alive.load(Ordering::SeqCst)
    }

    pub fn frames_read(&self) -> usize {
        self.frames_read.load(Ordering::SeqCst)
    }

    /// Calibrations fetched.
    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    /// Whether the task has waited for a calibration (a fetch was polled and was pending).
    pub fn waited(&self) -> bool {
        self.waited.load(Ordering::SeqCst)
    }

    /// Whether the frame was still alive when the task began to wait.
    pub fn frame_alive_while_waiting(&self) -> bool {
        self.frame_alive_while_waiting.load(Ordering::SeqCst)
    }
}

/// One gateway's connection: it delivers exactly one frame.
#[derive(Debug)]
pub struct Link {
    lines: Arc<[String]>,
    probe: Arc<UploadProbe>,
}

impl Link {
    /// A link that will deliver `lines` (which must fit in [`FRAME_BYTES`]), watched by `probe`.
    pub fn new(lines: Arc<[String]>, probe: Arc<UploadProbe>) -> Link {
        Link { lines, probe }
    }

    /// Reads the frame off the wire into a buffer of its own.
    pub fn read_frame(self) -> Frame {
        let mut bytes = [0u8; FRAME_BYTES];
        let mut len = 0;
        for line in self.lines.iter() {
            let end = len + line.len() + 1;
            assert!(
                end <= FRAME_BYTES,
                "a frame holds at most {FRAME_BYTES} bytes"
            );
            bytes[len..end - 1].copy_from_slice(line.as_bytes());
            bytes[end - 1] = b'\n';
            len = end;
        }
        self.probe.frames_read.fetch_add(1, Ordering::SeqCst);
        self.probe.frames_alive.fetch_add(1, Ordering::SeqCst);
        Frame {
            bytes,
            len,
            probe: self.probe,
        }
    }
}

/// The raw lines of one frame, in a fixed 16 KiB buffer, as a reader fills it.
pub struct Frame {
    bytes: [u8; FRAME_BYTES],
    len: usize,
    probe: Arc<UploadProbe>,
}

impl Frame {
    fn text(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len]).expect("a frame holds text")
    }

    /// The sensor the frame is from: its first line's first field.
    pub fn sensor(&self) -> &str {
        self.text()
            .lines()
            .next()
            .and_then(|line| line.split(',').next())
            .unwrap_or("")
    }
}

impl Drop for Frame {
    fn drop(&mut self) {
        self.probe.frames_alive.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What a frame reduces to before calibration: a few numbers. Only [`tally`] makes one.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameTally {
    sensor: String,
    readings: u64,
    rejected: u64,
    sum: f64,
    min: f64,
    max: f64,
}

/// The calibrated summary of one frame. Only [`FrameTally::calibrated`] makes one.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub sensor: String,
    pub site: String,
    pub readings: u64,
    pub rejected: u64,
    pub mean: f64,
    pub min: f64,
    pub max: f64,
}

/// Parses the frame's lines and reduces them to a [`FrameTally`] (raw values, uncalibrated).
pub fn tally(frame: &Frame) -> FrameTally {
    let mut tally = FrameTally {
        sensor: frame.sensor().to_owned(),
        readings: 0,
        rejected: 0,
        sum: 0.0,
        min: f64::INFINITY,
        max: f64::NEG_INFINITY,
    };
    for (n, line) in frame.text().lines().enumerate() {
        match parse_line(n as u64 + 1, line) {
            Ok(reading) => {
                tally.readings += 1;
                tally.sum += reading.value;
                tally.min = tally.min.min(reading.value);
                tally.max = tally.max.max(reading.value);
            }
            Err(_) => tally.rejected += 1,
        }
    }
    tally
}

impl FrameTally {
    /// The sensor whose calibration this tally needs.
    pub fn sensor(&self) -> &str {
        &self.sensor
    }

    /// The summary, with the calibration offset applied to every value.
    pub fn calibrated(self, info: &SensorInfo) -> Summary {
        let n = self.readings as f64;
        let (mean, min, max) = if self.readings == 0 {
            (0.0, 0.0, 0.0)
        } else {
            (
                self.sum / n + info.offset,
                self.min + info.offset,
                self.max + info.offset,
            )
        };
        Summary {
            sensor: self.sensor,
            site: info.site.to_string(),
            readings: self.readings,
            rejected: self.rejected,
            mean,
            min,
            max,
        }
    }
}

/// The frame's calibrated summary in one call: [`tally`], then [`FrameTally::calibrated`].
pub fn summarize(frame: &Frame, info: &SensorInfo) -> Summary {
    tally(frame).calibrated(info)
}

/// Holds every fetch until the harness opens it.
#[derive(Debug, Clone, Default)]
pub struct Gate {
    shared: Arc<GateState>,
}

#[derive(Debug, Default)]
struct GateState {
    open: AtomicBool,
    waiting: Mutex<Vec<Waker>>,
}

impl Gate {
    /// Lets every fetch, waiting or future, resolve.
    pub fn open(&self) {
        self.shared.open.store(true, Ordering::SeqCst);
        let waiting = std::mem::take(&mut *self.shared.waiting.lock().expect("not poisoned"));
        waiting.into_iter().for_each(Waker::wake);
    }
}

/// The calibration service: slow, so every upload waits on it.
#[derive(Clone)]
pub struct Calibrations {
    registry: Arc<FleetRegistry>,
    gate: Gate,
    probe: Arc<UploadProbe>,
}

impl Calibrations {
    pub fn new(gate: Gate, probe: Arc<UploadProbe>) -> Calibrations {
        Calibrations {
            registry: Arc::new(FleetRegistry::default()),
            gate,
            probe,
        }
    }

    /// The sensor's calibration, once the service answers.
    pub fn fetch(&self, sensor: &str) -> Fetch {
        self.probe.fetches.fetch_add(1, Ordering::SeqCst);
        Fetch {
            answer: Some(
                self.registry
                    .lookup(sensor)
                    .expect("the harness's frames are from known sensors"),
            ),
            gate: self.gate.clone(),
            probe: Arc::clone(&self.probe),
        }
    }

    /// What [`fetch`](Self::fetch) answers, without waiting (for the harness's reference).
    pub fn lookup_now(&self, sensor: &str) -> SensorInfo {
        self.registry
            .lookup(sensor)
            .expect("the harness's frames are from known sensors")
    }
}

/// A calibration on its way: pending until the gate opens.
pub struct Fetch {
    answer: Option<SensorInfo>,
    gate: Gate,
    probe: Arc<UploadProbe>,
}

impl Future for Fetch {
    type Output = SensorInfo;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<SensorInfo> {
        if self.gate.shared.open.load(Ordering::SeqCst) {
            return Poll::Ready(
                self.answer
                    .take()
                    .expect("a fetch is polled to the end once"),
            );
        }
        if !self.probe.waited.swap(true, Ordering::SeqCst) {
            self.probe
                .frame_alive_while_waiting
                .store(self.probe.frames_alive() > 0, Ordering::SeqCst);
        }
        self.gate
            .shared
            .waiting
            .lock()
            .expect("not poisoned")
            .push(cx.waker().clone());
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines() -> Arc<[String]> {
        [
            "s-0003,1700000000,20.5",
            "s-0003,1700000060,21.5",
            "garbage",
        ]
        .map(String::from)
        .into()
    }

    #[test]
    fn a_tally_calibrated_is_the_summary_and_the_frame_counts_itself() {
        let probe = Arc::new(UploadProbe::default());
        let frame = Link::new(lines(), Arc::clone(&probe)).read_frame();
        assert_eq!((probe.frames_read(), probe.frames_alive()), (1, 1));
        let calibrations = Calibrations::new(Gate::default(), Arc::clone(&probe));
        let info = calibrations.lookup_now(frame.sensor());
        let summary = summarize(&frame, &info);
        assert_eq!(tally(&frame).calibrated(&info), summary);
        assert_eq!((summary.readings, summary.rejected), (2, 1));
        assert_eq!(summary.mean, 21.0 + info.offset);
        drop(frame);
        assert_eq!(probe.frames_alive(), 0);
    }

    #[test]
    fn a_fetch_waits_for_the_gate_and_notes_what_was_alive() {
        let probe = Arc::new(UploadProbe::default());
        let gate = Gate::default();
        let frame = Link::new(lines(), Arc::clone(&probe)).read_frame();
        let mut fetch = Calibrations::new(gate.clone(), Arc::clone(&probe)).fetch("s-0003");
        let mut cx = Context::from_waker(Waker::noop());
        assert!(Pin::new(&mut fetch).poll(&mut cx).is_pending());
        assert!(probe.waited() && probe.frame_alive_while_waiting());
        drop(frame);
        gate.open();
        assert!(Pin::new(&mut fetch).poll(&mut cx).is_ready());
    }
}

//! Standard output that can fail: what `workshop … | head -1` and `workshop … > /dev/full` get.
//!
//! `println!` panics when standard output is closed or full (`failed printing to stdout: Broken
//! pipe`, exit 101, with a backtrace hint). A command-line tool should do what coreutils do
//! instead: a reader that stopped reading (`head`) is not an error worth a message, so the run
//! ends quietly with [`BROKEN_PIPE`] (141, what a shell reports for a process that SIGPIPE
//! ended); any other failure (a full disk) is one line on stderr and exit 1. Every line the
//! workshop prints to stdout goes through [`outln!`] / [`out!`], which return that error with
//! `?` instead of panicking; `main` turns it into the exit status.

use std::fmt;
use std::io::{self, Write};

/// The exit status of a run whose standard output was closed by its reader: 128 + SIGPIPE (13),
/// what the shell would report had the signal ended the process, as it does for `seq`, `yes`
/// or `cat`.
pub const BROKEN_PIPE: u8 = 141;

/// Writing to standard output failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot write to standard output")]
pub struct StdoutFailed(#[source] pub io::Error);

impl StdoutFailed {
    /// The reader went away (`| head -1`): end quietly.
    pub fn is_broken_pipe(&self) -> bool {
        self.0.kind() == io::ErrorKind::BrokenPipe
    }
}

/// Writes formatted text to standard output and flushes it, so that a full disk is seen here,
/// at the write, and not lost in a buffer dropped at exit.
pub fn write_fmt(args: fmt::Arguments<'_>) -> Result<(), StdoutFailed> {
    let mut out = io::stdout().lock();
    out.write_fmt(args)
        .and_then(|()| out.flush())
        .map_err(StdoutFailed)
}

/// Standard output as an [`io::Write`], for code that takes a writer (an experiment's table)
/// and wraps a failed write in errors of its own: it remembers the first failure, so that the
/// caller can end the run as [`StdoutFailed`] (quietly, for a closed pipe) all the same.
#[derive(Default)]
pub struct Writer {
    failed: Option<io::Error>,
}

impl Writer {
    /// The first write that failed, if one did.
    pub fn failure(self) -> Option<StdoutFailed> {
        self.failed.map(StdoutFailed)
    }

    fn watch<T>(&mut self, result: io::Result<T>) -> io::Result<T> {
        if let Err(e) = &result {
            self.failed
                .get_or_insert_with(|| io::Error::new(e.kind(), e.to_string()));
        }
        result
    }
}

impl Write for Writer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let result = io::stdout().write(buf);
        self.watch(result)
    }

    fn flush(&mut self) -> io::Result<()> {
        let result = io::stdout().flush();
        self.watch(result)
    }
}

/// `println!` that returns [`StdoutFailed`] instead of panicking: `outln!("{x}")?;`.
macro_rules! outln {
    () => {
        $crate::stdout::write_fmt(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::stdout::write_fmt(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` that returns [`StdoutFailed`] instead of panicking: `out!("{text}")?;`.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::stdout::write_fmt(format_args!($($arg)*))
    };
}

pub(crate) use {out, outln};

//! The `main` of every standalone program: read the readings from stdin, run the pipeline,
//! print the report to stdout (exit 0), or print the error and its causes to stderr (exit 1).
//!
//! `standalone/*/src/main.rs` include this file through `#[path]`, so it uses nothing but `std`
//! and `pipeline`; this crate compiles and tests the same file.

use std::io::{Read, Write};
use std::process::ExitCode;

use pipeline::{Config, Input, PipelineError, Report, error_chain};

/// What a standalone program's `main` returns: [`run_program`] on the real stdin, stdout and
/// stderr, with the default configuration.
pub fn main(run: impl FnOnce(&Input, &Config) -> Result<Report, PipelineError>) -> ExitCode {
    let code = run_program(
        run,
        std::io::stdin().lock(),
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    );
    ExitCode::from(code)
}

/// Reads all of `stdin` (bytes that are not UTF-8 are replaced, and their lines rejected, as
/// `Input::from_file` does), runs `run` on it with `Config::default()`, writes the report's
/// text to `stdout`. Returns the exit code: 0 with a report, 1 without.
pub fn run_program(
    run: impl FnOnce(&Input, &Config) -> Result<Report, PipelineError>,
    mut stdin: impl Read,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> u8 {
    let mut bytes = Vec::new();
    if let Err(e) = stdin.read_to_end(&mut bytes) {
        let _ = writeln!(stderr, "error: cannot read stdin: {e}");
        return 1;
    }
    let input = Input::from_text("stdin", String::from_utf8_lossy(&bytes).into_owned());
    match run(&input, &Config::default()) {
        Ok(report) => match stdout
            .write_all(report.text().as_bytes())
            .and_then(|()| stdout.flush())
        {
            Ok(()) => 0,
            Err(e) => {
                let _ = writeln!(stderr, "error: cannot write the report: {e}");
                1
            }
        },
        Err(e) => {
            let _ = writeln!(stderr, "error: {}", error_chain(&e));
            1
        }
    }
}

/// The PostgreSQL connection string the `*-postgres` programs write the windows to: their
/// first argument (`postgresql://user@host/db` or `host=… dbname=…`). Without one they only
/// print the report.
pub fn database_url() -> Option<String> {
    std::env::args().nth(1)
}

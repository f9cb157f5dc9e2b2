//! `costs-async-std`: reads readings on stdin, prints the report. The pipeline runs on
//! async-std's global executor; its code is chapters/12-costs/src/variants/async_std_rt.rs, the
//! file the chapter's tests compare with the reference.
#![forbid(unsafe_code)]

#[allow(dead_code)] // shared with the library and the other programs; not all of it is used here
#[path = "../../../src/cli.rs"]
mod cli;
#[path = "../../../src/variants/async_std_rt.rs"]
mod variant;

fn main() -> std::process::ExitCode {
    cli::main(variant::run)
}

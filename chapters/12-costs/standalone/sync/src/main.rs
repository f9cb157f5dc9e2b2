//! `costs-sync`: reads readings on stdin, prints the report. The pipeline runs on std
//! threads and bounded `std::sync::mpsc` channels. Its code is chapter 1's own variant file,
//! chapters/01-baseline/src/variants/sync.rs, compiled as it is (`#[path]`); chapter 12's
//! tests check that it gives the reference report.
#![forbid(unsafe_code)]

#[allow(dead_code)] // shared with the library and the other programs; not all of it is used here
#[path = "../../../src/cli.rs"]
mod cli;
#[path = "../../../../01-baseline/src/variants/sync.rs"]
mod variant;

fn main() -> std::process::ExitCode {
    cli::main(variant::run)
}

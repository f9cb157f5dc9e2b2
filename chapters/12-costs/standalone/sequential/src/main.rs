//! `costs-sequential`: reads readings on stdin, prints the report. The pipeline's stages run
//! one after the other on the main thread (`pipeline::run_sequential`): no concurrency, so
//! this build is the floor that every other standalone program pays, `pipeline` and its
//! dependencies.
#![forbid(unsafe_code)]

#[allow(dead_code)] // shared with the library and the other programs; not all of it is used here
#[path = "../../../src/cli.rs"]
mod cli;

fn main() -> std::process::ExitCode {
    cli::main(pipeline::run_sequential)
}

//! `costs-smol`: reads readings on stdin, prints the report. The pipeline runs on a smol
//! executor driven by two threads of its own; its code is
//! chapters/12-costs/src/variants/smol_rt.rs, the file the chapter's tests compare with the
//! reference.
#![forbid(unsafe_code)]

#[allow(dead_code)] // shared with the library and the other programs; not all of it is used here
#[path = "../../../src/cli.rs"]
mod cli;
#[path = "../../../src/variants/smol_rt.rs"]
mod variant;

fn main() -> std::process::ExitCode {
    cli::main(variant::run)
}

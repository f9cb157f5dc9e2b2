//! `costs-sync-postgres`: reads readings on stdin, prints the report, and — given a PostgreSQL
//! connection string as its argument — upserts the report's windows in one transaction with
//! the sync `postgres` client. The pipeline is chapters/01-baseline/src/variants/sync.rs.
//!
//! A sync program, yet its build compiles tokio: `postgres` is a blocking wrapper around
//! `tokio-postgres` that runs a tokio runtime inside the client.
#![forbid(unsafe_code)]

#[path = "../../../src/cli.rs"]
mod cli;
#[path = "../../../src/sql.rs"]
mod sql;
#[path = "../../../src/store_sync.rs"]
mod store;
#[path = "../../../../01-baseline/src/variants/sync.rs"]
mod variant;

fn main() -> std::process::ExitCode {
    let database = cli::database_url();
    cli::main(|input, cfg| {
        let report = variant::run(input, cfg)?;
        if let Some(conninfo) = &database {
            store::write_windows(conninfo, report.windows())?;
        }
        Ok(report)
    })
}

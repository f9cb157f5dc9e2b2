//! `costs-tokio-postgres`: reads readings on stdin, prints the report, and — given a
//! PostgreSQL connection string as its argument — upserts the report's windows in one
//! transaction with `tokio-postgres`, on the same runtime the pipeline ran on. The pipeline is
//! chapters/01-baseline/src/variants/tokio_rt.rs.
#![forbid(unsafe_code)]

#[path = "../../../src/cli.rs"]
mod cli;
#[path = "../../../src/sql.rs"]
mod sql;
#[path = "../../../src/store_tokio.rs"]
mod store;
#[allow(dead_code)] // `run` builds a runtime of its own; this program shares one with the store
#[path = "../../../../01-baseline/src/variants/tokio_rt.rs"]
mod variant;

fn main() -> std::process::ExitCode {
    let database = cli::database_url();
    cli::main(|input, cfg| {
        store::runtime(cfg)?.block_on(async {
            let report = variant::run_async(input, cfg).await?;
            if let Some(conninfo) = &database {
                store::write_windows(conninfo, report.windows()).await?;
            }
            Ok(report)
        })
    })
}

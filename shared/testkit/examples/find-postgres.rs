//! Prints where the tests will find PostgreSQL (`testkit::pg_discovery`'s order), or why they
//! will not; exits 1 in that case. CI runs it to decide whether to install PostgreSQL:
//! `cargo run --quiet -p testkit --example find-postgres`.

use testkit::pg_discovery::{Found, System, discover};

fn main() {
    match discover(&System) {
        // The URL may hold a password: say only that it is set.
        Ok(Found::Server(_)) => println!("DATABASE_URL (a server)"),
        Ok(Found::Binaries { dir, via }) => println!("{} ({})", dir.display(), via.describe()),
        Err(why) => {
            eprintln!("no PostgreSQL: {why}");
            std::process::exit(1);
        }
    }
}

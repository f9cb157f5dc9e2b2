//! A PostgreSQL database for each test, with nothing to set up by hand.
//!
//! [`test_database`] gives a test its own, new, empty database:
//!
//! 1. If `DATABASE_URL` is set, on that server (the user in it must be allowed to
//!    `CREATE DATABASE`). A `DATABASE_URL` that does not work is a failure, not a skip: you
//!    asked for it.
//! 2. Otherwise on a throwaway cluster this test binary starts from the local PostgreSQL
//!    binaries, found in [`crate::pg_discovery`]'s order (`$PG_BINDIR`, `PATH`, `pg_config
//!    --bindir`, Debian's `/usr/lib/postgresql/<version>/bin`, Homebrew's): `initdb` in a temporary
//!    directory, trust authentication, `fsync=off`, listening on `127.0.0.1` and a free port
//!    only. When the process runs as root, PostgreSQL refuses to, so the cluster runs as the
//!    `postgres` OS user (`runuser -u postgres`). One cluster per test binary, started by the
//!    first test that asks; a small `sh` watcher next to it stops the server and removes the
//!    directory once the test process is gone (however it ended).
//! 3. If neither is possible, the test prints a `SKIP` line saying what is missing and returns
//!    early — unless `REQUIRE_POSTGRES=1`, which turns that into a failure (CI sets it).
//!
//! Each test's database is named after the test and the process, and is dropped again when
//! the [`TestDatabase`] is (which matters on a shared `DATABASE_URL` server).

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use postgres::config::Host;

use crate::pg_discovery::{Found, System, discover};
use postgres::{Client, Config, NoTls};

/// Set to `1` to make a missing PostgreSQL a test failure instead of a skip.
pub const REQUIRE_POSTGRES: &str = "REQUIRE_POSTGRES";
/// A server to create the test databases on, instead of a throwaway cluster.
pub const DATABASE_URL: &str = "DATABASE_URL";
/// Where the PostgreSQL binaries are, if not under `/usr/lib/postgresql/<version>/bin`.
pub const PG_BINDIR: &str = "PG_BINDIR";

/// How long a throwaway cluster may take to accept connections.
const STARTUP_LIMIT: Duration = Duration::from_secs(60);

/// A database of one's own, on the test server. Dropped (with its connections) on drop.
#[derive(Debug)]
pub struct TestDatabase {
    name: String,
    conninfo: String,
    admin: String,
}

impl TestDatabase {
    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A connection string for it, in `key=value` form (both `postgres` and `tokio-postgres`
    /// take it, as they take a `postgresql://` URL).
    pub fn conninfo(&self) -> &str {
        &self.conninfo
    }

    /// A new sync client on it, for a test's own checks.
    ///
    /// # Panics
    /// If the server cannot be reached (it was, a moment ago).
    pub fn client(&self) -> Client {
        Client::connect(&self.conninfo, NoTls)
            .unwrap_or_else(|e| panic!("cannot connect to test database {}: {e}", self.name))
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Best effort: on a throwaway cluster the whole directory goes anyway.
        if let Ok(mut admin) = Client::connect(&self.admin, NoTls) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// Why there is no PostgreSQL to test against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unavailable {
    /// Nothing to use: this is a skip (or, with `REQUIRE_POSTGRES=1`, a failure).
    Missing(String),
    /// There is something, and it does not work: always a failure.
    Broken(String),
}

/// A new, empty database for the test called `test`, or `None` after printing why there is
/// none (a `SKIP` line on stderr).
///
/// ```no_run
/// let Some(db) = testkit::postgres::test_database("my_test") else { return };
/// ```
///
/// # Panics
/// If PostgreSQL is missing and `REQUIRE_POSTGRES=1`, or if it is there but broken (a
/// `DATABASE_URL` that does not connect, a cluster that does not start): the message says
/// what to fix.
pub fn test_database(test: &str) -> Option<TestDatabase> {
    match try_test_database(test) {
        Ok(db) => Some(db),
        Err(Unavailable::Missing(why)) if !required() => {
            // Straight to the process's stderr, not `eprintln!`: the test harness captures the
            // macros' output of a passing test, and a skip must be seen.
            let _ = writeln!(
                std::io::stderr(),
                "SKIP {test}: no PostgreSQL to test against: {why}. To run it, set \
                 {DATABASE_URL}, or install PostgreSQL (`apt-get install postgresql`, \
                 `brew install postgresql@16`), or set {PG_BINDIR}; \
                 {REQUIRE_POSTGRES}=1 makes this a failure."
            );
            None
        }
        Err(Unavailable::Missing(why)) => {
            panic!("{test}: PostgreSQL is required ({REQUIRE_POSTGRES}=1) but not available: {why}")
        }
        Err(Unavailable::Broken(why)) => panic!("{test}: PostgreSQL does not work: {why}"),
    }
}

fn required() -> bool {
    std::env::var(REQUIRE_POSTGRES).is_ok_and(|v| v == "1")
}

/// [`test_database`] without the skip-or-fail policy.
pub fn try_test_database(test: &str) -> Result<TestDatabase, Unavailable> {
    let server = server()?;
    let name = database_name(test);
    let mut admin = Client::connect(&server.admin, NoTls)
        .map_err(|e| Unavailable::Broken(format!("cannot connect to {}: {e}", server.described)))?;
    // An identifier cannot be a query parameter; `database_name` allows [a-z0-9_] only.
    admin
        .batch_execute(&format!("CREATE DATABASE \"{name}\""))
        .map_err(|e| {
            Unavailable::Broken(format!(
                "cannot create database {name} on {}: {}",
                server.described,
                pipeline::error_chain(&e)
            ))
        })?;
    Ok(TestDatabase {
        conninfo: conninfo_for(&server.config, &name),
        admin: server.admin.clone(),
        name,
    })
}

/// The server the test databases are created on (started on first use).
struct Server {
    /// Parsed, to derive each test database's connection string.
    config: Config,
    /// A connection string to the server's maintenance database.
    admin: String,
    /// For messages: `postgresql://user@host:port`.
    described: String,
}

fn server() -> Result<&'static Server, Unavailable> {
    static SERVER: OnceLock<Result<Server, Unavailable>> = OnceLock::new();
    SERVER
        .get_or_init(|| match discover(&System) {
            Ok(Found::Server(url)) => external(&url),
            Ok(Found::Binaries { dir, .. }) => start_cluster(&real_bin_dir(&dir)),
            Err(why) => Err(Unavailable::Missing(why)),
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// The server named by `DATABASE_URL`.
fn external(url: &str) -> Result<Server, Unavailable> {
    let config: Config = url.parse().map_err(|e| {
        Unavailable::Broken(format!("{DATABASE_URL} is not a connection string: {e}"))
    })?;
    let described = describe(&config);
    let admin = url.to_owned();
    Client::connect(&admin, NoTls).map_err(|e| {
        Unavailable::Broken(format!(
            "cannot connect to {DATABASE_URL} ({described}): {}",
            pipeline::error_chain(&e)
        ))
    })?;
    Ok(Server {
        config,
        admin,
        described,
    })
}

/// Starts a throwaway cluster for this process; the watcher it leaves behind stops it and
/// removes its directory once the process is gone.
fn start_cluster(bin: &Path) -> Result<Server, Unavailable> {
    let as_postgres = running_as_root()?;
    let run = |program: &Path| -> Command {
        let mut command = if as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        };
        // The test's working directory may be closed to the postgres user.
        command.current_dir("/");
        command
    };
    let sh = PathBuf::from("sh");
    let mktemp = PathBuf::from("mktemp");

    // The directory is made by the user the server runs as, so that user owns it.
    let dir = output(
        run(&mktemp).args(["-d", "-t", "testkit-pg-XXXXXX"]),
        "mktemp",
    )?;
    let dir = PathBuf::from(dir.trim());
    let data = dir.join("data");
    output(
        run(&bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "-A", "trust", "-E", "UTF8"])
            .args(["--locale=C", "--no-sync"]),
        "initdb",
    )?;

    let port = free_port()?;
    // The watcher: start postgres, then poll until the test process is gone (or postgres
    // is), then stop postgres (fast shutdown) and remove the directory. `/proc/PID` where
    // there is a `/proc` (Linux): as the postgres user we may not signal a root process.
    // Elsewhere (macOS has no `/proc`, and no root runs the tests) `kill -0`.
    let script = r#"
            "$3/postgres" -D "$2/data" -p "$4" -k "$2" \
                -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
                -c full_page_writes=off -c max_connections=200 >"$2/log" 2>&1 &
            pg=$!
            alive() { if [ -d /proc/self ]; then [ -d "/proc/$1" ]; else kill -0 "$1" 2>/dev/null; fi; }
            while alive "$1" && kill -0 "$pg" 2>/dev/null; do sleep 0.2; done
            kill -INT "$pg" 2>/dev/null
            wait "$pg"
            rm -rf "$2"
        "#;
    let mut watcher = run(&sh);
    watcher
        .args(["-c", script, "testkit-pg-watcher"])
        .arg(std::process::id().to_string())
        .arg(&dir)
        .arg(bin)
        .arg(port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // Its own process group: a Ctrl-C at the terminal stops the tests, and the watcher
    // then cleans up, instead of dying with them.
    std::os::unix::process::CommandExt::process_group(&mut watcher, 0);
    let mut watcher = watcher
        .spawn()
        .map_err(|e| Unavailable::Broken(format!("cannot start the cluster watcher: {e}")))?;

    let admin = format!("host=127.0.0.1 port={port} user=postgres dbname=postgres");
    let started = Instant::now();
    loop {
        match Client::connect(&admin, NoTls) {
            Ok(_) => break,
            Err(e) => {
                let log = || std::fs::read_to_string(dir.join("log")).unwrap_or_default();
                if let Ok(Some(status)) = watcher.try_wait() {
                    return Err(Unavailable::Broken(format!(
                        "the throwaway PostgreSQL in {} ended ({status}) before it accepted \
                             connections; its log:\n{}",
                        dir.display(),
                        log()
                    )));
                }
                if started.elapsed() > STARTUP_LIMIT {
                    return Err(Unavailable::Broken(format!(
                        "the throwaway PostgreSQL in {} did not accept connections within \
                             {STARTUP_LIMIT:?} ({e}); its log:\n{}",
                        dir.display(),
                        log()
                    )));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
    let config: Config = admin.parse().expect("a valid connection string");
    Ok(Server {
        described: describe(&config),
        config,
        admin,
    })
}

/// Where `dir/initdb` really is, when it is a link (`/usr/local/bin`, Homebrew's
/// `/opt/homebrew/bin`): the installation's own `bin`, if `postgres` is there too, so the
/// server finds its `share` directory beside it. Otherwise `dir` itself.
fn real_bin_dir(dir: &Path) -> PathBuf {
    dir.join("initdb")
        .canonicalize()
        .ok()
        .and_then(|initdb| initdb.parent().map(Path::to_path_buf))
        .filter(|real| real.join("postgres").is_file())
        .unwrap_or_else(|| dir.to_path_buf())
}

/// Whether we are root (then the cluster must run as `postgres`, which must exist).
fn running_as_root() -> Result<bool, Unavailable> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .map(str::to_owned)
        .or_else(|| {
            let out = Command::new("id").arg("-u").output().ok()?;
            Some(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        });
    if euid.as_deref() != Some("0") {
        return Ok(false);
    }
    let has_user = Command::new("id")
        .args(["-u", "postgres"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let has_runuser = Command::new("runuser")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    match (has_user, has_runuser) {
        (true, true) => Ok(true),
        (false, _) => Err(Unavailable::Missing(
            "running as root, and PostgreSQL will not run as root, but there is no `postgres` \
             OS user to run it as"
                .into(),
        )),
        (true, false) => Err(Unavailable::Missing(
            "running as root, and there is no `runuser` to start PostgreSQL as `postgres`".into(),
        )),
    }
}

/// Runs a set-up command; its stdout, or an error with its stderr.
fn output(command: &mut Command, what: &str) -> Result<String, Unavailable> {
    let out = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Unavailable::Broken(format!("cannot run {what}: {e}")))?;
    if !out.status.success() {
        return Err(Unavailable::Broken(format!(
            "{what} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A port nobody listens on right now (the OS picks it; we let it go for postgres to take).
fn free_port() -> Result<u16, Unavailable> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| Unavailable::Broken(format!("cannot find a free port: {e}")))
}

/// `t_<test>_<pid>_<n>`: unique per process and call, lower-case letters, digits and `_`,
/// within PostgreSQL's 63-byte identifier limit.
fn database_name(test: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let suffix = format!(
        "_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    );
    let stem: String = test
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(63 - 2 - suffix.len())
        .collect();
    format!("t_{stem}{suffix}")
}

/// The server's connection settings with another database, as a `key=value` string.
fn conninfo_for(config: &Config, dbname: &str) -> String {
    let mut out = String::new();
    let mut put = |key: &str, value: &str| {
        // Values are quoted, with `\` and `'` escaped, so any value is safe.
        let escaped = value.replace('\\', "\\\\").replace('\'', "\\'");
        let _ = write!(
            out,
            "{}{key}='{escaped}'",
            if out.is_empty() { "" } else { " " }
        );
    };
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|host| match host {
            Host::Tcp(name) => name.clone(),
            Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    if !hosts.is_empty() {
        put("host", &hosts.join(","));
    }
    let ports: Vec<String> = config.get_ports().iter().map(u16::to_string).collect();
    if !ports.is_empty() {
        put("port", &ports.join(","));
    }
    if let Some(user) = config.get_user() {
        put("user", user);
    }
    if let Some(password) = config.get_password() {
        put("password", &String::from_utf8_lossy(password));
    }
    if let Some(options) = config.get_options() {
        put("options", options);
    }
    if let Some(timeout) = config.get_connect_timeout() {
        put("connect_timeout", &timeout.as_secs().max(1).to_string());
    }
    put("dbname", dbname);
    out
}

/// `postgresql://user@host:port/dbname`, without the password, for messages (the same words
/// as every other message about a database: [`pgstore::describe_parts`]).
pub fn describe(config: &Config) -> String {
    pgstore::describe_parts(
        config.get_user(),
        config.get_hosts().first(),
        config.get_ports().first().copied(),
        config.get_dbname(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_are_safe_unique_identifiers() {
        let a = database_name("crash::Restart it (tokio)");
        let b = database_name("crash::Restart it (tokio)");
        assert_ne!(a, b);
        assert!(a.starts_with("t_crash__restart_it__tokio__"), "{a}");
        assert!(
            a.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "{a}"
        );
        assert!(database_name(&"x".repeat(200)).len() <= 63);
    }

    #[test]
    fn a_url_becomes_a_conninfo_for_another_database() {
        let config: Config = "postgresql://ana:it's%20me@db.example:6543/main?connect_timeout=5"
            .parse()
            .unwrap();
        let conninfo = conninfo_for(&config, "t_x_1_0");
        assert_eq!(
            conninfo,
            r"host='db.example' port='6543' user='ana' password='it\'s me' connect_timeout='5' dbname='t_x_1_0'"
        );
        let back: Config = conninfo.parse().unwrap();
        assert_eq!(back.get_password(), Some(&b"it's me"[..]));
        assert_eq!(back.get_dbname(), Some("t_x_1_0"));
        assert_eq!(describe(&back), "postgresql://ana@db.example:6543/t_x_1_0");
    }

    #[test]
    fn each_test_gets_its_own_working_database() {
        let Some(one) = test_database("harness_one") else {
            return;
        };
        let two = test_database("harness_two").expect("the server is up");
        assert_ne!(one.name(), two.name());
        let mut a = one.client();
        a.batch_execute("CREATE TABLE t (x int); INSERT INTO t VALUES (1)")
            .unwrap();
        let mut b = two.client();
        // The same table name in the other database does not exist: they are separate.
        assert!(b.query("SELECT x FROM t", &[]).is_err());
        let row = a
            .query_one("SELECT current_database(), x FROM t", &[])
            .unwrap();
        assert_eq!(row.get::<_, String>(0), one.name());
        assert_eq!(row.get::<_, i32>(1), 1);
        let name = one.name().to_owned();
        drop((a, one));
        let gone = b
            .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
            .unwrap();
        assert!(gone.is_none(), "dropping the handle drops the database");
    }
}

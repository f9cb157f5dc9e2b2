//! A connection string, read and described without its password.

use std::str::FromStr;

use pipeline::PipelineError;
use tokio_postgres::config::Host;

/// PostgreSQL's port when a connection string names none.
const DEFAULT_PORT: u16 = 5432;

/// The parsed connection string (`postgresql://user@host:port/db` or `host=... dbname=...`).
/// The error does not repeat the string: it may hold a password.
pub fn config(conninfo: &str) -> Result<tokio_postgres::Config, PipelineError> {
    tokio_postgres::Config::from_str(conninfo).map_err(|e| {
        PipelineError::Config(format!("the PostgreSQL connection string is invalid: {e}"))
    })
}

/// `postgresql://user@host:port/dbname`, without the password: what messages call the
/// database.
pub fn describe(config: &tokio_postgres::Config) -> String {
    describe_parts(
        config.get_user(),
        config.get_hosts().first(),
        config.get_ports().first().copied(),
        config.get_dbname(),
    )
}

/// [`describe`] from the parts, for a connection string parsed by another client's `Config`
/// (the sync `postgres` crate's has the same getters but is another type).
pub fn describe_parts(
    user: Option<&str>,
    host: Option<&Host>,
    port: Option<u16>,
    dbname: Option<&str>,
) -> String {
    let host = host
        .map(|host| match host {
            Host::Tcp(name) => name.clone(),
            Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = port.unwrap_or(DEFAULT_PORT);
    let user = user.map(|u| format!("{u}@")).unwrap_or_default();
    format!("postgresql://{user}{host}:{port}/{}", dbname.unwrap_or(""))
}

/// The host and port a `connect_raw` opens its own socket to. TCP hosts only: the variants
/// that dial with their runtime's own `TcpStream` (async-std, smol) cannot reach a Unix socket
/// directory, and say so instead of failing to connect.
pub fn tcp_address(config: &tokio_postgres::Config) -> Result<(String, u16), PipelineError> {
    match config.get_hosts().first() {
        Some(Host::Tcp(host)) => Ok((
            host.clone(),
            config.get_ports().first().copied().unwrap_or(DEFAULT_PORT),
        )),
        None => Ok(("localhost".into(), DEFAULT_PORT)),
        Some(Host::Unix(path)) => Err(PipelineError::Config(format!(
            "this variant connects to PostgreSQL over TCP; {} is a Unix socket directory",
            path.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_string_in_messages_has_no_password() {
        let config = config("postgresql://ana:secret@db.example:6543/queue").unwrap();
        assert_eq!(describe(&config), "postgresql://ana@db.example:6543/queue");
        let err = super::config("postgresql://ana:secret@db.example:notaport/x")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("secret"), "{err}");
        assert!(
            err.contains("the PostgreSQL connection string is invalid"),
            "{err}"
        );
    }

    #[test]
    fn what_a_connection_string_leaves_out_is_postgresql_s_default() {
        let bare = config("dbname=sensors").unwrap();
        assert_eq!(describe(&bare), "postgresql://localhost:5432/sensors");
        assert_eq!(tcp_address(&bare).unwrap(), ("localhost".into(), 5432));
        let tcp = config("host=db.example port=6543").unwrap();
        assert_eq!(tcp_address(&tcp).unwrap(), ("db.example".into(), 6543));
    }

    #[test]
    fn a_unix_socket_is_described_but_has_no_tcp_address() {
        let unix = config("host=/run/postgresql user=ana dbname=x").unwrap();
        assert_eq!(describe(&unix), "postgresql://ana@/run/postgresql:5432/x");
        let err = tcp_address(&unix).unwrap_err().to_string();
        assert!(
            err.contains("/run/postgresql is a Unix socket directory"),
            "{err}"
        );
    }
}

//! HTTP clients on each runtime's *own* I/O, for [`Target::OwnHttp`](super::Target::OwnHttp).
//!
//! The reqwest rows are what users write, but reqwest is built on tokio: `reqwest::blocking`
//! runs a tokio runtime on a thread of its own, and `async_compat::Compat` lends async-std and
//! smol one. Every reqwest row therefore waits on tokio's reactor. These clients do not:
//!
//! | variant | client | whose reactor waits for the socket |
//! |---|---|---|
//! | sync | a minimal HTTP/1.1 request over `std::net::TcpStream` | none: the thread blocks in `read` |
//! | async-std | hyper's HTTP/1 client connection over `async_std::net::TcpStream` | async-io's (async-std's) |
//! | smol | hyper's HTTP/1 client connection over `smol::net::TcpStream` | async-io's (smol's) |
//! | tokio | reqwest, as in the reqwest rows | tokio's (its own already) |
//!
//! async-std and smol share one reactor: both sockets are `async_io::Async<TcpStream>`, so their
//! rows differ only in the executor. hyper's connection is a future someone must poll; these
//! clients poll it inside the request that needs it (no spawn, so no executor handle to pass),
//! which is enough for HTTP/1: between requests a keep-alive connection has nothing to do.
//!
//! Sockets are `TCP_NODELAY`, as reqwest's are. Each client keeps idle keep-alive connections
//! in a pool, as reqwest does: at C in flight it
//! ends up with C connections, opened by the first requests (a connection the server closed
//! is dropped before use and replaced, never retried after a request was sent).

use std::fmt;
use std::future::Future;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::client::conn::http1::{Connection, SendRequest, handshake};
use pipeline::Variant;
use smol_hyper::rt::FuturesIo;

use super::{answered, request_id, sensor_url};

/// Which client and whose reactor a variant's HTTP rows used: every table row says it.
pub fn reactor_label(variant: Variant, own_io: bool) -> &'static str {
    match (variant, own_io) {
        (Variant::Sync, false) => "reqwest::blocking (tokio reactor)",
        (Variant::Tokio, _) => "reqwest (tokio reactor)",
        (Variant::AsyncStd, false) => "reqwest in async-compat (tokio reactor)",
        (Variant::Smol, false) => "reqwest in async-compat (tokio reactor)",
        (Variant::Sync, true) => "HTTP/1.1 on std::net (blocking sockets, no reactor)",
        (Variant::AsyncStd, true) => "hyper on async-std's reactor (async-io)",
        (Variant::Smol, true) => "hyper on smol's reactor (async-io)",
    }
}

/// The clients of one plan, sharing `url`. Cloning shares the pools.
#[derive(Clone)]
pub struct OwnHttp {
    /// `http://HOST:PORT`, as for [`super::Target::Http`].
    pub url: String,
    pools: Arc<Pools>,
}

#[derive(Default)]
struct Pools {
    std: Pool<BufReader<TcpStream>>,
    async_std: Pool<HyperConnection<async_std::net::TcpStream>>,
    smol: Pool<HyperConnection<smol::net::TcpStream>>,
}

impl fmt::Debug for OwnHttp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnHttp")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl OwnHttp {
    /// Clients for the service at `url` (`http://HOST:PORT`), with empty pools.
    pub fn new(url: &str) -> OwnHttp {
        OwnHttp {
            url: url.trim_end_matches('/').to_string(),
            pools: Arc::default(),
        }
    }

    fn host(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    /// Request `n`'s path and its `x-request-id` header.
    fn request(&self, n: u64) -> (String, (&'static str, String)) {
        let url = sensor_url(&self.url, n);
        let path = url[self.url.len()..].to_string();
        (path, request_id(n))
    }

    /// Request `n` with blocking std sockets: whether it was answered.
    pub fn std(&self, n: u64) -> bool {
        let (path, (header, id)) = self.request(n);
        let connection = match self.pools.std.take() {
            Some(c) => c,
            None => match TcpStream::connect(self.host()).and_then(|s| {
                s.set_nodelay(true)?;
                Ok(s)
            }) {
                Ok(socket) => BufReader::new(socket),
                Err(_) => return false,
            },
        };
        match std_get(connection, self.host(), &path, header, &id) {
            Ok((status, connection)) => {
                self.pools.std.put(connection);
                answered(status)
            }
            Err(_) => false,
        }
    }

    /// Request `n` with hyper over async-std's socket.
    pub async fn async_std(&self, n: u64) -> bool {
        let connect = || async {
            let socket = async_std::net::TcpStream::connect(self.host()).await?;
            socket.set_nodelay(true)?;
            Ok(socket)
        };
        self.hyper(&self.pools.async_std, connect, n).await
    }

    /// Request `n` with hyper over smol's socket.
    pub async fn smol(&self, n: u64) -> bool {
        let connect = || async {
            let socket = smol::net::TcpStream::connect(self.host()).await?;
            socket.set_nodelay(true)?;
            Ok(socket)
        };
        self.hyper(&self.pools.smol, connect, n).await
    }

    async fn hyper<S, F>(
        &self,
        pool: &Pool<HyperConnection<S>>,
        connect: impl FnOnce() -> F,
        n: u64,
    ) -> bool
    where
        S: Socket,
        F: Future<Output = io::Result<S>>,
    {
        let (path, (header, id)) = self.request(n);
        let mut connection = match pool.take().filter(|c| !c.sender.is_closed()) {
            Some(c) => c,
            None => match HyperConnection::open(connect).await {
                Ok(c) => c,
                Err(_) => return false,
            },
        };
        match connection.get(self.host(), &path, header, &id).await {
            Ok(status) => {
                pool.put(connection);
                answered(status)
            }
            Err(_) => false,
        }
    }
}

/// Idle keep-alive connections.
struct Pool<C>(Mutex<Vec<C>>);

impl<C> Default for Pool<C> {
    fn default() -> Self {
        Pool(Mutex::new(Vec::new()))
    }
}

impl<C> Pool<C> {
    fn take(&self) -> Option<C> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).pop()
    }

    fn put(&self, connection: C) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(connection);
    }
}

type NoBody = Empty<Bytes>;

/// A runtime's socket, as hyper's adapter takes it (smol's and async-std's `TcpStream`).
trait Socket: smol::io::AsyncRead + smol::io::AsyncWrite + Unpin + Send + 'static {}

impl<S: smol::io::AsyncRead + smol::io::AsyncWrite + Unpin + Send + 'static> Socket for S {}

/// hyper's client half of one HTTP/1 connection, and the connection future that does its I/O.
struct HyperConnection<S: Socket> {
    sender: SendRequest<NoBody>,
    connection: Pin<Box<Connection<FuturesIo<S>, NoBody>>>,
}

impl<S> HyperConnection<S>
where
    S: Socket,
{
    async fn open<F>(connect: impl FnOnce() -> F) -> io::Result<Self>
    where
        F: Future<Output = io::Result<S>>,
    {
        let socket = connect().await?;
        let (sender, connection) = handshake(FuturesIo::new(socket))
            .await
            .map_err(io::Error::other)?;
        Ok(HyperConnection {
            sender,
            connection: Box::pin(connection),
        })
    }

    /// `GET path`, body read to the end: the status. Drives the connection while it waits.
    async fn get(
        &mut self,
        host: &str,
        path: &str,
        header: &str,
        id: &str,
    ) -> io::Result<hyper::StatusCode> {
        let request = hyper::Request::get(path)
            .header(hyper::header::HOST, host)
            .header(header, id)
            .body(NoBody::new())
            .map_err(io::Error::other)?;
        let sender = &mut self.sender;
        let exchange = async move {
            sender.ready().await.map_err(io::Error::other)?;
            let answer = sender
                .send_request(request)
                .await
                .map_err(io::Error::other)?;
            let status = answer.status();
            answer
                .into_body()
                .collect()
                .await
                .map_err(io::Error::other)?;
            Ok(status)
        };
        let connection = self.connection.as_mut();
        let closed = async move {
            connection.await.map_err(io::Error::other)?;
            Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            ))
        };
        smol::future::or(exchange, closed).await
    }
}

/// One `GET` on a keep-alive connection over a blocking socket: the status, and the connection
/// to use again. Only what the registry service answers is understood: a status line, headers
/// with a `content-length`, that many bytes of body (anything else is an error, and the
/// connection is dropped).
fn std_get(
    mut connection: BufReader<TcpStream>,
    host: &str,
    path: &str,
    header: &str,
    id: &str,
) -> io::Result<(hyper::StatusCode, BufReader<TcpStream>)> {
    let request = format!("GET {path} HTTP/1.1\r\nhost: {host}\r\n{header}: {id}\r\n\r\n");
    connection.get_mut().write_all(request.as_bytes())?;
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_string());
    let mut line = String::new();
    connection.read_line(&mut line)?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .and_then(|code| hyper::StatusCode::from_u16(code).ok())
        .ok_or_else(|| bad("not an HTTP/1.1 status line"))?;
    let mut length = None;
    loop {
        line.clear();
        if connection.read_line(&mut line)? == 0 {
            return Err(bad("the headers end early"));
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse::<u64>().ok();
        }
    }
    let length = length.ok_or_else(|| bad("no content-length"))?;
    io::copy(&mut (&mut connection).take(length), &mut io::sink())?;
    Ok((status, connection))
}

#[cfg(test)]
mod tests {
    use instruments::{Outcome, TEST_DEADLINE, run_with_deadline};
    use registry_service::{RegistryOptions, RegistryService};

    use super::*;

    /// Each client asks a local service twice, the second time on the connection it kept: a
    /// connection that cannot be reused, or a request the service does not understand, fails.
    #[test]
    fn each_own_client_round_trips_requests_on_one_kept_connection() {
        let outcome = run_with_deadline("own-io clients", TEST_DEADLINE, || {
            let service = RegistryService::start(RegistryOptions::default()).unwrap();
            let own = OwnHttp::new(&service.url());
            let std_ok = [own.std(0), own.std(1)];
            let async_std_ok = async_std::task::block_on(async {
                [own.async_std(2).await, own.async_std(3).await]
            });
            let smol_ok = smol::block_on(async { [own.smol(4).await, own.smol(5).await] });
            let kept = (
                own.pools.std.0.lock().unwrap().len(),
                own.pools.async_std.0.lock().unwrap().len(),
                own.pools.smol.0.lock().unwrap().len(),
            );
            let served = service.stats();
            (std_ok, async_std_ok, smol_ok, kept, served)
        });
        let Outcome::Finished((std_ok, async_std_ok, smol_ok, kept, served)) = outcome else {
            panic!("the own-I/O clients did not finish in time: {outcome:?}");
        };
        assert_eq!(std_ok, [true, true], "std::net client");
        assert_eq!(async_std_ok, [true, true], "hyper on async-std");
        assert_eq!(smol_ok, [true, true], "hyper on smol");
        assert_eq!(kept, (1, 1, 1), "one kept-alive connection per client");
        assert_eq!(served.requests, 6, "{served:?}");
    }

    #[test]
    fn a_refused_connection_is_a_failed_request_not_a_panic() {
        testkit::run_with_deadline("a refused connection", testkit::TEST_DEADLINE, move || {
            // A port nothing listens on: bind one, note it, close it.
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let own = OwnHttp::new(&format!("http://127.0.0.1:{port}"));
            assert!(!own.std(0));
            assert!(!smol::block_on(own.smol(0)));
            assert!(!async_std::task::block_on(own.async_std(0)));
        })
        .expect_finished("a refused connection");
    }

    #[test]
    fn every_row_names_its_reactor() {
        for variant in Variant::ALL {
            assert!(reactor_label(variant, false).contains("tokio reactor"));
        }
        assert!(reactor_label(Variant::Smol, true).contains("smol's reactor"));
        assert!(reactor_label(Variant::AsyncStd, true).contains("async-std's reactor"));
        assert!(reactor_label(Variant::Sync, true).contains("no reactor"));
    }
}

//! Exercise 10's checks. The harness (`ch10_many_connections::exercise`) binds the listener
//! and connects every client before your server starts: as many as the cap that stall
//! half-way through a frame, then well-behaved ones, then a steady one that sends a frame every
//! 50 ms for longer than the read timeout. The wrapped listener counts the connections open at
//! once. The checks: the server finishes (a stalled client is dropped by the read timeout, so it
//! cannot hold a slot for ever); never more than `cap` connections open, and `cap` reached;
//! every well-behaved and the steady client served and acknowledged; every frame counted.
//! Nothing is timed: a server that does nothing for three seconds is reported as stalled.

use std::io;
use std::net::TcpListener;
use std::sync::Arc;

use std::time::Duration;

use ch10_many_connections::exercise::{
    self, CAP, CONNECTIONS, FRAMES, Probe, READ_TIMEOUT, STALL, STALLED, SmolListener,
    TokioListener,
};
use testkit::{Outcome, run_with_watchdog};

use super::{serve_smol, serve_tokio};

const HINT: &str = "hint: `cargo run --release -- hint 10`";
/// The whole run, however busy: only to turn a server that keeps busy for ever into a failure.
const LIMIT: Duration = Duration::from_secs(60);

fn check(
    runtime: &str,
    server: impl FnOnce(TcpListener, Arc<Probe>) -> io::Result<u64> + Send + 'static,
) {
    let exercise::Setup {
        listener,
        probe,
        clients,
    } = exercise::setup();
    let for_server = Arc::clone(&probe);
    let ended = run_with_watchdog(
        &format!("exercise 10, {runtime}"),
        probe.activity(),
        STALL,
        LIMIT,
        move || server(listener, for_server),
    );
    let seen = probe.seen();
    let frames = match ended {
        Outcome::Finished(Ok(frames)) => frames,
        Outcome::Finished(Err(e)) => panic!(
            "the {runtime} server returned an error: {e}. One client's failure (it stalled, it \
             went away) ends that client's session, not the server. {HINT}"
        ),
        Outcome::Panicked(message) => panic!("the {runtime} server panicked: {message}"),
        Outcome::Hung { .. } if seen.stalled_dropped < STALLED => panic!(
            "the {runtime} server did nothing for {STALL:?}: {} of the {STALLED} clients that \
             stopped half-way through a frame still had their connections open ({} of {CONNECTIONS} \
             connections accepted, up to {} open at once; the cap is {CAP}). Nothing drops a client that stops \
             sending, so its session waits for the rest of the frame for ever — and holds its \
             slot. Put the read timeout on every read of a frame, the whole frame. {HINT}",
            STALLED - seen.stalled_dropped,
            seen.accepted,
            seen.peak
        ),
        Outcome::Hung { .. } => panic!(
            "the {runtime} server dropped the stalled clients, then did nothing for {STALL:?} \
             ({} of {CONNECTIONS} connections accepted): does every session give its slot back \
             when it ends? {HINT}",
            seen.accepted
        ),
    };
    assert!(
        seen.peak <= CAP,
        "the {runtime} server had {} connections open at once; the cap is {CAP}. Accept the next \
         connection only once a slot is free (a connection accepted and left waiting for a slot \
         is open too: its descriptor and buffers are taken). {HINT}",
        seen.peak
    );
    if let Err(why) = clients.acknowledged() {
        panic!(
            "the {runtime} server stayed within the cap, but a client that did nothing wrong was \
             not served: {why}. The read timeout is for the wait for one frame, not for the whole \
             session (a client may stay as long as it keeps sending). {HINT}"
        );
    }
    assert!(
        seen.peak == CAP,
        "the {runtime} server never had more than {} connection(s) open at once (the cap is \
         {CAP}): a cap is what may be served at once, so serve that many — a task per \
         connection, up to the cap. {HINT}",
        seen.peak
    );
    assert_eq!(
        frames, FRAMES,
        "the {runtime} server counted {frames} frames; the clients it served sent {FRAMES}. {HINT}"
    );
}

#[test]
fn tokio_caps_and_drops_stalled_clients() {
    check("tokio", |listener, probe| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        runtime.block_on(async move {
            let listener = TokioListener::new(listener, &probe)?;
            serve_tokio(listener, CONNECTIONS, CAP, READ_TIMEOUT).await
        })
    });
}

#[test]
fn smol_caps_and_drops_stalled_clients() {
    check("smol", |listener, probe| {
        runtimes::with_smol_executor(2, "ex10-smol", |executor| {
            Ok(smol::block_on(async move {
                let listener = SmolListener::new(listener, &probe)?;
                serve_smol(executor, listener, CONNECTIONS, CAP, READ_TIMEOUT).await
            }))
        })
        .map_err(|e| io::Error::other(pipeline::error_chain(&e)))?
    });
}

//! The HTTP/1.1 server loop: hyper with a header-read timeout, a bound on open connections, and
//! a graceful shutdown.
//!
//! `axum::serve` sets no timer, so it has no header-read timeout: a client sending its headers at
//! one byte per second, or keeping an idle connection open, held a task and a socket forever, and
//! enough of them stopped the server answering. Here:
//! - the headers of each request must arrive within [`HttpLimits::header_read_timeout`]; hyper
//!   runs the same timer while a kept-alive connection waits for its next request, so idle
//!   connections are closed after it too;
//! - the body has its own deadline ([`HttpLimits::body_timeout`], enforced where it is read, in
//!   [`super::body`]);
//! - at most [`HttpLimits::max_connections`] connections are open; further ones wait in the
//!   kernel's backlog until one closes (slow clients free their slot within the timeouts).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::HttpLimits;

/// Serves `app` on `listener` until `shutdown` is cancelled, then lets open requests finish for
/// at most `grace`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    shutdown: CancellationToken,
    grace: Duration,
) -> std::io::Result<()> {
    let max_connections = limits.max_connections.max(1);
    let slots = Arc::new(Semaphore::new(max_connections));
    // Cancelled at shutdown: each connection finishes its current request and closes.
    let closing = CancellationToken::new();
    loop {
        // A slot first, then accept: over the limit, new connections wait in the backlog.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            () = shutdown.cancelled() => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(err) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    tracing::warn!("accepting a connection failed: {err}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let app = app.clone();
        let closing = closing.clone();
        tokio::spawn(async move {
            serve_connection(stream, app, limits, closing).await;
            drop(slot);
        });
    }
    drop(listener);
    closing.cancel();
    let all_closed = slots.acquire_many(max_connections as u32);
    if tokio::time::timeout(grace, all_closed).await.is_err() {
        tracing::warn!(?grace, "requests still open after the shutdown grace period; exiting");
    }
    Ok(())
}

async fn serve_connection(stream: TcpStream, app: Router, limits: HttpLimits, closing: CancellationToken) {
    let _ = stream.set_nodelay(true);
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout).keep_alive(true);
    let connection = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app));
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = closing.cancelled() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(err) = result {
        // Timeouts and clients that go away are routine; they are not worth more than debug.
        tracing::debug!("connection ended: {err}");
    }
}

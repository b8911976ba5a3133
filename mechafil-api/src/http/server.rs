//! The serve loop: HTTP/1.1 connections (hyper) with the limits a small public machine needs.
//!
//! `axum::serve` sets no timer, so hyper's header-read timeout never fires there: a client that
//! sends its headers one byte a second, or opens a connection and says nothing, holds it (and a
//! file descriptor) forever, and ~1,100 of them exhausted the file limit. Here:
//!
//! - **Header read** ([`ServerLimits::header_read_timeout`], 30 s): the request head must arrive
//!   within it, counted from when the connection starts waiting for a request. That wait also
//!   covers an idle keep-alive connection between requests, so it is the idle timeout too.
//! - **Body** ([`ServerLimits::body_read_timeout`], 30 s from the request head): passed to the
//!   body extractor as a [`BodyDeadline`]; a late body gets 408 and the connection closes.
//! - **Write stall** ([`ServerLimits::write_stall_timeout`], 30 s): a connection whose writes
//!   make no progress for that long (a client that stopped reading its answer) is closed, which
//!   frees the answer's memory.
//! - **Connections** ([`ServerLimits::max_connections`]): beyond it a new connection is closed
//!   at once instead of taking the last file descriptors (which would stop `accept` itself).
//!
//! Protocol errors (malformed requests, oversized headers: 400/431) are answered by hyper
//! itself, without our JSON body; the server keeps serving. Counters of what the loop did are
//! process-wide ([`connection_stats`]) for `/metrics`.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;

use super::body::{BODY_READ_TIMEOUT, BodyDeadline};

/// The limits of the serve loop. `Default` is what `mechafil-api serve` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// Time for a request head to arrive, from when the connection starts waiting for one
    /// (so also the longest a keep-alive connection stays idle).
    pub header_read_timeout: Duration,
    /// Time for a request body to arrive, from its head.
    pub body_read_timeout: Duration,
    /// Longest time a connection's writes may make no progress.
    pub write_stall_timeout: Duration,
    /// Most open connections; more are closed as soon as they are accepted.
    pub max_connections: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            header_read_timeout: Duration::from_secs(30),
            body_read_timeout: BODY_READ_TIMEOUT,
            write_stall_timeout: Duration::from_secs(30),
            max_connections: max_connections_for_this_process(),
        }
    }
}

/// Connections the default limits allow: the process's open-file limit less room for the store,
/// logs and outgoing Spacescope connections (64), between 64 and 16,384; 960 when the limit cannot
/// be read (it is 1024 on many systems).
pub fn max_connections_for_this_process() -> usize {
    open_file_limit().map_or(960, |limit| limit.saturating_sub(64).clamp(64, 16_384))
}

/// The soft `RLIMIT_NOFILE`, from `/proc/self/limits` (Linux; `None` elsewhere).
fn open_file_limit() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// What the serve loop has done since the process started (all servers of the process).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnectionStats {
    /// Connections open now.
    pub open: u64,
    /// Connections accepted, since start.
    pub accepted_total: u64,
    /// Connections closed at once because [`ServerLimits::max_connections`] were open.
    pub refused_total: u64,
    /// Connections closed because a request head did not arrive in time (or they sat idle).
    pub header_timeouts_total: u64,
    /// Connections closed because their writes stalled.
    pub write_stalls_total: u64,
}

static OPEN: AtomicU64 = AtomicU64::new(0);
static ACCEPTED: AtomicU64 = AtomicU64::new(0);
static REFUSED: AtomicU64 = AtomicU64::new(0);
static HEADER_TIMEOUTS: AtomicU64 = AtomicU64::new(0);
static WRITE_STALLS: AtomicU64 = AtomicU64::new(0);

/// The serve loop's counters.
pub fn connection_stats() -> ConnectionStats {
    ConnectionStats {
        open: OPEN.load(Ordering::Relaxed),
        accepted_total: ACCEPTED.load(Ordering::Relaxed),
        refused_total: REFUSED.load(Ordering::Relaxed),
        header_timeouts_total: HEADER_TIMEOUTS.load(Ordering::Relaxed),
        write_stalls_total: WRITE_STALLS.load(Ordering::Relaxed),
    }
}

/// Serves `app` on `listener` within `limits` until `shutdown` resolves, then stops accepting
/// and lets open requests finish for at most `grace` (idle connections close at once).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
    limits: ServerLimits,
) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, _peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors or a connection reset before accept: pause
                    // briefly (the error would repeat at once) and carry on.
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            REFUSED.fetch_add(1, Ordering::Relaxed);
            drop(stream);
            continue;
        };
        ACCEPTED.fetch_add(1, Ordering::Relaxed);
        let _ = stream.set_nodelay(true);
        let io = TokioIo::new(StallGuard::new(stream, limits.write_stall_timeout));
        let app = app.clone();
        let body_timeout = limits.body_read_timeout;
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let mut request = request.map(Body::new);
            request.extensions_mut().insert(BodyDeadline(Instant::now() + body_timeout));
            app.clone().oneshot(request)
        });
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .serve_connection(io, service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _slot = slot;
            OPEN.fetch_add(1, Ordering::Relaxed);
            if let Err(err) = connection.await {
                if err.is_timeout() {
                    HEADER_TIMEOUTS.fetch_add(1, Ordering::Relaxed);
                } else if is_write_stall(&err) {
                    WRITE_STALLS.fetch_add(1, Ordering::Relaxed);
                }
                tracing::debug!(error = %err, "connection ended with an error");
            }
            OPEN.fetch_sub(1, Ordering::Relaxed);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(grace) => {
            tracing::warn!(?grace, "shutdown grace period over; dropping remaining connections");
        }
    }
    Ok(())
}

fn is_write_stall(err: &hyper::Error) -> bool {
    std::error::Error::source(err)
        .and_then(|s| s.downcast_ref::<io::Error>())
        .is_some_and(|e| e.kind() == io::ErrorKind::TimedOut)
}

/// An I/O stream whose writes fail with `TimedOut` once they have been pending (the peer not
/// reading) for `timeout` without progress.
struct StallGuard<T> {
    inner: T,
    timeout: Duration,
    stalled: Option<Pin<Box<Sleep>>>,
}

impl<T> StallGuard<T> {
    fn new(inner: T, timeout: Duration) -> Self {
        StallGuard { inner, timeout, stalled: None }
    }

    /// Passes `poll` through, starting the stall clock when it is pending and stopping it when
    /// it makes progress.
    fn guard<R>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<R>>) -> Poll<io::Result<R>> {
        match poll {
            Poll::Pending => {
                let timeout = self.timeout;
                let sleep = self.stalled.get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                match sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("the peer read nothing for {} s", timeout.as_secs()),
                    ))),
                    Poll::Pending => Poll::Pending,
                }
            }
            ready => {
                self.stalled = None;
                ready
            }
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for StallGuard<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for StallGuard<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.guard(cx, poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.guard(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_flush(cx);
        self.guard(cx, poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_limits_are_the_documented_ones() {
        let limits = ServerLimits::default();
        assert_eq!(limits.header_read_timeout, Duration::from_secs(30));
        assert_eq!(limits.body_read_timeout, Duration::from_secs(30));
        assert_eq!(limits.write_stall_timeout, Duration::from_secs(30));
        assert!((64..=16_384).contains(&limits.max_connections));
        if let Some(files) = open_file_limit() {
            assert!(limits.max_connections < files, "{} connections, {files} files", limits.max_connections);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_that_makes_no_progress_fails_after_the_timeout() {
        use tokio::io::AsyncWriteExt;
        // A pipe whose reader never reads: writes fill its 64-byte buffer, then stay pending.
        let (writer, _reader) = tokio::io::duplex(64);
        let mut guarded = StallGuard::new(writer, Duration::from_secs(30));
        let started = Instant::now();
        let err = guarded.write_all(&[0u8; 1024]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), Duration::from_secs(30));
    }
}

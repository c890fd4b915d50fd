//! Accepting and serving connections, so that no client, however slow, holds the service: hyper's HTTP/1
//! with its header-read timeout (which `axum::serve` cannot set), an idle timeout of our own, and a cap on
//! open connections; then a graceful stop.
//!
//! The idle timeout watches the socket itself: a connection with no request in progress is closed once no
//! byte has moved on it for [`ServerLimits::idle_timeout`]. That ends connections kept alive between
//! requests, connections that never send anything, and clients that stop reading their answer, which no
//! request-level timeout sees (the handler is done; hyper is waiting to write).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use crate::config::ServerLimits;

/// How often, at most, reaching the connection cap is logged.
const CAP_WARNING_EVERY: Duration = Duration::from_secs(60);

/// Serves `router` on `listener` until `stop`; then accepts nothing more, lets each connection finish the
/// request it is in, and returns once all are closed.
pub(super) async fn serve(listener: TcpListener, router: Router, limits: ServerLimits, stop: CancellationToken) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let connections = TaskTracker::new();
    let mut warned_at: Option<Instant> = None;
    loop {
        let slot = match Arc::clone(&slots).try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                // Under a flood the cap is reached again each time a place frees: one line a minute says it.
                if warned_at.is_none_or(|at| at.elapsed() >= CAP_WARNING_EVERY) {
                    warned_at = Some(Instant::now());
                    tracing::warn!(limit = limits.max_connections, "connection cap reached: new connections wait");
                }
                tokio::select! {
                    slot = Arc::clone(&slots).acquire_owned() => match slot {
                        Ok(slot) => slot,
                        Err(_) => break,
                    },
                    () = stop.cancelled() => break,
                }
            }
        };
        let (socket, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    accept_failed(error).await;
                    continue;
                }
            },
            () = stop.cancelled() => break,
        };
        connections.spawn(connection(socket, peer, router.clone(), limits, stop.clone(), slot));
    }
    drop(listener);
    connections.close();
    connections.wait().await;
}

/// A failed accept: one client's trouble is skipped; running out of file descriptors (or memory) waits a
/// moment for connections to close, as `axum::serve` does, instead of spinning.
async fn accept_failed(error: io::Error) {
    let one_client = matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionRefused
    );
    if !one_client {
        tracing::error!(%error, "cannot accept connections; retrying in a second");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// One connection, holding its `slot` of the cap until it closes.
async fn connection(
    socket: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: ServerLimits,
    stop: CancellationToken,
    _slot: OwnedSemaphorePermit,
) {
    socket.set_nodelay(true).ok();
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched { inner: socket, activity: Arc::clone(&activity) });
    let in_progress = Arc::clone(&activity);
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        // Who is at the other end, for the per-client throttles (crate::address).
        request.extensions_mut().insert(ConnectInfo(peer));
        let busy = Busy::start(&in_progress);
        let router = router.clone();
        async move {
            let response = router.oneshot(request).await;
            drop(busy);
            response
        }
    });
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
    let connection = builder.serve_connection(io, service);
    let mut connection = std::pin::pin!(connection);
    let mut stopping = false;
    loop {
        let check_idle = activity.idle_deadline(limits.idle_timeout);
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    // A header-read timeout, a malformed request, a reset: the client's doing, not ours.
                    tracing::debug!(%peer, %error, "connection ended");
                }
                break;
            }
            () = stop.cancelled(), if !stopping => {
                connection.as_mut().graceful_shutdown();
                stopping = true;
            }
            () = tokio::time::sleep_until(check_idle.into()) => {
                if activity.idle_for() >= limits.idle_timeout {
                    tracing::debug!(%peer, "closing an idle connection");
                    break;
                }
            }
        }
    }
}

/// When a connection last moved a byte, and how many of its requests are being handled.
#[derive(Debug)]
struct Activity {
    opened: Instant,
    /// Milliseconds after `opened`.
    last: AtomicU64,
    busy: AtomicUsize,
}

impl Activity {
    fn new() -> Self {
        Self { opened: Instant::now(), last: AtomicU64::new(0), busy: AtomicUsize::new(0) }
    }

    fn touch(&self) {
        let now = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(now, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.opened + Duration::from_millis(self.last.load(Ordering::Relaxed))
    }

    /// How long nothing has happened: zero while a request is being handled.
    fn idle_for(&self) -> Duration {
        if self.busy.load(Ordering::SeqCst) > 0 { Duration::ZERO } else { self.last().elapsed() }
    }

    /// When the connection may next be found idle for `timeout`.
    fn idle_deadline(&self, timeout: Duration) -> Instant {
        if self.busy.load(Ordering::SeqCst) > 0 { Instant::now() + timeout } else { self.last() + timeout }
    }
}

/// A request being handled: the connection is not idle meanwhile, and its idle clock restarts after.
struct Busy(Arc<Activity>);

impl Busy {
    fn start(activity: &Arc<Activity>) -> Self {
        activity.busy.fetch_add(1, Ordering::SeqCst);
        Self(Arc::clone(activity))
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.touch();
        self.0.busy.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A socket that notes every byte moved in [`Activity`].
struct Watched<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, data);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_is_idle_only_with_no_request_in_progress() {
        let activity = Arc::new(Activity::new());
        std::thread::sleep(Duration::from_millis(30));
        assert!(activity.idle_for() >= Duration::from_millis(30));
        let busy = Busy::start(&activity);
        assert_eq!(activity.idle_for(), Duration::ZERO, "a request is being handled");
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(activity.idle_for(), Duration::ZERO);
        drop(busy);
        assert!(activity.idle_for() < Duration::from_millis(30), "the clock restarts after a request");
        assert!(activity.idle_deadline(Duration::from_secs(5)) > Instant::now() + Duration::from_secs(4));
    }
}

//! The loopback HTTP server every sandbox runs on.
//!
//! It serves the vendor's router plus the `/_sandbox/` admin routes through
//! its own listener, whose connections can be reset on demand: a response
//! carrying the marker of [`lost_response`](crate::lost_response) makes the
//! connection fail its next write and close with `SO_LINGER` 0, so the
//! kernel sends a TCP RST and the client sees a real transport error
//! instead of an HTTP response.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::connect_info::{ConnectInfo, Connected};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use axum::serve::{IncomingStream, Listener};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::admin::{self, Admin};
use crate::faults::Marker;
use crate::{CreateCounters, FaultInjector, StateSource};

/// How long [`SandboxServer::shutdown`] waits for requests in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A sandbox could not start.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// Sandboxes serve on loopback only.
    #[error("sandbox `{name}`: {addr} is not a loopback address; sandboxes serve on loopback only")]
    NotLoopback {
        /// The sandbox's name.
        name: String,
        /// The address asked for.
        addr: SocketAddr,
    },
    /// The address could not be bound (in use, no permission).
    #[error("sandbox `{name}`: cannot bind {addr}: {source}")]
    Bind {
        /// The sandbox's name.
        name: String,
        /// The address asked for.
        addr: SocketAddr,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
}

/// A running sandbox: a vendor router plus `/_sandbox/` on a loopback port.
///
/// Stop it with [`shutdown`](Self::shutdown); dropping it also asks the
/// server to stop (best effort, without waiting).
///
/// ```
/// use axum::{Router, routing::get};
/// use sig_sandbox::SandboxServer;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let router = Router::new().route("/ping", get(|| async { "pong" }));
/// let server = SandboxServer::builder("demo", router).start().await?;
/// assert!(server.base_url().starts_with("http://127.0.0.1:"));
/// assert_eq!(server.announce()["sandbox"], "demo");
/// println!("{}", server.announce()); // what `sig sandbox` prints, one line per sandbox
/// server.shutdown().await;
/// # Ok(()) }
/// ```
pub struct SandboxServer {
    name: Arc<str>,
    addr: SocketAddr,
    faults: FaultInjector,
    counters: CreateCounters,
    requests: Arc<AtomicU64>,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl fmt::Debug for SandboxServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxServer")
            .field("name", &self.name)
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// Configures a [`SandboxServer`]; see [`SandboxServer::builder`].
pub struct SandboxBuilder {
    name: String,
    router: Router,
    bind: SocketAddr,
    faults: FaultInjector,
    counters: CreateCounters,
    records: Option<Arc<dyn StateSource>>,
}

impl fmt::Debug for SandboxBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxBuilder")
            .field("name", &self.name)
            .field("bind", &self.bind)
            .finish_non_exhaustive()
    }
}

impl SandboxServer {
    /// Starts configuring a sandbox called `name` (`"omie"`) serving
    /// `router`, the vendor's routes with their state already applied. The
    /// router must not define routes under `/_sandbox/`.
    pub fn builder(name: impl Into<String>, router: Router) -> SandboxBuilder {
        SandboxBuilder {
            name: name.into(),
            router,
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            faults: FaultInjector::new(),
            counters: CreateCounters::new(),
            records: None,
        }
    }

    /// The sandbox's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The bound address (with the real port when bound to port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:PORT/`, with the trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// `{"sandbox": name, "base_url": ..., "port": ...}`, the line
    /// `sig sandbox` prints for each sandbox it serves.
    pub fn announce(&self) -> Value {
        json!({"sandbox": &*self.name, "base_url": self.base_url(), "port": self.port()})
    }

    /// The fault injector the admin API edits.
    pub fn faults(&self) -> &FaultInjector {
        &self.faults
    }

    /// The create counters `/_sandbox/state` shows.
    pub fn counters(&self) -> &CreateCounters {
        &self.counters
    }

    /// HTTP requests received so far (the vendor's routes and the admin API alike; a
    /// request a fault answers counts too).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Stops accepting, ends held (`timeout`) requests with a reset, and
    /// waits up to 5 s for requests in flight before stopping hard.
    pub async fn shutdown(mut self) {
        self.shutdown.send_replace(true);
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
                .await
                .is_err()
        {
            tracing::warn!(sandbox = %self.name, "sandbox did not stop in time; aborting");
            task.abort();
        }
    }
}

impl Drop for SandboxServer {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
    }
}

impl SandboxBuilder {
    /// Binds this address instead of `127.0.0.1:0` (a loopback address is
    /// required; port 0 picks a free port).
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.bind = addr;
        self
    }

    /// Uses this injector (a clone of the one the vendor's handlers decide
    /// with) instead of a fresh one.
    pub fn faults(mut self, faults: FaultInjector) -> Self {
        self.faults = faults;
        self
    }

    /// Uses these counters (a clone of the ones the vendor's handlers record
    /// into) instead of fresh ones.
    pub fn counters(mut self, counters: CreateCounters) -> Self {
        self.counters = counters;
        self
    }

    /// Where `/_sandbox/state` reads `records` from (default `null`).
    pub fn records(mut self, source: impl StateSource) -> Self {
        self.records = Some(Arc::new(source));
        self
    }

    /// Binds and starts serving on the current tokio runtime.
    ///
    /// # Errors
    /// The address is not loopback, or cannot be bound.
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub async fn start(self) -> Result<SandboxServer, SandboxError> {
        let Self {
            name,
            router,
            bind,
            faults,
            counters,
            records,
        } = self;
        if !bind.ip().is_loopback() {
            return Err(SandboxError::NotLoopback { name, addr: bind });
        }
        let bind_error = |source| SandboxError::Bind {
            name: name.clone(),
            addr: bind,
            source,
        };
        let listener = TcpListener::bind(bind).await.map_err(bind_error)?;
        let addr = listener.local_addr().map_err(bind_error)?;
        let name: Arc<str> = name.into();

        let (shutdown, shutdown_rx) = watch::channel(false);
        let admin = Admin {
            name: Arc::clone(&name),
            faults: faults.clone(),
            counters: counters.clone(),
            records,
        };
        let requests = Arc::new(AtomicU64::new(0));
        let app = router
            .merge(admin::router(admin))
            .layer(axum::middleware::from_fn_with_state(
                Outer {
                    shutdown: shutdown_rx.clone(),
                    requests: Arc::clone(&requests),
                },
                act_on_markers,
            ));
        let mut signal = shutdown_rx;
        let serve = axum::serve(
            ResettableListener(listener),
            app.into_make_service_with_connect_info::<ConnControl>(),
        )
        .with_graceful_shutdown(async move {
            let _ = signal.wait_for(|stop| *stop).await;
        });
        let task_name = Arc::clone(&name);
        let task = tokio::spawn(async move {
            if let Err(err) = serve.await {
                tracing::error!(sandbox = %task_name, error = %err, "sandbox server failed");
            }
        });
        tracing::info!(sandbox = %name, %addr, "sandbox listening");
        Ok(SandboxServer {
            name,
            addr,
            faults,
            counters,
            requests,
            shutdown,
            task: Some(task),
        })
    }
}

/// What the outermost layer needs: the shutdown signal and the request counter.
#[derive(Clone)]
struct Outer {
    shutdown: watch::Receiver<bool>,
    requests: Arc<AtomicU64>,
}

/// The outermost layer: counts the request, gives handlers
/// `ConnectInfo<SocketAddr>` and carries out the markers fault responses carry.
async fn act_on_markers(
    State(Outer {
        mut shutdown,
        requests,
    }): State<Outer>,
    mut request: Request,
    next: Next,
) -> Response {
    requests.fetch_add(1, Ordering::Relaxed);
    let control = request
        .extensions()
        .get::<ConnectInfo<ConnControl>>()
        .map(|info| info.0.clone());
    if let Some(control) = &control {
        request.extensions_mut().insert(ConnectInfo(control.remote));
    }
    let mut response = next.run(request).await;
    let abort = || {
        if let Some(control) = &control {
            control.abort();
        }
    };
    match response.extensions_mut().remove::<Marker>() {
        None => {}
        Some(Marker::Abort) => abort(),
        Some(Marker::Hold(hold)) => {
            tokio::select! {
                () = tokio::time::sleep(hold) => {}
                _ = shutdown.wait_for(|stop| *stop) => abort(),
            }
        }
    }
    response
}

/// Per-connection handle shared by the connection's IO and its requests.
#[derive(Clone, Debug)]
struct ConnControl {
    aborted: Arc<AtomicBool>,
    remote: SocketAddr,
}

impl ConnControl {
    /// Makes the connection fail its next read or write; it then closes
    /// with a reset.
    fn abort(&self) {
        self.aborted.store(true, Ordering::SeqCst);
    }
}

impl Connected<IncomingStream<'_, ResettableListener>> for ConnControl {
    fn connect_info(stream: IncomingStream<'_, ResettableListener>) -> Self {
        stream.io().control.clone()
    }
}

/// A TCP listener whose connections can be reset from a handler.
struct ResettableListener(TcpListener);

impl Listener for ResettableListener {
    type Io = ResettableStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok((stream, remote)) => {
                    // Answers are small; do not let Nagle delay them.
                    let _ = stream.set_nodelay(true);
                    let control = ConnControl {
                        aborted: Arc::default(),
                        remote,
                    };
                    return (ResettableStream { stream, control }, remote);
                }
                Err(err) => {
                    tracing::debug!(error = %err, "sandbox accept failed");
                    // Out of file descriptors and the like: do not spin.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// A TCP stream that, once aborted, refuses IO and closes with a RST.
struct ResettableStream {
    stream: TcpStream,
    control: ConnControl,
}

impl ResettableStream {
    fn aborted(&self) -> bool {
        self.control.aborted.load(Ordering::SeqCst)
    }
}

fn reset_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionReset,
        "sandbox fault: connection reset",
    )
}

impl AsyncRead for ResettableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.aborted() {
            return Poll::Ready(Err(reset_error()));
        }
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for ResettableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.aborted() {
            return Poll::Ready(Err(reset_error()));
        }
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.aborted() {
            return Poll::Ready(Err(reset_error()));
        }
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.aborted() {
            return Poll::Ready(Err(reset_error()));
        }
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.aborted() {
            return Poll::Ready(Err(reset_error()));
        }
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

impl Drop for ResettableStream {
    fn drop(&mut self) {
        if self.aborted() {
            // Linger 0: closing sends RST instead of FIN, and never blocks.
            let _ = self.stream.set_zero_linger();
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::routing::post;

    use super::*;

    #[tokio::test]
    async fn every_request_is_counted_whatever_its_answer() {
        let router = Router::new().route("/api/echo", post(|body: String| async move { body }));
        let server = SandboxServer::builder("echo", router)
            .start()
            .await
            .expect("start");
        assert_eq!(server.requests(), 0);
        let http = reqwest::Client::new();
        for path in ["api/echo", "api/echo", "api/nowhere"] {
            http.post(format!("{}{path}", server.base_url()))
                .body("{}")
                .send()
                .await
                .expect("answered");
        }
        let admin = http
            .get(format!("{}_sandbox/state", server.base_url()))
            .send()
            .await
            .expect("admin");
        assert!(admin.status().is_success());
        assert_eq!(server.requests(), 4, "a 404 and the admin API count too");
        server.shutdown().await;
    }
}

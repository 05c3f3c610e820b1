//! Starting the mock server: on the current tokio runtime, or on a thread of its own for plain
//! `#[test]`s. Dropping the handle stops it.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::http::{handle, Credentials};
use super::state::Backend;
use crate::proxy::base64;

/// A stand-in for the Vortex Config server's heartbeat endpoint, on a loopback port.
///
/// Give [`url`](MockServer::url) to the client as its `server_url`. Dropping the server stops
/// it, hung connections included (it never blocks or panics): a client then sees a server
/// that is down. See the [module documentation](super) for a whole test.
pub struct MockServer {
    pub(super) backend: Arc<Backend>,
    addr: SocketAddr,
    url: String,
    /// Never sent: its drop is what tells the server's tasks to end.
    _stop: watch::Sender<()>,
}

/// Options for a [`MockServer`]: its address, a path prefix, credentials it requires.
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct MockServerBuilder {
    addr: Option<SocketAddr>,
    prefix: String,
    credentials: Option<Credentials>,
}

impl MockServerBuilder {
    /// Listens on this address instead of a free port of `127.0.0.1`, e.g. to bring a server
    /// up on a port a client already reports to.
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.addr = Some(addr);
        self
    }

    /// Serves the route under this path prefix, as a gateway would (`/config` serves
    /// `/config/api/drift/...`); [`MockServer::url`] then ends with it.
    pub fn path_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = format!("/{}", prefix.into().trim_matches('/'));
        if self.prefix == "/" {
            self.prefix.clear();
        }
        self
    }

    /// Puts an auth gateway in front that requires `Authorization: Bearer <token>` on every
    /// request (replacing credentials required before). Other requests get 401 with a
    /// `WWW-Authenticate` challenge and are recorded as [`rejections`](MockServer::rejections)
    /// (never what was sent), not as reports: they use up no scripted reply.
    ///
    /// ```
    /// use vortex_client::{testing::MockServer, Disposition, HeartbeatClient};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = MockServer::builder().require_bearer_token("s3cr3t").start().await?;
    /// let client = |token: &str| {
    ///     HeartbeatClient::builder()
    ///         .server_url(server.url())
    ///         .app("billing")
    ///         .profile("test")
    ///         .bearer_token(token)
    ///         .build()
    /// };
    /// client("s3cr3t")?.report_now().await?;
    /// let err = client("expired")?.report_now().await.unwrap_err();
    /// assert_eq!((err.status(), err.disposition()), (Some(401), Disposition::Permanent));
    /// assert_eq!((server.report_count(), server.rejections()[0].status), (1, 401));
    /// # Ok(())
    /// # }
    /// ```
    pub fn require_bearer_token(mut self, token: impl Into<String>) -> Self {
        self.credentials = Some(Credentials("Bearer", token.into()));
        self
    }

    /// As [`require_bearer_token`](Self::require_bearer_token), for Basic credentials
    /// (`Authorization: Basic base64(user:password)`, what the client sends for a server URL
    /// `http://user:password@host`).
    pub fn require_basic_auth(mut self, user: &str, password: &str) -> Self {
        let user_password = format!("{user}:{password}");
        self.credentials = Some(Credentials("Basic", base64(user_password.as_bytes())));
        self
    }

    /// Starts the server on the current tokio runtime.
    ///
    /// # Errors
    ///
    /// When the address cannot be bound, or when polled outside a tokio runtime (use
    /// [`start_blocking`](Self::start_blocking) there).
    pub async fn start(self) -> io::Result<MockServer> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(io::Error::other(
                "MockServer::start needs a tokio runtime; use start_blocking() without one",
            ));
        }
        let listener = TcpListener::bind(self.address()).await?;
        let (server, backend, stop) = self.into_server(listener.local_addr()?);
        tokio::spawn(serve(listener, backend, stop));
        Ok(server)
    }

    /// Starts the server on a thread of its own, with its own runtime: callable from a plain
    /// `#[test]` and from inside any runtime.
    ///
    /// # Errors
    ///
    /// When the address cannot be bound, or the thread or its runtime cannot be created.
    pub fn start_blocking(self) -> io::Result<MockServer> {
        let listener = std::net::TcpListener::bind(self.address())?;
        listener.set_nonblocking(true)?;
        let (server, backend, stop) = self.into_server(listener.local_addr()?);
        let (ready, started) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("vortex-mock-server".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                let served = runtime.and_then(|runtime| {
                    runtime.block_on(async {
                        let listener = TcpListener::from_std(listener)?;
                        let _ = ready.send(Ok(()));
                        serve(listener, backend, stop).await;
                        Ok(())
                    })
                });
                if let Err(e) = served {
                    let _ = ready.send(Err(e));
                }
            })?;
        let started = started
            .recv()
            .map_err(|_| io::Error::other("the mock server's thread ended"));
        started??;
        Ok(server)
    }

    fn address(&self) -> SocketAddr {
        (self.addr).unwrap_or_else(|| SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
    }

    fn into_server(self, addr: SocketAddr) -> (MockServer, Arc<Backend>, watch::Receiver<()>) {
        let url = format!("http://{addr}{}", self.prefix);
        let backend = Arc::new(Backend::new(self.prefix, self.credentials));
        let (stop, stopped) = watch::channel(());
        let server = MockServer {
            backend: backend.clone(),
            addr,
            url,
            _stop: stop,
        };
        (server, backend, stopped)
    }
}

impl MockServer {
    /// Starts a mock server on a free port of `127.0.0.1`, on the current tokio runtime.
    ///
    /// # Errors
    ///
    /// When no loopback port can be bound, or when polled outside a tokio runtime.
    pub async fn start() -> io::Result<MockServer> {
        MockServerBuilder::default().start().await
    }

    /// Starts a mock server on a thread of its own, for tests without a runtime such as tests
    /// of the [`blocking`](crate::blocking) client.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use vortex_client::{blocking::HeartbeatClient, testing::MockServer};
    ///
    /// let server = MockServer::start_blocking()?; // in a plain #[test]
    /// let client = HeartbeatClient::builder().server_url(server.url()).app("billing").profile("test").build()?;
    /// client.start();
    /// assert_eq!(server.next_report_blocking(Duration::from_secs(10))?.app, "billing");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// When no loopback port can be bound, or the thread or its runtime cannot be created.
    pub fn start_blocking() -> io::Result<MockServer> {
        MockServerBuilder::default().start_blocking()
    }

    /// Options: the address to bind, a path prefix, credentials to require.
    pub fn builder() -> MockServerBuilder {
        MockServerBuilder::default()
    }

    /// The base URL to give the client as its `server_url`: `http://127.0.0.1:PORT`, and the
    /// path prefix if one was set.
    #[must_use]
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// The address the server listens on.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl fmt::Debug for MockServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockServer")
            .field("url", &self.url)
            .field("reports", &self.backend.lock().reports.len())
            .finish_non_exhaustive()
    }
}

/// Resolves once the server's handle is dropped.
async fn stopped(stop: &watch::Receiver<()>) {
    let _ = stop.clone().changed().await;
}

/// Accepts connections and serves each (HTTP/1.1, keep-alive) until it closes, all until the
/// server stops.
async fn serve(listener: TcpListener, backend: Arc<Backend>, stop: watch::Receiver<()>) {
    loop {
        let accepted = tokio::select! {
            () = stopped(&stop) => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, _)) = accepted else {
            // Out of file descriptors, say: wait a little rather than spin.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let (backend, stop) = (backend.clone(), stop.clone());
        tokio::spawn(async move {
            let service = service_fn(move |request| handle(backend.clone(), request));
            let connection = http1::Builder::new()
                .header_read_timeout(None)
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = connection => {}
                () = stopped(&stop) => {}
            }
        });
    }
}

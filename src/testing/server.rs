//! Starting and stopping the mock server: on the current tokio runtime, or on a thread of its
//! own for plain `#[test]`s; shut down when the handle is dropped.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::AbortHandle;

use super::auth::Required;
use super::http::{handle, Context};
use super::state::Backend;

/// A stand-in for the Vortex Config server's drift API, on a loopback port, for tests.
///
/// Start it with [`MockServer::start`] inside a tokio runtime, or with
/// [`MockServer::start_blocking`] anywhere (it then runs on a thread of its own, for tests of
/// the [`blocking`](crate::blocking) client). Give [`url`](MockServer::url) to the client as
/// its `server_url`. Dropping it stops it: open connections are closed, and a client then sees
/// the server as down.
///
/// See the [module documentation](super) for a whole test.
pub struct MockServer {
    pub(super) backend: Arc<Backend>,
    addr: SocketAddr,
    url: String,
    stop: watch::Sender<bool>,
    accept: Option<AbortHandle>,
}

/// Options for a [`MockServer`]: its address and a path prefix.
///
/// ```
/// use vortex_client::testing::MockServer;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// // The server behind a gateway that serves it under /config.
/// let server = MockServer::builder().path_prefix("/config/").start().await?;
/// assert!(server.url().ends_with("/config"));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct MockServerBuilder {
    addr: Option<SocketAddr>,
    prefix: String,
    credentials: Option<Required>,
}

impl MockServerBuilder {
    /// Listens on this address instead of `127.0.0.1:0` (a free loopback port). Useful to bring
    /// a server up on a port a client already reports to.
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.addr = Some(addr);
        self
    }

    /// Serves the routes under this path prefix, as a gateway would (`/config` serves
    /// `/config/api/drift/...`). [`MockServer::url`] then ends with it.
    pub fn path_prefix(mut self, prefix: impl Into<String>) -> Self {
        let prefix = prefix.into();
        let trimmed = prefix.trim_matches('/');
        self.prefix = if trimmed.is_empty() {
            String::new()
        } else {
            format!("/{trimmed}")
        };
        self
    }

    /// Requires `Authorization: Bearer <token>` on every request, as the server behind an
    /// auth gateway: a request without it, or with another token, is answered 401 with a
    /// `WWW-Authenticate: Bearer` challenge. Replaces credentials required before.
    ///
    /// A refused request is recorded in [`rejections`](MockServer::rejections) (status 401,
    /// and why: no header, another scheme, wrong credentials; never what was sent), not in
    /// [`reports`](MockServer::reports): the gateway never passes it on, so it uses up no
    /// scripted reply and never registers. Every route is guarded, the read side included.
    ///
    /// A service's test that its token gets through, and that a wrong one is refused:
    ///
    /// ```
    /// use vortex_client::testing::MockServer;
    /// use vortex_client::{Disposition, HeartbeatClient};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = MockServer::builder().require_bearer_token("s3cr3t").start().await?;
    /// let client = |token: &str| {
    ///     HeartbeatClient::builder()
    ///         .server_url(server.url())
    ///         .app("billing")
    ///         .profile("test")
    ///         .config_version("v1")
    ///         .bearer_token(token)
    ///         .build()
    /// };
    ///
    /// // The right token: accepted and recorded.
    /// client("s3cr3t")?.report_now().await?;
    /// assert_eq!(server.report_count(), 1);
    ///
    /// // A wrong one: 401, a credentials error the client does not retry.
    /// let err = client("expired")?.report_now().await.unwrap_err();
    /// assert_eq!(err.status(), Some(401));
    /// assert_eq!(err.disposition(), Disposition::Permanent);
    /// assert_eq!(server.rejections()[0].status, 401);
    /// assert_eq!(server.report_count(), 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn require_bearer_token(mut self, token: impl Into<String>) -> Self {
        self.credentials = Some(Required::Bearer(token.into()));
        self
    }

    /// Requires Basic credentials on every request (`Authorization: Basic
    /// base64(user:password)`, what the client sends for a server URL
    /// `http://user:password@host`), as the server behind an auth gateway: otherwise 401
    /// with a `WWW-Authenticate: Basic` challenge. Replaces credentials required before;
    /// refusals are recorded as with
    /// [`require_bearer_token`](Self::require_bearer_token).
    ///
    /// ```
    /// use vortex_client::testing::MockServer;
    /// use vortex_client::{Disposition, HeartbeatClient};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = MockServer::builder().require_basic_auth("svc", "pw").start().await?;
    /// let client = |userinfo: &str| {
    ///     HeartbeatClient::builder()
    ///         .server_url(server.url().replace("http://", &format!("http://{userinfo}@")))
    ///         .app("billing")
    ///         .profile("test")
    ///         .config_version("v1")
    ///         .build()
    /// };
    ///
    /// client("svc:pw")?.report_now().await?;
    /// let err = client("svc:old")?.report_now().await.unwrap_err();
    /// assert_eq!(err.status(), Some(401));
    /// assert_eq!(err.disposition(), Disposition::Permanent);
    /// assert_eq!((server.report_count(), server.rejections().len()), (1, 1));
    /// # Ok(())
    /// # }
    /// ```
    pub fn require_basic_auth(mut self, user: &str, password: &str) -> Self {
        self.credentials = Some(Required::basic(user, password));
        self
    }

    fn address(&self) -> SocketAddr {
        self.addr
            .unwrap_or_else(|| SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
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
        let addr = listener.local_addr()?;
        let (mut server, cx, stop) = MockServer::new(addr, &self);
        let accept = tokio::spawn(accept_loop(listener, cx, stop));
        server.accept = Some(accept.abort_handle());
        Ok(server)
    }

    /// Starts the server on a thread of its own, with its own runtime: callable from a plain
    /// `#[test]`, and from inside any runtime.
    ///
    /// # Errors
    ///
    /// When the address cannot be bound, or the thread or its runtime cannot be created.
    pub fn start_blocking(self) -> io::Result<MockServer> {
        let listener = std::net::TcpListener::bind(self.address())?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let (server, cx, stop) = MockServer::new(addr, &self);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("vortex-mock-server".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => return drop(ready_tx.send(Err(e))),
                };
                runtime.block_on(async move {
                    match TcpListener::from_std(listener) {
                        Ok(listener) => {
                            let _ = ready_tx.send(Ok(()));
                            accept_loop(listener, cx, stop).await;
                        }
                        Err(e) => drop(ready_tx.send(Err(e))),
                    }
                });
            })?;
        ready_rx
            .recv()
            .map_err(|_| io::Error::other("the mock server's thread ended at start"))??;
        Ok(server)
    }
}

impl MockServer {
    /// Starts a mock server on `127.0.0.1`, on a free port, on the current tokio runtime.
    ///
    /// ```
    /// use vortex_client::testing::MockServer;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// let server = MockServer::start().await?;
    /// assert!(server.url().starts_with("http://127.0.0.1:"));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// When no loopback port can be bound, or when polled outside a tokio runtime.
    pub async fn start() -> io::Result<MockServer> {
        MockServerBuilder::default().start().await
    }

    /// Starts a mock server on a thread of its own (with its own runtime), for tests without
    /// a runtime, such as tests of the [`blocking`](crate::blocking) client.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use std::time::Duration;
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

    /// Options: the address to bind, a path prefix.
    ///
    /// ```
    /// use vortex_client::testing::MockServer;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// // The server behind a gateway that serves it under /config:
    /// let server = MockServer::builder().path_prefix("/config").start().await?;
    /// assert!(server.url().ends_with("/config"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn builder() -> MockServerBuilder {
        MockServerBuilder::default()
    }

    fn new(
        addr: SocketAddr,
        options: &MockServerBuilder,
    ) -> (MockServer, Context, watch::Receiver<bool>) {
        let backend = Arc::new(Backend::default());
        let (stop, stopped) = watch::channel(false);
        let prefix = options.prefix.as_str();
        let cx = Context {
            backend: backend.clone(),
            prefix: Arc::from(prefix),
            credentials: options.credentials.clone().map(Arc::new),
        };
        let server = MockServer {
            backend,
            addr,
            url: format!("http://{addr}{prefix}"),
            stop,
            accept: None,
        };
        (server, cx, stopped)
    }

    /// The base URL to give the client as its `server_url` (`http://127.0.0.1:PORT`, plus the
    /// path prefix if one was set).
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use vortex_client::{blocking::HeartbeatClient, testing::MockServer};
    ///
    /// let server = MockServer::start_blocking()?;
    /// // Point the client under test at the mock:
    /// let client = HeartbeatClient::builder()
    ///     .server_url(server.url())
    ///     .app("billing")
    ///     .profile("test")
    ///     .build()?;
    /// # drop(client);
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// The address the server listens on.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use vortex_client::testing::MockServer;
    ///
    /// let server = MockServer::start_blocking()?;
    /// // E.g. to reach it with another client, or to check that a port is taken:
    /// let connection = std::net::TcpStream::connect(server.addr())?;
    /// assert!(connection.peer_addr()?.ip().is_loopback());
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for MockServer {
    /// Stops accepting and closes open connections (hung ones included). Never blocks and
    /// never panics, inside a runtime or not.
    fn drop(&mut self) {
        self.stop.send_replace(true);
        if let Some(accept) = &self.accept {
            accept.abort();
        }
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

/// Resolves once the server is told to stop (or its handle is gone).
async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

async fn accept_loop(listener: TcpListener, cx: Context, stop: watch::Receiver<bool>) {
    loop {
        let accepted = tokio::select! {
            () = stopped(stop.clone()) => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _)) => {
                tokio::spawn(connection(stream, cx.clone(), stop.clone()));
            }
            // Out of file descriptors, say: wait a little rather than spin.
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// Serves one connection (HTTP/1.1, keep-alive) until it closes or the server stops.
async fn connection(stream: TcpStream, cx: Context, stop: watch::Receiver<bool>) {
    let service = service_fn(move |request| handle(cx.clone(), request));
    let mut builder = http1::Builder::new();
    builder.header_read_timeout(None);
    let serving = builder.serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = serving => {}
        () = stopped(stop) => {}
    }
}

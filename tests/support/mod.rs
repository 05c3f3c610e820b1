//! Helpers shared by the test files: a loopback port with nothing on it, log capture, and a
//! catch-all receiver.
//!
//! New tests use the crate's own mock server (`vortex_client::testing::MockServer`). The
//! receiver here answers and records a request on *any* path (a redirect's target included),
//! which tests of redirects and of hostile inputs rely on.
//!
//! Each test file includes it with `mod support;`; not every file uses every helper.
#![allow(dead_code, unreachable_pub)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::time::Instant;

/// One report the receiver got.
#[derive(Debug, Clone)]
pub struct Report {
    /// Request path, still percent-encoded.
    pub path: String,
    pub headers: HeaderMap,
    /// The body, parsed (Null when it was not JSON).
    pub body: serde_json::Value,
    pub at: Instant,
}

impl Report {
    pub fn version(&self) -> &str {
        self.body["config_version"].as_str().unwrap_or("")
    }
}

/// How the receiver answers one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// 200 with the contract's answer, drift decided against the expected version.
    Ok,
    /// This status with an empty body.
    Status(u16),
    /// This status with a `Retry-After` header.
    RetryAfter(u16, String),
    /// This status and raw body.
    Raw(u16, Vec<u8>),
    /// A redirect to this location.
    Redirect(u16, String),
    /// Never answer.
    Hang,
    /// Answer with `Ok` after this delay.
    Delay(Duration),
}

#[derive(Default)]
struct Shared {
    reports: Mutex<Vec<Report>>,
    script: Mutex<VecDeque<Reply>>,
    default_reply: Mutex<Option<Reply>>,
    expected: Mutex<Option<String>>,
    arrived: Notify,
}

/// A heartbeat receiver on 127.0.0.1, on a port of its own.
pub struct Receiver {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Receiver {
    /// Starts a receiver on 127.0.0.1:0.
    pub async fn start() -> Receiver {
        Self::start_on("127.0.0.1:0").await
    }

    /// Starts a receiver on a given loopback address (e.g. a port freed earlier).
    pub async fn start_on(addr: &str) -> Receiver {
        let listener = TcpListener::bind(addr).await.expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let shared = Arc::new(Shared::default());
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            addr,
            shared,
            server,
        }
    }

    /// The base URL to give the client.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sets the version the receiver expects (drift is decided against it).
    pub fn expect_version(&self, version: Option<&str>) {
        *self.shared.expected.lock() = version.map(str::to_owned);
    }

    /// Queues replies for the next requests, in order; after them, the default reply.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.shared.script.lock().extend(replies);
    }

    /// The reply once the script is exhausted (initially `Reply::Ok`).
    pub fn set_default(&self, reply: Reply) {
        *self.shared.default_reply.lock() = Some(reply);
    }

    pub fn reports(&self) -> Vec<Report> {
        self.shared.reports.lock().clone()
    }

    pub fn count(&self) -> usize {
        self.shared.reports.lock().len()
    }

    /// Waits until at least `n` reports arrived (bounded by `within`, then panics with what
    /// arrived).
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Report> {
        let deadline = Instant::now() + within;
        loop {
            let notified = self.shared.arrived.notified();
            {
                let reports = self.shared.reports.lock();
                if reports.len() >= n {
                    return reports.clone();
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                let got = self.reports();
                assert!(
                    got.len() >= n,
                    "expected {n} reports within {within:?}, got {}: {:?}",
                    got.len(),
                    got.iter().map(Report::version).collect::<Vec<_>>()
                );
                return got;
            }
        }
    }

    /// Waits until a report with this version arrived.
    pub async fn wait_for_version(&self, version: &str, within: Duration) -> Report {
        let deadline = Instant::now() + within;
        loop {
            let notified = self.shared.arrived.notified();
            if let Some(r) = self.reports().into_iter().find(|r| r.version() == version) {
                return r;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!(
                    "no report with version {version} within {within:?}; got {:?}",
                    self.reports()
                        .iter()
                        .map(Report::version)
                        .collect::<Vec<_>>()
                );
            }
        }
    }
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let headers = request.headers().clone();
    let body: Bytes = axum::body::to_bytes(request.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    let version = body["config_version"].as_str().map(str::to_owned);
    shared.reports.lock().push(Report {
        path,
        headers,
        body,
        at: Instant::now(),
    });
    shared.arrived.notify_waiters();
    let reply = shared
        .script
        .lock()
        .pop_front()
        .or_else(|| shared.default_reply.lock().clone())
        .unwrap_or(Reply::Ok);
    let expected = shared.expected.lock().clone();
    let ok = move || {
        let drift = expected
            .as_deref()
            .is_some_and(|e| Some(e) != version.as_deref());
        axum::Json(serde_json::json!({
            "registered": true,
            "expected_version": expected,
            "drift_detected": drift,
        }))
        .into_response()
    };
    match reply {
        Reply::Ok => ok(),
        Reply::Delay(d) => {
            tokio::time::sleep(d).await;
            ok()
        }
        Reply::Status(code) => status(code).into_response(),
        Reply::RetryAfter(code, value) => {
            let mut r = status(code).into_response();
            if let Ok(v) = HeaderValue::from_str(&value) {
                r.headers_mut().insert("retry-after", v);
            }
            r
        }
        Reply::Raw(code, body) => (status(code), body).into_response(),
        Reply::Redirect(code, location) => {
            let mut r = status(code).into_response();
            if let Ok(v) = HeaderValue::from_str(&location) {
                r.headers_mut().insert("location", v);
            }
            r
        }
        Reply::Hang => std::future::pending().await,
    }
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// A loopback port with nothing listening on it (connections are refused).
pub async fn dead_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    addr
}

/// Captures log lines emitted on the current thread; returns the buffer and a guard that ends
/// the capture. Use with current-thread runtimes so that every event lands on this thread.
///
/// One global subscriber (installed once per test binary) routes each event to the capturing
/// buffer of the thread it is emitted on. A per-thread `set_default` subscriber would race with
/// tracing's per-call-site interest cache when tests run in parallel, and lose events.
pub fn capture_logs() -> (LogBuffer, CaptureGuard) {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(|| ThreadSink)
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
    });
    let buffer = LogBuffer::default();
    let previous = SINK.with(|sink| sink.borrow_mut().replace(buffer.clone()));
    (buffer, CaptureGuard(previous))
}

thread_local! {
    static SINK: std::cell::RefCell<Option<LogBuffer>> = const { std::cell::RefCell::new(None) };
}

/// Ends a capture started by [`capture_logs`] when dropped.
pub struct CaptureGuard(Option<LogBuffer>);

impl Drop for CaptureGuard {
    fn drop(&mut self) {
        let previous = self.0.take();
        SINK.with(|sink| *sink.borrow_mut() = previous);
    }
}

/// Writes to the current thread's capture buffer, or nowhere.
struct ThreadSink;

impl std::io::Write for ThreadSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        SINK.with(|sink| {
            if let Some(buffer) = sink.borrow().as_ref() {
                buffer.0.lock().extend_from_slice(buf);
            }
        });
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Captured log output.
#[derive(Clone, Default)]
pub struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl LogBuffer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock()).into_owned()
    }

    /// Lines at a level (`WARN`, `INFO`, ...) that mention `needle`.
    pub fn lines(&self, level: &str, needle: &str) -> Vec<String> {
        self.text()
            .lines()
            .filter(|l| l.contains(level) && l.contains(needle))
            .map(str::to_owned)
            .collect()
    }
}

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

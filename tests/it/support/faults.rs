//! Raw-TCP servers that misbehave the way broken servers and networks do: a reset in the middle
//! of a response, a server that accepts and never answers, a body that drips one byte a second,
//! a 50 MB body. `axum` answers too politely for these, so this speaks HTTP/1.1 by hand.
//!
//! `tests/soak.rs` and `examples/soak.rs` include this file too.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use vortex_client::{HeartbeatClient, HeartbeatStatus};

/// How the server treats the next connections.
// `Status`, `RetryAfter` and `Garbage` come only from `random_faults`, which the soaks use.
#[allow(dead_code)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// A well-behaved server: `200` with the contract's answer.
    Ok,
    /// Reads the request, sends the status line and part of the headers, then resets the
    /// connection (RST, not a clean close).
    ResetMidResponse,
    /// Reads the request and never answers; the connection stays open until the client
    /// gives up.
    Hang,
    /// Reads the request and closes the connection without answering.
    CloseAfterRequest,
    /// `200` with a body of this many bytes (announced in `Content-Length`) sent one byte per
    /// second.
    Drip(usize),
    /// `200` with a body of this many bytes, announced in `Content-Length`.
    Huge(usize),
    /// `200` with a body of this many bytes, chunked, with no length announced.
    HugeChunked(usize),
    /// This status with an empty body.
    Status(u16),
    /// This status with a `Retry-After` header.
    RetryAfter(u16, String),
    /// `200` with a body that is not JSON.
    Garbage,
}

/// Chooses the fault for each request (given its index), e.g. at random for a soak.
pub type Picker = Box<dyn FnMut(u64) -> Fault + Send>;

/// One request the server read.
#[derive(Debug, Clone)]
pub struct Seen {
    /// `config_version` from the body ("" when the body was not the contract's JSON).
    pub version: String,
    /// The fault it was answered with.
    pub fault: Fault,
}

#[derive(Default)]
struct Shared {
    fault: Mutex<Option<Fault>>,
    picker: Mutex<Option<Picker>>,
    /// Keep no per-request log (a long soak must not grow the server's memory).
    forget: AtomicBool,
    requests: AtomicU64,
    seen: Mutex<Vec<Seen>>,
    tls_hellos: AtomicUsize,
    body_bytes_sent: AtomicU64,
}

/// A misbehaving HTTP server on 127.0.0.1.
pub struct FaultServer {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FaultServer {
    /// Starts a server that answers every request with `fault` (until changed).
    pub async fn start(fault: Fault) -> FaultServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let shared = Arc::new(Shared::default());
        *shared.fault.lock() = Some(fault);
        let accept_shared = shared.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                tokio::spawn(serve(stream, accept_shared.clone()));
            }
        });
        FaultServer { addr, shared, task }
    }

    /// Starts a server that asks `picker` how to answer each request, and keeps no log of
    /// them (only counters). For the soaks.
    #[allow(dead_code)]
    pub async fn start_with(picker: impl FnMut(u64) -> Fault + Send + 'static) -> FaultServer {
        let server = Self::start(Fault::Ok).await;
        *server.shared.picker.lock() = Some(Box::new(picker));
        server.shared.forget.store(true, Ordering::SeqCst);
        server
    }

    /// Requests read, including those answered with a fault. For the soaks.
    #[allow(dead_code)]
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::SeqCst)
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Changes how later requests are answered.
    pub fn set(&self, fault: Fault) {
        *self.shared.fault.lock() = Some(fault);
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().clone()
    }

    /// Connections that opened with a TLS handshake (answered like an HTTP server does: 400).
    #[cfg_attr(
        not(any(feature = "rustls", feature = "rustls-ring")),
        allow(dead_code)
    )]
    pub fn tls_hellos(&self) -> usize {
        self.shared.tls_hellos.load(Ordering::SeqCst)
    }

    /// Body bytes the server managed to hand to the kernel for huge and dripping bodies.
    pub fn body_bytes_sent(&self) -> u64 {
        self.shared.body_bytes_sent.load(Ordering::SeqCst)
    }
}

const HEADER_LIMIT: usize = 64 * 1024;

async fn serve(mut stream: TcpStream, shared: Arc<Shared>) {
    let Some(body) = read_request(&mut stream, &shared).await else {
        return;
    };
    let version = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["config_version"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let index = shared.requests.fetch_add(1, Ordering::SeqCst);
    let fault = {
        let picked = shared.picker.lock().as_mut().map(|pick| pick(index));
        picked
            .or_else(|| shared.fault.lock().clone())
            .unwrap_or(Fault::Ok)
    };
    if !shared.forget.load(Ordering::SeqCst) {
        shared.seen.lock().push(Seen {
            version,
            fault: fault.clone(),
        });
    }
    let _ = answer(&mut stream, &shared, fault).await;
}

/// Reads one request; returns its body. `None` when the peer sent no complete request (a TLS
/// handshake is answered with 400, as HTTP servers do).
async fn read_request(stream: &mut TcpStream, shared: &Shared) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.first() == Some(&0x16) {
            shared.tls_hellos.fetch_add(1, Ordering::SeqCst);
            let _ = stream
                .write_all(
                    b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                )
                .await;
            return None;
        }
        if let Some(pos) = find(&buf, b"\r\n\r\n") {
            break pos + 4;
        }
        if buf.len() > HEADER_LIMIT {
            return None;
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body = buf[header_end..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(body)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

async fn answer(stream: &mut TcpStream, shared: &Shared, fault: Fault) -> std::io::Result<()> {
    match fault {
        Fault::Ok => {
            let body = br#"{"registered":true,"expected_version":null,"drift_detected":false}"#;
            answer_200(stream, body).await
        }
        Fault::ResetMidResponse => {
            stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: applica")
                .await?;
            stream.flush().await?;
            // A zero linger turns the close into a reset.
            stream.set_zero_linger()?;
            Ok(())
        }
        Fault::CloseAfterRequest => stream.shutdown().await,
        Fault::Hang => {
            // Never answer; notice when the client hangs up.
            let mut sink = [0u8; 1024];
            while stream.read(&mut sink).await? > 0 {}
            Ok(())
        }
        Fault::Status(code) => {
            let head =
                format!("HTTP/1.1 {code} Fault\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            stream.write_all(head.as_bytes()).await?;
            stream.shutdown().await
        }
        Fault::RetryAfter(code, value) => {
            let head = format!(
                "HTTP/1.1 {code} Fault\r\nretry-after: {value}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
            stream.write_all(head.as_bytes()).await?;
            stream.shutdown().await
        }
        Fault::Garbage => answer_200(stream, b"<html>\x00 not json {{{").await,
        Fault::Drip(len) => {
            stream.write_all(head_200(len).as_bytes()).await?;
            for _ in 0..len {
                stream.write_all(b" ").await?;
                stream.flush().await?;
                shared.body_bytes_sent.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Ok(())
        }
        Fault::Huge(len) => {
            stream.write_all(head_200(len).as_bytes()).await?;
            write_filler(stream, shared, len, false).await
        }
        Fault::HugeChunked(len) => {
            stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n")
                .await?;
            write_filler(stream, shared, len, true).await
        }
    }
}

/// The head of a `200` answer announced as JSON, of `len` bytes, after which the server closes.
fn head_200(len: usize) -> String {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len}\r\nconnection: close\r\n\r\n"
    )
}

/// A `200` answer with this body, then the close.
async fn answer_200(stream: &mut TcpStream, body: &[u8]) -> std::io::Result<()> {
    stream.write_all(head_200(body.len()).as_bytes()).await?;
    stream.write_all(body).await?;
    stream.shutdown().await
}

/// Writes `len` bytes of JSON-ish filler in 64 KiB pieces, counting what the kernel took.
async fn write_filler(
    stream: &mut TcpStream,
    shared: &Shared,
    len: usize,
    chunked: bool,
) -> std::io::Result<()> {
    const PIECE: usize = 64 * 1024;
    let filler = vec![b' '; PIECE];
    let mut left = len;
    while left > 0 {
        let n = left.min(PIECE);
        if chunked {
            stream.write_all(format!("{n:x}\r\n").as_bytes()).await?;
        }
        stream.write_all(&filler[..n]).await?;
        if chunked {
            stream.write_all(b"\r\n").await?;
        }
        shared.body_bytes_sent.fetch_add(n as u64, Ordering::SeqCst);
        left -= n;
    }
    if chunked {
        stream.write_all(b"0\r\n\r\n").await?;
    }
    Ok(())
}

/// Resident memory of this process in bytes, on Linux: the resident pages in
/// `/proc/self/statm` times the page size (4 KiB on most x86-64, 16 or 64 KiB on some arm64
/// kernels). `None` elsewhere: the tests' memory checks exist on Linux only, and expect a value.
#[allow(dead_code)] // the soaks measure memory, the main test binary does not
pub fn rss_bytes() -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
        let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
        // SAFETY: sysconf only reads a system constant.
        let page_size = u64::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).ok()?;
        Some(pages * page_size)
    }
    #[cfg(not(target_os = "linux"))]
    None
}

/// Every status update of a client (one per finished attempt), with the (tokio) time it was
/// seen.
pub struct Attempts {
    log: Arc<Mutex<Vec<(Instant, HeartbeatStatus)>>>,
    /// Attempts the client had made before it was watched.
    base: u64,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Attempts {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Attempts {
    pub fn watch(c: &HeartbeatClient) -> Attempts {
        let mut rx = c.subscribe();
        let base = {
            let s = rx.borrow();
            s.reports_accepted + s.reports_failed
        };
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        let task = tokio::spawn(async move {
            while rx.changed().await.is_ok() {
                let status = rx.borrow_and_update().clone();
                sink.lock().push((Instant::now(), status));
            }
        });
        Attempts { log, base, task }
    }

    pub fn log(&self) -> Vec<(Instant, HeartbeatStatus)> {
        self.log.lock().clone()
    }

    /// Waits for `n` attempts (bounded by `within`, then panics); checks that none was missed.
    pub async fn wait(&self, n: usize, within: Duration) -> Vec<(Instant, HeartbeatStatus)> {
        let deadline = Instant::now() + within;
        loop {
            let log = self.log();
            if log.len() >= n {
                for (i, (_, s)) in log.iter().enumerate() {
                    assert_eq!(
                        s.reports_accepted + s.reports_failed,
                        self.base + i as u64 + 1,
                        "an attempt was not observed"
                    );
                }
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "only {} attempts within {within:?}: {:?}",
                log.len(),
                log.last()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until a new attempt succeeds; returns the log up to and including it.
    pub async fn wait_success(&self, within: Duration) -> Vec<(Instant, HeartbeatStatus)> {
        let deadline = Instant::now() + within;
        let start = self.log().len();
        let mut n = start + 1;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let log = self.wait(n, left).await;
            if let Some(pos) = log[start..]
                .iter()
                .position(|(_, s)| s.consecutive_failures == 0)
            {
                return log[..=start + pos].to_vec();
            }
            n = log.len() + 1;
        }
    }
}

/// A random mix of every fault, for soaks: about half the requests succeed. While `healthy`
/// is set every request succeeds.
#[allow(dead_code)] // the soaks use it, the main test binary does not
pub fn random_faults(seed: u64, healthy: Arc<AtomicBool>) -> impl FnMut(u64) -> Fault + Send {
    use rand::rngs::SmallRng;
    use rand::{RngExt, SeedableRng};
    let mut rng = SmallRng::seed_from_u64(seed);
    move |_| {
        if healthy.load(Ordering::SeqCst) {
            return Fault::Ok;
        }
        match rng.random_range(0..100) {
            0..50 => Fault::Ok,
            50..58 => Fault::Status([500, 502, 503, 504][rng.random_range(0..4)]),
            58..62 => Fault::Status([400, 404][rng.random_range(0..2)]),
            // Retry-After in both forms, already due: the path is exercised without a wait.
            62..64 => Fault::RetryAfter([429, 503][rng.random_range(0..2)], "0".into()),
            64..66 => Fault::RetryAfter(503, "Thu, 01 Jan 1970 00:00:00 GMT".into()),
            66..74 => Fault::ResetMidResponse,
            74..78 => Fault::Hang,
            78..81 => Fault::Drip(100),
            81..86 => Fault::Huge(50 << 20),
            86..91 => Fault::HugeChunked(50 << 20),
            _ => Fault::Garbage,
        }
    }
}

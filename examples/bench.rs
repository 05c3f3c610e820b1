//! What the SDK costs on top of the loop a user would write by hand.
//!
//! ```text
//! cargo run --release --example bench              # full run, prints the table in BENCHMARKS.md
//! cargo run --release --example bench -- --quick   # CI: fewer rounds; fails if allocations/report
//!                                                  # of the SDK exceed 1.1x the bare loop
//! cargo run --release --example bench -- --serve   # only the loopback receiver (http and https),
//!                                                  # for measuring other builds against it
//! cargo run --release --example bench -- --loop report_now|worker|bare N [INTERVAL_MS]
//!     [--gap MS] [--max-age MS] [--https] [--shared] # N reports of one kind, to run under a
//!                                                  # profiler; `--gap 2 --max-age 1`: each
//!                                                  # report over a new connection
//! ```
//!
//! One process, one loopback receiver (axum, on its own thread and runtime), and on the main
//! thread a current-thread runtime that runs every client: the SDK and a bare `reqwest::Client`
//! that does what a hand-written heartbeat does each time: `serde_json::to_vec` of the same body,
//! POST it, read the answer and parse it with `serde_json::from_slice`. Rounds of the SDK and
//! of the bare loop alternate (in rotating order) so that noise from a shared machine hits both
//! alike; the table gives medians over rounds and the SDK/bare ratio.
//!
//! - Allocations: a counting global allocator that counts only on the main thread, and only
//!   inside a measured window (a thread-local flag). Every client-side task (the SDK's worker,
//!   hyper's connection task) runs on that thread; the receiver's allocations are on its own
//!   thread and are not counted.
//! - CPU time: the main thread's CPU clock (`CLOCK_THREAD_CPUTIME_ID`) around each window, so
//!   the receiver's work is excluded.
//! - RSS: the example re-runs itself as a child process that does nothing but build one client
//!   and send 1,000 reports, and reads its own `VmRSS` before and after.
//! - Latencies: wall-clock percentiles over many samples.
//!
//! This is a measurement, not a test: only the allocation ratio, which is deterministic, may
//! fail the run. Wall-clock figures are printed, never asserted.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use vortex_client::{Environment, HeartbeatClient, InstanceMetadata};

type Error = Box<dyn std::error::Error + Send + Sync>;

// ---------------------------------------------------------------------------------------------
// Counting allocator: counts allocations (and reallocations) made on the current thread while
// its COUNTING flag is set. Thread-locals with const initialisers and no destructor never
// allocate, so reading them from inside the allocator is safe.

struct CountingAllocator;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    static ALLOCATED_BYTES: Cell<u64> = const { Cell::new(0) };
}

fn note_allocation(size: usize) {
    let _ = COUNTING.try_with(|on| {
        if on.get() {
            ALLOCATIONS.with(|n| n.set(n.get() + 1));
            ALLOCATED_BYTES.with(|n| n.set(n.get() + size as u64));
        }
    });
}

// SAFETY: every method forwards to the system allocator unchanged; the counting only touches
// thread-locals that do not allocate.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation(layout.size());
        // SAFETY: the caller upholds `alloc`'s contract, forwarded as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation(layout.size());
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation(new_size);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// CPU time consumed by the calling thread, in nanoseconds.
#[cfg(unix)]
fn thread_cpu_ns() -> Option<u64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    let secs = u64::try_from(ts.tv_sec).ok()?;
    let nanos = u64::try_from(ts.tv_nsec).ok()?;
    (rc == 0).then(|| secs * 1_000_000_000 + nanos)
}

#[cfg(not(unix))]
fn thread_cpu_ns() -> Option<u64> {
    None
}

/// A measured window on the main thread.
struct Window {
    cpu: Option<u64>,
    wall: Instant,
}

#[derive(Debug, Clone, Copy)]
struct Cost {
    allocations: u64,
    bytes: u64,
    cpu_ns: Option<u64>,
    wall_ns: u64,
}

impl Window {
    fn open() -> Window {
        ALLOCATIONS.with(|n| n.set(0));
        ALLOCATED_BYTES.with(|n| n.set(0));
        let window = Window {
            cpu: thread_cpu_ns(),
            wall: Instant::now(),
        };
        COUNTING.with(|on| on.set(true));
        window
    }

    fn close(self) -> Cost {
        COUNTING.with(|on| on.set(false));
        let wall_ns = u64::try_from(self.wall.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let cpu_ns = match (self.cpu, thread_cpu_ns()) {
            (Some(a), Some(b)) => Some(b.saturating_sub(a)),
            _ => None,
        };
        Cost {
            allocations: ALLOCATIONS.with(Cell::get),
            bytes: ALLOCATED_BYTES.with(Cell::get),
            cpu_ns,
            wall_ns,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The receiver: the server's heartbeat endpoint on 127.0.0.1, on its own thread and runtime.

/// The contract's answer (CONTRACT.md), with an expected version so that both sides parse a
/// string.
const ANSWER: &str = r#"{"registered":true,"expected_version":"v2.3.5","drift_detected":true}"#;
/// Requests for this app are never answered (a request in flight, for `stop()`).
const HANG_APP: &str = "hang";

#[cfg(any(feature = "rustls", feature = "rustls-ring"))]
const CA_PEM: &str = include_str!("../tests/certs/ca.pem");

#[derive(Debug, Clone)]
struct Seen {
    version: String,
    at: Instant,
}

struct ServerState {
    seen: watch::Sender<Seen>,
    hung: watch::Sender<u64>,
    last_body: Mutex<Bytes>,
}

#[derive(Deserialize)]
struct Incoming {
    config_version: String,
}

async fn heartbeat(
    State(state): State<Arc<ServerState>>,
    Path((app, _profile)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let at = Instant::now();
    if app == HANG_APP {
        state.hung.send_modify(|n| *n += 1);
        std::future::pending::<()>().await;
    }
    if let Ok(incoming) = serde_json::from_slice::<Incoming>(&body) {
        state.seen.send_modify(|seen| {
            seen.version = incoming.config_version;
            seen.at = at;
        });
    }
    *state.last_body.lock() = body;
    ([(CONTENT_TYPE, "application/json")], ANSWER).into_response()
}

struct Receiver {
    http: String,
    #[cfg_attr(
        not(any(feature = "rustls", feature = "rustls-ring")),
        allow(dead_code)
    )]
    https: Option<String>,
    state: Arc<ServerState>,
}

impl Receiver {
    fn start() -> Result<Receiver, Error> {
        let state = Arc::new(ServerState {
            seen: watch::Sender::new(Seen {
                version: String::new(),
                at: Instant::now(),
            }),
            hung: watch::Sender::new(0),
            last_body: Mutex::new(Bytes::new()),
        });
        let app = Router::new()
            .route("/api/drift/heartbeat/{app}/{profile}", post(heartbeat))
            .with_state(state.clone());
        let (tx, rx) = std::sync::mpsc::channel::<Result<(String, Option<String>), String>>();
        std::thread::Builder::new()
            .name("receiver".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = tx.send(Err(e.to_string()));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let http = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
                        Ok(l) => l,
                        Err(e) => {
                            let _ = tx.send(Err(e.to_string()));
                            return;
                        }
                    };
                    let http_url = http
                        .local_addr()
                        .map(|a| format!("http://{a}"))
                        .unwrap_or_default();
                    #[cfg(any(feature = "rustls", feature = "rustls-ring"))]
                    {
                        let tls = match tls::TlsListener::bind().await {
                            Ok(l) => l,
                            Err(e) => {
                                let _ = tx.send(Err(e.to_string()));
                                return;
                            }
                        };
                        let https_url = tls.url();
                        let _ = tx.send(Ok((http_url, Some(https_url))));
                        let _ = tokio::join!(
                            std::future::IntoFuture::into_future(axum::serve(http, app.clone())),
                            std::future::IntoFuture::into_future(axum::serve(tls, app))
                        );
                    }
                    #[cfg(not(any(feature = "rustls", feature = "rustls-ring")))]
                    {
                        let _ = tx.send(Ok((http_url, None)));
                        let _ = axum::serve(http, app).await;
                    }
                });
            })?;
        let (http, https) = rx.recv()??;
        Ok(Receiver { http, https, state })
    }
}

#[cfg(any(feature = "rustls", feature = "rustls-ring"))]
mod tls {
    //! An https listener for the receiver, with the test certificates in `tests/certs/`
    //! (a throwaway CA and a certificate for 127.0.0.1, valid for a century; loopback only).
    use std::net::SocketAddr;
    use std::sync::Arc;

    use tokio::net::{TcpListener, TcpStream};
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use tokio_rustls::rustls::{self, ServerConfig};
    use tokio_rustls::server::TlsStream;
    use tokio_rustls::TlsAcceptor;

    use super::Error;

    const SERVER_PEM: &str = include_str!("../tests/certs/server.pem");
    const SERVER_KEY: &str = include_str!("../tests/certs/server.key");

    pub(crate) struct TlsListener {
        tcp: TcpListener,
        acceptor: TlsAcceptor,
    }

    impl TlsListener {
        pub(crate) async fn bind() -> Result<TlsListener, Error> {
            let certs = CertificateDer::pem_slice_iter(SERVER_PEM.as_bytes())
                .collect::<Result<Vec<_>, _>>()?;
            let key = PrivateKeyDer::from_pem_slice(SERVER_KEY.as_bytes())?;
            #[cfg(feature = "rustls")]
            let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
            #[cfg(not(feature = "rustls"))]
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()?
                .with_no_client_auth()
                .with_single_cert(certs, key)?;
            Ok(TlsListener {
                tcp: TcpListener::bind("127.0.0.1:0").await?,
                acceptor: TlsAcceptor::from(Arc::new(config)),
            })
        }

        pub(crate) fn url(&self) -> String {
            self.tcp
                .local_addr()
                .map(|a| format!("https://{a}"))
                .unwrap_or_default()
        }
    }

    impl axum::serve::Listener for TlsListener {
        type Io = TlsStream<TcpStream>;
        type Addr = SocketAddr;

        async fn accept(&mut self) -> (Self::Io, Self::Addr) {
            loop {
                match self.tcp.accept().await {
                    Ok((tcp, addr)) => {
                        let _ = tcp.set_nodelay(true);
                        if let Ok(tls) = self.acceptor.accept(tcp).await {
                            return (tls, addr);
                        }
                    }
                    Err(_) => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
                }
            }
        }

        fn local_addr(&self) -> std::io::Result<Self::Addr> {
            self.tcp.local_addr()
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The two clients. Both send the same body (checked at start-up) to the same URL.

const INSTANCE: &str = "bench-7d4f9b8c-abc12";
const VERSION: &str = "v2.3.4";

/// The SDK as the bench runs it: its own client, trusting the test CA.
fn sdk_builder(base_url: &str) -> vortex_client::HeartbeatBuilder<vortex_client::HeartbeatClient> {
    let builder = sdk_base(base_url);
    #[cfg(any(feature = "rustls", feature = "rustls-ring"))]
    let builder = builder.add_root_certificate(CA_PEM);
    builder
}

/// The SDK's settings without trust: an application's client brings its own. Field by
/// field, so that this keeps compiling if InstanceMetadata grows fields.
#[allow(clippy::field_reassign_with_default)]
fn sdk_base(base_url: &str) -> vortex_client::HeartbeatBuilder<vortex_client::HeartbeatClient> {
    let mut meta = InstanceMetadata::default();
    meta.hostname = Some("bench-7d4f9b8c-abc12".into());
    meta.ip_address = Some("127.0.0.1".into());
    meta.app_version = Some("1.8.0".into());
    meta.custom.insert("team".into(), "platform".into());
    HeartbeatClient::builder()
        .environment(Environment::empty())
        .server_url(base_url)
        .app("bench")
        .profile("prod")
        .instance_id(INSTANCE)
        .config_version(VERSION)
        .instance_metadata(meta)
        .disable_auto_detect()
}

/// The hand-written heartbeat: its own request type, serialised on every send.
#[derive(Serialize)]
struct BareReport<'a> {
    instance_id: &'a str,
    config_version: &'a str,
    metadata: BareMetadata<'a>,
    health: &'a str,
}

#[derive(Serialize)]
struct BareMetadata<'a> {
    hostname: &'a str,
    ip_address: &'a str,
    app_version: &'a str,
    custom: BTreeMap<&'a str, &'a str>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct BareAnswer {
    registered: bool,
    expected_version: Option<String>,
    drift_detected: bool,
}

struct Bare {
    http: reqwest::Client,
    url: reqwest::Url,
    report: BareReport<'static>,
}

impl Bare {
    /// `timeout`: a careful hand-written loop sets one (the SDK always has one, and reqwest's
    /// per-request timeout costs a boxed timer per request).
    fn new(base_url: &str, timeout: Option<Duration>) -> Result<Bare, Error> {
        let builder = reqwest::Client::builder();
        #[cfg(any(feature = "rustls", feature = "rustls-ring"))]
        let builder =
            builder.tls_certs_merge(reqwest::Certificate::from_pem_bundle(CA_PEM.as_bytes())?);
        let builder = match timeout {
            Some(t) => builder.timeout(t),
            None => builder,
        };
        Ok(Bare {
            http: builder.build()?,
            url: reqwest::Url::parse(&format!("{base_url}/api/drift/heartbeat/bench/prod"))?,
            report: BareReport {
                instance_id: INSTANCE,
                config_version: VERSION,
                metadata: BareMetadata {
                    hostname: "bench-7d4f9b8c-abc12",
                    ip_address: "127.0.0.1",
                    app_version: "1.8.0",
                    custom: BTreeMap::from([("team", "platform")]),
                },
                health: "healthy",
            },
        })
    }

    async fn send(&self) -> Result<BareAnswer, Error> {
        let body = serde_json::to_vec(&self.report)?;
        let response = self
            .http
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await?
            .error_for_status()?;
        let bytes = response.bytes().await?;
        Ok(serde_json::from_slice(&bytes)?)
    }
}

// ---------------------------------------------------------------------------------------------
// Statistics and formatting.

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

fn median(v: &[f64]) -> f64 {
    let s = sorted(v.to_vec());
    if s.is_empty() {
        return f64::NAN;
    }
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

fn fmt_ns(ns: f64) -> String {
    if ns.is_nan() {
        "n/a".into()
    } else if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.1} µs", ns / 1e3)
    }
}

fn fmt_kb(kb: f64) -> String {
    if kb >= 1024.0 {
        format!("{:.2} MB", kb / 1024.0)
    } else {
        format!("{kb:.0} kB")
    }
}

/// `p50 / p99`, given in milliseconds.
fn pair(p50_ms: f64, p99_ms: f64) -> String {
    format!("{} / {}", fmt_ns(p50_ms * 1e6), fmt_ns(p99_ms * 1e6))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

struct Table {
    rows: Vec<[String; 6]>,
}

impl Table {
    fn row(
        &mut self,
        figure: &str,
        sdk: String,
        bare: String,
        ratio: String,
        goal: &str,
        ok: Option<bool>,
    ) {
        let verdict = match ok {
            Some(true) => "met",
            Some(false) => "MISSED",
            None => "",
        };
        self.rows
            .push([figure.into(), sdk, bare, ratio, goal.into(), verdict.into()]);
    }

    fn print(&self) {
        println!("| figure | SDK | bare reqwest | SDK/bare | goal | |");
        println!("|---|---|---|---|---|---|");
        for r in &self.rows {
            println!(
                "| {} | {} | {} | {} | {} | {} |",
                r[0], r[1], r[2], r[3], r[4], r[5]
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The run.

struct Plan {
    quick: bool,
    rounds: usize,
    per_round: usize,
    latency_samples: usize,
    inflight_samples: usize,
    rss_runs: usize,
}

/// The allocation ratio above which `--quick` fails.
const MAX_ALLOCATION_RATIO: f64 = 1.1;
/// The grace given to a request in flight in the stop() measurement.
const BENCH_GRACE: Duration = Duration::from_millis(250);
/// Reports sent by each RSS child.
const RSS_REPORTS: u64 = 1000;

fn main() -> ExitCode {
    // The bare client's reqwest has no provider of its own with `rustls-ring` alone: install
    // one, as an application using reqwest that way must. (The SDK does not use it.)
    #[cfg(all(feature = "rustls-ring", not(feature = "rustls")))]
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("--serve") => serve(),
        Some("--rss-child") => rss_child(&args[1..]),
        Some("--loop") => profile_loop(&args[1..]),
        Some("--quick") => run(true),
        None | Some("--full") => run(false),
        Some(other) => {
            Err(format!("unknown argument {other:?}; use --quick, --full or --serve").into())
        }
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::from(2)
        }
    }
}

fn tls_name() -> &'static str {
    if cfg!(feature = "rustls") {
        "rustls on aws-lc-rs"
    } else if cfg!(feature = "rustls-ring") {
        "rustls on ring"
    } else {
        "off"
    }
}

fn current_thread_runtime() -> Result<tokio::runtime::Runtime, Error> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// What `--loop` runs: `KIND N [INTERVAL_MS] [--gap MS] [--max-age MS] [--https] [--shared]`.
struct LoopArgs {
    kind: String,
    n: u64,
    /// The worker's interval.
    interval: Duration,
    /// A pause after each `report_now()` or bare report (none: back to back).
    gap: Option<Duration>,
    /// The SDK's `connection_max_age`; for the bare loop, the age at which it builds a new
    /// `reqwest::Client` (none: the default, and one client for the bare loop).
    max_age: Option<Duration>,
    https: bool,
    /// The SDK sends through an application's client (`http_client`): at the max age it asks
    /// the server to close instead of building a new client.
    shared: bool,
}

impl LoopArgs {
    fn parse(args: &[String]) -> Result<LoopArgs, Error> {
        let millis = |v: Option<&String>| -> Result<Duration, Error> {
            let v = v.ok_or("a number of milliseconds is missing")?;
            Ok(Duration::from_millis(v.parse()?))
        };
        let mut parsed = LoopArgs {
            kind: args.first().cloned().unwrap_or_else(|| "report_now".into()),
            n: args.get(1).and_then(|v| v.parse().ok()).unwrap_or(10_000),
            interval: Duration::from_millis(1),
            gap: None,
            max_age: None,
            https: false,
            shared: false,
        };
        let mut rest = args.iter().skip(2);
        while let Some(arg) = rest.next() {
            match arg.as_str() {
                "--gap" => parsed.gap = Some(millis(rest.next())?),
                "--max-age" => parsed.max_age = Some(millis(rest.next())?),
                "--https" => parsed.https = true,
                "--shared" => parsed.shared = true,
                number => parsed.interval = Duration::from_millis(number.parse()?),
            }
        }
        Ok(parsed)
    }
}

/// `--loop KIND N [INTERVAL_MS] [--gap MS] [--max-age MS] [--https] [--shared]`: N reports of one kind
/// and nothing else, to profile one side (e.g. `perf record -g target/release/examples/bench
/// --loop report_now 20000`). With `--gap 2 --max-age 1` every report opens a new connection
/// (the SDK's at its max age; the bare loop's with a new `reqwest::Client`): a reconnect's cost.
fn profile_loop(args: &[String]) -> Result<bool, Error> {
    let opts = LoopArgs::parse(args)?;
    let receiver = Receiver::start()?;
    let url = if opts.https {
        receiver
            .https
            .clone()
            .ok_or("--https needs a TLS feature")?
    } else {
        receiver.http.clone()
    };
    let runtime = current_thread_runtime()?;
    let (cost, in_reports) = runtime.block_on(run_loop(&opts, &url))?;
    let n = opts.n as f64;
    println!(
        "{}: {:.1} allocations, {} CPU, {} wall per report ({} of it inside the report)",
        opts.kind,
        cost.allocations as f64 / n,
        fmt_ns(cost.cpu_ns.map_or(f64::NAN, |c| c as f64 / n)),
        fmt_ns(cost.wall_ns as f64 / n),
        fmt_ns(in_reports.as_nanos() as f64 / n),
    );
    Ok(true)
}

/// The measured loop of `--loop`: its cost, and the wall time spent inside the reports.
async fn run_loop(opts: &LoopArgs, url: &str) -> Result<(Cost, Duration), Error> {
    let n = opts.n;
    let mut in_reports = Duration::ZERO;
    let w = Window::open();
    match opts.kind.as_str() {
        "worker" => {
            let mut builder = sdk_builder(url).interval(opts.interval);
            if let Some(age) = opts.max_age {
                builder = builder.connection_max_age(age);
            }
            let client = builder.build()?;
            let mut status = client.subscribe();
            client.start().await;
            status.wait_for(|s| s.reports_accepted >= n).await?;
            client.stop().await;
        }
        "bare" => {
            let mut bare = Bare::new(url, None)?;
            let mut born = Instant::now();
            for _ in 0..n {
                if opts.max_age.is_some_and(|age| born.elapsed() >= age) {
                    // What a hand-written loop does to reach the server anew.
                    bare = Bare::new(url, None)?;
                    born = Instant::now();
                }
                let started = Instant::now();
                bare.send().await?;
                in_reports += started.elapsed();
                if let Some(gap) = opts.gap {
                    tokio::time::sleep(gap).await;
                }
            }
        }
        _ => {
            let mut builder = if opts.shared {
                sdk_base(url).http_client(Bare::new(url, None)?.http)
            } else {
                sdk_builder(url)
            };
            if let Some(age) = opts.max_age {
                builder = builder.connection_max_age(age);
            }
            let client = builder.build()?;
            for _ in 0..n {
                let started = Instant::now();
                client.report_now().await?;
                in_reports += started.elapsed();
                if let Some(gap) = opts.gap {
                    tokio::time::sleep(gap).await;
                }
            }
        }
    }
    Ok((w.close(), in_reports))
}

/// `--serve`: the receiver alone, until stdin closes.
fn serve() -> Result<bool, Error> {
    let receiver = Receiver::start()?;
    println!("http {}", receiver.http);
    #[cfg(any(feature = "rustls", feature = "rustls-ring"))]
    {
        let ca = std::env::temp_dir().join("vortex-bench-ca.pem");
        std::fs::write(&ca, CA_PEM)?;
        println!(
            "https {} ca {}",
            receiver.https.as_deref().unwrap_or(""),
            ca.display()
        );
    }
    let mut sink = String::new();
    while std::io::stdin().read_line(&mut sink)? > 0 {}
    Ok(true)
}

fn run(quick: bool) -> Result<bool, Error> {
    let plan = if quick {
        Plan {
            quick,
            rounds: 8,
            per_round: 50,
            latency_samples: 40,
            inflight_samples: 3,
            rss_runs: 1,
        }
    } else {
        Plan {
            quick,
            rounds: 30,
            per_round: 100,
            latency_samples: 300,
            inflight_samples: 12,
            // File-backed pages vary by a few hundred kB from run to run (address-space
            // randomisation moves the kernel's fault-around windows): take a median of several.
            rss_runs: 7,
        }
    };
    let receiver = Receiver::start()?;
    let runtime = current_thread_runtime()?;
    let mut table = Table { rows: Vec::new() };
    let started = Instant::now();

    let ratio_ok = runtime.block_on(hot_path(&plan, &receiver, &mut table))?;
    runtime.block_on(latencies(&plan, &receiver, &mut table))?;
    rss(&plan, &receiver, &mut table)?;

    println!();
    println!(
        "vortex-client bench ({} mode, {} rounds x {} reports, TLS {}), {:.1} s",
        if plan.quick { "quick" } else { "full" },
        plan.rounds,
        plan.per_round,
        tls_name(),
        started.elapsed().as_secs_f64()
    );
    println!();
    table.print();
    if !ratio_ok {
        eprintln!(
            "bench: the SDK allocates more than {MAX_ALLOCATION_RATIO}x the bare loop per report"
        );
    }
    Ok(ratio_ok)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Side {
    /// `report_now()` back to back.
    SdkReportNow,
    /// The bare loop back to back.
    Bare,
    /// The bare loop with a per-request timeout, back to back.
    BareTimeout,
    /// The SDK's background worker with a 1 ms interval.
    SdkWorker,
    /// The bare loop with `tokio::time::sleep(1 ms)` after each report: what a hand-written
    /// background heartbeat does, idle gaps (and their cold caches) included.
    BareSleep,
}

const SIDES: [Side; 5] = [
    Side::SdkReportNow,
    Side::Bare,
    Side::BareTimeout,
    Side::SdkWorker,
    Side::BareSleep,
];

/// The worker's interval in the worker-path measurement, and the bare loop's sleep.
const TIGHT_INTERVAL: Duration = Duration::from_millis(1);
/// Unmeasured reports before each measured window, so that every side starts warm.
const WARM_UP: usize = 3;

fn side_name(side: Side) -> &'static str {
    match side {
        Side::SdkReportNow => "report_now()",
        Side::Bare => "bare loop",
        Side::BareTimeout => "bare loop with a timeout",
        Side::SdkWorker => "background worker",
        Side::BareSleep => "bare loop with sleep",
    }
}

/// Allocations and CPU per report, SDK and bare, in alternating rounds.
async fn hot_path(plan: &Plan, receiver: &Receiver, table: &mut Table) -> Result<bool, Error> {
    let url = receiver.http.as_str();
    let sdk_now = sdk_builder(url).build()?;
    // The worker path: a client whose interval is 1 ms, so the background loop reports back to
    // back; each round starts it, lets a few reports through, counts the next ones, stops it.
    let sdk_worker = sdk_builder(url).interval(TIGHT_INTERVAL).build()?;
    let bare = Bare::new(url, None)?;
    let bare_timeout = Bare::new(url, Some(sdk_now.config().timeout))?;

    // Warm-up: connections, lazy statics, first-use paths; and check the bodies are equal.
    for _ in 0..20 {
        sdk_now.report_now().await?;
    }
    let sdk_body = receiver.state.last_body.lock().clone();
    for _ in 0..20 {
        bare.send().await?;
        bare_timeout.send().await?;
    }
    let bare_body = receiver.state.last_body.lock().clone();
    if sdk_body != bare_body {
        return Err(format!(
            "the bare loop must send the SDK's body: {:?} vs {:?}",
            String::from_utf8_lossy(&sdk_body),
            String::from_utf8_lossy(&bare_body)
        )
        .into());
    }
    run_worker_round(&sdk_worker, 20).await?;

    let n = plan.per_round;
    let mut costs: BTreeMap<&str, Vec<Cost>> = BTreeMap::new();
    for round in 0..plan.rounds {
        for i in 0..SIDES.len() {
            let side = SIDES[(round + i) % SIDES.len()];
            let cost = match side {
                Side::SdkReportNow => {
                    for _ in 0..WARM_UP {
                        sdk_now.report_now().await?;
                    }
                    let w = Window::open();
                    for _ in 0..n {
                        sdk_now.report_now().await?;
                    }
                    w.close()
                }
                Side::Bare | Side::BareTimeout | Side::BareSleep => {
                    let (client, pause) = match side {
                        Side::BareTimeout => (&bare_timeout, None),
                        Side::BareSleep => (&bare, Some(TIGHT_INTERVAL)),
                        _ => (&bare, None),
                    };
                    for _ in 0..WARM_UP {
                        client.send().await?;
                    }
                    let w = Window::open();
                    for _ in 0..n {
                        client.send().await?;
                        if let Some(pause) = pause {
                            tokio::time::sleep(pause).await;
                        }
                    }
                    w.close()
                }
                Side::SdkWorker => run_worker_round(&sdk_worker, n).await?,
            };
            costs.entry(side_name(side)).or_default().push(cost);
        }
    }

    let per = n as f64;
    let med = |side: Side, f: &dyn Fn(&Cost) -> Option<f64>| -> f64 {
        let v: Vec<f64> = costs
            .get(side_name(side))
            .map(|c| c.iter().filter_map(f).collect())
            .unwrap_or_default();
        median(&v)
    };
    let allocs = |c: &Cost| Some(c.allocations as f64 / per);
    let bytes = |c: &Cost| Some(c.bytes as f64 / per);
    let cpu = |c: &Cost| c.cpu_ns.map(|n| n as f64 / per);
    let wall = |c: &Cost| Some(c.wall_ns as f64 / per);

    // The pairs compared: SDK side, bare side.
    let pairs = [
        (Side::SdkReportNow, Side::Bare),
        (Side::SdkWorker, Side::BareSleep),
    ];
    let mut ratio_ok = true;
    for (sdk, base) in pairs {
        let (a, b) = (med(sdk, &allocs), med(base, &allocs));
        let ratio = a / b;
        ratio_ok &= ratio <= MAX_ALLOCATION_RATIO;
        table.row(
            &format!(
                "heap allocations per report: {} vs {}",
                side_name(sdk),
                side_name(base)
            ),
            format!("{a:.1}"),
            format!("{b:.1}"),
            format!("{ratio:.2}"),
            "≤ 1.1",
            Some(ratio <= MAX_ALLOCATION_RATIO),
        );
    }
    for (sdk, base) in pairs {
        let (a, b) = (med(sdk, &bytes), med(base, &bytes));
        table.row(
            &format!(
                "bytes allocated per report: {} vs {}",
                side_name(sdk),
                side_name(base)
            ),
            format!("{a:.0}"),
            format!("{b:.0}"),
            format!("{:.2}", a / b),
            "",
            None,
        );
    }
    for (sdk, base) in pairs {
        let (a, b) = (med(sdk, &cpu), med(base, &cpu));
        let ratio = a / b;
        table.row(
            &format!(
                "CPU time per report (client thread): {} vs {}",
                side_name(sdk),
                side_name(base)
            ),
            fmt_ns(a),
            fmt_ns(b),
            format!("{ratio:.2}"),
            "≤ 1.1",
            (!ratio.is_nan()).then_some(ratio <= 1.1),
        );
    }
    let (a, b) = (
        med(Side::SdkReportNow, &allocs),
        med(Side::BareTimeout, &allocs),
    );
    let (c, d) = (med(Side::SdkReportNow, &cpu), med(Side::BareTimeout, &cpu));
    table.row(
        "for reference: report_now() vs a bare loop with a timeout, allocations / CPU",
        format!("{a:.1} / {}", fmt_ns(c)),
        format!("{b:.1} / {}", fmt_ns(d)),
        format!("{:.2} / {:.2}", a / b, c / d),
        "",
        None,
    );
    let (a, b) = (med(Side::SdkReportNow, &wall), med(Side::Bare, &wall));
    table.row(
        "wall time per report (loopback round trip): report_now() vs bare loop",
        fmt_ns(a),
        fmt_ns(b),
        format!("{:.2}", a / b),
        "",
        None,
    );
    Ok(ratio_ok)
}

/// Starts the worker, lets its first reports through, counts the next `n`, stops it.
async fn run_worker_round(client: &HeartbeatClient, n: usize) -> Result<Cost, Error> {
    let mut status = client.subscribe();
    let base = status.borrow().reports_accepted;
    client.start().await;
    status
        .wait_for(|s| s.reports_accepted >= base + 1 + WARM_UP as u64)
        .await?;
    let target = status.borrow().reports_accepted + n as u64;
    let w = Window::open();
    status.wait_for(|s| s.reports_accepted >= target).await?;
    let cost = w.close();
    client.stop().await;
    if status.borrow().reports_failed > 0 {
        return Err("the worker's reports failed".into());
    }
    Ok(cost)
}

/// A loopback port with nothing listening: connections are refused at once.
async fn dead_url() -> Result<String, Error> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    drop(listener);
    Ok(format!("http://{addr}"))
}

fn p50_p99(samples: Vec<f64>) -> (f64, f64) {
    let s = sorted(samples);
    (percentile(&s, 50.0), percentile(&s, 99.0))
}

async fn latencies(plan: &Plan, receiver: &Receiver, table: &mut Table) -> Result<(), Error> {
    let n = plan.latency_samples;
    let dead = dead_url().await?;

    // start() with the server down.
    let client = sdk_builder(&dead).build()?;
    let mut start_ms = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        client.start().await;
        start_ms.push(ms(t.elapsed()));
        client.stop().await;
    }
    let (p50, p99) = p50_p99(start_ms);
    table.row(
        "start() with the server down, p50 / p99",
        pair(p50, p99),
        "".into(),
        "".into(),
        "< 1 ms",
        Some(p99 < 1.0),
    );

    // stop() while idle: after the first report, the worker sleeps for the interval.
    let client = sdk_builder(&receiver.http).build()?;
    let mut idle = Vec::with_capacity(n);
    for _ in 0..n {
        let mut status = client.subscribe();
        let base = status.borrow().reports_accepted;
        client.start().await;
        status.wait_for(|s| s.reports_accepted > base).await?;
        tokio::task::yield_now().await;
        let t = Instant::now();
        client.stop().await;
        idle.push(ms(t.elapsed()));
    }
    let (p50, p99) = p50_p99(idle);
    table.row(
        "stop() idle, p50 / p99",
        pair(p50, p99),
        "".into(),
        "".into(),
        "< 5 ms",
        Some(p99 < 5.0),
    );

    // stop() in backoff: the first attempt was refused, the worker waits to retry.
    let client = sdk_builder(&dead).build()?;
    let mut backoff = Vec::with_capacity(n);
    for _ in 0..n {
        let mut status = client.subscribe();
        let base = status.borrow().reports_failed;
        client.start().await;
        status.wait_for(|s| s.reports_failed > base).await?;
        tokio::task::yield_now().await;
        let t = Instant::now();
        client.stop().await;
        backoff.push(ms(t.elapsed()));
    }
    let (p50, p99) = p50_p99(backoff);
    table.row(
        "stop() in backoff, p50 / p99",
        pair(p50, p99),
        "".into(),
        "".into(),
        "< 5 ms",
        Some(p99 < 5.0),
    );

    // stop() with a request in flight that the server never answers: bounded by the grace.
    let client = sdk_builder(&receiver.http)
        .app(HANG_APP)
        .stop_grace(BENCH_GRACE)
        .build()?;
    let mut hung = receiver.state.hung.subscribe();
    let mut inflight = Vec::with_capacity(plan.inflight_samples);
    for _ in 0..plan.inflight_samples {
        let base = *hung.borrow_and_update();
        client.start().await;
        hung.wait_for(|n| *n > base).await?;
        let t = Instant::now();
        client.stop().await;
        inflight.push(ms(t.elapsed()));
    }
    let grace = ms(BENCH_GRACE);
    let (p50, p99) = p50_p99(inflight);
    table.row(
        &format!("stop() with a request in flight (grace {grace:.0} ms), p50 / p99"),
        pair(p50, p99),
        "".into(),
        "".into(),
        "≤ grace (+ 100 ms slack)",
        Some(p99 <= grace + 100.0),
    );

    // A version change until the receiver sees it. Changes are spaced beyond the rate limit's
    // gap, so each is an isolated change (the common case) that goes out at once.
    let gap = Duration::from_millis(5);
    let client = sdk_builder(&receiver.http).min_report_gap(gap).build()?;
    let mut seen = receiver.state.seen.subscribe();
    let mut status = client.subscribe();
    client.start().await;
    status.wait_for(|s| s.reports_accepted >= 1).await?;
    let mut visible = Vec::with_capacity(n);
    for i in 0..n {
        tokio::time::sleep(gap * 2).await;
        let version = format!("v{i}");
        let t = Instant::now();
        client.set_config_version(version.as_str());
        let at = seen.wait_for(|s| s.version == version).await?.at;
        visible.push(ms(at.saturating_duration_since(t)));
    }
    client.stop().await;
    let (p50, p99) = p50_p99(visible);
    table.row(
        "version change to visible at the receiver, p50 / p99",
        pair(p50, p99),
        "".into(),
        "".into(),
        "p99 < 50 ms",
        Some(p99 < 50.0),
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// RSS: a child process per measurement.

/// Reads kB fields (`VmRSS`, `RssAnon`, `RssFile`) from /proc/self/status.
fn status_kb(fields: &[&str]) -> Option<Vec<u64>> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    fields
        .iter()
        .map(|field| {
            status
                .lines()
                .find(|l| l.starts_with(field))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()
        })
        .collect()
}

const RSS_FIELDS: [&str; 3] = ["VmRSS:", "RssAnon:", "RssFile:"];

/// `--rss-child sdk|bare URL`: one client, 1,000 reports; prints `rss` and the kB of
/// `VmRSS RssAnon RssFile` before the client was built and after its reports.
fn rss_child(args: &[String]) -> Result<bool, Error> {
    let (Some(kind), Some(url)) = (args.first(), args.get(1)) else {
        return Err("usage: --rss-child sdk|bare URL".into());
    };
    let runtime = current_thread_runtime()?;
    runtime.block_on(async {
        let read = || status_kb(&RSS_FIELDS).ok_or("no /proc/self/status");
        let before = read()?;
        let after = match kind.as_str() {
            "sdk" => {
                // A running client: the background worker, reporting back to back.
                let client = sdk_builder(url).interval(TIGHT_INTERVAL).build()?;
                let mut status = client.subscribe();
                client.start().await;
                status
                    .wait_for(|s| s.reports_accepted >= RSS_REPORTS)
                    .await?;
                let after = read()?;
                client.stop().await;
                after
            }
            _ => {
                // The hand-written loop, with a timeout as a heartbeat needs one.
                let bare = Bare::new(url, Some(Duration::from_secs(10)))?;
                for _ in 0..RSS_REPORTS {
                    bare.send().await?;
                    tokio::time::sleep(TIGHT_INTERVAL).await;
                }
                read()?
            }
        };
        let all: Vec<String> = before.iter().chain(&after).map(u64::to_string).collect();
        println!("rss {}", all.join(" "));
        Ok::<_, Error>(())
    })?;
    Ok(true)
}

/// Growth of (VmRSS, RssAnon, RssFile) in kB, and the total VmRSS after.
fn run_rss_child(kind: &str, url: &str) -> Result<([f64; 3], f64), Error> {
    let out = std::process::Command::new(std::env::current_exe()?)
        .args(["--rss-child", kind, url])
        .output()?;
    if !out.status.success() {
        return Err(format!(
            "rss child {kind} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let v = text
        .lines()
        .find(|l| l.starts_with("rss "))
        .ok_or("rss child printed nothing")?
        .split_whitespace()
        .skip(1)
        .map(|v| v.parse::<f64>())
        .collect::<Result<Vec<f64>, _>>()?;
    let [b0, b1, b2, a0, a1, a2] = v[..] else {
        return Err("rss child printed a malformed line".into());
    };
    Ok(([a0 - b0, a1 - b1, a2 - b2], a0))
}

fn rss(plan: &Plan, receiver: &Receiver, table: &mut Table) -> Result<(), Error> {
    if status_kb(&RSS_FIELDS).is_none() {
        table.row(
            "RSS growth after 1,000 reports",
            "n/a (no /proc)".into(),
            "".into(),
            "".into(),
            "",
            None,
        );
        return Ok(());
    }
    #[allow(unused_mut)]
    let mut targets = vec![("http", receiver.http.clone())];
    #[cfg(any(feature = "rustls", feature = "rustls-ring"))]
    if let Some(https) = &receiver.https {
        targets.push(("https", https.clone()));
    }
    for (scheme, url) in targets {
        let mut sdk: [Vec<f64>; 3] = Default::default();
        let mut bare: [Vec<f64>; 3] = Default::default();
        let mut totals = (Vec::new(), Vec::new());
        for _ in 0..plan.rss_runs {
            let (growth, total) = run_rss_child("sdk", &url)?;
            for (v, g) in sdk.iter_mut().zip(growth) {
                v.push(g);
            }
            totals.0.push(total);
            let (growth, total) = run_rss_child("bare", &url)?;
            for (v, g) in bare.iter_mut().zip(growth) {
                v.push(g);
            }
            totals.1.push(total);
        }
        let s = sdk.each_ref().map(|v| median(v));
        let b = bare.each_ref().map(|v| median(v));
        let ratio = s[0] / b[0];
        let tls = scheme == "https";
        let goal = if tls { "≤ 1.1; < 2.5 MB" } else { "≤ 1.1" };
        table.row(
            &format!("RSS growth of a running client after {RSS_REPORTS} reports, {scheme}"),
            fmt_kb(s[0]),
            fmt_kb(b[0]),
            format!("{ratio:.2}"),
            goal,
            Some(ratio <= 1.1 && (!tls || s[0] < 2.5 * 1024.0)),
        );
        table.row(
            &format!(
                "of which heap and stacks (RssAnon) / code and data pages (RssFile), {scheme}"
            ),
            format!("{} / {}", fmt_kb(s[1]), fmt_kb(s[2])),
            format!("{} / {}", fmt_kb(b[1]), fmt_kb(b[2])),
            format!("{:.2} / {:.2}", s[1] / b[1], s[2] / b[2]),
            "",
            None,
        );
        table.row(
            &format!("whole process RSS after the reports, {scheme}"),
            fmt_kb(median(&totals.0)),
            fmt_kb(median(&totals.1)),
            "".into(),
            "",
            None,
        );
    }
    Ok(())
}

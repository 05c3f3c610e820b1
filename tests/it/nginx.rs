//! The SDK reporting through a real nginx, as production traffic passes a reverse proxy.
//!
//! Each test starts its own nginx (Debian's package) with a config written to a temporary
//! directory: it listens on a free 127.0.0.1 port, proxies to an in-process receiver, and keeps
//! its pid, logs and temp files in that directory. nginx is killed when the test ends.
//!
//! Without nginx the tests print why they are skipped and pass, unless `CI` is set: in CI they
//! must run (`.ci/install-nginx.sh` installs nginx when it is missing).
//!
//! nginx is a separate process, so these tests run in real time, with short delays and bounds
//! that check the policy's lower limits (no hammering) and never the machine's speed.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::support::faults::Attempts;
use crate::support::schedule::nominal_retry_delay;
use crate::support::{self, in_ci};
use tokio::time::Instant;
use vortex_client::testing::MockServer;
use vortex_client::{Disposition, HeartbeatBuilder, HeartbeatClient, ReporterError};

const INITIAL: Duration = Duration::from_millis(100);
const CAP: Duration = Duration::from_millis(800);
/// Real time, generous: only a broken client runs into it.
const WAIT: Duration = Duration::from_secs(30);

/// Where nginx is, if installed.
fn nginx_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/usr/local/nginx/sbin"].map(PathBuf::from))
        .map(|dir| dir.join("nginx"))
        .find(|p| p.is_file())
}

/// nginx, or `None` after printing why the test is skipped. Panics in CI.
fn nginx_or_skip(test: &str) -> Option<PathBuf> {
    if let Some(bin) = nginx_binary() {
        return Some(bin);
    }
    let hint =
        "install it with `.ci/install-nginx.sh` (Debian: apt-get install nginx-light, or nginx)";
    assert!(!in_ci(), "nginx is required in CI (CI is set): {hint}");
    eprintln!("SKIPPED {test}: nginx not found on PATH or in /usr/sbin; {hint}");
    None
}

/// A temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "vortex-client-nginx-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An nginx in front of `upstream`, killed on drop.
struct Nginx {
    addr: SocketAddr,
    child: Child,
    dir: TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Nginx {
    /// Starts nginx proxying to `upstream`:
    /// - `/` passes everything through;
    /// - `/limited-429/` allows one request a minute and answers the rest `429`;
    /// - `/limited-503/` the same with nginx's default `503` plus `Retry-After: 1`.
    async fn start(bin: &Path, upstream: SocketAddr) -> Nginx {
        let mut last_error = String::new();
        for _ in 0..3 {
            let dir = TempDir::new();
            let port = free_port().await;
            let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
            std::fs::write(dir.0.join("nginx.conf"), config(&dir.0, addr, upstream)).unwrap();
            let child = Command::new(bin)
                .arg("-p")
                .arg(&dir.0)
                .arg("-c")
                .arg(dir.0.join("nginx.conf"))
                .arg("-e")
                .arg(dir.0.join("error.log"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn nginx");
            let mut nginx = Nginx { addr, child, dir };
            match nginx.ready().await {
                Ok(()) => return nginx,
                // Most likely another process took the port between our probe and nginx's bind.
                Err(e) => last_error = e,
            }
        }
        panic!("nginx did not start: {last_error}");
    }

    async fn ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = std::fs::read_to_string(self.dir.0.join("error.log")).unwrap_or_default();
                return Err(format!("nginx exited with {status}: {log}"));
            }
            if tokio::net::TcpStream::connect(self.addr).await.is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err("nginx did not listen within 10 s".into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn url(&self, prefix: &str) -> String {
        format!("http://{}{prefix}", self.addr)
    }

    fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.0.join("error.log")).unwrap_or_default()
    }
}

async fn free_port() -> u16 {
    crate::support::dead_port().await.port()
}

fn config(dir: &Path, listen: SocketAddr, upstream: SocketAddr) -> String {
    let d = dir.display();
    format!(
        r#"daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    limit_req_zone $server_name zone=one_a_minute_429:1m rate=1r/m;
    limit_req_zone $server_name zone=one_a_minute_503:1m rate=1r/m;
    server {{
        listen {listen};
        server_name heartbeat;
        proxy_connect_timeout 2s;
        proxy_read_timeout 5s;
        location / {{
            proxy_pass http://{upstream};
        }}
        location /limited-429/ {{
            limit_req zone=one_a_minute_429;
            limit_req_status 429;
            proxy_pass http://{upstream}/;
        }}
        location /limited-503/ {{
            limit_req zone=one_a_minute_503;
            add_header Retry-After 1 always;
            proxy_pass http://{upstream}/;
        }}
    }}
}}
"#
    )
}

/// Short real-time delays: the backoff `assert_backs_off` checks runs from `INITIAL` to `CAP`.
fn client(url: &str) -> HeartbeatBuilder<HeartbeatClient> {
    support::client(url)
        .interval(Duration::from_secs(2))
        .initial_retry_delay(INITIAL)
        .max_retry_delay(CAP)
        .timeout(Duration::from_secs(5))
}

/// No hammering: every wait after a failure is at least half the nominal backoff (real time
/// only makes gaps longer, so this bound holds on a loaded machine).
fn assert_backs_off(log: &[(Instant, vortex_client::HeartbeatStatus)], at_least: Duration) {
    for pair in log.windows(2) {
        let failures = pair[0].1.consecutive_failures;
        if failures == 0 {
            continue;
        }
        let floor = (nominal_retry_delay(failures, INITIAL, CAP) / 2).max(at_least);
        let gap = pair[1].0 - pair[0].0;
        assert!(
            gap + Duration::from_millis(5) >= floor,
            "after {failures} failures the next attempt came {gap:?} later (floor {floor:?})"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receiver_gone_nginx_502_then_back_and_the_latest_version_wins() {
    let Some(bin) = nginx_or_skip("receiver_gone_nginx_502_then_back_and_the_latest_version_wins")
    else {
        return;
    };
    let rx = MockServer::start().await.unwrap();
    let upstream = rx.addr();
    let nginx = Nginx::start(&bin, upstream).await;

    let c = client(&nginx.url("")).build().unwrap();
    let attempts = Attempts::watch(&c);
    c.start().await;
    let first = attempts.wait_success(WAIT).await;
    assert_eq!(first[0].1.drift.reported_version.as_deref(), Some("v1"));
    assert_eq!(
        rx.wait_for_reports(1, WAIT).await.unwrap()[0].config_version,
        "v1"
    );

    // The receiver goes away: nginx answers 502 Bad Gateway.
    drop(rx);
    let probe = client(&nginx.url("")).max_retries(1).build().unwrap();
    let deadline = Instant::now() + WAIT;
    let err = loop {
        match probe.report_now().await {
            Err(e) => break e,
            // The receiver's listener closes asynchronously; try again in a moment.
            Ok(_) => {
                assert!(Instant::now() < deadline, "nginx never answered 502");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    assert_eq!(err.status(), Some(502), "{err}");
    assert_eq!(err.disposition(), Disposition::Retryable);

    // The client backs off and gets a new version during the outage.
    let before = attempts.log().len();
    let log = attempts.wait(before + 2, WAIT).await;
    assert!(log[before..]
        .iter()
        .any(|(_, s)| s.consecutive_failures > 0));
    c.set_config_version("v2");
    let log = attempts.wait(before + 5, WAIT).await;
    let outage: Vec<_> = log[before..]
        .iter()
        .skip_while(|(_, s)| s.consecutive_failures == 0)
        .cloned()
        .collect();
    assert!(outage.len() >= 4, "{outage:?}");
    assert!(outage.iter().all(|(_, s)| s.consecutive_failures > 0));
    assert!(outage
        .iter()
        .all(|(_, s)| s.last_error.as_deref().is_some_and(|e| e.contains("502"))));
    assert_backs_off(&outage, Duration::ZERO);

    // The receiver comes back on the same address: the first report it sees carries v2.
    let rx = MockServer::builder().bind(upstream).start().await.unwrap();
    let log = attempts.wait_success(WAIT).await;
    assert_eq!(
        log.last().unwrap().1.drift.reported_version.as_deref(),
        Some("v2")
    );
    let reports = rx.wait_for_reports(2, WAIT).await.unwrap();
    assert!(
        reports.iter().all(|r| r.config_version == "v2"),
        "{:?}",
        reports
            .iter()
            .map(|r| r.config_version.as_str())
            .collect::<Vec<_>>()
    );
    c.stop().await;
    let errors = nginx.error_log();
    assert!(
        errors.contains("connect() failed"),
        "nginx saw no upstream failure: {errors}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_rate_limit_429_backs_off() {
    let Some(bin) = nginx_or_skip("nginx_rate_limit_429_backs_off") else {
        return;
    };
    let rx = MockServer::start().await.unwrap();
    let nginx = Nginx::start(&bin, rx.addr()).await;
    let url = nginx.url("/limited-429");

    let c = client(&url).build().unwrap();
    let attempts = Attempts::watch(&c);
    c.start().await;
    // One request a minute passes; the rest are refused with 429 and no Retry-After.
    let log = attempts.wait(5, WAIT).await;
    assert_eq!(log[0].1.consecutive_failures, 0, "the first request passes");
    assert_eq!(rx.reports()[0].path, "/api/drift/heartbeat/app/prod");
    for (i, (_, s)) in log.iter().enumerate().skip(1) {
        assert_eq!(s.consecutive_failures as usize, i, "{log:?}");
        let e = s.last_error.as_deref().unwrap_or_default();
        assert!(e.contains("429") && e.contains("transient"), "{e}");
    }
    assert_backs_off(&log[1..], Duration::ZERO);
    assert_eq!(rx.report_count(), 1, "nginx let only one request through");
    c.stop().await;

    let err = client(&url)
        .max_retries(1)
        .build()
        .unwrap()
        .report_now()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ReporterError::Status {
                status: 429,
                retry_after: None,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.disposition(), Disposition::Retryable);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_rate_limit_503_with_retry_after_is_throttled() {
    let Some(bin) = nginx_or_skip("nginx_rate_limit_503_with_retry_after_is_throttled") else {
        return;
    };
    let rx = MockServer::start().await.unwrap();
    let nginx = Nginx::start(&bin, rx.addr()).await;
    let url = nginx.url("/limited-503");

    let c = client(&url).build().unwrap();
    let attempts = Attempts::watch(&c);
    c.start().await;
    let log = attempts.wait(4, WAIT).await;
    assert_eq!(log[0].1.consecutive_failures, 0, "the first request passes");
    for (_, s) in &log[1..] {
        assert!(s.consecutive_failures > 0);
        assert!(s.last_error.as_deref().unwrap_or_default().contains("503"));
    }
    // Retry-After: 1 is a floor above the backoff's 50..150 ms and 100..300 ms.
    assert_backs_off(&log[1..], Duration::from_secs(1));
    c.stop().await;

    // report_now() returns the delay instead of sleeping through it and retrying.
    let probe = client(&url).max_retries(3).build().unwrap();
    let err = probe.report_now().await.unwrap_err();
    assert_eq!(probe.status().reports_failed, 1, "report_now() retried");
    assert_eq!(err.status(), Some(503));
    assert_eq!(
        err.disposition(),
        Disposition::Throttled(Duration::from_secs(1))
    );
    assert_eq!(rx.report_count(), 1, "nginx let only one request through");
}

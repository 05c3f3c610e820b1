//! `examples/service.rs`, run as users run it: a separate process against a mock Vortex server
//! on loopback. Its reload endpoint reaches the server, its `/drift` endpoint follows the
//! server's verdict, and SIGTERM makes it stop and exit 0 within a second.
#![cfg(unix)] // SIGTERM

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::support::example;
use serde_json::Value;
use vortex_client::testing::MockServer;

const APP: &str = "payment-service";
const PROFILE: &str = "production";
/// A bound on every wait; none of them takes this long unless something is broken.
const WAIT: Duration = Duration::from_secs(10);
/// How soon the service must exit after SIGTERM.
const EXIT_WITHIN: Duration = Duration::from_secs(1);

#[test]
fn service_reloads_reports_drift_and_stops_on_sigterm() {
    let server = MockServer::start_blocking().expect("mock server");
    let service = Service::spawn(&server.url());

    // The service reports the version it started with.
    server
        .wait_for_version_blocking("v1", WAIT)
        .expect("first report");

    // The server expects v3; the reload to v2 reaches it, and the answer says drift.
    server.set_expected_version(APP, PROFILE, "v3");
    assert_eq!(service.post_reload("v2"), (200, "reporting v2\n".into()));
    server
        .wait_for_version_blocking("v2", WAIT)
        .expect("v2 reported");
    let status = service.drift_until(|s| s["drift"]["drift_detected"] == true);
    assert_eq!(status["drift"]["expected_version"], "v3");
    assert_eq!(status["drift"]["reported_version"], "v2");

    // An invalid version is refused with the SDK's reason.
    let (code, body) = service.post_reload(" ");
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("config_version"), "{body}");

    // Reloading to the expected version clears the drift.
    assert_eq!(service.post_reload("v3"), (200, "reporting v3\n".into()));
    server
        .wait_for_version_blocking("v3", WAIT)
        .expect("v3 reported");
    let status = service.drift_until(|s| s["drift"]["drift_detected"] == false);
    assert_eq!(status["drift"]["reported_version"], "v3");
    assert_eq!(service.get("/healthz"), (200, "ok\n".into()));

    assert!(server.rejections().is_empty(), "{:?}", server.rejections());
    service.terminate_and_expect_exit_0();
}

/// The example, running; killed on drop if a failed assertion leaves it behind, and then its
/// log is shown.
struct Service {
    child: Child,
    addr: SocketAddr,
    /// The threads that read its stdout and stderr.
    output: Vec<JoinHandle<String>>,
}

impl Service {
    /// Builds and starts the example against `server_url` on a free loopback port, and waits
    /// for it to print its address.
    fn spawn(server_url: &str) -> Service {
        let mut child = Command::new(example::binary("service"))
            // Only what the test sets: a VORTEX_* variable of the caller must not leak in.
            .env_clear()
            .env("VORTEX_URL", server_url)
            .env("VORTEX_APP", APP)
            .env("VORTEX_PROFILE", PROFILE)
            .env("SERVICE_ADDR", "127.0.0.1:0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the example");
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let stderr = std::thread::spawn(move || io::read_to_string(stderr).unwrap_or_default());
        let (addr, stdout) = read_stdout(stdout);
        let service = Service {
            child,
            addr: addr.unwrap_or(SocketAddr::from(([127, 0, 0, 1], 0))),
            output: vec![stdout, stderr],
        };
        assert!(addr.is_some(), "the service printed no address");
        service
    }

    fn post_reload(&self, version: &str) -> (u16, String) {
        http(self.addr, "POST", "/reload", version).expect("POST /reload")
    }

    fn get(&self, path: &str) -> (u16, String) {
        http(self.addr, "GET", path, "").expect("GET")
    }

    /// `GET /drift` until `done` holds for its JSON: the client records the server's answer
    /// a moment after the server has recorded the report.
    fn drift_until(&self, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let (code, body) = self.get("/drift");
            assert_eq!(code, 200, "{body}");
            let status: Value = serde_json::from_str(&body).expect("JSON status");
            if done(&status) {
                return status;
            }
            assert!(Instant::now() < deadline, "last status: {status}");
            std::thread::sleep(Duration::from_millis(10)); // a poll interval, not a timing
        }
    }

    fn terminate_and_expect_exit_0(mut self) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("pid");
        // SAFETY: kill(2) with a pid this test spawned and has not reaped yet.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
        let sent = Instant::now();
        while sent.elapsed() < EXIT_WITHIN {
            if let Some(exit) = self.child.try_wait().expect("wait") {
                assert!(exit.success(), "exit status after SIGTERM: {exit}");
                return self.expect_stopped_by_stop();
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("still running {EXIT_WITHIN:?} after SIGTERM");
    }

    /// The client was stopped by `stop().await` (logged at INFO), not by dropping its last
    /// handle (logged as a WARN).
    fn expect_stopped_by_stop(mut self) {
        let stdout = self.output.remove(0).join().unwrap_or_default();
        let stopped = stdout
            .lines()
            .find(|l| l.contains("heartbeat client stopped"));
        let stopped = stopped.unwrap_or_else(|| panic!("no stop logged in:\n{stdout}"));
        assert!(stopped.contains("INFO"), "{stopped}");
        assert!(!stopped.contains("last handle was dropped"), "{stopped}");
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() {
            for output in self.output.drain(..) {
                eprintln!(
                    "--- the service's output ---\n{}",
                    output.join().unwrap_or_default()
                );
            }
        }
    }
}

/// Reads the child's stdout (its log and `listening on http://ADDR`) on a thread, because a
/// pipe read has no timeout. Gives the address, if printed within [`WAIT`], and the thread,
/// which returns all of stdout once the child closes it.
fn read_stdout(stdout: impl Read + Send + 'static) -> (Option<SocketAddr>, JoinHandle<String>) {
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(addr) = line.strip_prefix("listening on http://") {
                let _ = tx.send(addr.parse::<SocketAddr>().ok());
            }
            all += &line;
            all.push('\n');
        }
        all
    });
    (rx.recv_timeout(WAIT).ok().flatten(), thread)
}

/// One HTTP/1.1 request on a connection of its own; the status code and the body.
fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, WAIT)?;
    stream.set_read_timeout(Some(WAIT))?;
    stream.set_write_timeout(Some(WAIT))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\
         content-type: text/plain\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let malformed = || io::Error::new(io::ErrorKind::InvalidData, answer.clone());
    let (head, body) = answer.split_once("\r\n\r\n").ok_or_else(malformed)?;
    let code = head.split(' ').nth(1).and_then(|c| c.parse().ok());
    Ok((code.ok_or_else(malformed)?, body.to_string()))
}

//! One sender per client: the worker and `report_now()` share one schedule and send one report
//! at a time, in order, so the server never gets an older version after a newer one and the
//! status never goes back. The schedule's tests run under tokio's paused clock; ordering runs
//! under both runtime flavours.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::support::client;
use tokio::time::Instant;
use vortex_client::testing::{MockServer, Reply};
use vortex_client::HeartbeatClient;

const S: fn(u64) -> Duration = Duration::from_secs;
const MS: fn(u64) -> Duration = Duration::from_millis;

/// The worker's attempt fails, `report_now()` then succeeds: the worker must leave
/// its backoff, so a change right after goes out at once (not at the next scheduled attempt).
#[tokio::test(start_paused = true)]
async fn a_report_now_success_ends_the_workers_backoff() {
    let rx = MockServer::start().await.unwrap();
    rx.script([Reply::Status(503)]);
    let c = client(&rx.url()).interval(S(60)).build().unwrap();
    let mut status = c.subscribe();
    c.start().await;
    status
        .wait_for(|s| s.consecutive_failures == 1)
        .await
        .unwrap();
    c.report_now().await.unwrap();
    let t = Instant::now();
    c.set_config_version("v2");
    let report = rx.wait_for_version("v2", S(120)).await.unwrap();
    assert!(
        report.received_at - t < MS(100),
        "v2 reached the server {:?} after the change",
        report.received_at - t
    );
    c.stop().await;
}

/// A change booked for the next rate-limit slot, then carried by `report_now()`: the next
/// change, made `later`, gets the slot the booked one had (one gap, 1 s, after the last
/// rate-limited send), never a countdown restarted by `report_now()`. `burst` is the on-demand
/// reports spent first (the default, 3, when `None`).
async fn the_next_change_keeps_the_booked_slot(burst: Option<u32>, later: Duration) {
    let rx = MockServer::start().await.unwrap();
    let mut builder = client(&rx.url()).config_version("v0").interval(S(60));
    if let Some(burst) = burst {
        builder = builder.report_burst(burst).min_report_gap(S(1));
    }
    let c = builder.build().unwrap();
    c.start().await;
    rx.wait_for_reports(1, S(5)).await.unwrap();
    let mut last_send = Instant::now();
    for n in 1..=burst.unwrap_or(3) {
        let version = format!("v{n}");
        c.set_config_version(version.as_str()); // within the burst: at once
        last_send = rx
            .wait_for_version(&version, S(5))
            .await
            .unwrap()
            .received_at;
    }
    c.set_config_version("booked"); // the burst is spent: booked one gap after the last send
    c.report_now().await.unwrap(); // carries it now
    tokio::time::sleep(later).await;
    c.set_config_version("next");
    let report = rx.wait_for_version("next", S(120)).await.unwrap();
    let after = report.received_at - last_send;
    assert!(
        after <= S(1) + MS(50),
        "the next change went {after:?} after the last rate-limited send; one gap is 1s"
    );
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn report_now_does_not_push_the_next_change_past_its_slot() {
    the_next_change_keeps_the_booked_slot(Some(1), Duration::ZERO).await;
}

#[tokio::test(start_paused = true)]
async fn with_a_burst_of_one_a_change_after_report_now_waits_one_gap() {
    the_next_change_keeps_the_booked_slot(Some(1), MS(10)).await;
}

#[tokio::test(start_paused = true)]
async fn with_the_defaults_a_change_after_report_now_waits_one_gap() {
    the_next_change_keeps_the_booked_slot(None, MS(10)).await;
}

/// A change that finds the burst spent is booked for the next slot and sent at that slot.
#[tokio::test(start_paused = true)]
async fn a_booked_change_goes_at_its_slot() {
    let rx = MockServer::start().await.unwrap();
    let c = client(&rx.url())
        .interval(S(60))
        .report_burst(1)
        .min_report_gap(S(5))
        .build()
        .unwrap();
    c.start().await;
    rx.wait_for_reports(1, S(5)).await.unwrap();
    c.set_config_version("v2");
    rx.wait_for_version("v2", S(5)).await.unwrap();
    let t = Instant::now();
    c.set_config_version("v3");
    let report = rx.wait_for_version("v3", S(120)).await.unwrap();
    assert!(
        report.received_at - t <= S(5) + MS(50),
        "v3 waited {:?}",
        report.received_at - t
    );
    c.stop().await;
}

/// One task sets a version and calls `report_now()` while the worker runs with no
/// rate limit: after each round the server's newest version is the one the status shows.
async fn the_server_ends_on_the_version_the_status_shows() {
    let rx = MockServer::start().await.unwrap();
    let c = client(&rx.url())
        .interval(S(3600))
        .min_report_gap(Duration::ZERO)
        .build()
        .unwrap();
    c.start().await;
    for n in 2..=150 {
        let version = format!("v{n}");
        c.set_config_version(&version);
        c.report_now().await.unwrap();
        let last = rx.last_report().map(|r| r.config_version);
        assert_eq!(last.as_deref(), Some(version.as_str()), "round {n}");
        assert_eq!(
            c.status().drift.reported_version.as_deref(),
            Some(version.as_str())
        );
    }
    c.stop().await;
}

/// With a report in flight, every concurrent `stop()` returns only once the worker
/// has ended, so the in-flight report is counted before any of them returns.
async fn every_concurrent_stop_waits_for_the_worker() {
    let rx = MockServer::start().await.unwrap();
    rx.script([Reply::Delay(MS(300))]);
    let c = client(&rx.url()).interval(S(3600)).build().unwrap();
    c.start().await;
    rx.wait_for_reports(1, S(5)).await.unwrap();
    let stops: Vec<_> = (0..2)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move {
                c.stop().await;
                (c.is_running(), c.status().reports_accepted)
            })
        })
        .collect();
    for stop in stops {
        assert_eq!(
            stop.await.unwrap(),
            (false, 1),
            "a stop() returned before the worker and its in-flight report finished"
        );
    }
}

both_runtimes!(
    the_server_ends_on_the_version_the_status_shows,
    every_concurrent_stop_waits_for_the_worker,
    hammer,
);

/// The server's record of what it accepted: a version older than one already accepted is a
/// violation.
#[derive(Default)]
struct Accepted {
    newest: u64,
    violations: Vec<(u64, u64)>,
    requests: u64,
}

/// The whole ordering contract under load: 16 tasks set increasing versions and call
/// `report_now()` for about two seconds, while the worker reports changes, against a server
/// that answers 503 to 10 % of requests and slowly to 15 %. The server never accepts an older
/// version than one it accepted; `status()` and the drift watch never go back; the last
/// version set is the last one accepted; requests stay within what report_now() calls and the
/// rate limit allow.
async fn hammer() {
    let (server, replies) = ordering_server(0x5eed).await;
    let c = client(&server.url())
        .interval(S(3600))
        .initial_retry_delay(MS(5))
        .max_retry_delay(MS(20))
        .min_report_gap(MS(100))
        .report_burst(3)
        .build()
        .unwrap();
    c.start().await;
    let watchers = watch_for_regressions(&c);
    let newest_set = Arc::new(parking_lot::Mutex::new(1u64));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (c, newest_set) = (c.clone(), newest_set.clone());
        tasks.push(tokio::spawn(async move {
            let mut calls = 0u64;
            for _ in 0..40 {
                if started.elapsed() > S(2) {
                    break;
                }
                {
                    let mut n = newest_set.lock();
                    *n += 1;
                    c.set_config_version(format!("v{n}"));
                }
                let _ = c.report_now().await;
                calls += 1;
            }
            calls
        }));
    }
    let mut calls = 0;
    for task in tasks {
        calls += task.await.unwrap();
    }
    let last = *newest_set.lock();
    let mut settled = c.subscribe();
    tokio::time::timeout(
        S(10),
        settled
            .wait_for(|s| s.drift.reported_version.as_deref() == Some(format!("v{last}").as_str())),
    )
    .await
    .expect("the last version is accepted")
    .unwrap();
    let elapsed = started.elapsed();
    c.stop().await;
    let (status_regressions, drift_regressions) = watchers.finish().await;
    assert!(server.rejections().is_empty(), "{:?}", server.rejections());
    let accepted = accepted(&server, &replies);
    assert!(
        accepted.violations.is_empty(),
        "older versions accepted after newer ones: {:?}",
        accepted.violations
    );
    assert_eq!(
        accepted.newest, last,
        "the last version set is the last accepted"
    );
    assert!(
        status_regressions.is_empty(),
        "status went back: {status_regressions:?}"
    );
    assert!(
        drift_regressions.is_empty(),
        "drift went back: {drift_regressions:?}"
    );
    // Each report_now() call makes at most 3 attempts; the worker adds its first report, a
    // burst of 3, one per 100 ms gap, and its retries (at least 5 ms apart).
    let worker_bound =
        1 + 3 + (elapsed.as_millis() / 100) as u64 + (elapsed.as_millis() / 5) as u64;
    assert!(
        accepted.requests <= calls * 3 + worker_bound,
        "{} requests for {calls} report_now() calls in {elapsed:?}",
        accepted.requests
    );
}

/// A mock server that answers 503 to 10 % of heartbeats and slowly (5 to 30 ms) to 15 %,
/// chosen by a seeded generator, and expects `v1` (every other version is drift). Returns the
/// server and its scripted replies, in the order it uses them.
async fn ordering_server(seed: u64) -> (MockServer, Vec<Reply>) {
    // xorshift: enough to pick faults reproducibly.
    let mut x = seed | 1;
    let replies: Vec<Reply> = (0..10_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            match x % 100 {
                0..10 => Reply::Status(503),
                roll @ 10..25 => Reply::Delay(MS(5 + roll)),
                _ => Reply::Accept,
            }
        })
        .collect();
    let server = MockServer::start().await.unwrap();
    server.set_expected_version("app", "prod", "v1");
    server.script(replies.iter().cloned());
    (server, replies)
}

/// What the server accepted, read in arrival order: the i-th heartbeat took the i-th scripted
/// reply (the default, `Accept`, once they run out).
fn accepted(server: &MockServer, replies: &[Reply]) -> Accepted {
    let mut accepted = Accepted::default();
    for (i, report) in server.reports().iter().enumerate() {
        accepted.requests += 1;
        if replies.get(i).and_then(Reply::status) == Some(503) {
            continue;
        }
        let n = version_number(Some(&report.config_version));
        if n < accepted.newest {
            accepted.violations.push((n, accepted.newest));
        }
        accepted.newest = accepted.newest.max(n);
    }
    accepted
}

/// Tasks that read `status()` in a loop and follow the drift watch, recording every step back
/// to an older reported version.
struct Watchers {
    done: Arc<AtomicBool>,
    status: tokio::task::JoinHandle<Vec<(u64, u64)>>,
    drift: tokio::task::JoinHandle<Vec<(u64, u64)>>,
}

fn version_number(v: Option<&str>) -> u64 {
    v.and_then(|v| v.strip_prefix('v'))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn watch_for_regressions(c: &HeartbeatClient) -> Watchers {
    let done = Arc::new(AtomicBool::new(false));
    let status = tokio::spawn({
        let (c, done) = (c.clone(), done.clone());
        async move {
            let (mut seen, mut back) = (0, Vec::new());
            while !done.load(Ordering::Relaxed) {
                let n = version_number(c.status().drift.reported_version.as_deref());
                if n < seen {
                    back.push((n, seen));
                }
                seen = seen.max(n);
                tokio::task::yield_now().await;
            }
            back
        }
    });
    let drift = tokio::spawn({
        let (mut rx, done) = (c.subscribe_drift(), done.clone());
        async move {
            let (mut seen, mut back) = (0, VecDeque::new());
            while !done.load(Ordering::Relaxed) {
                if tokio::time::timeout(MS(50), rx.changed()).await.is_err() {
                    continue;
                }
                let n = version_number(rx.borrow_and_update().reported_version.as_deref());
                if n < seen {
                    back.push_back((n, seen));
                }
                seen = seen.max(n);
            }
            back.into()
        }
    });
    Watchers {
        done,
        status,
        drift,
    }
}

impl Watchers {
    async fn finish(self) -> (Vec<(u64, u64)>, Vec<(u64, u64)>) {
        self.done.store(true, Ordering::Relaxed);
        (self.status.await.unwrap(), self.drift.await.unwrap())
    }
}

/// A server that answers each request with keep-alive implied (no `Connection: close`) and
/// closes the connection right after the answer, like one whose idle timeout fires as the
/// client reuses the connection. Returns its URL.
async fn closing_server() -> String {
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                if !read_request(&mut socket).await {
                    return;
                }
                let body = r#"{"registered":true,"expected_version":null,"drift_detected":false}"#;
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
                // Closed without a word a moment later, as the client reuses it: the next
                // request is written to a connection the server no longer reads.
                tokio::time::sleep(MS(1)).await;
            });
        }
    });
    url
}

/// Reads one request: the headers, then the body their Content-Length announces. False when
/// the client closed the connection first.
async fn read_request(socket: &mut tokio::net::TcpStream) -> bool {
    use tokio::io::AsyncReadExt;
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = socket.read(&mut buf).await {
        if n == 0 {
            return false;
        }
        request.extend_from_slice(&buf[..n]);
        let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        if request.len() >= end + 4 + length {
            break;
        }
    }
    true
}

/// A connection the server closed as it was reused costs no failure: the report
/// is retried once at once on a new connection.
async fn a_reused_connection_closed_by_the_server_is_retried_once() {
    let url = closing_server().await;
    let c = client(&url).max_retries(1).build().unwrap();
    let mut failures = Vec::new();
    for _ in 0..40 {
        if let Err(e) = c.report_now().await {
            failures.push(e.to_string());
        }
    }
    assert!(
        failures.is_empty(),
        "{} of 40 failed: {failures:?}",
        failures.len()
    );
    assert_eq!(c.status().reports_failed, 0);
}

both_runtimes!(a_reused_connection_closed_by_the_server_is_retried_once);

/// A server that answers the first report on a keep-alive connection, then reads each
/// request and closes without answering: the report that rides the reused connection goes
/// once more on a new one (two requests), then fails as one failure.
async fn the_retry_on_a_closed_connection_is_made_once() {
    let (url, requests) = closing_without_answer(Duration::ZERO).await;
    let c = client(&url).max_retries(1).build().unwrap();
    c.report_now().await.unwrap();
    let error = c.report_now().await.unwrap_err();
    assert_eq!(requests.load(Ordering::SeqCst), 1 + 2, "{error}");
    assert_eq!(c.status().reports_failed, 1);
    // The connection is gone: the next attempt is on a new one, and gets no second request.
    let _ = c.report_now().await.unwrap_err();
    assert_eq!(requests.load(Ordering::SeqCst), 1 + 2 + 1);
}

/// The retry shares the attempt's timeout: a server that holds each request for 400 ms and
/// then closes the connection makes an attempt with a 500 ms timeout fail after 500 ms, not
/// after two holds.
#[tokio::test(start_paused = true)]
async fn the_retry_on_a_closed_connection_stays_within_the_timeout() {
    let (url, requests) = closing_without_answer(MS(400)).await;
    let c = client(&url)
        .max_retries(1)
        .timeout(MS(500))
        .build()
        .unwrap();
    c.report_now().await.unwrap();
    let started = Instant::now();
    let error = c.report_now().await.unwrap_err();
    let took = started.elapsed();
    assert_eq!(
        requests.load(Ordering::SeqCst),
        1 + 2,
        "the retry was made: {error}"
    );
    assert!(
        took <= MS(520),
        "the attempt took {took:?} with a 500 ms timeout: {error}"
    );
}

/// A server that answers the first request it reads (keep-alive), then reads each request,
/// holds it for `hold`, and closes the connection without answering; counts the requests it
/// read.
async fn closing_without_answer(hold: Duration) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::AtomicUsize;
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(AtomicUsize::new(0));
    tokio::spawn({
        let requests = requests.clone();
        async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let requests = requests.clone();
                tokio::spawn(async move {
                    loop {
                        if !read_request(&mut socket).await {
                            return;
                        }
                        if requests.fetch_add(1, Ordering::SeqCst) > 0 {
                            tokio::time::sleep(hold).await;
                            return;
                        }
                        let body = r#"{"registered":true}"#;
                        let answer = format!(
                            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        let _ = socket.write_all(answer.as_bytes()).await;
                    }
                });
            }
        }
    });
    (url, requests)
}

both_runtimes!(the_retry_on_a_closed_connection_is_made_once);

/// A `start()` made while a `stop()` waits for a report in flight wins: the client runs
/// afterwards and keeps reporting, and the stop still waited for the old worker.
async fn a_start_during_a_stop_wins() {
    use std::future::Future;
    use std::task::{Context, Waker};
    let rx = MockServer::start().await.unwrap();
    rx.script([Reply::Delay(MS(300))]);
    let c = client(&rx.url()).interval(S(3600)).build().unwrap();
    c.start().await;
    rx.wait_for_reports(1, S(5)).await.unwrap();
    // Polled once, stop() has told the worker to stop and waits for it.
    let mut stopping = std::pin::pin!(c.stop());
    let first_poll = stopping
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()));
    assert!(first_poll.is_pending(), "a report is in flight");
    c.start().await;
    stopping.await;
    // The old worker's report finished within the grace (the new worker may add its own).
    assert!(
        c.status().reports_accepted >= 1,
        "the stop waited for the old worker"
    );
    assert!(c.is_running(), "the start() after the stop() wins");
    c.set_config_version("v2");
    rx.wait_for_version("v2", S(5)).await.unwrap();
    c.stop().await;
}

both_runtimes!(a_start_during_a_stop_wins);

//! Every fault we can name, each its own test, over real loopback HTTP: the classification is
//! right (`ReporterError::disposition()`), nothing panics, the loop keeps going with the right
//! next delay, and after recovery the latest version wins.
//!
//! Timing runs on tokio's paused clock: the servers live in the test's own current-thread
//! runtime, so virtual time only moves when every task waits on a timer, and the gaps observed
//! are the schedule's delays (the request itself takes no virtual time; timeouts and dripping
//! bodies take exactly their virtual seconds). Name resolution runs on a blocking thread, which
//! holds the paused clock until it returns.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::support::faults::{Attempts, Fault, FaultServer};
use crate::support::replies::{answering, failures, throttling};
use crate::support::schedule::{jitter, nominal_retry_delay};
use crate::support::{self, dead_port};
use parking_lot::Mutex;
use tokio::time::Instant;
use vortex_client::testing::{MockServer, Reply};
use vortex_client::{
    Disposition, HeartbeatBuilder, HeartbeatClient, HeartbeatStatus, ReporterError,
};

const S: fn(u64) -> Duration = Duration::from_secs;
/// Virtual time: generous, costs nothing.
const WAIT: Duration = Duration::from_secs(900);
const INTERVAL: Duration = Duration::from_secs(30);
const TIMEOUT: Duration = Duration::from_secs(2);

/// The schedule and timeout that the expected delays below are computed from.
fn client(url: &str) -> HeartbeatBuilder<HeartbeatClient> {
    support::client(url)
        .interval(INTERVAL)
        .initial_retry_delay(S(1))
        .max_retry_delay(S(60))
        .timeout(TIMEOUT)
}

/// One `report_now()` attempt (no retries): its error.
async fn probe(url: &str) -> ReporterError {
    let c = client(url).max_retries(1).build().unwrap();
    let err = c
        .report_now()
        .await
        .expect_err("the fault must fail the report");
    // The error reaches status() too, as text that names the URL.
    let status = c.status();
    assert_eq!(status.consecutive_failures, 1);
    assert_eq!(status.reports_failed, 1);
    assert_eq!(status.last_error.as_deref(), Some(err.to_string().as_str()));
    err
}

/// What the worker should wait after a failed attempt.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// Exponential backoff with jitter.
    Backoff,
    /// At least the server's Retry-After, known to lie in this range.
    Throttle(Duration, Duration),
    /// The normal interval (permanent errors).
    Interval,
}

/// The range the delay after an attempt that left `failures` consecutive failures must fall in.
fn delay_range(expect: Expect, failures: u32) -> (Duration, Duration) {
    let nominal = nominal_retry_delay(failures, S(1), S(60));
    let backoff = (nominal / 2, nominal.mul_f64(1.5).min(S(60)));
    match expect {
        Expect::Backoff => backoff,
        Expect::Throttle(lo, hi) => (
            lo.max(backoff.0),
            hi.mul_f64(jitter::RETRY_AFTER.1).max(backoff.1),
        ),
        Expect::Interval => (
            INTERVAL.mul_f64(jitter::INTERVAL.0),
            INTERVAL.mul_f64(jitter::INTERVAL.1),
        ),
    }
}

/// Checks the delay between consecutive attempts. `attempt_takes` is how long each attempt
/// itself lasts (a timeout), since the log records when attempts finish.
fn assert_delays(log: &[(Instant, HeartbeatStatus)], expect: Expect, attempt_takes: Duration) {
    let slack = Duration::from_millis(50);
    for pair in log.windows(2) {
        let (t0, s0) = &pair[0];
        let (t1, s1) = &pair[1];
        if s0.consecutive_failures == 0 {
            continue;
        }
        // The log has finish times; a failed attempt lasted `attempt_takes`, a success none.
        let took = if s1.consecutive_failures == 0 {
            Duration::ZERO
        } else {
            attempt_takes
        };
        let delay = (*t1 - *t0).saturating_sub(took);
        let (lo, hi) = delay_range(expect, s0.consecutive_failures);
        assert!(
            delay + slack >= lo && delay <= hi + slack,
            "after {} failures waited {delay:?}, expected {lo:?}..={hi:?} ({expect:?}); log: {:?}",
            s0.consecutive_failures,
            log.iter()
                .map(|(t, s)| (*t - log[0].0, s.consecutive_failures))
                .collect::<Vec<_>>()
        );
    }
}

/// The common story: the client starts against the fault, keeps going with the expected
/// delays, gets a new version during the outage, and after `heal` the first success carries it.
/// Returns the client and its attempt log for fault-specific checks.
async fn outage_then_recovery<F, Fut>(
    url: &str,
    failed_attempts: usize,
    expect: Expect,
    attempt_takes: Duration,
    heal: F,
) -> (HeartbeatClient, Attempts)
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let c = client(url).build().unwrap();
    let attempts = Attempts::watch(&c);
    c.start().await;
    let log = attempts.wait(2, WAIT).await;
    assert!(log.iter().all(|(_, s)| s.consecutive_failures > 0));
    // A new version during the outage rides on the next attempt.
    c.set_config_version("v2");
    let log = attempts.wait(failed_attempts, WAIT).await;
    assert!(
        log.iter()
            .all(|(_, s)| s.consecutive_failures > 0 && s.reports_accepted == 0),
        "{log:?}"
    );
    assert!(c.is_running(), "the loop keeps going");
    assert_delays(&log, expect, attempt_takes);
    heal().await;
    let log = attempts.wait_success(WAIT).await;
    assert_delays(&log, expect, attempt_takes);
    let (_, first_ok) = log.last().unwrap();
    assert_eq!(first_ok.drift.reported_version.as_deref(), Some("v2"));
    assert_eq!(first_ok.consecutive_failures, 0);
    assert_eq!(first_ok.last_error, None);
    // The interval resumes, and nothing older ever overwrites the latest version.
    let n = log.len();
    let log = attempts.wait(n + 2, WAIT).await;
    let (t_ok, _) = log[n - 1];
    let (t_next, next) = &log[n];
    let gap = *t_next - t_ok;
    let (lo, hi) = delay_range(Expect::Interval, 0);
    assert!(gap + S(1) >= lo && gap <= hi + S(1), "{gap:?}");
    assert_eq!(next.drift.reported_version.as_deref(), Some("v2"));
    assert_eq!(log[n + 1].1.drift.reported_version.as_deref(), Some("v2"));
    (c, attempts)
}

/// Versions a receiver saw: after the first `v2`, never `v1` again.
fn assert_latest_wins(versions: &[String]) {
    let first_v2 = versions
        .iter()
        .position(|v| v == "v2")
        .unwrap_or_else(|| panic!("v2 never arrived: {versions:?}"));
    assert!(
        versions[first_v2..].iter().all(|v| v == "v2"),
        "an older version followed the latest: {versions:?}"
    );
}

fn receiver_versions(rx: &MockServer) -> Vec<String> {
    rx.reports().into_iter().map(|r| r.config_version).collect()
}

/// [`outage_then_recovery`] against a fault server that then answers well: the versions it
/// answered well end on the latest.
async fn fault_server_recovers(
    server: &FaultServer,
    failed_attempts: usize,
    expect: Expect,
    attempt_takes: Duration,
) {
    let heal = || async { server.set(Fault::Ok) };
    let (c, _) =
        outage_then_recovery(&server.url(), failed_attempts, expect, attempt_takes, heal).await;
    c.stop().await;
    let answered: Vec<String> = server
        .seen()
        .into_iter()
        .filter(|s| s.fault == Fault::Ok)
        .map(|s| s.version)
        .collect();
    assert_latest_wins(&answered);
}

/// [`outage_then_recovery`] against a mock server that then accepts: the versions it received
/// end on the latest.
async fn mock_server_recovers(rx: &MockServer, failed_attempts: usize, expect: Expect) {
    let heal = || async { rx.set_default_reply(Reply::Accept) };
    let (c, _) =
        outage_then_recovery(&rx.url(), failed_attempts, expect, Duration::ZERO, heal).await;
    c.stop().await;
    assert_latest_wins(&receiver_versions(rx));
}

// ---------------------------------------------------------------------------------------------
// Connection faults

#[tokio::test(start_paused = true)]
async fn server_down_at_start_then_up() {
    let addr = dead_port().await;
    let url = format!("http://{addr}");
    let err = probe(&url).await;
    assert!(matches!(err, ReporterError::Connect { .. }), "{err:?}");
    assert_eq!(err.disposition(), Disposition::Retryable);

    let receiver: Arc<Mutex<Option<MockServer>>> = Arc::default();
    let slot = receiver.clone();
    let (c, _attempts) =
        outage_then_recovery(&url, 5, Expect::Backoff, Duration::ZERO, || async move {
            *slot.lock() = Some(MockServer::builder().bind(addr).start().await.unwrap());
        })
        .await;
    c.stop().await;
    let rx = receiver.lock().take().unwrap();
    let versions = receiver_versions(&rx);
    assert_eq!(versions[0], "v2", "the first report after the outage");
    assert_latest_wins(&versions);
}

#[tokio::test(start_paused = true)]
async fn connection_reset_mid_response() {
    let server = FaultServer::start(Fault::ResetMidResponse).await;
    let err = probe(&server.url()).await;
    assert!(matches!(err, ReporterError::Transport { .. }), "{err:?}");
    assert_eq!(err.disposition(), Disposition::Retryable);

    fault_server_recovers(&server, 5, Expect::Backoff, Duration::ZERO).await;
}

#[tokio::test(start_paused = true)]
async fn server_that_accepts_and_never_answers_times_out() {
    let server = FaultServer::start(Fault::Hang).await;
    let before = Instant::now();
    let err = probe(&server.url()).await;
    let took = Instant::now() - before;
    assert!(matches!(err, ReporterError::Timeout { .. }), "{err:?}");
    assert_eq!(err.disposition(), Disposition::Retryable);
    assert!(took >= TIMEOUT && took < TIMEOUT + S(1), "{took:?}");

    fault_server_recovers(&server, 4, Expect::Backoff, TIMEOUT).await;
}

/// A server that reads each request and closes without answering gets one request per
/// attempt: the single resend is for a reused keep-alive connection closed under a request,
/// and here every connection is new.
#[tokio::test(start_paused = true)]
async fn a_server_that_closes_without_answering_gets_one_request_per_attempt() {
    let server = FaultServer::start(Fault::CloseAfterRequest).await;
    let c = client(&server.url()).max_retries(3).build().unwrap();
    let err = c.report_now().await.unwrap_err();
    assert_eq!(err.disposition(), Disposition::Retryable, "{err:?}");
    assert_eq!(server.seen().len(), 3, "three attempts, one request each");
}

#[tokio::test(start_paused = true)]
async fn body_dripping_one_byte_a_second_hits_the_total_timeout() {
    let server = FaultServer::start(Fault::Drip(600)).await;
    let before = Instant::now();
    let err = probe(&server.url()).await;
    let took = Instant::now() - before;
    assert!(matches!(err, ReporterError::Timeout { .. }), "{err:?}");
    assert_eq!(err.disposition(), Disposition::Retryable);
    // The headers came at once and each byte within a second: only a total deadline stops it.
    assert!(took >= TIMEOUT && took < TIMEOUT + S(1), "{took:?}");
    assert!(server.body_bytes_sent() <= TIMEOUT.as_secs() + 1);

    fault_server_recovers(&server, 4, Expect::Backoff, TIMEOUT).await;
}

#[tokio::test(start_paused = true)]
async fn unresolvable_host() {
    // `.invalid` never resolves (RFC 6761). Recovery would need a new configuration, so this
    // checks classification and that the loop keeps backing off.
    let url = "http://something.invalid:8080";
    let err = probe(url).await;
    assert!(
        matches!(
            err,
            ReporterError::Connect { .. } | ReporterError::Timeout { .. }
        ),
        "{err:?}"
    );
    assert_eq!(err.disposition(), Disposition::Retryable);
    assert!(err.to_string().contains("something.invalid"), "{err}");

    let c = client(url).build().unwrap();
    let attempts = Attempts::watch(&c);
    c.start().await;
    let log = attempts.wait(5, WAIT).await;
    assert!(log.iter().all(|(_, s)| s.reports_accepted == 0));
    assert_eq!(log[4].1.consecutive_failures, 5);
    assert_delays(&log, Expect::Backoff, Duration::ZERO);
    assert!(c.is_running());
    c.stop().await;
}

#[cfg(any(feature = "rustls", feature = "rustls-ring"))]
#[tokio::test(start_paused = true)]
async fn https_url_to_a_plain_http_port_is_permanent() {
    // What a real HTTP server answers to a TLS handshake.
    let rx = MockServer::start().await.unwrap();
    let err = probe(&format!("https://{}", rx.addr())).await;
    assert!(matches!(err, ReporterError::Tls { .. }), "{err:?}");
    assert_eq!(err.disposition(), Disposition::Permanent);
    assert!(err.to_string().contains("use an http:// URL"), "{err}");

    // The loop keeps the normal interval: a misconfigured fleet does not hammer the server.
    let server = FaultServer::start(Fault::Ok).await;
    let c = client(&format!("https://{}", server.addr)).build().unwrap();
    let attempts = Attempts::watch(&c);
    c.start().await;
    let log = attempts.wait(4, WAIT).await;
    assert!(log.iter().all(|(_, s)| s.reports_accepted == 0));
    assert_delays(&log, Expect::Interval, Duration::ZERO);
    assert_eq!(server.tls_hellos(), 4);
    assert!(
        server.seen().is_empty(),
        "no request went out in clear text"
    );
    c.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Status codes

async fn transient_status(code: u16) {
    let rx = answering(code).await;
    let err = probe(&rx.url()).await;
    assert_eq!(err.status(), Some(code));
    assert_eq!(err.disposition(), Disposition::Retryable);
    assert!(err.to_string().contains("transient"), "{err}");

    mock_server_recovers(&rx, 6, Expect::Backoff).await;
}

#[tokio::test(start_paused = true)]
async fn status_500_backs_off() {
    transient_status(500).await;
}

#[tokio::test(start_paused = true)]
async fn status_502_backs_off() {
    transient_status(502).await;
}

#[tokio::test(start_paused = true)]
async fn status_503_backs_off() {
    transient_status(503).await;
}

#[tokio::test(start_paused = true)]
async fn status_504_backs_off() {
    transient_status(504).await;
}

/// 429/503 with `Retry-After`: `report_now()` returns at once with the delay, the loop waits at
/// least that long, and recovers.
async fn throttled(code: u16, retry_after: impl Fn() -> String, lo: Duration, hi: Duration) {
    let rx = throttling(code, &retry_after()).await;
    let c = client(&rx.url()).max_retries(5).build().unwrap();
    let before = Instant::now();
    let err = c.report_now().await.unwrap_err();
    assert_eq!(
        Instant::now(),
        before,
        "report_now() slept through a Retry-After"
    );
    assert_eq!(rx.report_count(), 1, "no retry within report_now()");
    assert_eq!(err.status(), Some(code));
    let Disposition::Throttled(delay) = err.disposition() else {
        panic!("{err:?} is not throttled");
    };
    assert_eq!(err.retry_after(), Some(delay));
    assert!(delay >= lo && delay <= hi, "{delay:?}");
    drop(c);

    mock_server_recovers(&rx, 3, Expect::Throttle(lo, hi)).await;
}

/// A `Retry-After` date 20 to 21 s ahead (an HTTP date has whole seconds).
fn date_in_20s() -> String {
    httpdate::fmt_http_date(SystemTime::now() + S(21))
}

#[tokio::test(start_paused = true)]
async fn status_429_with_retry_after_seconds() {
    throttled(429, || "20".into(), S(20), S(20)).await;
}

#[tokio::test(start_paused = true)]
async fn status_503_with_retry_after_seconds() {
    throttled(503, || "20".into(), S(20), S(20)).await;
}

#[tokio::test(start_paused = true)]
async fn status_429_with_retry_after_date() {
    throttled(429, date_in_20s, S(19), S(21)).await;
}

#[tokio::test(start_paused = true)]
async fn status_503_with_retry_after_date() {
    throttled(503, date_in_20s, S(19), S(21)).await;
}

// ---------------------------------------------------------------------------------------------
// Bodies and redirects

#[tokio::test(start_paused = true)]
async fn garbage_json_with_200_counts_as_delivered() {
    let rx = MockServer::start().await.unwrap();
    rx.set_default_reply(Reply::Raw(200, b"<html>\x00\xff not json".to_vec()));
    let c = client(&rx.url()).build().unwrap();
    let answer = c.report_now().await.expect("a 2xx is delivered");
    assert!(answer.registered);
    assert_eq!(answer.expected_version, None);
    assert!(!answer.drift_detected);
    // JSON with the wrong types is no better, and no worse.
    rx.set_default_reply(Reply::Raw(
        200,
        br#"{"registered":"yes","expected_version":7,"drift_detected":"maybe"}"#.to_vec(),
    ));
    let answer = c.report_now().await.expect("a 2xx is delivered");
    assert!(answer.registered && !answer.drift_detected);
    let status = c.status();
    assert_eq!(status.reports_accepted, 2);
    assert_eq!(status.last_error, None);

    // The loop runs on the normal schedule, and a change goes out promptly.
    let attempts = Attempts::watch(&c);
    c.start().await;
    let log = attempts.wait(3, WAIT).await;
    assert!(log.iter().all(|(_, s)| s.consecutive_failures == 0));
    let second = log[1].0 - log[0].0;
    let (lo, hi) = jitter::FIRST;
    assert!(
        second >= INTERVAL.mul_f64(lo) && second <= INTERVAL.mul_f64(hi),
        "{second:?}"
    );
    let third = log[2].0 - log[1].0;
    assert!(third >= S(27) && third <= S(33), "{third:?}");
    let changed_at = Instant::now();
    c.set_config_version("v2");
    let log = attempts.wait(4, WAIT).await;
    let (at, status) = &log[3];
    assert_eq!(status.drift.reported_version.as_deref(), Some("v2"));
    assert!(
        *at - changed_at < S(1),
        "the change waited {:?}",
        *at - changed_at
    );
    c.stop().await;
}

/// A 50 MB answer: the client reads a bounded prefix at most and drops the connection (that its
/// memory stays flat is checked in `tests/soak.rs`, a process of its own). The report counts as
/// failed (permanent: the URL points at something that is not the heartbeat endpoint), keeping
/// the normal interval.
async fn huge_body(fault: Fault) {
    const BODY: usize = 50 * 1024 * 1024;
    let server = FaultServer::start(fault).await;
    let err = probe(&server.url()).await;
    assert!(
        matches!(err, ReporterError::ResponseTooLarge { .. }),
        "{err:?}"
    );
    assert_eq!(err.disposition(), Disposition::Permanent);

    let c = client(&server.url()).max_retries(1).build().unwrap();
    let sent_before = server.body_bytes_sent();
    for _ in 0..10 {
        let err = c.report_now().await.unwrap_err();
        assert!(
            matches!(err, ReporterError::ResponseTooLarge { .. }),
            "{err:?}"
        );
    }
    // Only what fits in the sockets' buffers left the server; nothing close to 10 x 50 MB.
    let sent = server.body_bytes_sent() - sent_before;
    assert!(sent < 10 * BODY as u64 / 4, "{} MB were pushed", sent >> 20);
    drop(c);

    // The loop keeps the normal interval and recovers with the latest version.
    fault_server_recovers(&server, 3, Expect::Interval, Duration::ZERO).await;
}

#[tokio::test(start_paused = true)]
async fn body_of_50_mb_announced_in_content_length() {
    huge_body(Fault::Huge(50 * 1024 * 1024)).await;
}

#[tokio::test(start_paused = true)]
async fn body_of_50_mb_chunked() {
    huge_body(Fault::HugeChunked(50 * 1024 * 1024)).await;
}

#[tokio::test(start_paused = true)]
async fn redirect_to_another_origin_is_not_followed() {
    let rx = MockServer::start().await.unwrap();
    let elsewhere = MockServer::start().await.unwrap();
    let location = format!("{}/api/drift/heartbeat/app/prod", elsewhere.url());
    rx.set_default_reply(Reply::Redirect(302, location.clone()));
    let err = probe(&rx.url()).await;
    assert!(
        matches!(err, ReporterError::Redirect { status: 302, .. }),
        "{err:?}"
    );
    assert_eq!(err.disposition(), Disposition::Permanent);
    assert!(err.to_string().contains("set server_url"), "{err}");
    // Even a 307, which keeps the body, is not followed to another origin.
    rx.set_default_reply(Reply::Redirect(307, location));
    let err = probe(&rx.url()).await;
    assert_eq!(err.disposition(), Disposition::Permanent);
    assert_eq!(elsewhere.report_count(), 0, "the redirect was followed");
    assert!(
        elsewhere.rejections().is_empty(),
        "the redirect was followed"
    );

    rx.set_default_reply(Reply::Redirect(302, format!("{}/x", elsewhere.url())));
    mock_server_recovers(&rx, 3, Expect::Interval).await;
    assert_eq!(elsewhere.report_count(), 0, "the redirect was followed");
    assert!(
        elsewhere.rejections().is_empty(),
        "the redirect was followed"
    );
    assert_latest_wins(&receiver_versions(&rx));
}

// ---------------------------------------------------------------------------------------------
// Log discipline (DESIGN.md rule 7)

#[tokio::test(start_paused = true)]
async fn an_outage_warns_once_repeats_at_debug_and_recovery_says_how_long() {
    let (logs, _guard) = crate::support::capture_logs();
    let rx = MockServer::start().await.unwrap();
    rx.script(failures(503, 5));
    let c = client(&rx.url()).build().unwrap();
    let attempts = Attempts::watch(&c);
    c.start().await;
    let log = attempts.wait_success(WAIT).await;
    assert_eq!(log.len(), 6);
    let outage = log[5].0 - log[0].0;

    let warns = logs.lines("WARN", "heartbeat failed");
    assert_eq!(warns.len(), 1, "{}", logs.text());
    assert!(warns[0].contains("503"), "{}", warns[0]);
    let repeats = logs.lines("DEBUG", "heartbeat failed again");
    assert_eq!(repeats.len(), 4, "{}", logs.text());
    let recovered = logs.lines("INFO", "heartbeat recovered");
    assert_eq!(recovered.len(), 1, "{}", logs.text());
    assert!(
        recovered[0].contains("failed_attempts=5"),
        "{}",
        recovered[0]
    );
    let secs: f64 = recovered[0]
        .split("outage_secs=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no outage_secs in {}", recovered[0]));
    assert!(
        (secs - outage.as_secs_f64()).abs() < 0.1,
        "logged {secs} s, the outage lasted {outage:?}"
    );
    assert!(logs.lines("ERROR", "").is_empty(), "{}", logs.text());

    // A second outage is a new one: one more warning, then recovery again.
    rx.script(failures(502, 3));
    attempts.wait_success(WAIT).await;
    assert_eq!(
        logs.lines("WARN", "heartbeat failed").len(),
        2,
        "{}",
        logs.text()
    );
    assert_eq!(logs.lines("DEBUG", "heartbeat failed again").len(), 6);
    let recovered = logs.lines("INFO", "heartbeat recovered");
    assert_eq!(recovered.len(), 2);
    assert!(
        recovered[1].contains("failed_attempts=3"),
        "{}",
        recovered[1]
    );
    c.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_permanent_error_is_logged_once_with_a_hint() {
    let (logs, _guard) = crate::support::capture_logs();
    let rx = answering(404).await;
    let c = client(&rx.url()).build().unwrap();
    let attempts = Attempts::watch(&c);
    c.start().await;
    let log = attempts.wait(4, WAIT).await;
    assert_delays(&log, Expect::Interval, Duration::ZERO);
    let errors = logs.lines("ERROR", "heartbeat rejected");
    assert_eq!(errors.len(), 1, "{}", logs.text());
    assert!(
        errors[0].contains("server_url must be the server's base address"),
        "{}",
        errors[0]
    );
    assert!(errors[0].contains("/api/drift/heartbeat/app/prod"));
    assert_eq!(logs.lines("DEBUG", "heartbeat rejected again").len(), 3);
    assert!(logs.lines("WARN", "").is_empty(), "{}", logs.text());
    c.stop().await;
}

//! Tracing: the worker and report_now() run in a `heartbeat` span naming app, profile and
//! instance; retries carry attempt and delay; no secret appears anywhere in the output.

use std::time::Duration;

use crate::support::capture_logs;
use vortex_client::testing::{MockServer, Reply};
use vortex_client::{Environment, HeartbeatClient};

const TOKEN: &str = "tok-s3cr3t-0123";
const PASSWORD: &str = "pa55-s3cr3t-4567";
const HEADER_VALUE: &str = "hdr-s3cr3t-89ab";

#[tokio::test(flavor = "current_thread")]
async fn spans_name_the_client_and_no_secret_is_logged() {
    let (logs, _guard) = capture_logs();
    let receiver = MockServer::start().await.unwrap();
    // The worker's first attempt fails, its retry succeeds; report_now() then retries once.
    receiver.script([
        Reply::Status(503),
        Reply::Accept,
        Reply::Status(500),
        Reply::Accept,
    ]);
    let url = format!("http://ops:{PASSWORD}@{}", receiver.addr());
    let client = HeartbeatClient::builder()
        .environment(Environment::empty())
        .server_url(url)
        .app("obs-app")
        .profile("obs-profile")
        .instance_id("obs-instance")
        .config_version("v1")
        .header("x-api-key", HEADER_VALUE)
        .initial_retry_delay(Duration::from_millis(20))
        .max_retry_delay(Duration::from_millis(50))
        .interval(Duration::from_secs(3600))
        .build()
        .unwrap();
    client.start().await;
    receiver
        .wait_for_reports(2, Duration::from_secs(10))
        .await
        .unwrap();
    // Let the worker record the recovery before report_now() starts.
    let mut status = client.subscribe();
    while status.borrow_and_update().reports_accepted == 0 {
        status.changed().await.unwrap();
    }
    client.report_now().await.unwrap();
    client.stop().await;
    // The receiver got the secrets (they are credentials after all; userinfo and a bearer
    // token cannot be combined, so this client sends userinfo and a header)...
    let first = &receiver.reports()[0];
    assert_eq!(first.header("x-api-key"), Some(HEADER_VALUE));

    let text = logs.text();
    // ...but no log line carries them, nor the URL's userinfo.
    for secret in [TOKEN, PASSWORD, HEADER_VALUE, "ops:"] {
        assert!(
            !text.contains(secret),
            "{secret} leaked into the logs:\n{text}"
        );
    }
    let in_span = "heartbeat{app=obs-app profile=obs-profile instance=obs-instance}";
    let worker_warn = logs.lines("WARN", "heartbeat failed");
    // The worker's outage warns once; report_now() returns its error to the caller, so its
    // failure is logged at debug only.
    assert_eq!(worker_warn.len(), 1, "{text}");
    assert!(worker_warn.iter().all(|l| l.contains(in_span)), "{text}");
    let recovered = logs.lines("INFO", "heartbeat recovered");
    assert_eq!(
        recovered.len(),
        1,
        "only the announced outage recovers: {text}"
    );
    let report_now_failed = logs.lines("DEBUG", "report_now() failed");
    assert!(
        report_now_failed.iter().any(|l| l.contains(in_span)),
        "{text}"
    );
    let worker_retry = logs.lines("DEBUG", "next heartbeat attempt scheduled");
    assert!(
        worker_retry
            .iter()
            .any(|l| l.contains(in_span) && l.contains("attempt=1") && l.contains("delay_ms=")),
        "{text}"
    );
    let report_now_retry = logs.lines("DEBUG", "report_now() retrying");
    assert!(
        report_now_retry.iter().any(|l| l.contains(in_span)
            && l.contains("attempt=1")
            && l.contains("max_attempts=3")
            && l.contains("delay_ms=")),
        "{text}"
    );
    let started = logs.lines("INFO", "heartbeat client started");
    assert!(
        started.iter().any(|l| l.contains("app=obs-app")
            && l.contains("profile=obs-profile")
            && l.contains("instance=obs-instance")),
        "{text}"
    );
}

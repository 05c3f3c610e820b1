//! The core behaviours over real loopback HTTP: wire shape, start, periodic and on-demand
//! reports, failures, report_now, stop, drop, status. Lifecycle tests run under both runtime
//! flavours.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use crate::support::replies::{answering, statuses, throttling};
use crate::support::{self, dead_port};
use vortex_client::testing::{MockServer, Reply};
use vortex_client::{
    Disposition, Environment, HeartbeatBuilder, HeartbeatClient, HeartbeatConfig, ReporterError,
};

const LONG: Duration = Duration::from_secs(3600);
const WAIT: Duration = Duration::from_secs(5);

/// A client for `url` with an hour-long interval, so that only the behaviour under test can
/// explain a report.
fn client(url: &str) -> HeartbeatBuilder<HeartbeatClient> {
    support::client(url).interval(LONG)
}

/// Polls a future exactly once: proves it completes without waiting on anything.
fn poll_once<F: Future>(future: F) -> Poll<F::Output> {
    let mut cx = Context::from_waker(Waker::noop());
    pin!(future).poll(&mut cx)
}

both_runtimes!(
    first_report_has_the_contract_shape,
    path_prefix_and_encoding,
    start_does_not_wait_on_a_dead_server,
    start_is_idempotent_and_restartable,
    periodic_reports_repeat,
    version_change_is_reported_promptly,
    burst_of_changes_is_coalesced_and_last_value_wins,
    report_now_returns_the_answer_and_updates_status,
    report_now_retries_transient_errors_then_gives_up,
    report_now_does_not_retry_permanent_errors,
    report_now_returns_throttle_delay_without_sleeping,
    stop_is_prompt_when_idle_and_nothing_is_sent_after,
    stop_bounds_a_request_in_flight,
    dropping_the_last_handle_stops_the_worker,
    failures_never_stop_the_loop_and_latest_version_wins,
    start_stop_races_never_kill_the_new_loop,
);

async fn first_report_has_the_contract_shape() {
    let rx = MockServer::start().await.unwrap();
    rx.set_expected_version("app", "prod", "v2.3.5");
    let c = client(&rx.url())
        .metadata("team", "platform")
        .app_version("1.8.0")
        .config_version("v2.3.4")
        .build()
        .unwrap();
    c.start().await;
    let report = rx.next_report(WAIT).await.unwrap();
    assert_eq!(report.path, "/api/drift/heartbeat/app/prod");
    assert_eq!(report.instance_id, "i-1");
    assert_eq!(report.config_version, "v2.3.4");
    assert_eq!(report.health, vortex_client::Health::Healthy);
    let metadata = report.metadata.clone().expect("metadata");
    assert_eq!(metadata.custom["team"], "platform");
    assert_eq!(metadata.app_version.as_deref(), Some("1.8.0"));
    let body = report.json();
    assert_eq!(body["health"], "healthy", "health is sent explicitly");
    assert!(
        body.get("hostname").is_none(),
        "metadata is nested, not flat"
    );
    assert!(
        body["metadata"].get("team").is_none(),
        "labels live under metadata.custom"
    );
    assert_eq!(report.header("content-type"), Some("application/json"));
    assert_eq!(report.header("accept"), Some("application/json"));
    let ua = report.header("user-agent").unwrap();
    assert!(ua.starts_with("vortex-client/"), "{ua}");
    assert!(
        rx.rejections().is_empty(),
        "the body fits the server's model"
    );

    // The server's answer lands in the status.
    let mut status = c.subscribe();
    let s = status
        .wait_for(|s| s.reports_accepted >= 1)
        .await
        .unwrap()
        .clone();
    assert_eq!(s.drift.expected_version.as_deref(), Some("v2.3.5"));
    assert_eq!(s.drift.drift_detected, Some(true));
    assert_eq!(s.drift.reported_version.as_deref(), Some("v2.3.4"));
    assert_eq!(s.consecutive_failures, 0);
    assert!(s.last_success.is_some());
    c.stop().await;
}

async fn path_prefix_and_encoding() {
    let rx = MockServer::builder()
        .path_prefix("/config")
        .start()
        .await
        .unwrap();
    let c = client(&format!("{}/", rx.url()))
        .app("my app/v2")
        .profile("100%")
        .build()
        .unwrap();
    c.report_now().await.unwrap();
    let report = &rx.reports()[0];
    assert_eq!(
        report.path,
        "/config/api/drift/heartbeat/my%20app%2Fv2/100%25"
    );
    assert_eq!(
        (report.app.as_str(), report.profile.as_str()),
        ("my app/v2", "100%")
    );
}

async fn start_does_not_wait_on_a_dead_server() {
    let dead = dead_port().await;
    let c = client(&format!("http://{dead}")).build().unwrap();
    // start() completes on its first poll: it cannot have waited on the network.
    assert!(poll_once(c.start()).is_ready());
    assert!(c.is_running());
    // The first attempt happens in the background and fails; the loop goes on.
    let mut status = c.subscribe();
    let s = status
        .wait_for(|s| s.consecutive_failures >= 1)
        .await
        .unwrap()
        .clone();
    assert!(s.last_error.unwrap().contains("cannot connect"));
    assert!(c.is_running());
    c.stop().await;
}

async fn start_is_idempotent_and_restartable() {
    let rx = MockServer::start().await.unwrap();
    let c = client(&rx.url()).build().unwrap();
    assert!(!c.is_running());
    c.start().await;
    c.start().await;
    rx.wait_for_reports(1, WAIT).await.unwrap();
    assert!(c.is_running());
    c.stop().await;
    c.stop().await;
    assert!(!c.is_running());
    c.start().await;
    assert!(c.is_running());
    // A restart reports at once again, from the same single worker.
    rx.wait_for_reports(2, WAIT).await.unwrap();
    c.stop().await;
    assert!(!c.is_running());
}

async fn periodic_reports_repeat() {
    let rx = MockServer::start().await.unwrap();
    // No configuration version: the reports carry the default.
    let c = HeartbeatClient::builder()
        .environment(Environment::empty())
        .server_url(rx.url())
        .app("app")
        .profile("prod")
        .interval(Duration::from_millis(100))
        .build()
        .unwrap();
    c.start().await;
    // The story's acceptance: initial + periodic reports keep coming.
    rx.wait_for_reports(4, WAIT).await.unwrap();
    c.stop().await;
    assert!(rx.reports().iter().all(|r| r.config_version == "unknown"));
}

async fn version_change_is_reported_promptly() {
    let rx = MockServer::start().await.unwrap();
    let c = client(&rx.url()).build().unwrap();
    c.start().await;
    rx.wait_for_reports(1, WAIT).await.unwrap();
    c.set_config_version("v2");
    assert_eq!(c.config_version(), "v2");
    // The interval is an hour: only the on-demand path can deliver this.
    rx.wait_for_version("v2", WAIT).await.unwrap();
    c.stop().await;
}

async fn burst_of_changes_is_coalesced_and_last_value_wins() {
    let rx = MockServer::start().await.unwrap();
    let c = client(&rx.url())
        .config_version("v0")
        .min_report_gap(Duration::from_millis(200))
        .build()
        .unwrap();
    c.start().await;
    rx.wait_for_reports(1, WAIT).await.unwrap();
    for i in 1..=100 {
        c.set_config_version(format!("v{i}"));
    }
    rx.wait_for_version("v100", WAIT).await.unwrap();
    // Give any stragglers the time to show up, then count.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let reports = rx.reports();
    assert!(
        reports.len() <= 1 + 4,
        "100 changes must coalesce into a handful of reports, got {}",
        reports.len()
    );
    assert_eq!(reports.last().unwrap().config_version, "v100");
    c.stop().await;
}

async fn report_now_returns_the_answer_and_updates_status() {
    let rx = MockServer::start().await.unwrap();
    rx.set_expected_version("app", "prod", "v7");
    let c = client(&rx.url()).config_version("v7").build().unwrap();
    let r = c.report_now().await.unwrap();
    assert!(r.registered);
    assert_eq!(r.expected_version.as_deref(), Some("v7"));
    assert!(!r.drift_detected);
    let s = c.status();
    assert_eq!(s.reports_accepted, 1);
    assert_eq!(s.drift.expected_version, r.expected_version);
    assert!(!c.is_running(), "report_now does not start the worker");
}

async fn report_now_retries_transient_errors_then_gives_up() {
    let rx = MockServer::start().await.unwrap();
    rx.script(statuses([500, 503]));
    let c = client(&rx.url())
        .initial_retry_delay(Duration::from_millis(10))
        .max_retry_delay(Duration::from_millis(40))
        .build()
        .unwrap();
    c.report_now().await.unwrap();
    assert_eq!(rx.report_count(), 3);

    rx.set_default_reply(Reply::Status(502));
    let err = c.report_now().await.unwrap_err();
    assert_eq!(err.status(), Some(502));
    assert_eq!(err.disposition(), Disposition::Retryable);
    assert_eq!(rx.report_count(), 3 + 3, "max_retries counts attempts");
    assert_eq!(c.status().consecutive_failures, 3);
}

async fn report_now_does_not_retry_permanent_errors() {
    let rx = answering(404).await;
    let c = client(&rx.url()).build().unwrap();
    let err = c.report_now().await.unwrap_err();
    assert_eq!(err.disposition(), Disposition::Permanent);
    assert!(err.to_string().contains(&rx.url()), "{err}");
    assert_eq!(rx.report_count(), 1);
}

async fn report_now_returns_throttle_delay_without_sleeping() {
    let rx = throttling(429, "120").await;
    let c = client(&rx.url()).build().unwrap();
    let err = c.report_now().await.unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(120)));
    assert_eq!(
        err.disposition(),
        Disposition::Throttled(Duration::from_secs(120))
    );
    assert_eq!(rx.report_count(), 1);
}

async fn stop_is_prompt_when_idle_and_nothing_is_sent_after() {
    let rx = MockServer::start().await.unwrap();
    let c = client(&rx.url())
        .interval(Duration::from_millis(50))
        .build()
        .unwrap();
    c.start().await;
    rx.wait_for_reports(2, WAIT).await.unwrap();
    // Idle between reports, stop completes promptly: bounded well below a request's grace.
    tokio::time::timeout(Duration::from_millis(900), c.stop())
        .await
        .expect("stop() when idle must not wait for the grace");
    assert!(!c.is_running());
    let after_stop = rx.report_count();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        rx.report_count(),
        after_stop,
        "no request after stop() returned"
    );
}

async fn stop_bounds_a_request_in_flight() {
    let rx = MockServer::start().await.unwrap();
    rx.set_default_reply(Reply::Hang);
    let c = client(&rx.url())
        .timeout(Duration::from_secs(30))
        .stop_grace(Duration::from_millis(200))
        .build()
        .unwrap();
    c.start().await;
    rx.wait_for_reports(1, WAIT).await.unwrap();
    // The request hangs; stop() gives it the grace, then cancels it.
    tokio::time::timeout(Duration::from_secs(5), c.stop())
        .await
        .expect("stop() must be bounded by the grace");
    assert!(!c.is_running());
}

async fn dropping_the_last_handle_stops_the_worker() {
    let rx = MockServer::start().await.unwrap();
    let c = client(&rx.url())
        .interval(Duration::from_millis(50))
        .build()
        .unwrap();
    let clone = c.clone();
    c.start().await;
    rx.wait_for_reports(1, WAIT).await.unwrap();
    drop(c);
    // A clone keeps the worker alive.
    assert!(clone.is_running());
    let n = rx.report_count();
    rx.wait_for_reports(n + 2, WAIT).await.unwrap();
    drop(clone);
    // Dropping the last handle returns at once and the worker winds down.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let settled = rx.report_count();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        rx.report_count(),
        settled,
        "the worker kept reporting after the last handle dropped"
    );
}

async fn failures_never_stop_the_loop_and_latest_version_wins() {
    let rx = MockServer::start().await.unwrap();
    rx.script(statuses([503, 500, 502]));
    let c = client(&rx.url())
        .initial_retry_delay(Duration::from_millis(20))
        .max_retry_delay(Duration::from_millis(80))
        .build()
        .unwrap();
    c.start().await;
    rx.wait_for_reports(1, WAIT).await.unwrap();
    // A change during the outage rides on the next attempt.
    c.set_config_version("v2");
    let delivered = rx.wait_for_version("v2", WAIT).await.unwrap();
    assert_eq!(delivered.config_version, "v2");
    let mut status = c.subscribe();
    let s = status
        .wait_for(|s| s.reports_accepted >= 1)
        .await
        .unwrap()
        .clone();
    assert_eq!(s.consecutive_failures, 0);
    assert_eq!(s.reports_failed, 3);
    assert_eq!(s.drift.reported_version.as_deref(), Some("v2"));
    // Attempts after the change never carry the old version.
    let reports = rx.reports();
    let first_v2 = reports
        .iter()
        .position(|r| r.config_version == "v2")
        .unwrap();
    assert!(reports[first_v2..].iter().all(|r| r.config_version == "v2"));
    c.stop().await;
}

async fn start_stop_races_never_kill_the_new_loop() {
    let rx = MockServer::start().await.unwrap();
    let c = client(&rx.url()).build().unwrap();
    for _ in 0..50 {
        c.start().await;
        let stopper = {
            let c = c.clone();
            tokio::spawn(async move { c.stop().await })
        };
        stopper.await.unwrap();
        c.start().await;
        assert!(c.is_running());
    }
    // The last start() owns a live loop: a change is still reported.
    c.set_config_version("after-races");
    rx.wait_for_version("after-races", WAIT).await.unwrap();
    assert!(c.is_running());
    c.stop().await;
    assert!(!c.is_running());
}

#[test]
fn start_outside_a_runtime_does_not_panic() {
    let c = client("http://127.0.0.1:9").build().unwrap();
    assert!(poll_once(c.start()).is_ready());
    assert!(!c.is_running());
    match poll_once(c.report_now()) {
        Poll::Ready(Err(ReporterError::NoRuntime(_))) => {}
        other => panic!("expected NoRuntime, got {other:?}"),
    }
    assert!(poll_once(c.stop()).is_ready());
}

#[test]
fn client_is_send_sync_clone_debug() {
    fn assert_traits<T: Send + Sync + Clone + std::fmt::Debug + 'static>() {}
    assert_traits::<HeartbeatClient>();
    assert_traits::<HeartbeatConfig>();
}

#[test]
fn config_and_client_constructors_match_the_spec() {
    // HeartbeatConfig::builder().build() gives a config; HeartbeatClient::new takes it.
    let config = HeartbeatConfig::builder()
        .environment(Environment::empty())
        .server_url("http://localhost:8080")
        .app("myapp")
        .profile("prod")
        .build()
        .unwrap();
    let client = HeartbeatClient::new(config).unwrap();
    assert!(
        !client.config().instance_id.is_empty(),
        "generated instance id"
    );
    assert_eq!(client.config_version(), "unknown");

    // A struct literal over Default works too.
    let config = HeartbeatConfig {
        server_url: "http://localhost:8080".into(),
        app: "test".into(),
        profile: "test".into(),
        instance_id: "test-instance".into(),
        interval: Duration::from_secs(60),
        ..Default::default()
    };
    let client = HeartbeatClient::new(config).unwrap();
    assert_eq!(client.config().instance_id, "test-instance");
    client.set_config_version("v1.2.3");
    assert_eq!(client.config_version(), "v1.2.3");
    client.set_config_version("");
    assert_eq!(
        client.config_version(),
        "v1.2.3",
        "an invalid version is ignored"
    );
    assert!(client.try_set_config_version("a\nb").is_err());
}

//! The blocking client: from plain threads, inside current-thread and multi-thread runtimes,
//! bounded stop and drop, report_now() on a runtime thread, build errors.

use std::time::{Duration, Instant};

use crate::support;
use vortex_client::blocking::{DriftReceiver, HeartbeatClient};
use vortex_client::testing::{MockServer, Reply};
use vortex_client::{
    ConfigError, Environment, Health, HeartbeatBuilder, HeartbeatConfig, ReporterError,
};

/// How long a test waits for a report before it fails.
const WAIT: Duration = Duration::from_secs(10);

/// A mock server on a thread of its own: usable from plain threads and from inside any runtime
/// (even one whose thread the test blocks).
fn server() -> MockServer {
    MockServer::start_blocking().unwrap()
}

/// No periodic report; changes and retries go out within milliseconds.
fn builder(url: &str) -> HeartbeatBuilder<HeartbeatClient> {
    support::blocking_client(url)
        .interval(Duration::from_secs(3600))
        .min_report_gap(Duration::from_millis(10))
        .initial_retry_delay(Duration::from_millis(20))
        .max_retry_delay(Duration::from_millis(100))
}

/// The whole API, synchronously; called from a plain thread and from inside runtimes.
fn lifecycle(server: &MockServer) {
    let client = builder(&server.url()).build().unwrap();
    assert!(!client.is_running());
    assert_eq!(client.config().app, "app");

    client.start();
    assert!(client.is_running());
    client.start(); // idempotent
    server.wait_for_version_blocking("v1", WAIT).unwrap();

    client.set_config_version("v2");
    assert_eq!(client.config_version(), "v2");
    server.wait_for_version_blocking("v2", WAIT).unwrap();

    client.set_health(Health::Degraded);
    assert_eq!(client.health(), Health::Degraded);
    server
        .wait_for_report_blocking(|r| r.health == Health::Degraded, WAIT)
        .unwrap();

    server.set_expected_version("app", "prod", "v3");
    let answer = client.report_now().unwrap();
    assert!(answer.drift_detected);
    assert_eq!(answer.expected_version.as_deref(), Some("v3"));
    let status = client.status();
    assert!(status.reports_accepted >= 4, "{status:?}");
    assert_eq!(status.drift.reported_version.as_deref(), Some("v2"));
    assert_eq!(client.status().drift.drift_detected, Some(true));
    assert!(client.try_set_config_version("").is_err());

    // Dropping a clone does not stop the client.
    let clone = client.clone();
    drop(clone);
    assert!(client.is_running());

    client.stop();
    assert!(!client.is_running());
    client.stop(); // idempotent

    // report_now() works on a stopped client, with the current version.
    client.set_config_version("v3");
    let answer = client.report_now().unwrap();
    assert!(!answer.drift_detected);
    assert_eq!(server.last_report().unwrap().config_version, "v3");

    // start() works again after stop().
    client.start();
    assert!(client.is_running());
    drop(client);
}

#[test]
fn works_from_a_plain_thread_without_a_runtime() {
    assert!(tokio::runtime::Handle::try_current().is_err());
    let server = server();
    lifecycle(&server);
}

async fn works_inside_a_runtime() {
    let server = server();
    lifecycle(&server);
    drop(server);
}

both_runtimes!(works_inside_a_runtime);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_inside_a_spawned_task_and_through_spawn_blocking() {
    let server = server();
    let url = server.url();
    tokio::spawn(async move {
        let client = builder(&url).build().unwrap();
        client.start();
        let worker = client.clone();
        let answer = tokio::task::spawn_blocking(move || worker.report_now())
            .await
            .unwrap()
            .unwrap();
        assert!(answer.registered);
        drop(client); // dropped on a runtime worker thread
    })
    .await
    .unwrap();
    server.wait_for_version_blocking("v1", WAIT).unwrap();
}

/// The thread's documented name (README, `blocking` docs).
#[cfg(target_os = "linux")]
const THREAD_NAME: &str = "vortex-heartbeat";

/// The thread runs under the documented name (read from `/proc`: Linux only).
#[cfg(target_os = "linux")]
#[test]
fn the_thread_is_named() {
    let server = server();
    let client = builder(&server.url()).build().unwrap();
    let names = thread_names();
    assert!(
        names
            .iter()
            .any(|n| n == &THREAD_NAME[..THREAD_NAME.len().min(15)]),
        "{names:?}"
    );
    drop(client);
}

/// Thread names of this process (Linux truncates them to 15 bytes).
#[cfg(target_os = "linux")]
fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .expect("read /proc/self/task")
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|n| n.trim().to_owned())
        .collect()
}

/// A client whose server never answers, with a short grace and a long timeout, and a drift
/// receiver (which closes once the client's thread has torn its runtime down).
fn client_with_request_in_flight(server: &MockServer) -> (HeartbeatClient, DriftReceiver) {
    server.set_default_reply(Reply::Hang);
    let client = builder(&server.url())
        .stop_grace(Duration::from_millis(200))
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let drift = client.subscribe_drift();
    client.start();
    server.wait_for_reports_blocking(1, WAIT).unwrap();
    (client, drift)
}

/// stop_grace (200 ms) plus the documented half second, with room for a loaded machine; far
/// below the 60 s request timeout that an unbounded stop would wait for.
fn stop_bound() -> Duration {
    Duration::from_millis(200) + Duration::from_millis(500) + Duration::from_secs(2)
}

#[test]
fn stop_is_bounded_with_a_request_in_flight() {
    let server = server();
    let (client, _status) = client_with_request_in_flight(&server);
    let started = Instant::now();
    client.stop();
    let took = started.elapsed();
    assert!(took < stop_bound(), "stop() took {took:?}");
    assert!(!client.is_running());
}

fn assert_drop_is_bounded_and_joins(server: &MockServer) {
    let (client, drift) = client_with_request_in_flight(server);
    let started = Instant::now();
    drop(client);
    let took = started.elapsed();
    assert!(took < stop_bound(), "drop took {took:?}");
    // The worker task held the client's state: the drift sender is gone only because the
    // thread shut its runtime down before drop returned.
    assert!(drift.is_closed(), "the thread outlived drop");
}

#[test]
fn drop_is_bounded_and_joins_the_thread() {
    let server = server();
    assert_drop_is_bounded_and_joins(&server);
}

async fn drop_inside_a_runtime_is_bounded_and_does_not_panic() {
    let server = server();
    assert_drop_is_bounded_and_joins(&server);
    // Also created and dropped between awaits of this runtime.
    let client = builder(&server.url()).build().unwrap();
    tokio::task::yield_now().await;
    drop(client);
    drop(server);
}

both_runtimes!(drop_inside_a_runtime_is_bounded_and_does_not_panic);

#[test]
fn drop_of_an_idle_client_is_prompt() {
    let server = server();
    let client = builder(&server.url()).build().unwrap();
    client.start();
    server.wait_for_version_blocking("v1", WAIT).unwrap();
    let started = Instant::now();
    drop(client);
    assert!(started.elapsed() < stop_bound());
}

/// report_now() on a runtime's thread (a current-thread runtime's only one): the request runs
/// on the SDK's thread, so it completes, and the runtime's other tasks run afterwards.
async fn report_now_on_a_runtime_thread_does_not_deadlock() {
    let server = server();
    server.set_expected_version("app", "prod", "v2");
    let client = builder(&server.url()).build().unwrap();
    let other = tokio::spawn(async {
        tokio::task::yield_now().await;
        42
    });
    let answer = client.report_now().unwrap();
    assert!(answer.registered && answer.drift_detected);
    assert_eq!(other.await.unwrap(), 42);
    // Also with the worker running on the SDK's thread.
    client.start();
    client.report_now().unwrap();
    drop(client);
    drop(server);
}

both_runtimes!(report_now_on_a_runtime_thread_does_not_deadlock);

/// The documented caveat: a server served by the same current-thread runtime that report_now()
/// blocks cannot answer. The call still returns, bounded by the request timeout, with an error.
#[tokio::test(flavor = "current_thread")]
async fn report_now_blocking_the_servers_own_runtime_times_out_instead_of_deadlocking() {
    let server = MockServer::start().await.unwrap();
    let client = builder(&server.url())
        .timeout(Duration::from_millis(300))
        .max_retries(1)
        .build()
        .unwrap();
    let error = client.report_now().unwrap_err();
    assert!(matches!(error, ReporterError::Timeout { .. }), "{error:?}");
    drop(client);
}

#[test]
fn report_now_returns_the_servers_errors() {
    let server = server();
    server.set_default_reply(Reply::Status(404));
    let client = builder(&server.url()).build().unwrap();
    let error = client.report_now().unwrap_err();
    assert_eq!(error.status(), Some(404));
}

fn assert_build_errors_reach_the_caller() {
    // Raised on the client's thread (building the HTTP client), returned by the handshake.
    let error = builder("http://127.0.0.1:9")
        .add_root_certificate("not a certificate")
        .build()
        .unwrap_err();
    assert!(
        matches!(
            error,
            ConfigError::InvalidValue {
                field: "root_certificates",
                ..
            }
        ),
        "{error:?}"
    );
    // Raised by validation, through new().
    let error = HeartbeatClient::new(HeartbeatConfig {
        server_url: "ftp://127.0.0.1".into(),
        app: "a".into(),
        profile: "p".into(),
        environment: Environment::empty(),
        ..HeartbeatConfig::default()
    })
    .unwrap_err();
    assert!(
        matches!(
            error,
            ConfigError::InvalidValue {
                field: "server_url",
                ..
            }
        ),
        "{error:?}"
    );
    // Raised by the builder.
    let error = HeartbeatClient::builder()
        .environment(Environment::empty())
        .build()
        .unwrap_err();
    assert_eq!(error, ConfigError::MissingField("server_url"));
}

#[test]
fn build_errors_reach_the_caller() {
    assert_build_errors_reach_the_caller();
}

#[tokio::test(flavor = "current_thread")]
async fn build_errors_reach_the_caller_inside_a_runtime() {
    assert_build_errors_reach_the_caller();
}

/// The blocking `report_now()` bound is one formula, counting every server URL (each attempt
/// is a round over them), stated the same in every doc that gives it.
#[test]
fn every_doc_states_the_report_now_bound_with_the_server_urls() {
    const FORMULA: &str = "`(max_retries + 1) × server URLs × timeout`";
    for (doc, text) in [
        ("README.md", include_str!("../../README.md")),
        (
            "docs/resilience.md",
            include_str!("../../docs/resilience.md"),
        ),
        (
            "src/blocking/mod.rs",
            include_str!("../../src/blocking/mod.rs"),
        ),
    ] {
        let flat = text.replace("\n    /// ", " ").replace('\n', " ");
        assert!(flat.contains(FORMULA), "{doc} does not state {FORMULA}");
        assert!(
            !flat.contains("(max_retries + 1) x timeout"),
            "{doc} states a bound without the server URLs"
        );
    }
}

//! Issue 19's findings, each shown by a test that failed before its fix: a refused URL that echoed its query, a prefix's
//! double slash, a change after `report_now()` that waited two gaps, a timeout message that
//! named the wrong timeout, and a newcomer's mistakes that `build()` let through.

use std::time::Duration;

use crate::support::{capture_logs, client};
use tokio::time::Instant;
use vortex_client::testing::{MockServer, Reply};
use vortex_client::{Environment, HeartbeatConfig};

const S: fn(u64) -> Duration = Duration::from_secs;
const MS: fn(u64) -> Duration = Duration::from_millis;

fn config_error(url: &str) -> String {
    HeartbeatConfig::builder()
        .environment(Environment::empty())
        .server_url(url)
        .app("app")
        .profile("prod")
        .build()
        .unwrap_err()
        .to_string()
}

// Finding 6: a refused server URL never echoes its query (or fragment).

#[test]
fn a_refused_url_does_not_echo_its_query() {
    for url in [
        "http://h/gw?token=s3cr3t-q",
        "http://u:pw-s3cr3t@h/gw?token=s3cr3t-q",
        "http://h/gw#token=s3cr3t-q",
    ] {
        let err = config_error(url);
        assert!(!err.contains("s3cr3t"), "{err}");
        assert!(err.contains("http://"), "the URL is shown: {err}");
    }
    let err = config_error("http://h/gw?token=s3cr3t-q");
    assert!(err.contains("has a query"), "{err}");
    assert!(err.contains("http://h/gw"), "{err}");
}

// Finding 8: a prefix joins with exactly one slash, whatever trailing slashes it has.

async fn heartbeat_path(server_url: &str) -> String {
    let rx = MockServer::builder()
        .path_prefix("/gw")
        .start()
        .await
        .unwrap();
    let url = server_url.replace("{addr}", &rx.addr().to_string());
    let c = client(&url).build().unwrap();
    c.report_now().await.unwrap();
    rx.last_report().unwrap().path
}

#[tokio::test]
async fn a_prefix_joins_with_exactly_one_slash() {
    for url in [
        "http://{addr}/gw",
        "http://{addr}/gw/",
        "http://{addr}/gw//",
    ] {
        assert_eq!(
            heartbeat_path(url).await,
            "/gw/api/drift/heartbeat/app/prod",
            "{url}"
        );
    }
}

// Finding 9: a change after a report_now() that carried a booked change goes out at most one
// gap after the last rate-limited send, not two.

/// Spends `burst` on-demand reports, books one more change, lets `report_now()` carry it, then
/// changes again 10 ms later: that change must reach the server by the slot the booked one had.
async fn a_change_after_report_now_waits_one_gap(burst: Option<u32>) {
    let rx = MockServer::start().await.unwrap();
    let mut builder = client(&rx.url()).config_version("v0").interval(S(60));
    if let Some(burst) = burst {
        builder = builder.report_burst(burst).min_report_gap(S(1));
    }
    let c = builder.build().unwrap();
    c.start().await;
    rx.wait_for_reports(1, S(5)).await.unwrap();
    let spent = burst.unwrap_or(3);
    let mut last_send = Instant::now();
    for n in 1..=spent {
        let version = format!("v{n}");
        c.set_config_version(version.as_str());
        last_send = rx
            .wait_for_version(&version, S(5))
            .await
            .unwrap()
            .received_at;
    }
    c.set_config_version("booked"); // the burst is spent: booked one gap after the last send
    c.report_now().await.unwrap(); // carries it now
    tokio::time::sleep(MS(10)).await;
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
async fn with_a_burst_of_one_a_change_after_report_now_waits_one_gap() {
    a_change_after_report_now_waits_one_gap(Some(1)).await;
}

#[tokio::test(start_paused = true)]
async fn with_the_defaults_a_change_after_report_now_waits_one_gap() {
    a_change_after_report_now_waits_one_gap(None).await;
}

// Finding 11: a timeout message names the timeout that fired.

#[tokio::test]
async fn a_timeout_of_the_applications_client_is_named() {
    let rx = MockServer::start().await.unwrap();
    rx.set_default_reply(Reply::Hang);
    let http = reqwest::Client::builder()
        .read_timeout(MS(100))
        .build()
        .unwrap();
    let c = client(&rx.url())
        .http_client(http)
        .max_retries(1)
        .build()
        .unwrap();
    let started = Instant::now();
    let err = c.report_now().await.unwrap_err().to_string();
    assert!(started.elapsed() < S(2), "{:?}", started.elapsed());
    assert!(!err.contains("within 5s"), "{err}");
    assert!(
        err.contains("http_client"),
        "names the application's client: {err}"
    );
    assert!(err.contains("ms"), "shows the elapsed time: {err}");
}

// Finding 10 (a): the heartbeat endpoint given as the server URL.

#[test]
fn a_heartbeat_endpoint_as_the_server_url_is_refused() {
    for url in [
        "http://host:8888/api/drift/heartbeat/myservice/prod",
        "http://host:8888/gw/api/drift/heartbeat",
        "http://host:8888/api/drift/heartbeat/",
    ] {
        let err = config_error(url);
        assert!(err.contains("/api/drift/heartbeat"), "{err}");
        assert!(err.contains("base address"), "{err}");
    }
    let env = Environment::from_vars([
        (
            "VORTEX_URL",
            "http://host:8888/api/drift/heartbeat/myservice/prod",
        ),
        ("VORTEX_APP", "myservice"),
        ("VORTEX_PROFILE", "prod"),
    ]);
    let err = HeartbeatConfig::builder()
        .environment(env)
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("VORTEX_URL") && err.contains("base address"),
        "{err}"
    );
}

// Finding 10 (b): an app or profile name with a space is sent (the server takes any
// segment), with one warning at build() naming the character and its position.

#[tokio::test(flavor = "current_thread")]
async fn a_name_with_a_space_warns_once() {
    let (logs, _guard) = capture_logs();
    let rx = MockServer::start().await.unwrap();
    let c = client(&rx.url()).app("my service").build().unwrap();
    c.report_now().await.unwrap();
    let warnings = logs.lines("WARN", "my service");
    assert_eq!(warnings.len(), 1, "{}", logs.text());
    assert!(warnings[0].contains("position 3"), "{}", warnings[0]);
    let report = rx.last_report().unwrap();
    assert_eq!(report.app, "my service");
    let plain = client(&rx.url()).app("my-service").build().unwrap();
    drop(plain);
    assert!(
        logs.lines("WARN", "my-service").is_empty(),
        "{}",
        logs.text()
    );
}

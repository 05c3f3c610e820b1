//! `HeartbeatBuilder::http_client`: the SDK reports through the application's own
//! `reqwest::Client` and still applies its headers, credentials, timeout and redirect rule;
//! settings that cannot apply to a foreign client fail the build. Over loopback HTTP.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::support;
use reqwest::header::{HeaderMap, HeaderValue};
use tokio::time::Instant;
use vortex_client::testing::{MockServer, Reply};
use vortex_client::{
    Disposition, Environment, HeartbeatBuilder, HeartbeatClient, HeartbeatConfig, ReporterError,
};

const TIMEOUT: Duration = Duration::from_secs(2);
const WAIT: Duration = Duration::from_secs(10);
const TOKEN: &str = "sdk-token-1234";
const GATEWAY_KEY: &str = "gateway-key-5678";
const HEARTBEAT_PATH: &str = "/api/drift/heartbeat/app/prod";

/// A client reporting through `http`, with credentials, a header and a timeout of the SDK's
/// own that the tests expect on (or around) the client's requests.
fn builder(url: &str, http: reqwest::Client) -> HeartbeatBuilder<HeartbeatClient> {
    support::client(url)
        .disable_auto_detect()
        .timeout(TIMEOUT)
        .max_retries(1)
        .bearer_token(TOKEN)
        .header("X-Gateway-Key", GATEWAY_KEY)
        .http_client(http)
}

/// The application's client: its own default headers, among them some the SDK also sets.
fn app_client() -> reqwest::Client {
    let mut defaults = HeaderMap::new();
    defaults.insert("x-app-client", HeaderValue::from_static("1"));
    defaults.insert(
        "authorization",
        HeaderValue::from_static("Bearer app-token"),
    );
    defaults.insert("accept", HeaderValue::from_static("text/plain"));
    reqwest::Client::builder()
        .default_headers(defaults)
        .user_agent("the-app/1.0")
        .build()
        .unwrap()
}

async fn uses_the_client_and_sends_its_own_headers() {
    let rx = MockServer::start().await.unwrap();
    let c = builder(&rx.url(), app_client()).build().unwrap();
    c.report_now().await.unwrap();
    let report = rx.last_report().unwrap();
    // The application's client sent it...
    assert_eq!(report.header("x-app-client"), Some("1"));
    // ...with the SDK's headers and credentials, which win over the client's defaults.
    assert_eq!(report.header("content-type"), Some("application/json"));
    assert_eq!(report.header("accept"), Some("application/json"));
    let bearer = format!("Bearer {TOKEN}");
    assert_eq!(report.header("authorization"), Some(bearer.as_str()));
    assert_eq!(report.header("x-gateway-key"), Some(GATEWAY_KEY));
    let agent = report.header("user-agent").unwrap_or_default();
    assert!(agent.starts_with("vortex-client/"), "{agent}");
    for name in ["authorization", "accept", "user-agent", "content-type"] {
        let n = report.headers.iter().filter(|(h, _)| h == name).count();
        assert_eq!(n, 1, "{name} sent {n} times: {:?}", report.headers);
    }
    assert_eq!(report.path, HEARTBEAT_PATH);
    assert_eq!(report.config_version, "v1");
    assert_eq!(c.status().reports_accepted, 1);

    // The background worker sends through it too.
    c.set_config_version("v2");
    c.start().await;
    let report = rx.wait_for_version("v2", WAIT).await.unwrap();
    assert_eq!(report.header("x-app-client"), Some("1"));
    assert_eq!(report.header("authorization"), Some(bearer.as_str()));
    c.stop().await;
}

both_runtimes!(uses_the_client_and_sends_its_own_headers);

#[tokio::test]
async fn userinfo_is_sent_as_basic_authentication() {
    let rx = MockServer::start().await.unwrap();
    let url = rx.url().replacen("http://", "http://user:pass-9876@", 1);
    let c = support::client(&url)
        .http_client(app_client())
        .build()
        .unwrap();
    c.report_now().await.unwrap();
    let report = rx.last_report().unwrap();
    // base64("user:pass-9876")
    assert_eq!(
        report.header("authorization"),
        Some("Basic dXNlcjpwYXNzLTk4NzY=")
    );
    assert_eq!(report.header("x-app-client"), Some("1"));
}

/// A server that never answers fails the attempt within the SDK's timeout, whatever the
/// client's own timeout (none, or longer).
#[tokio::test(start_paused = true)]
async fn the_sdks_timeout_applies_to_the_clients_requests() {
    let rx = MockServer::start().await.unwrap();
    rx.set_default_reply(Reply::Hang);
    let no_timeout = reqwest::Client::new();
    let long_timeout = reqwest::Client::builder()
        .timeout(Duration::from_secs(3600))
        .build()
        .unwrap();
    for http in [no_timeout, long_timeout] {
        let c = builder(&rx.url(), http).build().unwrap();
        let started = Instant::now();
        let err = tokio::time::timeout(Duration::from_secs(60), c.report_now())
            .await
            .expect("no timeout applied")
            .unwrap_err();
        let took = started.elapsed();
        assert!(
            matches!(err, ReporterError::Timeout { timeout, .. } if timeout == TIMEOUT),
            "{err:?}"
        );
        assert!(
            took >= TIMEOUT && took < TIMEOUT + Duration::from_secs(1),
            "{took:?}"
        );
    }
}

/// A timeout of the application's client that fires before the SDK's (5 s by default): the
/// error names the application's client and the time it took, not the SDK's timeout.
#[tokio::test]
async fn a_timeout_of_the_applications_client_is_named() {
    let rx = MockServer::start().await.unwrap();
    rx.set_default_reply(Reply::Hang);
    let http = reqwest::Client::builder()
        .read_timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let c = support::client(&rx.url())
        .http_client(http)
        .max_retries(1)
        .build()
        .unwrap();
    let started = Instant::now();
    let err = c.report_now().await.unwrap_err().to_string();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert!(!err.contains("within 5s"), "{err}");
    assert!(
        err.contains("http_client"),
        "names the application's client: {err}"
    );
    assert!(err.contains("ms"), "shows the elapsed time: {err}");
}

/// The heartbeat server redirects (307, which keeps the body) to another loopback origin.
async fn redirect_to_another_origin(http: reqwest::Client) -> (ReporterError, MockServer) {
    let other = MockServer::builder()
        .bind(SocketAddr::from((Ipv4Addr::new(127, 0, 0, 2), 0)))
        .start()
        .await
        .unwrap();
    let rx = MockServer::start().await.unwrap();
    let location = format!("{}{HEARTBEAT_PATH}", other.url());
    rx.set_default_reply(Reply::Redirect(307, location));
    let c = builder(&rx.url(), http).build().unwrap();
    let err = c.report_now().await.unwrap_err();
    assert!(
        matches!(&err, ReporterError::Redirect { location, .. } if location.starts_with("http://127.0.0.2:")),
        "{err:?}"
    );
    assert_eq!(err.disposition(), Disposition::Permanent);
    assert!(err.to_string().contains("set server_url"), "{err}");
    // Not counted as delivered.
    let status = c.status();
    assert_eq!(status.reports_accepted, 0);
    assert_eq!(status.reports_failed, 1);
    assert!(status.last_success.is_none());
    assert_eq!(status.drift, vortex_client::DriftState::default());
    assert_eq!(rx.report_count(), 1);
    (err, other)
}

#[tokio::test]
async fn an_answer_from_where_a_followed_redirect_led_is_refused() {
    // reqwest's default policy follows the 307 with the body: the other origin gets the
    // report, but the SDK does not count its answer.
    let (err, other) = redirect_to_another_origin(reqwest::Client::new()).await;
    assert!(matches!(err, ReporterError::Redirect { status: 200, .. }));
    assert_eq!(other.report_count(), 1);
    // What the client sent there is its policy's choice: reqwest drops Authorization on the
    // way to another host, and keeps the other headers.
    let report = other.last_report().unwrap();
    assert_eq!(report.header("authorization"), None);
    assert_eq!(report.header("x-gateway-key"), Some(GATEWAY_KEY));
}

#[tokio::test]
async fn a_client_that_follows_no_redirect_fails_as_the_sdks_own_does() {
    let none = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (err, other) = redirect_to_another_origin(none).await;
    assert!(matches!(err, ReporterError::Redirect { status: 307, .. }));
    assert_eq!(other.report_count(), 0);
    assert!(other.rejections().is_empty());
}

#[tokio::test]
async fn a_followed_redirect_on_the_same_origin_is_refused_too() {
    // The SDK's own client follows a same-origin 308; a foreign client's answer after any
    // redirect is refused, since the SDK cannot see whether the POST stayed a POST.
    let rx = MockServer::start().await.unwrap();
    rx.script([Reply::Redirect(308, "/moved".into())]);
    let c = builder(&rx.url(), reqwest::Client::new()).build().unwrap();
    let err = c.report_now().await.unwrap_err();
    let ReporterError::Redirect { location, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(location.ends_with("/moved"), "{location}");
    assert_eq!(c.status().reports_accepted, 0);
    // Without a redirect the same client delivers.
    c.report_now().await.unwrap();
    assert_eq!(c.status().reports_accepted, 1);
}

#[cfg(any(feature = "rustls", feature = "rustls-ring"))]
#[test]
fn root_certificates_cannot_be_combined_with_a_foreign_client() {
    let pem = include_bytes!("../certs/ca.pem").to_vec();
    let base = || {
        HeartbeatConfig::builder()
            .environment(Environment::empty())
            .server_url("https://127.0.0.1:1")
            .app("a")
            .profile("p")
    };
    // Alone, each is fine.
    base().add_root_certificate(pem.clone()).build().unwrap();
    base().http_client(reqwest::Client::new()).build().unwrap();
    let err = base()
        .add_root_certificate(pem.clone())
        .http_client(reqwest::Client::new())
        .build()
        .unwrap_err();
    assert!(
        matches!(
            &err,
            vortex_client::ConfigError::InvalidValue {
                field: "root_certificates",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("http_client"), "{err}");
    // The same rule for a configuration written as a struct literal.
    let config = HeartbeatConfig {
        server_url: "https://127.0.0.1:1".into(),
        app: "a".into(),
        profile: "p".into(),
        root_certificates: vec![pem],
        http_client: Some(reqwest::Client::new()),
        ..Default::default()
    };
    assert_eq!(config.validate().unwrap_err(), err);
    assert_eq!(HeartbeatClient::new(config).unwrap_err(), err);
}

#[test]
fn connect_timeout_is_accepted_and_left_to_the_client() {
    let config = HeartbeatConfig::builder()
        .environment(Environment::empty())
        .server_url("http://127.0.0.1:1")
        .app("a")
        .profile("p")
        .connect_timeout(Duration::from_millis(300))
        .http_client(reqwest::Client::new())
        .build()
        .unwrap();
    assert_eq!(config.connect_timeout, Duration::from_millis(300));
}

#[test]
fn debug_does_not_show_the_clients_headers() {
    let mut defaults = HeaderMap::new();
    defaults.insert("x-api-key", HeaderValue::from_static("app-s3cret-value"));
    let http = reqwest::Client::builder()
        .default_headers(defaults)
        .build()
        .unwrap();
    let builder = HeartbeatConfig::builder()
        .environment(Environment::empty())
        .server_url("http://127.0.0.1:1")
        .app("a")
        .profile("p")
        .http_client(http);
    let shown = format!("{builder:?}");
    assert!(!shown.contains("app-s3cret-value"), "{shown}");
    assert!(shown.contains("http_client"), "{shown}");
    let config = builder.build().unwrap();
    let shown = format!("{config:?}");
    assert!(!shown.contains("app-s3cret-value"), "{shown}");
}

//! Credentials never leak: not through `Debug` or `Display` of the client, the configuration,
//! the builder or any error, not through a log line, not even when a server echoes them back.
//! And they are sent: on every request, retries and redirects included.

// Every test installs a log capturer, also those that assert nothing about logs (see main.rs).

use std::time::Duration;

use base64::prelude::{Engine as _, BASE64_STANDARD};

use crate::support::forward_proxy::ForwardProxy;
use crate::support::{self, capture_logs, dead_port};
use vortex_client::testing::{MockServer, Reply};
use vortex_client::{
    ConfigError, Environment, HeartbeatBuilder, HeartbeatClient, HeartbeatConfig, ReporterError,
};

const USER: &str = "vx-user-7f3a";
const PASSWORD: &str = "hunter2-pw-9c1e";
const TOKEN: &str = "tok-s3cret-4b2d";
const HEADER_VALUE: &str = "key-s3cret-8e5f";
const WITHIN: Duration = Duration::from_secs(5);

fn basic_credentials() -> String {
    BASE64_STANDARD.encode(format!("{USER}:{PASSWORD}"))
}

/// Every form of every secret.
fn secrets() -> Vec<String> {
    vec![
        USER.into(),
        PASSWORD.into(),
        TOKEN.into(),
        HEADER_VALUE.into(),
        basic_credentials(),
    ]
}

#[track_caller]
fn assert_clean(what: &str, text: &str) {
    for secret in secrets() {
        assert!(!text.contains(&secret), "{what} leaks {secret}: {text}");
    }
}

/// Display and both Debug forms.
#[track_caller]
fn assert_error_clean(what: &str, error: &(impl std::fmt::Display + std::fmt::Debug)) {
    assert_clean(what, &format!("{error} | {error:?} | {error:#?}"));
}

fn userinfo_url(addr: impl std::fmt::Display) -> String {
    format!("http://{USER}:{PASSWORD}@{addr}")
}

/// URL userinfo (sent as Basic auth) and a custom header.
fn with_userinfo(addr: String) -> HeartbeatBuilder<HeartbeatClient> {
    with_header(&userinfo_url(addr))
}

/// A bearer token and a custom header.
fn with_token(addr: String) -> HeartbeatBuilder<HeartbeatClient> {
    with_header(&format!("http://{addr}")).bearer_token(TOKEN)
}

/// A client for `url` with a secret header, no detection, and retries within milliseconds.
fn with_header(url: &str) -> HeartbeatBuilder<HeartbeatClient> {
    support::client(url)
        .disable_auto_detect()
        .header("X-Api-Key", HEADER_VALUE)
        .initial_retry_delay(Duration::from_millis(10))
        .max_retry_delay(Duration::from_millis(40))
}

/// One way to authenticate: how to build such a client, what it sends as `Authorization`,
/// and a body that echoes back every credential it sends, as a chatty gateway might.
#[derive(Clone, Copy)]
struct Kind {
    make: fn(String) -> HeartbeatBuilder<HeartbeatClient>,
    userinfo: bool,
}

const USERINFO: Kind = Kind {
    make: with_userinfo,
    userinfo: true,
};
const TOKEN_AUTH: Kind = Kind {
    make: with_token,
    userinfo: false,
};

impl Kind {
    fn client(self, addr: impl std::fmt::Display) -> HeartbeatBuilder<HeartbeatClient> {
        (self.make)(addr.to_string())
    }

    fn authorization(self) -> String {
        if self.userinfo {
            format!("Basic {}", basic_credentials())
        } else {
            format!("Bearer {TOKEN}")
        }
    }

    fn echo_body(self) -> Vec<u8> {
        let who = if self.userinfo {
            format!(" user={USER} password={PASSWORD}")
        } else {
            String::new()
        };
        format!(
            "denied: Authorization: {}; X-Api-Key: {HEADER_VALUE};{who}",
            self.authorization()
        )
        .into_bytes()
    }

    /// The credential whose start a cut body may end with.
    fn longest(self) -> String {
        if self.userinfo {
            basic_credentials()
        } else {
            TOKEN.to_owned()
        }
    }
}

#[test]
fn builders_configs_and_config_errors_hide_secrets() {
    let _logs = capture_logs();
    let builders = [
        format!("{:?}", USERINFO.client("127.0.0.1:1")),
        format!("{:#?}", TOKEN_AUTH.client("127.0.0.1:1")),
        format!(
            "{:?}",
            HeartbeatConfig::builder()
                .server_url(userinfo_url("127.0.0.1:1"))
                .bearer_token(TOKEN)
                .header("X-Api-Key", HEADER_VALUE)
        ),
    ];
    for text in &builders {
        assert_clean("a builder", text);
        assert!(
            text.contains("X-Api-Key"),
            "header names stay visible: {text}"
        );
    }
    // A configuration that does not even validate is still printed safely.
    let raw = HeartbeatConfig {
        server_url: userinfo_url("127.0.0.1:1"),
        bearer_token: Some(TOKEN.into()),
        headers: vec![("X-Api-Key".into(), HEADER_VALUE.into())],
        ..Default::default()
    };
    assert_clean("a raw config", &format!("{raw:?} {raw:#?}"));

    let built = USERINFO.client("127.0.0.1:1").build().unwrap();
    let built = built.config();
    assert_clean("a config", &format!("{built:?} {built:#?}"));
    let client = TOKEN_AUTH.client("127.0.0.1:1").build().unwrap();
    assert_clean(
        "a client",
        &format!("{client:?} {client:#?} {:?}", client.config()),
    );
    let client = USERINFO.client("127.0.0.1:1").build().unwrap();
    assert_clean(
        "a client",
        &format!("{client:?} {client:#?} {:?}", client.config()),
    );

    // Every ConfigError a secret can flow into.
    let base = || {
        HeartbeatConfig::builder()
            .environment(Environment::empty())
            .app("a")
            .profile("p")
    };
    let errors: Vec<(&str, ConfigError)> = vec![
        (
            "userinfo and token",
            USERINFO
                .client("127.0.0.1:1")
                .bearer_token(TOKEN)
                .build()
                .unwrap_err(),
        ),
        (
            "token and Authorization header",
            TOKEN_AUTH
                .client("127.0.0.1:1")
                .header("Authorization", format!("Bearer {TOKEN}"))
                .build()
                .unwrap_err(),
        ),
        (
            "newline in a header value",
            base()
                .server_url("http://127.0.0.1:1")
                .header("X-Api-Key", format!("{HEADER_VALUE}\n"))
                .build()
                .unwrap_err(),
        ),
        (
            "newline in the token",
            base()
                .server_url("http://127.0.0.1:1")
                .bearer_token(format!("{TOKEN}\r\n"))
                .build()
                .unwrap_err(),
        ),
        (
            "huge header value",
            base()
                .server_url("http://127.0.0.1:1")
                .header("X-Api-Key", HEADER_VALUE.repeat(1000))
                .build()
                .unwrap_err(),
        ),
    ];
    let urls = [
        format!("ftp://{USER}:{PASSWORD}@127.0.0.1"),
        format!("http://{USER}:{PASSWORD}@127.0.0.1/?q=1"),
        format!("http://{USER}:{PASSWORD}@127.0.0.1/#f"),
        format!("http://{USER}:{PASSWORD}@127.0.0.1:99999"),
        format!("http://{USER}:{PASSWORD}@"),
        format!("http://{USER}:{PASSWORD}@127.0.0.1/a\tb"),
        format!("http://{USER}:{PASSWORD}@127.0.0.1/{}", "x".repeat(3000)),
        format!("http://{USER}/{PASSWORD}@127.0.0.1"),
        format!("http://{USER}:{PASSWORD}/x@127.0.0.1"),
        format!("http://{USER}:{PASSWORD}?@127.0.0.1"),
        format!("{USER}:{PASSWORD}@127.0.0.1:8080"),
        format!("{USER}:{PASSWORD}@@127.0.0.1"),
        format!("http://127.0.0.1/gw?token={TOKEN}"),
        format!("http://127.0.0.1/gw#access_token={TOKEN}"),
    ];
    let mut all = errors;
    for url in &urls {
        let err = base().server_url(url.as_str()).build().unwrap_err();
        all.push(("a malformed server_url", err));
        let env = Environment::from_vars([
            ("VORTEX_URL", url.as_str()),
            ("VORTEX_APP", "a"),
            ("VORTEX_PROFILE", "p"),
        ]);
        assert_clean("an Environment", &format!("{env:?}"));
        all.push((
            "a malformed VORTEX_URL",
            HeartbeatConfig::builder()
                .environment(env)
                .build()
                .unwrap_err(),
        ));
    }
    for (what, err) in &all {
        assert_error_clean(what, err);
    }
}

/// Real failures: refused, 401 (with and without an echo), 5xx cut inside a secret,
/// redirects with userinfo and credentials in the Location, timeouts, oversize answers.
async fn real_failures_hide_secrets(kind: Kind) {
    let dead = dead_port().await;
    let client = kind.client(dead).max_retries(1).build().unwrap();
    let err = client.report_now().await.unwrap_err();
    assert!(matches!(err, ReporterError::Connect { .. }), "{err}");
    assert_error_clean("connection refused", &err);
    assert_clean("status", &format!("{:?}", client.status()));

    let rx = MockServer::start().await.unwrap();
    let client = kind
        .client(rx.addr())
        .max_retries(1)
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    // 5xx bodies that the client's bounded read (256 bytes plus the longest credential)
    // cuts right inside a credential, after multi-byte or control characters that make the
    // text shorter than the bytes read.
    let window = 256 + kind.longest().len();
    let lead = window - 5;
    let mut cut = "é".repeat(lead / 2).into_bytes();
    cut.extend(std::iter::repeat_n(b'.', lead % 2));
    cut.extend_from_slice(kind.longest().as_bytes());
    let mut cut_later = vec![0x01; lead];
    cut_later.extend_from_slice(kind.longest().as_bytes());
    rx.script([
        Reply::Status(401),
        Reply::Raw(401, kind.echo_body()),
        Reply::Raw(403, kind.echo_body()),
        Reply::Raw(500, cut),
        Reply::Raw(502, cut_later),
        Reply::Redirect(
            302,
            format!(
                "http://{USER}:{PASSWORD}@127.0.0.2:9/x?auth={}&key={HEADER_VALUE}",
                kind.longest()
            ),
        ),
        Reply::Redirect(307, format!("//{USER}:{PASSWORD}@127.0.0.3:9/y")),
        Reply::Raw(200, vec![b' '; 70 * 1024]),
        Reply::Hang,
        Reply::Status(404),
    ]);
    for expected in [401, 401, 403, 500, 502, 302, 307] {
        let err = client.report_now().await.unwrap_err();
        assert_eq!(err.status(), Some(expected), "{err}");
        assert_error_clean(&format!("a {expected}"), &err);
        assert_clean("status", &format!("{:?}", client.status()));
        if let ReporterError::Status { body, .. } = &err {
            // Not even the credential's start survives the cut.
            let start = &kind.longest()[..5];
            assert!(!body.contains(start), "{expected}: {body}");
        }
    }
    let err = client.report_now().await.unwrap_err();
    assert!(
        matches!(err, ReporterError::ResponseTooLarge { .. }),
        "{err}"
    );
    assert_error_clean("too large", &err);
    let err = client.report_now().await.unwrap_err();
    assert!(matches!(err, ReporterError::Timeout { .. }), "{err}");
    assert_error_clean("timeout", &err);
    let err = client.report_now().await.unwrap_err();
    assert_eq!(err.status(), Some(404));
    assert_error_clean("a 404", &err);
    // The echo was scrubbed, not dropped: the message still helps.
    rx.script([Reply::Raw(401, kind.echo_body())]);
    let err = client.report_now().await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("denied: Authorization: ") && text.contains("X-Api-Key: <redacted>"),
        "{text}"
    );
}

#[tokio::test]
async fn real_failures_hide_the_userinfo_and_header() {
    let _logs = capture_logs();
    real_failures_hide_secrets(USERINFO).await;
}

#[tokio::test]
async fn real_failures_hide_the_token_and_header() {
    let _logs = capture_logs();
    real_failures_hide_secrets(TOKEN_AUTH).await;
}

/// Start, a transient failure, a credentials failure echoing the secrets, recovery, an
/// invalid version, stop: no log line carries a secret.
async fn logs_hide_secrets(kind: Kind) {
    let (logs, _guard) = capture_logs();
    let rx = MockServer::start().await.unwrap();
    rx.script([
        Reply::Status(503),
        Reply::Raw(401, kind.echo_body()),
        Reply::Raw(500, kind.echo_body()),
    ]);
    let client = kind
        .client(rx.addr())
        .interval(Duration::from_millis(100))
        .config_version("v1")
        .build()
        .unwrap();
    client.start().await;
    let mut status = client.subscribe();
    tokio::time::timeout(
        WITHIN,
        status.wait_for(|s| s.reports_accepted >= 1 && s.reports_failed >= 3),
    )
    .await
    .expect("failures, then recovery")
    .unwrap();
    client.set_config_version(format!("v2 {TOKEN}\n"));
    client.set_config_version("v2");
    rx.wait_for_version("v2", WITHIN).await.unwrap();
    client.stop().await;

    // A client that never reaches its server.
    let dead = dead_port().await;
    let unreachable = kind.client(dead).build().unwrap();
    unreachable.start().await;
    let mut status = unreachable.subscribe();
    tokio::time::timeout(WITHIN, status.wait_for(|s| s.reports_failed >= 2))
        .await
        .unwrap()
        .unwrap();
    unreachable.stop().await;

    let text = logs.text();
    for expected in [
        "heartbeat client started",
        "heartbeat failed; retrying",
        "heartbeat rejected",
        "heartbeat recovered",
        "set_config_version ignored",
        "heartbeat client stopped",
    ] {
        assert!(text.contains(expected), "no {expected:?} in:\n{text}");
    }
    if kind.userinfo {
        assert!(text.contains("***@"), "URLs are logged, redacted:\n{text}");
    }
    assert_clean("the log", &text);
}

#[tokio::test(flavor = "current_thread")]
async fn logs_hide_the_userinfo_and_header() {
    let _logs = capture_logs();
    logs_hide_secrets(USERINFO).await;
}

#[tokio::test(flavor = "current_thread")]
async fn logs_hide_the_token_and_header() {
    let _logs = capture_logs();
    logs_hide_secrets(TOKEN_AUTH).await;
}

/// What every request carries, retries and same-origin redirects included.
async fn credentials_go_out_on_every_request(kind: Kind) {
    let authorization = kind.authorization();
    let rx = MockServer::start().await.unwrap();
    // A same-origin redirect to another heartbeat route, so the server records what the
    // redirected request carried.
    let moved = "/api/drift/heartbeat/moved/here";
    rx.script([Reply::Status(503), Reply::Redirect(307, moved.into())]);
    let client = kind
        .client(rx.addr())
        .interval(Duration::from_millis(50))
        .build()
        .unwrap();
    client.start().await;
    client.set_config_version("v2");
    let _ = client.report_now().await;
    rx.wait_for_reports(6, WITHIN).await.unwrap();
    client.stop().await;
    let user_agent = format!("vortex-client/{}", env!("CARGO_PKG_VERSION"));
    let reports = rx.reports();
    assert!(
        reports.iter().any(|r| r.path == moved),
        "the redirect was followed"
    );
    for report in &reports {
        let header = |name: &str| report.header(name).unwrap_or_default().to_owned();
        assert_eq!(header("authorization"), authorization, "{}", report.path);
        assert_eq!(header("x-api-key"), HEADER_VALUE);
        assert_eq!(header("user-agent"), user_agent);
        assert_eq!(header("content-type"), "application/json");
        assert_eq!(header("host"), rx.addr().to_string(), "no userinfo in Host");
        let authorizations = report.headers.iter().filter(|(n, _)| n == "authorization");
        assert_eq!(authorizations.count(), 1);
    }
}

#[tokio::test]
async fn the_token_and_header_go_out_on_every_request() {
    let _logs = capture_logs();
    credentials_go_out_on_every_request(TOKEN_AUTH).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn userinfo_goes_out_as_basic_auth_on_every_request() {
    let _logs = capture_logs();
    credentials_go_out_on_every_request(USERINFO).await;
}

#[tokio::test]
async fn percent_encoded_userinfo_is_decoded_for_basic_auth() {
    let _logs = capture_logs();
    let rx = MockServer::start().await.unwrap();
    let client = support::client(&format!("http://svc%40corp:p%40ss%2Fw%3Ard@{}", rx.addr()))
        .disable_auto_detect()
        .build()
        .unwrap();
    client.report_now().await.unwrap();
    let report = &rx.reports()[0];
    assert_eq!(
        report.header("authorization"),
        Some(format!("Basic {}", BASE64_STANDARD.encode("svc@corp:p@ss/w:rd")).as_str())
    );
    // The redacted form is what the client shows.
    let shown = format!("{client:?}");
    assert!(
        !shown.contains("p%40ss") && !shown.contains("svc"),
        "{shown}"
    );
}

/// Credentials over plain http are allowed (in-cluster traffic often is), with a warning.
/// `build()` only: nothing connects to the non-loopback host.
#[tokio::test(flavor = "current_thread")]
async fn credentials_over_plain_http_warn() {
    let (logs, _guard) = capture_logs();
    let warnings = || logs.lines("WARN", "clear text").len();
    let remote = "vortex.invalid:1";
    support::client(&format!("http://{remote}"))
        .header("X-Tenant", "t")
        .build()
        .unwrap();
    assert_eq!(warnings(), 0, "{}", logs.text());
    TOKEN_AUTH.client(remote).build().unwrap();
    assert_eq!(warnings(), 1, "{}", logs.text());
    USERINFO.client(remote).build().unwrap();
    assert_eq!(warnings(), 2, "{}", logs.text());
    if cfg!(feature = "rustls") {
        TOKEN_AUTH
            .client(remote)
            .server_url(format!("https://{remote}"))
            .build()
            .unwrap();
        assert_eq!(warnings(), 2, "{}", logs.text());
    }
    // Each URL of a list is judged on its own, and the warning names the one it is about.
    support::client(&format!("http://{remote}"))
        .server_urls([
            format!("http://{remote}"),
            format!("http://{USER}:{PASSWORD}@fallback.invalid:1"),
        ])
        .build()
        .unwrap();
    let warned = logs.lines("WARN", "clear text");
    assert_eq!(warned.len(), 3, "{}", logs.text());
    assert!(
        warned
            .last()
            .is_some_and(|l| l.contains("fallback.invalid")),
        "{warned:?}"
    );
    assert_clean("the log", &logs.text());
}

/// Loopback never leaves the machine: credentials to a local sidecar or a `MockServer` are
/// not the clear text the warning is about. Unless a proxy carries them off the machine.
#[tokio::test(flavor = "current_thread")]
async fn credentials_over_loopback_do_not_warn() {
    let (logs, _guard) = capture_logs();
    let warnings = || logs.lines("WARN", "clear text").len();
    for host in [
        "127.0.0.1:1",
        "127.9.8.7:1",
        "[::1]:1",
        "[::ffff:127.0.0.1]:1",
        "localhost:1",
        "LocalHost.:1",
        "svc.localhost:1",
    ] {
        TOKEN_AUTH.client(host).build().unwrap();
        USERINFO.client(host).build().unwrap();
        assert_eq!(warnings(), 0, "{host}: {}", logs.text());
    }
    let rx = MockServer::start().await.unwrap();
    let client = TOKEN_AUTH.client(rx.addr()).build().unwrap();
    client.report_now().await.unwrap();
    assert_eq!(warnings(), 0, "{}", logs.text());
    // Near misses are not loopback (built only: nothing connects).
    for host in ["127.0.0.1.example:1", "localhost.example:1", "0.0.0.0:1"] {
        TOKEN_AUTH.client(host).build().unwrap();
    }
    assert_eq!(warnings(), 3, "{}", logs.text());
    // An explicit proxy takes loopback traffic off the machine: the warning stands.
    TOKEN_AUTH
        .client("127.0.0.1:1")
        .proxy("http://proxy.invalid:3128")
        .build()
        .unwrap();
    assert_eq!(warnings(), 4, "{}", logs.text());
    assert_clean("the log", &logs.text());
}

/// Proxy credentials, injected as `HTTP_PROXY=http://user:password@127.0.0.1:PORT`: sent as
/// `Proxy-Authorization`, and never shown, not even when the proxy's 407 or 502 page echoes
/// the request (the target is a `.invalid` name the proxy answers for; nothing resolves it).
#[tokio::test(flavor = "current_thread")]
async fn proxy_credentials_never_leak() {
    let (logs, _guard) = capture_logs();
    for status in [407, 502] {
        let proxy = ForwardProxy::start(status).await;
        let url = proxy
            .url()
            .replace("http://", &format!("http://{USER}:{PASSWORD}@"));
        let client = support::client("http://vortex.invalid:8888")
            .environment(Environment::from_vars([("HTTP_PROXY", url.as_str())]))
            .disable_auto_detect()
            .max_retries(1)
            .interval(Duration::from_millis(100))
            .initial_retry_delay(Duration::from_millis(50))
            .max_retry_delay(Duration::from_millis(100))
            .build()
            .unwrap();
        let err = client.report_now().await.unwrap_err();
        match status {
            // A 407 is the proxy's, not the server's.
            407 => assert!(
                matches!(
                    err,
                    ReporterError::Proxy {
                        status: Some(407),
                        ..
                    }
                ),
                "{err:?}"
            ),
            _ => assert_eq!(err.status(), Some(status), "{err}"),
        }
        assert_error_clean("a proxy's echo", &err);
        client.start().await;
        let mut watch = client.subscribe();
        tokio::time::timeout(WITHIN, watch.wait_for(|s| s.reports_failed >= 3))
            .await
            .expect("the worker's reports fail at the proxy")
            .unwrap();
        client.stop().await;
        assert_clean("status", &format!("{:?}", client.status()));
        assert_clean("a client", &format!("{client:?} {:?}", client.config()));
        let seen = proxy.seen();
        let sent = format!("Basic {}", basic_credentials());
        assert!(seen.len() >= 3, "{seen:?}");
        assert!(seen
            .iter()
            .all(|s| s.line.contains("//vortex.invalid:8888/")
                && s.header("proxy-authorization") == Some(sent.as_str())));
    }
    let text = logs.text();
    assert!(text.contains("heartbeat failed"), "{text}");
    assert_clean("the log", &text);
}

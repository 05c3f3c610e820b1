//! Hostile input: every public method of the client, the builder, the configuration and
//! [`Environment`], fed with what a careless user, a broken environment or a hostile server
//! can produce. Nothing may panic; bad input gives a short `ConfigError` naming the setting.

// Every test installs a log capturer, also those that assert nothing about logs (see main.rs).

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use crate::support::{self, capture_logs};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use vortex_client::testing::{MockServer, Reply};
use vortex_client::{
    ConfigError, Disposition, Environment, Health, HeartbeatBuilder, HeartbeatClient,
    HeartbeatConfig, InstanceMetadata, ReporterError,
};

/// The answer cap (docs/security.md).
const RESPONSE_CAP: usize = 64 * 1024;
const WITHIN: Duration = Duration::from_secs(5);
const MIB: usize = 1 << 20;

// The limits of docs/security.md's validation table.
const MAX_NAME_LEN: usize = 253;
const MAX_URL_LEN: usize = 2048;
const MAX_HEADERS: usize = 32;
const MAX_LABELS: usize = 64;
const MAX_DURATION: Duration = Duration::from_secs(24 * 60 * 60);
const MIN_PERIOD: Duration = Duration::from_millis(1);

/// What a careless user or a broken environment hands over.
fn hostile_strings() -> Vec<String> {
    let mut v: Vec<String> = [
        "",
        " ",
        "\t",
        "\0",
        "a\0b",
        "\n",
        "v1\n",
        "a\r\nX-Injected: 1",
        "\u{7f}",
        "\u{1b}[31mred",
        "\u{85}",
        ".",
        "..",
        "%2e%2e",
        "%2E",
        "../..",
        "a/b",
        "a\\b",
        "?x#y",
        "%",
        "%00",
        "%zz",
        "\u{202e}evil",
        "\u{feff}",
        "é",
        "🦀",
        "  padded  ",
        "x@y:z",
        "http://user:pw@host",
        "Bearer x",
        "a b",
        "-----BEGIN CERTIFICATE-----",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    v.push(String::from_utf8_lossy(&[0xff, 0xfe, 0x80, b'a', 0xc0]).into_owned());
    v.push("x".repeat(MAX_NAME_LEN));
    v.push("x".repeat(MAX_NAME_LEN + 1));
    v.push("é".repeat(200));
    v.push("y".repeat(MIB));
    v
}

/// Runs `f`; a panic becomes a failure message naming `what`.
fn no_panic<T>(failures: &mut Vec<String>, what: &str, f: impl FnOnce() -> T) -> Option<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => Some(v),
        Err(_) => {
            failures.push(format!("panicked: {what}"));
            None
        }
    }
}

fn short(s: &str) -> String {
    let head: String = s.chars().take(40).collect();
    if head.len() < s.len() {
        format!("{head:?}... ({} bytes)", s.len())
    } else {
        format!("{head:?}")
    }
}

fn field_of(e: &ConfigError) -> &'static str {
    match e {
        ConfigError::MissingField(f) | ConfigError::InvalidValue { field: f, .. } => f,
        ConfigError::InvalidEnv { var, .. } => var,
        ConfigError::Http(_) => "http",
        _ => "?",
    }
}

fn config_builder() -> HeartbeatBuilder<HeartbeatConfig> {
    HeartbeatConfig::builder()
        .environment(Environment::empty())
        .server_url("http://127.0.0.1:1")
        .app("a")
        .profile("p")
}

/// No detection: only what a test sets reaches the report and the log.
fn client_builder(url: &str) -> HeartbeatBuilder<HeartbeatClient> {
    support::client(url).disable_auto_detect()
}

/// Checks one build result: Ok, or a ConfigError that names one of `fields` and stays short.
fn check_result<T>(
    failures: &mut Vec<String>,
    what: &str,
    result: Result<T, ConfigError>,
    fields: &[&str],
) {
    if let Err(e) = result {
        let text = e.to_string();
        if !fields.contains(&field_of(&e)) {
            failures.push(format!(
                "{what}: error names {:?}, expected one of {fields:?}: {text}",
                field_of(&e)
            ));
        }
        if text.len() > 1024 {
            failures.push(format!(
                "{what}: error message is {} bytes long",
                text.len()
            ));
        }
    }
}

type Setter = (
    &'static str,
    &'static [&'static str],
    fn(HeartbeatBuilder<HeartbeatConfig>, &str) -> HeartbeatBuilder<HeartbeatConfig>,
);

#[test]
fn every_string_setter_survives_hostile_strings() {
    let _logs = capture_logs();
    let setters: Vec<Setter> = vec![
        ("server_url", &["server_url"], |b, s| b.server_url(s)),
        ("server_url path", &["server_url"], |b, s| {
            b.server_url(format!("http://127.0.0.1:1/{s}"))
        }),
        ("server_url host", &["server_url"], |b, s| {
            b.server_url(format!("http://{s}"))
        }),
        ("server_url password", &["server_url"], |b, s| {
            b.server_url(format!("http://u:{s}@127.0.0.1:1"))
        }),
        ("app", &["app"], |b, s| b.app(s)),
        ("profile", &["profile"], |b, s| b.profile(s)),
        ("instance_id", &["instance_id"], |b, s| b.instance_id(s)),
        ("config_version", &["config_version"], |b, s| {
            b.config_version(s)
        }),
        ("metadata key", &["metadata"], |b, s| b.metadata(s, "v")),
        ("metadata value", &["metadata"], |b, s| b.metadata("k", s)),
        ("app_version", &["metadata"], |b, s| b.app_version(s)),
        ("instance_metadata", &["metadata"], |b, s| {
            let mut m = InstanceMetadata {
                hostname: Some(s.to_owned()),
                region: Some(s.to_owned()),
                ..Default::default()
            };
            m.custom.insert(s.to_owned(), s.to_owned());
            b.instance_metadata(m)
        }),
        ("bearer_token", &["bearer_token"], |b, s| b.bearer_token(s)),
        ("header name", &["headers"], |b, s| b.header(s, "v")),
        ("header value", &["headers"], |b, s| b.header("X-Test", s)),
        (
            "root certificate",
            &["root_certificates", "http"],
            |b, s| b.add_root_certificate(s),
        ),
    ];
    let mut failures = Vec::new();
    for s in hostile_strings() {
        for (name, fields, set) in &setters {
            let what = format!("{name} = {}", short(&s));
            let config = no_panic(&mut failures, &what, || set(config_builder(), &s).build());
            if let Some(config) = config {
                if let Ok(config) = &config {
                    no_panic(&mut failures, &what, || format!("{config:?}"));
                    // A validated configuration always makes a client.
                    let client = no_panic(&mut failures, &what, || {
                        HeartbeatClient::new(config.clone())
                    });
                    if let Some(Err(e)) = client {
                        failures.push(format!(
                            "{what}: valid config, but HeartbeatClient::new failed: {e}"
                        ));
                    }
                }
                check_result(&mut failures, &what, config, fields);
            }
            let client = no_panic(&mut failures, &what, || {
                let b = client_builder("http://127.0.0.1:1");
                let b = match *name {
                    "server_url" => b.server_url(s.as_str()),
                    _ => b,
                };
                b.build().map(|c| format!("{c:?}"))
            });
            if let Some(result) = client {
                check_result(&mut failures, &what, result, fields);
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn headers_tokens_and_certificates_are_checked_at_build() {
    let _logs = capture_logs();
    let cases: Vec<(&str, HeartbeatBuilder<HeartbeatConfig>, &str)> = vec![
        ("space in name", config_builder().header("X Bad", "v"), "headers"),
        ("colon in name", config_builder().header("X-Bad:", "v"), "headers"),
        ("empty name", config_builder().header("", "v"), "headers"),
        ("newline in value", config_builder().header("X-A", "a\r\nInjected: 1"), "headers"),
        ("NUL in value", config_builder().header("X-A", "a\0b"), "headers"),
        ("huge value", config_builder().header("X-A", "v".repeat(MIB)), "headers"),
        ("Content-Length", config_builder().header("Content-Length", "0"), "headers"),
        ("Transfer-Encoding", config_builder().header("transfer-encoding", "chunked"), "headers"),
        ("Host", config_builder().header("Host", "elsewhere"), "headers"),
        ("User-Agent", config_builder().header("User-Agent", "x"), "headers"),
        ("Content-Type", config_builder().header("content-type", "text/plain"), "headers"),
        ("empty token", config_builder().bearer_token(""), "bearer_token"),
        ("blank token", config_builder().bearer_token("  "), "bearer_token"),
        ("newline in token", config_builder().bearer_token("tok\n"), "bearer_token"),
        ("huge token", config_builder().bearer_token("t".repeat(MIB)), "bearer_token"),
        (
            "token and Authorization header",
            config_builder().bearer_token("tok").header("Authorization", "Basic eDp5"),
            "bearer_token",
        ),
        (
            "userinfo and token",
            config_builder().server_url("http://u:p@127.0.0.1:1").bearer_token("tok"),
            "server_url",
        ),
        (
            "userinfo and Authorization header",
            config_builder().server_url("http://u:p@127.0.0.1:1").header("authorization", "x"),
            "server_url",
        ),
        ("empty PEM", config_builder().add_root_certificate(Vec::new()), "root_certificates"),
        ("binary PEM", config_builder().add_root_certificate(vec![0xff; MIB]), "root_certificates"),
        (
            "key instead of certificate",
            config_builder().add_root_certificate(
                "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n",
            ),
            "root_certificates",
        ),
        (
            "truncated PEM",
            config_builder().add_root_certificate("-----BEGIN CERTIFICATE-----\nMIIB"),
            "root_certificates",
        ),
    ];
    for (what, builder, field) in cases {
        let err = builder.build().expect_err(what);
        assert_eq!(field_of(&err), field, "{what}: {err}");
        let text = err.to_string();
        assert!(text.len() < 1024, "{what}: {} bytes", text.len());
        assert!(
            !text.contains("Injected"),
            "{what}: echoes the value: {text}"
        );
    }
    let mut many = config_builder();
    for i in 0..=MAX_HEADERS {
        many = many.header(format!("X-H{i}"), "v");
    }
    assert_eq!(field_of(&many.build().unwrap_err()), "headers");

    // PEM armour around bytes that are no certificate: caught at the latest when the client
    // is built, as a ConfigError.
    let armoured = "-----BEGIN CERTIFICATE-----\nAAAAAAAA\n-----END CERTIFICATE-----\n";
    let err = client_builder("http://127.0.0.1:1")
        .add_root_certificate(armoured)
        .build()
        .unwrap_err();
    assert!(
        matches!(field_of(&err), "root_certificates" | "http"),
        "{err}"
    );

    // What is allowed: a gateway header, an Authorization header alone, a token alone.
    config_builder()
        .header("X-Api-Key", "k")
        .header("X-Tenant", "t")
        .build()
        .unwrap();
    config_builder()
        .header("Authorization", "Basic eDp5")
        .build()
        .unwrap();
    config_builder().bearer_token("tok").build().unwrap();
    config_builder()
        .server_url("http://u:p@127.0.0.1:1")
        .build()
        .unwrap();
}

#[test]
fn server_url_rules_and_limits() {
    let _logs = capture_logs();
    for ok in [
        "http://127.0.0.1:8080",
        "http://127.0.0.1:8080/",
        "http://gw.example/config",
        "http://gw.example/config/",
        "http://[::1]:8080/a/b",
        "http://user:p%40ss%2Fw@127.0.0.1:1",
        " http://127.0.0.1:1 \n",
    ] {
        config_builder()
            .server_url(ok)
            .build()
            .unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    for bad in [
        "127.0.0.1:8080",
        "ftp://127.0.0.1",
        "file:///etc/passwd",
        "http://",
        "http://127.0.0.1/?a=1",
        "http://127.0.0.1/#x",
        "http://127.0.0.1:99999",
        "http://12 7.0.0.1",
        "http://127.0.0.1/a\nb",
        "http://127.0.0.1/a\tb",
        "http://us/er:pw@127.0.0.1",
        "http://127.0.0.1/x@y",
    ] {
        let err = config_builder().server_url(bad).build().unwrap_err();
        assert_eq!(field_of(&err), "server_url", "{bad}: {err}");
    }
    let long = format!("http://127.0.0.1/{}", "a".repeat(MAX_URL_LEN));
    let err = config_builder().server_url(long).build().unwrap_err();
    assert!(err.to_string().contains("at most 2048"), "{err}");
    assert_eq!(
        config_builder().server_url("").build().unwrap_err(),
        ConfigError::MissingField("server_url")
    );
}

type DurationSetter = (
    &'static str,
    fn(HeartbeatBuilder<HeartbeatConfig>, Duration) -> HeartbeatBuilder<HeartbeatConfig>,
    bool,
);

#[test]
fn durations_are_bounded_and_never_overflow() {
    let _logs = capture_logs();
    let setters: [DurationSetter; 7] = [
        ("interval", |b, d| b.interval(d), false),
        ("timeout", |b, d| b.timeout(d), false),
        ("connect_timeout", |b, d| b.connect_timeout(d), false),
        (
            "initial_retry_delay",
            |b, d| b.initial_retry_delay(d).max_retry_delay(MAX_DURATION),
            false,
        ),
        (
            "max_retry_delay",
            |b, d| b.max_retry_delay(d).initial_retry_delay(MIN_PERIOD),
            false,
        ),
        ("min_report_gap", |b, d| b.min_report_gap(d), true),
        ("stop_grace", |b, d| b.stop_grace(d), true),
    ];
    let too_long = [
        MAX_DURATION + Duration::from_nanos(1),
        Duration::from_secs(u64::MAX),
        Duration::MAX,
    ];
    for (field, set, zero_ok) in setters {
        for d in [MIN_PERIOD, MAX_DURATION] {
            let config = set(config_builder(), d)
                .build()
                .unwrap_or_else(|e| panic!("{field} = {d:?}: {e}"));
            HeartbeatClient::new(config).unwrap();
        }
        assert_eq!(
            set(config_builder(), Duration::ZERO).build().is_ok(),
            zero_ok,
            "{field} = 0"
        );
        for d in too_long {
            let err = set(config_builder(), d).build().unwrap_err();
            assert_eq!(field_of(&err), field, "{field} = {d:?}: {err}");
            assert!(err.to_string().contains("24 hours"), "{err}");
        }
    }
    // A busy loop is refused.
    for d in [Duration::from_nanos(1), Duration::from_micros(999)] {
        let err = config_builder().interval(d).build().unwrap_err();
        assert_eq!(field_of(&err), "interval", "{err}");
        let err = config_builder().initial_retry_delay(d).build().unwrap_err();
        assert_eq!(field_of(&err), "initial_retry_delay", "{err}");
    }
    // The initial delay may not exceed the cap.
    let err = config_builder()
        .initial_retry_delay(Duration::from_secs(10))
        .max_retry_delay(Duration::from_secs(5))
        .build()
        .unwrap_err();
    assert_eq!(field_of(&err), "initial_retry_delay");
    // Counters: zero is refused, u32::MAX is fine.
    assert_eq!(
        field_of(&config_builder().max_retries(0).build().unwrap_err()),
        "max_retries"
    );
    assert_eq!(
        field_of(&config_builder().report_burst(0).build().unwrap_err()),
        "report_burst"
    );
    config_builder()
        .max_retries(u32::MAX)
        .report_burst(u32::MAX)
        .build()
        .unwrap();
}

#[test]
fn labels_and_the_request_body_are_bounded() {
    let _logs = capture_logs();
    let mut many = config_builder();
    for i in 0..=MAX_LABELS {
        many = many.metadata(format!("k{i}"), "v");
    }
    assert!(many.build().unwrap_err().to_string().contains("at most 64"));
    // Every label within its own limits, but together too large for the request body.
    let mut big = config_builder();
    for i in 0..MAX_LABELS {
        big = big.metadata(format!("k{i:03}"), "v".repeat(1000));
    }
    let err = big.build().unwrap_err();
    assert_eq!(field_of(&err), "metadata");
    assert!(err.to_string().contains("bytes"), "{err}");
    // Tens of labels of modest size are fine.
    let mut fine = config_builder();
    for i in 0..MAX_LABELS {
        fine = fine.metadata(format!("k{i:03}"), "v".repeat(200));
    }
    fine.build().unwrap();
}

#[test]
fn environment_methods_survive_hostile_input() {
    // What the SDK reads through an environment (variables, files, the host name) is checked
    // against hostile names and paths by the unit tests of src/env.rs.
    let _logs = capture_logs();
    let strings = hostile_strings();
    let mut failures = Vec::new();
    let pairs: Vec<(String, String)> = strings.iter().map(|s| (s.clone(), s.clone())).collect();
    let injected = no_panic(&mut failures, "from_vars", || {
        Environment::from_vars(pairs.clone())
    });
    if let Some(env) = injected {
        no_panic(&mut failures, "Debug", || format!("{env:?}"));
        no_panic(&mut failures, "build()", || {
            HeartbeatConfig::builder().environment(env).build()
        });
    }
    no_panic(&mut failures, "process()", || {
        format!("{:?}", Environment::process())
    });
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn hostile_environment_variables_give_named_errors() {
    let _logs = capture_logs();
    let mut failures = Vec::new();
    let vars = [
        "VORTEX_URL",
        "VORTEX_APP",
        "OTEL_SERVICE_NAME",
        "VORTEX_PROFILE",
        "SPRING_PROFILES_ACTIVE",
        "VORTEX_INSTANCE_ID",
        "VORTEX_HEARTBEAT_INTERVAL",
        "VORTEX_HEARTBEAT_TIMEOUT",
    ];
    let mut values = hostile_strings();
    values.extend(
        [
            "1e400",
            "NaN",
            "inf",
            "-1",
            "0",
            "0.0000000001",
            "25h",
            "99999999999999999999999",
            "1.5.5",
            ",,,",
            "5 s",
            "∞",
        ]
        .map(str::to_owned),
    );
    for var in vars {
        for value in &values {
            let what = format!("{var}={}", short(value));
            let mut env = vec![
                ("VORTEX_URL".to_owned(), "http://127.0.0.1:1".to_owned()),
                ("VORTEX_APP".to_owned(), "a".to_owned()),
                ("VORTEX_PROFILE".to_owned(), "p".to_owned()),
            ];
            env.retain(|(k, _)| k != var);
            env.push((var.to_owned(), value.clone()));
            let result = no_panic(&mut failures, &what, || {
                HeartbeatConfig::builder()
                    .environment(Environment::from_vars(env))
                    .build()
            });
            if let Some(Err(e)) = result {
                let text = e.to_string();
                if text.len() > 1024 {
                    failures.push(format!("{what}: {} bytes of error", text.len()));
                }
                if let ConfigError::InvalidEnv { var: named, .. } = &e {
                    if *named != var {
                        failures.push(format!("{what}: names {named}"));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    let env = Environment::from_vars([
        ("VORTEX_URL", "http://127.0.0.1:1"),
        ("VORTEX_APP", "a"),
        ("VORTEX_PROFILE", "p"),
        ("VORTEX_HEARTBEAT_INTERVAL", "25h"),
    ]);
    let err = HeartbeatConfig::builder()
        .environment(env)
        .build()
        .unwrap_err();
    assert!(
        matches!(
            err,
            ConfigError::InvalidEnv {
                var: "VORTEX_HEARTBEAT_INTERVAL",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn a_hostile_pod_name_cannot_become_the_instance_id() {
    let _logs = capture_logs();
    for pod in ["pod\n1".to_owned(), "p".repeat(10_000)] {
        let env = Environment::from_vars([("POD_NAME", pod.as_str()), ("HOSTNAME", "host-1")]);
        // Detection never fails the build: the unusable pod name is passed over and the
        // generated id falls back to the host name plus a suffix.
        let client = HeartbeatClient::builder()
            .environment(env)
            .server_url("http://127.0.0.1:1")
            .app("a")
            .profile("p")
            .build()
            .unwrap();
        let id = &client.config().instance_id;
        assert!(id.starts_with("host-1-"), "{id:?}");
        assert!(id.len() <= MAX_NAME_LEN && !id.chars().any(char::is_control));
    }
}

/// Polls a future once with a no-op waker, outside any runtime.
fn poll_once<F: Future>(f: F) -> Poll<F::Output> {
    let mut f = pin!(f);
    f.as_mut().poll(&mut Context::from_waker(Waker::noop()))
}

#[test]
fn async_methods_outside_a_runtime_do_not_panic() {
    let _logs = capture_logs();
    let client = client_builder("http://127.0.0.1:1").build().unwrap();
    assert!(poll_once(client.start()).is_ready());
    assert!(!client.is_running());
    match poll_once(client.report_now()) {
        Poll::Ready(Err(ReporterError::NoRuntime(_))) => {}
        other => panic!("{other:?}"),
    }
    assert!(poll_once(client.stop()).is_ready());
    client.set_config_version("v2");
    client.set_health(Health::Unhealthy);
    let _ = (client.status(), client.subscribe(), format!("{client:?}"));
    drop(client);
}

/// Extreme but accepted settings, hostile runtime input, and a server whose answers stress
/// the schedule: nothing overflows, the worker keeps running, and stop() is prompt. `logs`
/// gives what the SDK logged on the runtime's threads.
async fn extremes_are_survived(logs: &dyn Fn() -> String) {
    let rx = MockServer::start().await.unwrap();
    let day = MAX_DURATION;
    let client = client_builder(&rx.url())
        .interval(day)
        .timeout(day)
        .connect_timeout(day)
        .initial_retry_delay(day)
        .max_retry_delay(day)
        .min_report_gap(day)
        .stop_grace(day)
        .report_burst(u32::MAX)
        .max_retries(u32::MAX)
        .config_version("v1")
        .build()
        .unwrap();
    client.start().await;
    rx.wait_for_reports(1, WITHIN).await.unwrap();
    for s in hostile_strings() {
        client.set_config_version(s.as_str());
        let _ = client.try_set_config_version(s);
    }
    for h in [Health::Degraded, Health::Unhealthy, Health::Healthy] {
        client.set_health(h);
    }
    client.set_config_version("v2");
    // Wait until the server's answer to v2 is processed: every change is delivered and no
    // report is in flight that could take the scripted reply below.
    let mut status = client.subscribe();
    tokio::time::timeout(
        WITHIN,
        status.wait_for(|s| s.drift.reported_version.as_deref() == Some("v2")),
    )
    .await
    .expect("v2 is delivered")
    .unwrap();
    // A Retry-After of "forever": the worker backs off (capped) and carries on.
    let scheduled_before = lines_with(logs, SCHEDULED).len();
    rx.script([Reply::RetryAfter(503, "99999999999999999999999".into())]);
    client.set_config_version("v3");
    rx.wait_for_version("v3", WITHIN).await.unwrap();
    tokio::time::timeout(WITHIN, status.wait_for(|s| s.consecutive_failures >= 1))
        .await
        .expect("the failure is recorded")
        .unwrap();
    // The worker computes its next deadline from that answer (it would panic there on an
    // overflow) and logs the delay right after: wait for that line, not for a length of time.
    let deadline = tokio::time::Instant::now() + WITHIN;
    let scheduled = loop {
        if let Some(line) = lines_with(logs, SCHEDULED).get(scheduled_before) {
            break line.clone();
        }
        assert!(client.is_running(), "the worker must survive");
        assert!(
            tokio::time::Instant::now() < deadline,
            "the worker logged no next attempt after the failure:\n{}",
            logs()
        );
        tokio::time::sleep(Duration::from_millis(5)).await; // a poll interval, not a timing
    };
    let delay_ms: u128 = scheduled
        .split("delay_ms=")
        .nth(1)
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no delay_ms in {scheduled:?}"));
    assert!(delay_ms <= MAX_DURATION.as_millis(), "{scheduled}");
    assert!(client.is_running(), "the worker must survive");
    let _ = (
        client.status(),
        client.subscribe(),
        client.config(),
        format!("{client:?}"),
    );
    let _ = client.metadata().await;
    // Idle or backing off, stop() returns at once even with a 24 h grace.
    tokio::time::timeout(Duration::from_secs(2), client.stop())
        .await
        .expect("stop() is prompt");
    assert!(!client.is_running());
    client.stop().await;
    client.start().await;
    tokio::time::timeout(Duration::from_secs(2), client.stop())
        .await
        .expect("stop() is prompt");

    // A Retry-After date whose year would overflow the date arithmetic.
    let once = client_builder(&rx.url()).max_retries(1).build().unwrap();
    rx.script([Reply::RetryAfter(
        429,
        "Sun, 06 Nov 9223372036854775807 08:49:37 GMT".into(),
    )]);
    let err = once.report_now().await.unwrap_err();
    assert_eq!(
        (err.status(), err.retry_after()),
        (Some(429), None),
        "{err}"
    );

    // report_now with an absurd Retry-After returns at once (throttled), without sleeping.
    let once = client_builder(&rx.url())
        .max_retries(u32::MAX)
        .build()
        .unwrap();
    rx.script([Reply::RetryAfter(503, "99999999999999999999999".into())]);
    let err = tokio::time::timeout(WITHIN, once.report_now())
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(err.disposition(), Disposition::Throttled(_)),
        "{err}"
    );
}

/// What the worker logs (at DEBUG) right after it computed the deadline of its next attempt
/// after a failure.
const SCHEDULED: &str = "next heartbeat attempt scheduled";

/// The lines of `logs()` that mention `needle`.
fn lines_with(logs: &dyn Fn() -> String, needle: &str) -> Vec<String> {
    logs()
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "current_thread")]
async fn extremes_are_survived_current_thread() {
    let (logs, _guard) = capture_logs();
    extremes_are_survived(&|| logs.text()).await;
}

/// The runtime is built here rather than by `#[tokio::test]`: the worker runs on the runtime's
/// threads, and each of them captures what is logged on it.
#[test]
fn extremes_are_survived_multi_thread() {
    let (logs, _guard) = capture_logs();
    let buffers = std::sync::Arc::new(parking_lot::Mutex::new(vec![logs]));
    let on_start = buffers.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .on_thread_start(move || {
            let (logs, guard) = capture_logs();
            std::mem::forget(guard); // captures for the life of the thread
            on_start.lock().push(logs);
        })
        .build()
        .unwrap();
    let logs = || buffers.lock().iter().map(|b| b.text()).collect::<String>();
    runtime.block_on(extremes_are_survived(&logs));
}

/// An invalid version at runtime: a warning, the previous version stays, nothing is sent
/// truncated or altered.
#[tokio::test(flavor = "current_thread")]
async fn invalid_runtime_versions_warn_and_are_ignored() {
    let (logs, _guard) = capture_logs();
    let rx = MockServer::start().await.unwrap();
    let client = client_builder(&rx.url())
        .config_version("v1")
        .build()
        .unwrap();
    client.start().await;
    rx.wait_for_reports(1, WITHIN).await.unwrap();
    let bad = [
        "".to_owned(),
        "   ".to_owned(),
        "v2\nFAKE".to_owned(),
        "v".repeat(257),
    ];
    for version in &bad {
        client.set_config_version(version.as_str());
        assert_eq!(client.config_version(), "v1");
        let err = client.try_set_config_version(version.as_str()).unwrap_err();
        assert_eq!(field_of(&err), "config_version");
    }
    let warnings = logs.lines("WARN", "set_config_version ignored an invalid version");
    assert_eq!(warnings.len(), bad.len(), "{}", logs.text());
    assert!(
        !logs.text().contains("FAKE"),
        "the value is not echoed into the log"
    );
    let longest = "v".repeat(256);
    client.set_config_version(longest.as_str());
    rx.wait_for_version(&longest, WITHIN).await.unwrap();
    client.stop().await;
    for report in rx.reports() {
        assert!(
            ["v1", longest.as_str()].contains(&report.config_version.as_str()),
            "{}",
            report.config_version
        );
    }
    assert!(rx.rejections().is_empty(), "{:?}", rx.rejections());
}

/// Settings near the server's 5-minute instance TTL are accepted with a warning.
#[tokio::test(flavor = "current_thread")]
async fn settings_near_the_instance_ttl_warn() {
    let (logs, _guard) = capture_logs();
    let ttl_warnings = || logs.lines("WARN", "5-minute instance TTL").len();
    client_builder("http://127.0.0.1:1").build().unwrap();
    client_builder("http://127.0.0.1:1")
        .interval(Duration::from_secs(239))
        .max_retry_delay(Duration::from_secs(239))
        .build()
        .unwrap();
    assert_eq!(ttl_warnings(), 0, "{}", logs.text());
    client_builder("http://127.0.0.1:1")
        .interval(Duration::from_secs(240))
        .build()
        .unwrap();
    assert_eq!(logs.lines("WARN", "interval").len(), 1, "{}", logs.text());
    client_builder("http://127.0.0.1:1")
        .max_retry_delay(Duration::from_secs(280))
        .build()
        .unwrap();
    assert_eq!(
        logs.lines("WARN", "backoff cap").len(),
        1,
        "{}",
        logs.text()
    );
    assert_eq!(ttl_warnings(), 2);
}

// ---------------------------------------------------------------------------------------------
// A hostile server, byte by byte.

/// How a raw server follows its response head.
#[derive(Clone, Copy)]
enum Tail {
    /// Nothing more.
    Nothing,
    /// This many filler bytes, as they are.
    Bytes(usize),
    /// This many filler bytes, chunked.
    Chunked(usize),
}

/// Accepts one connection on loopback, reads the request, writes `head` and the tail, and
/// reports how many bytes it wrote, or the error that ended the writing (the client dropped
/// the connection).
async fn serve_once(
    head: Vec<u8>,
    tail: Tail,
) -> (
    String,
    tokio::sync::oneshot::Receiver<std::io::Result<usize>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (done, outcome) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => request.extend_from_slice(&buf[..n]),
            }
        }
        let result = async {
            stream.write_all(&head).await?;
            let mut written = head.len();
            let chunk = vec![b' '; 64 * 1024];
            match tail {
                Tail::Nothing => {}
                Tail::Bytes(n) => {
                    while written < head.len() + n {
                        let take = chunk.len().min(head.len() + n - written);
                        stream.write_all(&chunk[..take]).await?;
                        written += take;
                    }
                }
                Tail::Chunked(n) => {
                    let mut sent = 0;
                    while sent < n {
                        let take = chunk.len().min(n - sent);
                        stream.write_all(format!("{take:x}\r\n").as_bytes()).await?;
                        stream.write_all(&chunk[..take]).await?;
                        stream.write_all(b"\r\n").await?;
                        sent += take;
                        written += take;
                    }
                    stream.write_all(b"0\r\n\r\n").await?;
                }
            }
            stream.flush().await?;
            // Wait for the client to finish with the connection.
            let _ = tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buf)).await;
            Ok(written)
        }
        .await;
        let _ = done.send(result);
    });
    (url, outcome)
}

async fn report_once(url: &str) -> Result<vortex_client::HeartbeatResponse, ReporterError> {
    let client = client_builder(url).max_retries(1).build().unwrap();
    tokio::time::timeout(WITHIN, client.report_now())
        .await
        .expect("the client answers promptly")
}

fn head(text: &str) -> Vec<u8> {
    text.as_bytes().to_vec()
}

#[tokio::test]
async fn bodies_over_the_cap_are_refused_and_the_connection_dropped() {
    let _logs = capture_logs();
    let total = 32 * MIB;
    let cases = [
        (
            "Content-Length",
            head(&format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {total}\r\n\r\n"
            )),
            Tail::Bytes(total),
        ),
        (
            "huge Content-Length",
            head("HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\n\r\n"),
            Tail::Bytes(total),
        ),
        (
            "chunked",
            head("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Tail::Chunked(total),
        ),
        (
            "until close",
            head("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"),
            Tail::Bytes(total),
        ),
    ];
    for (what, head, tail) in cases {
        let (url, outcome) = serve_once(head, tail).await;
        let err = report_once(&url).await.unwrap_err();
        assert!(
            matches!(
                err,
                ReporterError::ResponseTooLarge {
                    limit: RESPONSE_CAP,
                    ..
                }
            ),
            "{what}: {err}"
        );
        assert_eq!(err.disposition(), Disposition::Permanent, "{what}");
        let written = tokio::time::timeout(WITHIN, outcome)
            .await
            .unwrap()
            .unwrap();
        assert!(
            written.is_err(),
            "{what}: the client read all {written:?} bytes instead of dropping the connection"
        );
    }
}

#[tokio::test]
async fn a_body_of_exactly_the_cap_is_read() {
    let _logs = capture_logs();
    for chunked in [false, true] {
        let json = br#"{"registered":true,"expected_version":"v9","drift_detected":true}"#;
        let pad = RESPONSE_CAP - json.len();
        let mut body = json.to_vec();
        body.extend(std::iter::repeat_n(b' ', pad));
        let head_text = if chunked {
            format!(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n",
                body.len()
            )
        } else {
            format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len())
        };
        let mut bytes = head_text.into_bytes();
        bytes.extend_from_slice(&body);
        if chunked {
            bytes.extend_from_slice(b"\r\n0\r\n\r\n");
        }
        let (url, _) = serve_once(bytes.clone(), Tail::Nothing).await;
        let response = report_once(&url).await.unwrap();
        assert_eq!(response.expected_version.as_deref(), Some("v9"));
        // One byte more is refused.
        let mut over = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
            body.len() + 1
        )
        .into_bytes();
        over.extend_from_slice(&body);
        over.push(b' ');
        let (url, _) = serve_once(over, Tail::Nothing).await;
        assert!(matches!(
            report_once(&url).await,
            Err(ReporterError::ResponseTooLarge { .. })
        ));
    }
}

#[tokio::test]
async fn malformed_heads_are_transport_errors() {
    let _logs = capture_logs();
    let mut huge_header = head("HTTP/1.1 200 OK\r\nX-Big: ");
    huge_header.extend(std::iter::repeat_n(b'a', 4 * MIB));
    huge_header.extend_from_slice(b"\r\nContent-Length: 0\r\n\r\n");
    let mut many_headers = head("HTTP/1.1 200 OK\r\n");
    for i in 0..10_000 {
        many_headers.extend_from_slice(format!("X-H{i}: v\r\n").as_bytes());
    }
    many_headers.extend_from_slice(b"Content-Length: 0\r\n\r\n");
    let cases = [
        ("huge header", huge_header),
        ("10,000 headers", many_headers),
        ("not HTTP", head("HELLO WORLD\r\n\r\n")),
        (
            "bad status",
            head("HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n"),
        ),
        (
            "conflicting lengths",
            head("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nabcde"),
        ),
        (
            "negative length",
            head("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"),
        ),
        (
            "bad chunk",
            head("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n"),
        ),
        (
            "NUL in header",
            head("HTTP/1.1 200 OK\r\nX-A: a\0b\r\nContent-Length: 0\r\n\r\n"),
        ),
        (
            "closed mid-body",
            head("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"regi"),
        ),
    ];
    for (what, bytes) in cases {
        let (url, _) = serve_once(bytes, Tail::Nothing).await;
        let err = report_once(&url).await.unwrap_err();
        assert!(
            matches!(
                err,
                ReporterError::Transport { .. } | ReporterError::Connect { .. }
            ),
            "{what}: {err:?}"
        );
        assert_ne!(err.disposition(), Disposition::Permanent, "{what}");
        let text = err.to_string();
        assert!(
            text.len() < 2048 && !text.chars().any(char::is_control),
            "{what}: {text:?}"
        );
    }
}

#[tokio::test]
async fn hostile_retry_after_values_are_survived() {
    let _logs = capture_logs();
    let cases: &[(&[u8], Option<Duration>)] = &[
        (b"soon", None),
        (b"-1", None),
        (b"1.5", None),
        (b"", None),
        (b"\xff\xfe", None),
        (b"Sun, 06 Nov 9223372036854775807 08:49:37 GMT", None),
        (b"Sun, 32 Nov 2024 08:49:37 GMT", None),
        (
            b"99999999999999999999999",
            Some(Duration::from_secs(u64::MAX)),
        ),
        (b"0", Some(Duration::ZERO)),
        (b"Sun, 06 Nov 1994 08:49:37 GMT", Some(Duration::ZERO)),
        (b"Sunday, 06-Nov-94 08:49:37 GMT", Some(Duration::ZERO)),
        (b"Sun Nov  6 08:49:37 1994", Some(Duration::ZERO)),
        // Dates read by the httpdate crate, exactly as RFC 9110 writes them; the SDK's own
        // parser took each of these (a past date: no wait) before.
        (b"Mon, 06 Nov 1994 08:49:37 GMT", None), // the wrong weekday
        (b"Sun, 6 Nov 1994 08:49:37 GMT", None),  // a one-digit day
        (b"Sun,  06 Nov 1994 08:49:37 GMT", None), // two spaces
        (b"Wed, 30 Feb 1994 08:49:37 GMT", None), // no such day
        (b"Sun, 06 Nov 1994 08:49:60 GMT", None), // a leap second
        (b"Sun, 06-Nov-94 08:49:37 GMT", None),   // RFC 850 with a short weekday
        (b"Sunday, 06-Nov-1994 08:49:37 GMT", None), // RFC 850 with four year digits
        (b"Mon Nov  6 08:49:37 1994", None),      // asctime with the wrong weekday
    ];
    for &(value, expected) in cases {
        let mut bytes = head("HTTP/1.1 503 Service Unavailable\r\nRetry-After: ");
        bytes.extend_from_slice(value);
        bytes.extend_from_slice(b"\r\nContent-Length: 0\r\n\r\n");
        let (url, _) = serve_once(bytes, Tail::Nothing).await;
        let err = report_once(&url).await.unwrap_err();
        let shown = String::from_utf8_lossy(value);
        assert_eq!(err.status(), Some(503), "{shown}: {err}");
        assert_eq!(err.retry_after(), expected, "{shown}");
        assert_ne!(err.disposition(), Disposition::Permanent, "{shown}");
    }
}

#[tokio::test]
async fn error_bodies_cannot_inject_into_messages_or_logs() {
    let _logs = capture_logs();
    let start = b"\x1b[31mFAKE LOG LINE\r\nERROR injected\0";
    let filler = 32 * MIB;
    let mut bytes = format!(
        "HTTP/1.1 500 Internal Server Error\r\nContent-Length: {}\r\n\r\n",
        start.len() + filler
    )
    .into_bytes();
    bytes.extend_from_slice(start);
    let (url, outcome) = serve_once(bytes, Tail::Bytes(filler)).await;
    let err = report_once(&url).await.unwrap_err();
    let text = err.to_string();
    assert!(!text.chars().any(char::is_control), "{text:?}");
    assert!(text.len() < 1024, "{} bytes", text.len());
    let ReporterError::Status { body: snippet, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(
        snippet.starts_with("[31mFAKE LOG LINEERROR injected"),
        "{snippet:?}"
    );
    assert!(snippet.chars().count() <= 256 + 3);
    // The client did not read the 32 MiB.
    let written = tokio::time::timeout(WITHIN, outcome)
        .await
        .unwrap()
        .unwrap();
    assert!(written.is_err(), "the client read all {written:?} bytes");
}

#[tokio::test]
async fn redirects_stay_on_their_origin() {
    let _logs = capture_logs();
    // Cross-origin, even 307: not followed; the other origin never sees the request.
    let rx = MockServer::start().await.unwrap();
    let other = MockServer::start().await.unwrap();
    rx.script([Reply::Redirect(307, format!("{}/steal", other.url()))]);
    let err = report_once(&rx.url()).await.unwrap_err();
    assert!(
        matches!(err, ReporterError::Redirect { status: 307, .. }),
        "{err}"
    );
    assert_eq!(err.disposition(), Disposition::Permanent);
    assert_eq!(other.report_count(), 0);
    assert!(other.rejections().is_empty(), "{:?}", other.rejections());

    // A Location with userinfo is shown without it.
    rx.script([Reply::Redirect(
        302,
        "http://evil:hunter2@127.0.0.2:9/x".into(),
    )]);
    let err = report_once(&rx.url()).await.unwrap_err();
    let ReporterError::Redirect { location, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(location, "http://***@127.0.0.2:9/x");
    assert!(!format!("{err} {err:?}").contains("hunter2"));

    // Same origin: 301/302/303 (which would turn the POST into a GET) are not followed...
    // (Every same-origin target is a heartbeat route of the server, so a followed POST is
    // recorded as a report, and a followed GET as a rejection.)
    for status in [301, 302, 303] {
        let before = rx.report_count();
        rx.script([Reply::Redirect(
            status,
            "/api/drift/heartbeat/elsewhere/p".into(),
        )]);
        let err = report_once(&rx.url()).await.unwrap_err();
        assert!(
            matches!(err, ReporterError::Redirect { .. }),
            "{status}: {err}"
        );
        assert_eq!(rx.report_count(), before + 1, "{status}");
        assert!(
            rx.rejections().is_empty(),
            "{status}: {:?}",
            rx.rejections()
        );
    }
    // ...307/308 are, with the body, a bounded number of times.
    let before = rx.report_count();
    let moved = "/api/drift/heartbeat/moved/p";
    rx.script([Reply::Redirect(308, moved.into())]);
    report_once(&rx.url()).await.unwrap();
    let reports = rx.reports();
    assert_eq!(reports.len(), before + 2);
    assert_eq!(reports[before + 1].path, moved);
    assert_eq!(reports[before + 1].config_version, "v1");
    let before = rx.report_count();
    rx.set_default_reply(Reply::Redirect(307, "/api/drift/heartbeat/loop/p".into()));
    let err = report_once(&rx.url()).await.unwrap_err();
    assert!(
        matches!(err, ReporterError::Redirect { status: 307, .. }),
        "{err}"
    );
    assert_eq!(
        rx.report_count(),
        before + 3,
        "one request and two same-origin follows"
    );
}
